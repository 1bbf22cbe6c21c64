"""The web console in a real browser against a real server: a whole ride between the passenger
and driver panes, the ops map following it, and pages that ask nothing of other hosts."""

import json
import re
import urllib.request
import uuid

import pytest

from rides.management.commands.seed_demo import PASSENGERS, PASSWORD, STAFF

pytestmark = [pytest.mark.live, pytest.mark.timeout(240)]

# Ride (a): passenger 1 and driver 1 (Jean Mbida). Ride (b): passenger 2 and driver 2 (Aline Ekotto),
# elsewhere in town, so the two tests' drivers and rides never meet.
PICKUP = ("3.85000", "11.50500")
DROPOFF = ("3.86600", "11.51600")
DRIVER_START = ("3.85300", "11.50500")  # 333 m north of the pickup
TO_PICKUP = ["3.85300,11.50500", "3.85200,11.50500", "3.85100,11.50500", "3.85000,11.50500"]
TOWARDS_DROPOFF = ["3.85000,11.50500", "3.85100,11.50600"]


def expect():
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=20_000)
    return playwright_expect


def login(page, pane, phone):
    root = page.get_by_test_id(f"pane-{pane}")
    root.get_by_test_id("login-phone").fill(phone)
    root.get_by_test_id("login-password").fill(PASSWORD)
    root.get_by_test_id("login-submit").click()
    expect()(root.get_by_test_id("connection")).to_have_attribute("data-state", "online")
    return root


def open_pane(new_page, server, pane):
    page, off_machine = new_page()
    page.goto(f"{server.base_url}/#{pane}")
    return page, off_machine


def api(server, method, path, body=None, token=None):
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def token(server, phone):
    return api(server, "POST", "auth/token/", {"phone_number": phone, "password": PASSWORD})["access"]


def test_passenger_and_driver_panes_drive_a_whole_ride(console_server, new_page, screenshot):
    check = expect()
    driver_page, driver_off = open_pane(new_page, console_server, "driver")
    driver = login(driver_page, "driver", "+237690000001")
    driver.get_by_test_id("pos-lat").fill(DRIVER_START[0])
    driver.get_by_test_id("pos-lon").fill(DRIVER_START[1])
    driver.get_by_test_id("send-position").click()
    driver.get_by_test_id("go-online").click()
    check(driver.get_by_test_id("online-state")).to_have_attribute("data-online", "true")

    passenger_page, passenger_off = open_pane(new_page, console_server, "passenger")
    passenger = login(passenger_page, "passenger", PASSENGERS[0][0])
    # A click on the map sets the pickup (then the drop-off); the inputs say where.
    passenger.get_by_test_id("map").click(position={"x": 300, "y": 300})
    check(passenger.get_by_test_id("pickup-lat")).not_to_have_value("")
    check(passenger.get_by_test_id("pickup-marker")).to_be_visible()
    check(passenger.get_by_test_id("nearby-count")).to_have_text(re.compile(r"[1-9]"))
    for name, value in zip(("pickup-lat", "pickup-lon", "dropoff-lat", "dropoff-lon"), PICKUP + DROPOFF, strict=True):
        passenger.get_by_test_id(name).fill(value)
    passenger.get_by_test_id("estimate").click()
    check(passenger.get_by_test_id("estimate-result")).to_contain_text("XAF")
    passenger.get_by_test_id("request").click()
    status = passenger.get_by_test_id("ride-status")
    check(status).to_have_attribute("data-status", "requested")
    screenshot(passenger_page, "passenger-requested")
    passenger_page.reload()  # the active ride is restored from the API
    check(passenger.get_by_test_id("connection")).to_have_attribute("data-state", "online")
    check(status).to_have_attribute("data-status", "requested")
    check(passenger.get_by_test_id("pickup-marker")).to_have_attribute("data-lat", PICKUP[0])

    offer = driver.get_by_test_id("offer")
    check(offer).to_be_visible()
    check(offer.get_by_test_id("offer-fare")).to_contain_text("XAF")
    check(offer.get_by_test_id("offer-distance")).to_contain_text("km")
    check(offer.get_by_test_id("offer-countdown")).to_contain_text(re.compile(r"offer stands \d+ s"))
    screenshot(driver_page, "driver-offer")
    offer.get_by_test_id("offer-accept").click()
    check(driver.get_by_test_id("ride-status")).to_have_attribute("data-status", "accepted")
    check(offer).to_have_count(0)

    check(status).to_have_attribute("data-status", "accepted")
    check(passenger.get_by_test_id("ride-driver")).to_contain_text("Jean Mbida")

    # The driver drives the drawn path to the pickup; the passenger's driver marker follows it.
    driver.get_by_test_id("path-input").fill("\n".join(TO_PICKUP))
    driver.get_by_test_id("drive").click()
    marker = passenger.get_by_test_id("driver-marker")
    check(marker).to_have_attribute("data-lat", re.compile(r"^3\.85[123]00$"))
    check(marker).to_have_attribute("data-lat", "3.85000")
    check(marker).to_have_attribute("data-lng", "11.50500")
    check(passenger.get_by_test_id("ride-eta")).to_contain_text("to the pickup")
    check(passenger.get_by_test_id("ride-notice")).to_contain_text("approaching")
    check(driver.get_by_test_id("drive-state")).to_have_text("end of the path")
    screenshot(passenger_page, "passenger-driver-approaching")

    driver.get_by_test_id("arrived").click()
    check(status).to_have_attribute("data-status", "driver_arrived")
    check(passenger.get_by_test_id("ride-notice")).to_contain_text("arrived")

    driver.get_by_test_id("start").click()
    check(status).to_have_attribute("data-status", "started")
    driver.get_by_test_id("path-input").fill("\n".join(TOWARDS_DROPOFF))
    driver.get_by_test_id("drive").click()
    check(marker).to_have_attribute("data-lat", "3.85100")
    check(passenger.get_by_test_id("ride-eta")).to_contain_text("to the drop-off")
    screenshot(driver_page, "driver-started")

    driver.get_by_test_id("complete").click()
    check(driver.get_by_test_id("ride-status")).to_have_attribute("data-status", "completed")
    check(status).to_have_attribute("data-status", "completed")
    check(passenger.get_by_test_id("ride-fare")).to_contain_text(re.compile(r"Fare: [\d ]+ XAF"))
    check(passenger.get_by_test_id("new-ride")).to_be_visible()
    screenshot(passenger_page, "passenger-completed")

    for pane, page in (("driver", driver_page), ("passenger", passenger_page)):
        check(page.get_by_test_id(f"pane-{pane}").get_by_test_id("error")).to_be_hidden()
    assert driver_off.blocked == [] and passenger_off.blocked == []


def test_ops_map_follows_a_driver_and_a_ride(console_server, new_page, screenshot):
    check = expect()
    page, off_machine = open_pane(new_page, console_server, "ops")
    ops = login(page, "ops", STAFF[0])
    check(ops.get_by_test_id("fleet-driver-count")).to_have_text(re.compile(r"^[1-9]\d*$"))
    check(ops.get_by_test_id("stat-online_drivers")).to_have_text(re.compile(r"^\d+$"))

    passenger = token(console_server, PASSENGERS[1][0])
    driver = token(console_server, "+237690000002")
    driver_id = api(console_server, "GET", "auth/me/", token=driver)["user_id"]
    api(console_server, "POST", "drivers/me/online/", token=driver)
    api(console_server, "POST", "drivers/me/location/", {"latitude": 3.83000, "longitude": 11.49000}, token=driver)
    driver_marker = ops.locator(f'[data-testid="ops-driver"][data-id="{driver_id}"]')
    check(driver_marker).to_have_attribute("data-lat", "3.83000")

    ride = api(console_server, "POST", "rides/", {
        "ride_type": "moto", "pickup_latitude": 3.831, "pickup_longitude": 11.491,
        "dropoff_latitude": 3.845, "dropoff_longitude": 11.5,
    }, token=passenger)
    ride_id = ride["ride_id"]
    pickup = ops.locator(f'[data-testid="ops-pickup"][data-id="{ride_id}"]')
    check(pickup).to_have_attribute("data-lat", "3.83100")
    check(ops.locator(f'[data-testid="ops-dropoff"][data-id="{ride_id}"]')).to_have_attribute("data-lng", "11.50000")
    row = ops.locator(f'[data-testid="ops-ride"][data-ride-id="{ride_id}"]')
    check(row).to_have_attribute("data-status", "requested")

    api(console_server, "POST", f"rides/{ride_id}/accept/", token=driver)
    check(row).to_have_attribute("data-status", "accepted")
    check(driver_marker.locator(".dot-busy")).to_have_count(1)
    api(console_server, "POST", "drivers/me/location/", {"latitude": 3.83050, "longitude": 11.49050}, token=driver)
    check(driver_marker).to_have_attribute("data-lat", "3.83050")
    check(ops.get_by_test_id("stat-active_rides")).to_have_text(re.compile(r"^[1-9]\d*$"))  # polled
    ops.get_by_test_id("fit-fleet").click()
    screenshot(page, "ops-map")

    for step in ("arrived", "start", "complete"):
        api(console_server, "POST", f"rides/{ride_id}/{step}/", token=driver)
    check(pickup).to_have_count(0)
    check(row).to_have_count(0)
    check(driver_marker.locator(".dot-moto")).to_have_count(1)  # idle again
    check(ops.get_by_test_id("error")).to_be_hidden()
    assert off_machine.blocked == []


def test_driver_pane_declines_an_offer(console_server, new_page):
    check = expect()
    page, _ = open_pane(new_page, console_server, "driver")
    driver = login(page, "driver", "+237690000004")  # Marie Nguema
    driver.get_by_test_id("pos-lat").fill("3.87000")
    driver.get_by_test_id("pos-lon").fill("11.52000")
    driver.get_by_test_id("send-position").click()
    driver.get_by_test_id("go-online").click()
    check(driver.get_by_test_id("online-state")).to_have_attribute("data-online", "true")

    passenger = token(console_server, PASSENGERS[0][0])
    ride = api(console_server, "POST", "rides/", {
        "ride_type": "car", "pickup_latitude": 3.8702, "pickup_longitude": 11.5202,
        "dropoff_latitude": 3.88, "dropoff_longitude": 11.53,
    }, token=passenger)
    offer = driver.locator(f'[data-testid="offer"][data-ride-id="{ride["ride_id"]}"]')
    check(offer.get_by_test_id("offer-countdown")).to_contain_text(re.compile(r"offer stands \d+ s"))
    check(driver.get_by_test_id("offer-pickup")).to_have_count(1)
    offer.get_by_test_id("offer-decline").click()
    check(offer).to_have_count(0)
    check(driver.get_by_test_id("offer-pickup")).to_have_count(0)
    check(driver.get_by_test_id("error")).to_be_hidden()
    api(console_server, "POST", f"rides/{ride['ride_id']}/cancel/", {}, token=passenger)


def test_passenger_pane_shows_offline_and_resumes_after_a_drop(console_server, new_page):
    """The socket drops (1011) and the server stays unreachable a while: the badge says so; the
    driver accepts meanwhile; the pane reconnects with last_event_id and the replayed
    ride_accepted shows."""
    check = expect()
    page, _ = new_page()
    sockets = []  # (url, page side, messages the server sent on it)
    server_down = {"now": False}

    def route(ws):
        if server_down["now"]:
            sockets.append((ws.url, ws, []))
            ws.close(code=1011, reason="server unreachable (test)")
            return
        received = []
        server = ws.connect_to_server()
        server.on_message(lambda message: (received.append(message), ws.send(message)))
        sockets.append((ws.url, ws, received))

    page.route_web_socket(re.compile(r"/api/v1/ws/connect"), route)
    page.goto(f"{console_server.base_url}/#passenger")
    passenger = login(page, "passenger", PASSENGERS[1][0])
    assert "last_event_id" not in sockets[0][0]
    for name, value in zip(("pickup-lat", "pickup-lon", "dropoff-lat", "dropoff-lon"),
                           ("3.82000", "11.48000", "3.83000", "11.49000"), strict=True):
        passenger.get_by_test_id(name).fill(value)
    passenger.get_by_test_id("request").click()
    status = passenger.get_by_test_id("ride-status")
    check(status).to_have_attribute("data-status", "requested")

    server_down["now"] = True
    sockets[0][1].close(code=1011, reason="dropped (test)")
    check(passenger.get_by_test_id("connection")).not_to_have_attribute("data-state", "online")
    driver = token(console_server, "+237690000003")
    api(console_server, "POST", "drivers/me/online/", token=driver)
    api(console_server, "POST", "drivers/me/location/", {"latitude": 3.8205, "longitude": 11.4805}, token=driver)
    ride = api(console_server, "GET", "rides/?active=true", token=token(console_server, PASSENGERS[1][0]))[0]
    api(console_server, "POST", f"rides/{ride['ride_id']}/accept/", token=driver)
    server_down["now"] = False

    check(passenger.get_by_test_id("connection")).to_have_attribute("data-state", "online")
    check(status).to_have_attribute("data-status", "accepted")
    check(passenger.get_by_test_id("ride-driver")).to_contain_text("Éric Manga")
    url, _, received = sockets[-1]
    assert re.search(r"[?&]last_event_id=\d+", url), url
    replayed = [json.loads(m) for m in received]
    assert any(m["type"] == "ride_accepted" and m["data"]["ride_id"] == ride["ride_id"] for m in replayed), replayed
    api(console_server, "POST", f"rides/{ride['ride_id']}/cancel/", {"reason": "test over"}, token=driver)


def test_ops_map_refuses_a_passenger(console_server, new_page):
    page, _ = open_pane(new_page, console_server, "ops")
    ops = login(page, "ops", PASSENGERS[0][0])
    expect()(ops.get_by_test_id("error")).to_contain_text("permission_denied")


@pytest.mark.parametrize("pane", ["ops", "passenger", "driver"])
def test_console_asks_nothing_of_other_hosts(console_server, new_page, screenshot, pane):
    """Tiles at a loopback URL that does not answer: every pane loads, its map shows markers on
    the plain background, and no request leaves the machine."""
    check = expect()
    page, off_machine = open_pane(new_page, console_server, pane)
    root = page.get_by_test_id(f"pane-{pane}")
    check(root.get_by_test_id("map")).to_have_class(re.compile(r"\btiles-failed\b"))  # tried, failed
    if pane == "passenger":
        login(page, pane, PASSENGERS[1][0])
        check(root.get_by_test_id("nearby-driver").first).to_be_visible()
    elif pane == "ops":
        login(page, pane, STAFF[0])
        check(root.get_by_test_id("ops-driver").first).to_be_visible()
    screenshot(page, f"offline-{pane}")
    assert any("/tiles/" in url for url in off_machine.seen), "the map asked for no tile at all"
    assert off_machine.blocked == [], f"requests to other hosts: {off_machine.blocked}"


@pytest.mark.parametrize(("path", "ready"), [
    ("/api/docs/", ".swagger-ui .opblock"),
    ("/api/redoc/", "redoc [role=navigation], .api-content"),
    ("/api/docs/websocket/", "h1"),
])
def test_api_docs_ask_nothing_of_other_hosts(console_server, new_page, screenshot, path, ready):
    page, off_machine = new_page()
    response = page.goto(f"{console_server.base_url}{path}")
    assert response.status == 200, f"{path}: HTTP {response.status}"
    page.locator(ready).first.wait_for(state="attached")
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs-" + path.strip("/").replace("/", "-"))
    assert off_machine.blocked == [], f"{path} asked other hosts: {off_machine.blocked}"


def test_names_people_chose_are_shown_as_text_never_run(console_server, new_page):
    """A driver's name is whatever they typed when registering: on the ops map it is text."""
    check = expect()
    name = "<img src=x onerror=\"window.__injected=1\">Mallory"
    phone = f"+23769{uuid.uuid4().int % 10**7:07d}"
    api(console_server, "POST", "auth/register/", {
        "phone_number": phone, "password": PASSWORD, "full_name": name,
        "driver": {"vehicle_type": "moto", "vehicle_plate": "XS-001-MT", "vehicle_color": "<b>Red</b>"},
    })
    driver = token(console_server, phone)
    driver_id = api(console_server, "GET", "auth/me/", token=driver)["user_id"]
    api(console_server, "POST", "drivers/me/online/", token=driver)
    api(console_server, "POST", "drivers/me/location/", {"latitude": 3.84100, "longitude": 11.50100}, token=driver)

    try:
        page, _ = open_pane(new_page, console_server, "ops")
        ops = login(page, "ops", STAFF[0])
        marker = ops.locator(f'[data-testid="ops-driver"][data-id="{driver_id}"]')
        check(marker).to_have_attribute("data-lat", "3.84100")
        marker.hover()
        check(page.locator(".leaflet-tooltip")).to_contain_text(name)  # the markup, shown as written
        assert page.locator(".leaflet-tooltip img").count() == 0
        assert page.evaluate("window.__injected") is None
    finally:
        api(console_server, "POST", "drivers/me/offline/", token=driver)  # offered nothing after this test
