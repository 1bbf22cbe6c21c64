"""One complete ride against a running server, over the same REST API and WebSocket the apps use:
a smoke test for a deployment and a live demo of the event stream.

A passenger and a moto driver (free seed_demo accounts if the server has them, else freshly
registered ones) each open a socket; the driver goes online and reports a position 500 m from the
pickup; the passenger requests a ride; the driver, offered it (`ride_requested`), accepts, drives
to the pickup sending `location_update`s over its socket, arrives, starts, drives to the drop-off
and completes. Every frame either socket receives is printed as it arrives, with two delays:
`sent` (now minus the envelope's server timestamp: server to client) and `action` (now minus the
start of the step that caused it: the whole round trip). Each step waits for the events it must
cause; one that does not come within --timeout fails the command (exit 1).
"""

import asyncio
import json
import math
import secrets
import time
from datetime import datetime, timezone
from urllib import error as urlerror
from urllib.parse import urlsplit, urlunsplit

from django.core.management.base import BaseCommand, CommandError

from realtime.serving.client import http_json

DEMO_PASSWORD = "demo-pass-2026"  # rides/management/commands/seed_demo.py
DEMO_PASSENGERS = ["+237670000001", "+237670000002"]
DEMO_MOTO_DRIVERS = ["+237690000001", "+237690000002", "+237690000003"]
PICKUP = (3.848, 11.502)  # Yaoundé, Poste centrale
DROPOFF = (3.866, 11.516)  # about 2.5 km north-east
DRIVER_START = (3.8435, 11.502)  # 500 m south of the pickup: among the nearest, so it is offered the ride
POLL_SECONDS = 0.01


def websocket_base(url):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommandError(f"URL must look like http://HOST:PORT (got {url!r})")
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def bearing(start, end):
    """Compass heading (degrees) from one point to another, for realistic location updates."""
    lat1, lat2 = math.radians(start[0]), math.radians(end[0])
    dlon = math.radians(end[1] - start[1])
    y = math.sin(dlon) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return round(math.degrees(math.atan2(y, x)) % 360)


def path(start, end, steps):
    """`steps` points on the straight line after `start`, the last one `end`."""
    return [
        (round(start[0] + (end[0] - start[0]) * i / steps, 6), round(start[1] + (end[1] - start[1]) * i / steps, 6))
        for i in range(1, steps + 1)
    ]


class Api:
    """The REST API over urllib, in a thread so the sockets keep being read meanwhile."""

    def __init__(self, base_url, timeout):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method, path, body, token):
        try:
            return http_json(method, f"{self.base_url}/api/v1{path}", body, token, timeout=self.timeout)
        except (urlerror.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(f"cannot reach {self.base_url} ({reason}); is the server running?") from None

    async def raw(self, method, path, body=None, token=None):
        return await asyncio.to_thread(self._call, method, path, body, token)

    async def call(self, method, path, body=None, token=None, expect=(200,)):
        status, payload = await self.raw(method, path, body, token)
        if status not in expect:
            detail = payload.get("detail") if isinstance(payload, dict) else payload
            raise CommandError(f"{method} /api/v1{path} answered {status}: {detail}")
        return payload


class Inbox:
    """Everything one socket received, printed as it arrives; steps wait on it."""

    def __init__(self, name, printer):
        self.name = name
        self.printer = printer
        self.messages = []
        self.closed = None

    async def read(self, websocket):
        from websockets.exceptions import ConnectionClosed

        try:
            async for text in websocket:
                message = json.loads(text)
                self.printer(self.name, message)
                self.messages.append(message)
        except ConnectionClosed:
            pass
        self.closed = f"closed by the server (code {websocket.close_code}, {websocket.close_reason or 'no reason'})"

    def mark(self):
        return len(self.messages)

    async def expect(self, event_type, *, since, timeout, what, match=lambda message: True):
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages[since:]:
                if message["type"] == event_type and match(message):
                    return message
                if message["type"] == "error":
                    raise CommandError(f"{self.name} socket got error {message['data']} while waiting for {event_type}")
            if self.closed:
                raise CommandError(f"{self.name} socket {self.closed} while waiting for {event_type} ({what})")
            if time.monotonic() > deadline:
                raise CommandError(
                    f"{event_type} did not reach the {self.name}'s socket within {timeout:g}s after {what}"
                )
            await asyncio.sleep(POLL_SECONDS)


class Simulation:
    def __init__(self, command, base_url, *, timeout, steps, step_delay):
        self.out = command.stdout
        self.api = Api(base_url, timeout)
        self.ws_base = websocket_base(base_url)
        self.timeout = timeout
        self.steps = steps
        self.step_delay = step_delay
        self.started = time.monotonic()
        self.action = ("connect", self.started)
        self.seen = []
        self.ride_id = None
        self.passenger = self.driver = None

    # --- output -------------------------------------------------------------------------------

    def line(self, text):
        self.out.write(text)
        self.out.flush()

    def begin(self, action):
        self.action = (action, time.monotonic())
        self.line(f"{self._ms(self.started):>7}  {'':<9}  > {action}")

    @staticmethod
    def _ms(since):
        return f"{(time.monotonic() - since) * 1000:.0f}"

    def show(self, socket_name, message):
        now = datetime.now(timezone.utc)
        sent = "-"
        if isinstance(message.get("timestamp"), str):
            stamp = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
            sent = f"{(now - stamp).total_seconds() * 1000:.0f}"
        action, action_started = self.action
        self.seen.append(message["type"])
        self.line(
            f"{self._ms(self.started):>7}  {socket_name:<9}  {message['type']:<28} {message.get('id', '-')!s:>6} "
            f"{sent:>7} {self._ms(action_started):>7}  {action}"
        )

    # --- accounts -----------------------------------------------------------------------------

    async def _login(self, phone, password):
        status, tokens = await self.api.raw("POST", "/auth/token/", {"phone_number": phone, "password": password})
        return tokens["access"] if status == 200 else None

    async def _free_demo_account(self, phones, *, vehicle_type=None):
        """A seed_demo account with no active ride (so an earlier interrupted run cannot block us)."""
        for phone in phones:
            token = await self._login(phone, DEMO_PASSWORD)
            if token is None:
                continue
            me = await self.api.call("GET", "/auth/me/", token=token)
            if vehicle_type and (me["driver"] or {}).get("vehicle_type") != vehicle_type:
                continue
            if await self.api.call("GET", "/rides/?active=true", token=token):
                continue
            return {"phone": phone, "token": token, "id": me["user_id"], "source": "seed_demo"}
        return None

    async def _register(self, full_name, driver=None):
        password = secrets.token_urlsafe(12)
        for _ in range(5):  # a random number may already be taken
            phone = f"+23765{secrets.randbelow(10_000_000):07d}"
            body = {"phone_number": phone, "password": password, "full_name": full_name}
            if driver:
                body["driver"] = driver
            status, payload = await self.api.raw("POST", "/auth/register/", body)
            if status == 201:
                token = await self._login(phone, password)
                return {"phone": phone, "token": token, "id": payload["user_id"], "source": "registered"}
            if status != 400:
                break
        raise CommandError(f"could not register a {full_name!r} account: {status} {payload}")

    async def accounts(self):
        self.passenger = await self._free_demo_account(DEMO_PASSENGERS) or await self._register("Sim Passenger")
        self.driver = await self._free_demo_account(DEMO_MOTO_DRIVERS, vehicle_type="moto") or await self._register(
            "Sim Driver",
            {"vehicle_type": "moto", "vehicle_plate": f"SIM-{secrets.randbelow(1000):03d}", "vehicle_color": "Red"},
        )
        for role, account in (("passenger", self.passenger), ("driver", self.driver)):
            self.line(f"{role:<9}  {account['phone']}  ({account['source']} account)")

    # --- the ride -----------------------------------------------------------------------------

    async def connect(self, account, name):
        import websockets

        inbox = Inbox(name, self.show)
        uri = f"{self.ws_base}/api/v1/ws/connect?token={account['token']}"
        try:
            websocket = await websockets.connect(uri, open_timeout=self.timeout)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise CommandError(f"WebSocket connection to {self.ws_base} failed: {exc}") from None
        task = asyncio.create_task(inbox.read(websocket))
        await inbox.expect("connected", since=0, timeout=self.timeout, what="connecting")
        return websocket, inbox, task

    async def step(self, action, *, waits, run):
        """Start `action` (a coroutine factory), then wait for each (inbox, event type, match)."""
        marks = {inbox: inbox.mark() for inbox, _, _ in waits}
        self.begin(action)
        result = await run()
        for inbox, event_type, match in waits:
            await inbox.expect(event_type, since=marks[inbox], timeout=self.timeout, what=action, match=match)
        return result

    def _about_ride(self, message):
        return str(message.get("data", {}).get("ride_id")) == self.ride_id

    async def drive(self, driver_ws, passenger_inbox, start, end, label):
        heading = bearing(start, end)
        for lat, lon in path(start, end, self.steps):
            update = {"type": "location_update", "latitude": lat, "longitude": lon, "heading": heading, "speed": 25}
            await self.step(
                f"{label}: location_update ({lat:.5f}, {lon:.5f})",
                waits=[(passenger_inbox, "driver_location_update",
                        lambda m, lat=lat: abs(m["data"]["latitude"] - lat) < 1e-6)],
                run=lambda update=update: driver_ws.send(json.dumps(update)),
            )
            await asyncio.sleep(self.step_delay)

    async def run(self):
        await self.api.raw("GET", "/ws/stats")  # any HTTP answer proves the server is there
        await self.accounts()
        self.line(f"\n{'t(ms)':>7}  {'socket':<9}  {'event':<28} {'id':>6} {'sent':>7} {'action':>7}  caused by")
        opened = []  # (websocket, inbox, reader task)
        try:
            opened.append(await self.connect(self.driver, "driver"))
            opened.append(await self.connect(self.passenger, "passenger"))
            (driver_ws, driver_inbox, _), (_, passenger_inbox, _) = opened
            await self._ride(driver_ws, driver_inbox, passenger_inbox)
        except BaseException:
            await self._abandon()
            raise
        finally:
            for websocket, _, _ in opened:
                await websocket.close()
            await asyncio.gather(*(task for _, _, task in opened), return_exceptions=True)

    async def _ride(self, driver_ws, driver_inbox, passenger_inbox):
        p, d = self.passenger["token"], self.driver["token"]
        await self.step("driver_online", waits=[(driver_inbox, "driver_status", lambda m: True)],
                        run=lambda: driver_ws.send(json.dumps({"type": "driver_online"})))
        # No reply to location_update: the pong to a later ping says it was stored (one socket,
        # messages handled in order) before the ride is requested and drivers are matched.
        position = {"type": "location_update", "latitude": DRIVER_START[0], "longitude": DRIVER_START[1],
                    "heading": bearing(DRIVER_START, PICKUP), "speed": 0}
        await self.step("location_update (start) + ping", waits=[(driver_inbox, "pong", lambda m: True)],
                        run=lambda: self._send_all(driver_ws, [position, {"type": "ping"}]))

        trip = {"ride_type": "moto", "pickup_latitude": PICKUP[0], "pickup_longitude": PICKUP[1],
                "dropoff_latitude": DROPOFF[0], "dropoff_longitude": DROPOFF[1]}
        # ride_id is only known from the response; match the offer by passenger until then.
        ride = await self.step(
            "POST /rides/ (passenger)",
            waits=[(driver_inbox, "ride_requested", lambda m: m["data"]["passenger_id"] == self.passenger["id"])],
            run=lambda: self.api.call("POST", "/rides/", trip, token=p, expect=(201,)),
        )
        self.ride_id = ride["ride_id"]
        def both(event_type):
            return [(passenger_inbox, event_type, self._about_ride), (driver_inbox, event_type, self._about_ride)]

        await self.step("POST accept (driver)", waits=[(passenger_inbox, "ride_accepted", self._about_ride)],
                        run=lambda: self.api.call("POST", f"/rides/{self.ride_id}/accept/", token=d))
        await self.drive(driver_ws, passenger_inbox, DRIVER_START, PICKUP, "to pickup")
        await self.step("POST arrived (driver)", waits=both("driver_arrived"),
                        run=lambda: self.api.call("POST", f"/rides/{self.ride_id}/arrived/", token=d))
        await self.step("POST start (driver)", waits=both("ride_started"),
                        run=lambda: self.api.call("POST", f"/rides/{self.ride_id}/start/", token=d))
        await self.drive(driver_ws, passenger_inbox, PICKUP, DROPOFF, "to drop-off")
        done = await self.step("POST complete (driver)", waits=both("ride_completed"),
                               run=lambda: self.api.call("POST", f"/rides/{self.ride_id}/complete/", token=d))
        self.line(
            f"\nRide {self.ride_id} completed: {done['final_fare']} XAF, {done['distance_km']} km; "
            f"{len(self.seen)} frames in {time.monotonic() - self.started:.1f}s."
        )

    @staticmethod
    async def _send_all(websocket, messages):
        for message in messages:
            await websocket.send(json.dumps(message))

    async def _abandon(self):
        """Best effort after a failure: end the ride so the demo accounts are free next time."""
        if not self.ride_id:
            return
        path = f"/rides/{self.ride_id}"
        try:
            status, _ = await self.api.raw("POST", f"{path}/cancel/", {"reason": "simulation failed"},
                                           self.passenger["token"])
            if status == 409:  # already started: only completing ends it
                await self.api.raw("POST", f"{path}/complete/", None, self.driver["token"])
        except CommandError:
            pass


class Command(BaseCommand):
    help = (
        "Run one complete ride against a running server over REST and real WebSockets, printing every "
        "event with its delay; exit 1 if the server is unreachable or an event does not arrive."
    )

    def add_arguments(self, parser):
        parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000", help="server (default %(default)s)")
        parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                            help="how long each request and each expected event may take (default %(default)s)")
        parser.add_argument("--steps", type=int, default=4, help="location updates per leg (default %(default)s)")
        parser.add_argument("--step-delay", type=float, default=0.3, metavar="SECONDS",
                            help="pause between location updates (default %(default)s)")

    def handle(self, *args, url, timeout, steps, step_delay, **options):
        try:
            import websockets  # noqa: F401
        except ImportError:
            raise CommandError("simulate_ride needs the `websockets` package: pip install websockets") from None
        if timeout <= 0 or steps < 1 or step_delay < 0:
            raise CommandError("--timeout must be positive, --steps at least 1, --step-delay not negative")
        simulation = Simulation(self, url, timeout=timeout, steps=steps, step_delay=step_delay)
        asyncio.run(simulation.run())
        self.stdout.write("Event types seen: " + ", ".join(dict.fromkeys(simulation.seen)))
