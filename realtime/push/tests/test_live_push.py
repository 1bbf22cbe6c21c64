"""Against a real server process: the server's own background job pushes a ride event to the
closed app of a passenger who registered a browser subscription over REST, and pushes nothing
to them while their socket is open."""

import asyncio
import json
import os
import uuid

import pytest
import websockets

from realtime.push.management.commands.generate_vapid_keys import new_key_pair
from realtime.tests.live_client import Api, recv_type, ws_uri
from realtime.tests.servers import LiveDatabase, ServerProcess

from .fakes import WAIT, BrowserSubscription, FakeService

pytestmark = pytest.mark.live


@pytest.fixture
def push_service():
    service = FakeService()
    yield service
    service.stop()


@pytest.fixture
def server(tmp_path, push_service):
    database = LiveDatabase(tmp_path)
    private, public = new_key_pair()
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}",
               WEBPUSH_VAPID_PRIVATE_KEY=private, WEBPUSH_VAPID_PUBLIC_KEY=public,
               WEBPUSH_VAPID_SUBJECT="mailto:ops@example.cm", WEBPUSH_ENDPOINT_HOSTS="127.0.0.1",
               PUSH_INTERVAL_SECONDS="0.2")
    process = None
    try:
        database.migrate(env)
        process = ServerProcess(env, tmp_path).start()
        process.database = database
        yield process
    finally:
        if process is not None:
            process.stop()
        database.drop()


async def outbox_empty(database):
    """Wait until every push delivery is settled (sent, or not needed)."""
    for _ in range(int(WAIT / 0.1)):
        if not await asyncio.to_thread(database.query, "SELECT id FROM push_pushdelivery"):
            return
        await asyncio.sleep(0.1)
    pytest.fail("push deliveries still pending")


async def test_the_server_pushes_to_a_closed_app_and_not_to_an_open_one(server, push_service):
    api = Api(server.base_url)
    passenger, driver = await asyncio.gather(api.register("Awa Push"), api.driver("Jean Push", at=(3.849, 11.502)))
    key = await api.call("GET", "/devices/vapid-public-key/", token=passenger["access"])
    browser = BrowserSubscription(push_service)
    device = await api.call("POST", "/devices/", {"kind": "webpush", "subscription": browser.as_json()},
                            token=passenger["access"], expect=201)
    ride = await api.request_ride(passenger)

    await api.step(ride["ride_id"], "accept", driver)  # the passenger's app is closed

    (received,) = await asyncio.to_thread(push_service.wait_for, 1)
    envelope = json.loads(browser.decrypt(received))
    assert envelope["type"] == "ride_accepted" and envelope["data"]["ride_id"] == ride["ride_id"]
    assert isinstance(envelope["id"], int) and key["public_key"] in received.headers["authorization"]

    async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as app:  # the app is open
        await recv_type(app, "connected")
        await api.step(ride["ride_id"], "arrived", driver)
        arrived = await recv_type(app, "driver_arrived")
        await outbox_empty(server.database)
    assert len(push_service.received) == 1
    assert arrived["id"] > envelope["id"]
    assert device["kind"] == "webpush"
