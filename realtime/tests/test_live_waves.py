"""Waves against a real server, with short timeouts: dispatched by the server itself (the embedded
default's way), and by `manage.py dispatch` in a process of its own (production's way).

Offers stand 1 s, one driver per wave, requests time out after 4 s. Two drivers 1 km and 3 km
north of the pickup: the near one hears wave 1, then `offer_expired`; the far one hears wave 2 and
declines it on the socket; with nobody left the passenger hears `no_driver_found`.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
import websockets

from .live_client import Api, recv_type, ws_uri
from .servers import REPO_ROOT, LiveDatabase, ServerProcess

pytestmark = pytest.mark.live

KM_PER_DEGREE = 111.195
PICKUP = (3.848, 11.502)
SHORT_WAVES = {"RIDE_OFFER_TIMEOUT_SECONDS": "1", "RIDE_OFFER_WAVE_SIZE": "1", "RIDE_REQUEST_TIMEOUT_SECONDS": "4",
               "RIDE_DISPATCH_INTERVAL_SECONDS": "0.2", "EVENT_RELAY_INTERVAL_SECONDS": "0.5",
               "EVENT_RELAY_GRACE_SECONDS": "0.5"}
WITHIN = 10  # a wave's second plus a dispatcher tick plus, from another process, the relay


def north(km):
    return (PICKUP[0] + km / KM_PER_DEGREE, PICKUP[1])


def started_server(workdir, dispatch_in_server):
    database = LiveDatabase(workdir)
    env = dict(os.environ, **database.env, **SHORT_WAVES, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}",
               RIDE_DISPATCH_IN_SERVER="true" if dispatch_in_server else "false")
    database.migrate(env)
    return database, ServerProcess(env, workdir).start()


async def waves_until_no_driver_found(server):
    api = Api(server.base_url)
    passenger, near, far = await asyncio.gather(
        api.register("Waiting Passenger"), api.driver("Near Driver", at=north(1.0)), api.driver("Far Driver", at=north(3.0)),
    )
    connect = [websockets.connect(ws_uri(server.ws_url, user["access"])) for user in (passenger, near, far)]
    async with connect[0] as p_ws, connect[1] as near_ws, connect[2] as far_ws:
        for websocket in (p_ws, near_ws, far_ws):
            await recv_type(websocket, "connected")
        ride = await api.request_ride(passenger, pickup=PICKUP)

        first = (await recv_type(near_ws, "ride_requested"))["data"]
        assert first["ride_id"] == ride["ride_id"] and first["pickup_eta_minutes"] >= 1
        expired = await recv_type(near_ws, "ride_unavailable", timeout=WITHIN)
        assert expired["data"] == {"ride_id": ride["ride_id"], "reason": "offer_expired"}
        second = (await recv_type(far_ws, "ride_requested", timeout=WITHIN))["data"]
        assert second["offer_expires_at"] > first["offer_expires_at"]

        await far_ws.send(json.dumps({"type": "decline_ride", "ride_id": ride["ride_id"]}))
        assert (await recv_type(far_ws, "ride_declined"))["data"] == {"ride_id": ride["ride_id"]}

        cancelled = (await recv_type(p_ws, "ride_cancelled", timeout=WITHIN))["data"]
        assert (cancelled["cancelled_by"], cancelled["reason"]) == ("system", "no_driver_found")


async def test_the_server_dispatches_waves_itself_in_the_embedded_default(tmp_path):
    database, server = started_server(tmp_path, dispatch_in_server=True)
    try:
        await waves_until_no_driver_found(server)
    finally:
        server.stop()
        database.drop()


async def test_manage_py_dispatch_in_its_own_process_dispatches_for_the_server(tmp_path):
    database, server = started_server(tmp_path, dispatch_in_server=False)
    dispatcher = subprocess.Popen([sys.executable, "manage.py", "dispatch"], cwd=REPO_ROOT, env=server.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await waves_until_no_driver_found(server)
    finally:
        dispatcher.terminate()
        dispatcher.wait(timeout=10)
        server.stop()
        database.drop()
