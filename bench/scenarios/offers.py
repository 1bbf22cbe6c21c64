"""`offers`: D online drivers (fresh positions over the city) hold sockets; passengers request
rides over REST. Measures the delay from each request's HTTP response to every offered driver's
`ride_requested`, and checks the offer went to exactly the nearest eligible drivers
(RIDE_OFFER_MAX_DRIVERS within RIDE_OFFER_RADIUS_KM, same vehicle type)."""

import asyncio
import json
import math
import time

from bench.httpclient import HttpConnection

from .common import ServerProbe, connect_many, open_app_socket, percentiles

SETTLE_SECONDS = 2.0


def haversine_km(lat1, lon1, lat2, lon2):  # the same formula as rideshare.kernel.geo
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def expected_drivers(drivers, pickup, ride_type, radius_km, limit):
    candidates = []
    for d in drivers:
        if d["vehicle_type"] != ride_type:
            continue
        km = haversine_km(pickup[0], pickup[1], d["lat"], d["lon"])
        if km <= radius_km:
            candidates.append((km, d["id"]))
    candidates.sort()
    return [driver_id for _, driver_id in candidates[:limit]]


async def run(plan, params, ws_base, http_base, server_pid):
    drivers = plan["offers"]["drivers"][: params["drivers"]]
    passengers = plan["offers"]["passengers"][: params["requests"]]
    radius = plan["settings"]["RIDE_OFFER_RADIUS_KM"]
    limit = plan["settings"]["RIDE_OFFER_MAX_DRIVERS"]
    probe = ServerProbe(server_pid)
    offers = {}  # ride_id -> {driver_id: receive time}

    async def reader(driver_id, ws):
        try:
            async for raw in ws:
                now = time.perf_counter()
                message = json.loads(raw)
                if message.get("type") == "ride_requested":
                    offers.setdefault(message["data"]["ride_id"], {})[driver_id] = now
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
            requests.append({"status": status, "ride_id": (data or {}).get("ride_id"), "sent": sent, "done": done,
                             "pickup": pickup})

        await asyncio.gather(*(request(i, p) for i, p in enumerate(passengers)))
        reading = probe.read()
        await asyncio.sleep(SETTLE_SECONDS)
        for c in clients:
            await c.close()
    finally:
        for s in sockets:
            if s is not None:
                s[0].transport.abort()
        for task in readers:
            task.cancel()

    reachable = [d for d in drivers if d["id"] in connected_ids]
    delays, http_ms, wrong, missing, extra, statuses = [], [], 0, 0, 0, {}
    for r in requests:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        http_ms.append((r["done"] - r["sent"]) * 1000)
        if r["ride_id"] is None:
            continue
        got = offers.get(r["ride_id"], {})
        # Drivers whose socket did not open may have been taken offline by the server: the
        # expectation is computed over the connected ones.
        expected = set(expected_drivers(reachable, r["pickup"], "moto", radius, limit))
        delays.extend((t - r["done"]) * 1000 for t in got.values())
        missed = expected - set(got)
        extras = set(got) - expected
        missing += len(missed)
        extra += len(extras)
        wrong += bool(missed or extras)
    result.update({
        "requests": len(requests), "http_status": statuses, "http_latency_ms": percentiles(http_ms),
        "offer_delay_ms": percentiles(delays), "offers_received": len(delays),
        "rides_with_wrong_recipients": wrong, "missing_offers": missing, "unexpected_offers": extra,
        **reading,
    })
    d = result["offer_delay_ms"]
    print(f"  offers: {len(requests)} requests, {len(delays)} offers; delay p50 {d['p50']} p99 {d['p99']} ms; "
          f"http p99 {result['http_latency_ms']['p99']} ms; wrong {wrong}", flush=True)
    return result
