"""`offers`: D online drivers (fresh positions over the city) hold sockets; passengers request
rides over REST and nobody accepts, so each request goes out in waves (rides.dispatching).

Measures, per ride:
- the first wave: from the request's HTTP response to each first-wave driver's `ride_requested`;
- the second wave: from the first wave's `offer_expires_at` to each second-wave driver's
  `ride_requested` (the server runs with a short RIDE_OFFER_TIMEOUT_SECONDS, set by bench.run);
and checks each wave went to exactly the drivers it should: the nearest RIDE_OFFER_WAVE_SIZE of the
right vehicle type not offered before, within the first of RIDE_OFFER_RADII_KM that has any.
A wave is told apart by its `offer_expires_at` (one per wave). Each passenger cancels once their
ride's second wave went out (as if a second-wave driver took it): waves stand 2 s here instead of
15 s, so a ride left open would be re-offered 7.5 times as often as in production, and the waves of
every ride still open (100 a second after 20 s of requests) would measure a load no city makes.
Rides without a second wave are cancelled at the end, so nothing weighs on the next scenario.
"""

import asyncio
import json
import math
import time
from datetime import datetime

from bench.httpclient import HttpConnection

from .common import ServerProbe, connect_many, open_app_socket, percentiles

SETTLE_SECONDS = 2.0
# How long after the first offer of a second wave its passenger cancels: the whole wave is out.
SECOND_WAVE_GATHER_SECONDS = 0.5


def haversine_km(lat1, lon1, lat2, lon2):  # the same formula as rideshare.kernel.geo
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def expected_wave(drivers, pickup, ride_type, radii_km, size, already_offered=frozenset()):
    """The drivers a wave goes to (rides.matching.drivers_for_wave's rule)."""
    candidates = sorted(
        (haversine_km(pickup[0], pickup[1], d["lat"], d["lon"]), d["id"])
        for d in drivers if d["vehicle_type"] == ride_type and d["id"] not in already_offered
    )
    for radius_km in radii_km:
        within = [driver_id for km, driver_id in candidates if km <= radius_km]
        if within:
            return within[:size]
    return []


def epoch(iso_time):
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


async def run(plan, params, ws_base, http_base, server_pid):
    drivers = plan["offers"]["drivers"][: params["drivers"]]
    passengers = plan["offers"]["passengers"][: params["requests"]]
    radii = plan["settings"]["RIDE_OFFER_RADII_KM"]
    size = plan["settings"]["RIDE_OFFER_WAVE_SIZE"]
    offer_seconds = plan["settings"]["RIDE_OFFER_TIMEOUT_SECONDS"]
    probe = ServerProbe(server_pid)
    # ride_id -> {offer_expires_at: {driver_id: (perf_counter, wall clock) at receipt}}
    offers = {}
    passenger_of = {}  # ride_id -> the passenger's HttpConnection
    ending = {}  # ride_id -> the task cancelling it after its second wave

    async def end_after_second_wave(ride_id):
        await asyncio.sleep(SECOND_WAVE_GATHER_SECONDS)
        client = passenger_of.get(ride_id)
        if client is not None:
            try:
                await client.request("POST", f"/api/v1/rides/{ride_id}/cancel/", {"reason": "taken in the second wave"})
            except Exception:  # noqa: BLE001 - cancelled again at the end
                pass

    async def reader(driver_id, ws):
        try:
            async for raw in ws:
                now, wall = time.perf_counter(), time.time()
                message = json.loads(raw)
                if message.get("type") == "ride_requested":
                    data = message["data"]
                    waves = offers.setdefault(data["ride_id"], {})
                    waves.setdefault(data["offer_expires_at"], {})[driver_id] = (now, wall)
                    if len(waves) == 2 and data["ride_id"] not in ending:
                        ending[data["ride_id"]] = asyncio.create_task(end_after_second_wave(data["ride_id"]))
        except Exception:  # noqa: BLE001
            pass

    sockets, failures, seconds = await connect_many(
        [lambda d=d: open_app_socket(ws_base, d["token"]) for d in drivers], params.get("concurrency", 50),
        params.get("max_connect_seconds"))
    connected_ids = {d["id"] for d, s in zip(drivers, sockets) if s is not None}
    readers = [asyncio.create_task(reader(d["id"], s[0])) for d, s in zip(drivers, sockets) if s is not None]
    result = {"drivers": len(drivers), "connected": len(connected_ids), "connect_failures": failures,
              "connect_rate": round(len(connected_ids) / seconds, 1)}
    # Positions the server still has, as the matching sees them: only connected drivers count as
    # reachable (one that failed to connect is still online in the database).
    requests = []
    try:
        await asyncio.sleep(1.0)
        probe.reset()
        interval = 1.0 / params.get("request_rate", 10)
        clients = [HttpConnection(http_base, p["token"]) for p in passengers]
        started = time.perf_counter()

        async def request(i, passenger):
            await asyncio.sleep(max(0.0, started + i * interval - time.perf_counter()))
            pickup = passenger["pickup"]
            body = {"ride_type": "moto", "pickup_latitude": pickup[0], "pickup_longitude": pickup[1],
                    "dropoff_latitude": pickup[0] + 0.02, "dropoff_longitude": pickup[1] + 0.02}
            sent = time.perf_counter()
            try:
                status, data = await clients[i].request("POST", "/api/v1/rides/", body)
            except Exception as exc:  # noqa: BLE001 - a request that fails or times out is counted
                status, data = type(exc).__name__, None
            done = time.perf_counter()
            if data and data.get("ride_id"):
                passenger_of[data["ride_id"]] = clients[i]
            requests.append({"status": status, "ride_id": (data or {}).get("ride_id"), "sent": sent, "done": done,
                             "pickup": pickup, "index": i})

        await asyncio.gather(*(request(i, p) for i, p in enumerate(passengers)))
        reading = probe.read()
        # The last request's first wave expires after offer_seconds; its second wave follows.
        await asyncio.sleep(offer_seconds + SETTLE_SECONDS)
        await asyncio.gather(*ending.values(), return_exceptions=True)
        await asyncio.gather(*(
            clients[r["index"]].request("POST", f"/api/v1/rides/{r['ride_id']}/cancel/", {"reason": "bench over"})
            for r in requests if r["ride_id"] and r["ride_id"] not in ending
        ), return_exceptions=True)
        for c in clients:
            await c.close()
    finally:
        for s in sockets:
            if s is not None:
                s[0].transport.abort()
        for task in readers:
            task.cancel()

    reachable = [d for d in drivers if d["id"] in connected_ids]
    delays, second_delays, http_ms, statuses = [], [], [], {}
    wrong = {1: 0, 2: 0}
    missing = extra = 0
    for r in requests:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        http_ms.append((r["done"] - r["sent"]) * 1000)
        if r["ride_id"] is None:
            continue
        waves = [offers.get(r["ride_id"], {}).get(expiry, {}) for expiry in sorted(offers.get(r["ride_id"], {}))]
        first, second = (waves + [{}, {}])[:2]
        # Drivers whose socket did not open may have been taken offline by the server: the
        # expectation is computed over the connected ones.
        expected_first = set(expected_wave(reachable, r["pickup"], "moto", radii, size))
        expected_second = set(expected_wave(reachable, r["pickup"], "moto", radii, size, expected_first))
        delays.extend((received - r["done"]) * 1000 for received, _ in first.values())
        if first and second:
            first_expiry = epoch(min(offers[r["ride_id"]]))
            second_delays.extend((wall - first_expiry) * 1000 for _, wall in second.values())
        for number, got, expected in ((1, first, expected_first), (2, second, expected_second)):
            missing += len(expected - set(got))
            extra += len(set(got) - expected)
            wrong[number] += set(got) != expected
    result.update({"second_wave_delay_ms": percentiles(second_delays), "second_wave_offers": len(second_delays),
                   "rides_with_wrong_second_wave": wrong[2]})
    wrong = wrong[1] + wrong[2]
    result.update({
        "requests": len(requests), "http_status": statuses, "http_latency_ms": percentiles(http_ms),
        "offer_delay_ms": percentiles(delays), "offers_received": len(delays),
        "rides_with_wrong_recipients": wrong, "missing_offers": missing, "unexpected_offers": extra,
        "offer_timeout_seconds": offer_seconds,
        **reading,
    })
    d = result["offer_delay_ms"]
    d2 = result["second_wave_delay_ms"]
    print(f"  offers: {len(requests)} requests, {len(delays)} first-wave offers; delay p50 {d['p50']} p99 {d['p99']} ms; "
          f"{len(second_delays)} second-wave offers, after the first's expiry p50 {d2['p50']} p99 {d2['p99']} ms; "
          f"http p99 {result['http_latency_ms']['p99']} ms; wrong {wrong}", flush=True)
    return result
