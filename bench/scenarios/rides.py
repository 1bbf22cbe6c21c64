"""`rides`: R active rides; every driver reports its position at a fixed cadence (WebSocket
`location_update`, REST POST /drivers/me/location/, or a baseline relay) and its passenger gets
`driver_location_update`. Each position carries a sequence number in the latitude's low decimals
(lat = base + seq * 1e-8), so every delivery is matched to its send. Sweeps the offered rate."""

import asyncio
import json
import random
import time

from bench.httpclient import HttpConnection

from .common import ServerProbe, connect_many, open_app_socket, open_ws, percentiles

SEQ_SCALE = 1e-8
DRAIN_SECONDS = 2.0
LATE_SECONDS = 5.0
CONNECT_CONCURRENCY = 50


def encode(base, seq):
    return base + seq * SEQ_SCALE


def decode(base, value):
    return round((value - base) / SEQ_SCALE)


class Ride:
    def __init__(self, index, spec):
        self.index = index
        self.spec = spec
        self.base_lat = spec["base_lat"]
        self.lon = spec["base_lon"]
        self.sent = {}  # seq -> send time
        self.received = {}  # seq -> receive time (first)
        self.duplicates = 0
        self.next_seq = 1
        self.driver = self.passenger = self.http = None
        self.errors = {}


async def _passenger_reader(ride, ws):
    try:
        async for raw in ws:
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") != "driver_location_update":
                continue
            data = message["data"]
            seq = decode(ride.base_lat, data["latitude"])
            if seq in ride.received:
                ride.duplicates += 1
            else:
                ride.received[seq] = now
    except Exception:  # noqa: BLE001 - a closed socket shows up as lost deliveries
        pass


async def _driver_reader(ride, ws):
    try:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "error":
                code = message["data"].get("code")
                ride.errors[code] = ride.errors.get(code, 0) + 1
    except Exception:  # noqa: BLE001
        pass


async def _connect_ride(ride, mode, ws_base):
    spec = ride.spec
    if mode == "relay":
        ride.passenger = await open_ws(f"{ws_base}/relay?ride={spec['ride_id']}&role=passenger")
        ride.driver = await open_ws(f"{ws_base}/relay?ride={spec['ride_id']}&role=driver")
    else:
        ride.passenger, _ = await open_app_socket(ws_base, spec["passenger_token"])
        if mode == "ws":
            ride.driver, _ = await open_app_socket(ws_base, spec["driver_token"])
    return ride


async def _drive(ride, mode, interval, end, http_latencies):
    """One driver: a position every `interval` seconds until `end` (no bursts when late)."""
    next_at = time.perf_counter() + random.uniform(0, interval)
    while True:
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.perf_counter()
        if now >= end:
            return
        seq = ride.next_seq
        ride.next_seq += 1
        body = {"latitude": encode(ride.base_lat, seq), "longitude": ride.lon, "heading": 90, "speed": 25}
        ride.sent[seq] = now
        try:
            if mode == "rest":
                status, _ = await ride.http.request("POST", "/api/v1/drivers/me/location/", body)
                http_latencies.append((time.perf_counter() - now) * 1000)
                if status != 200:
                    ride.errors[f"http_{status}"] = ride.errors.get(f"http_{status}", 0) + 1
            else:
                await ride.driver.send(json.dumps({"type": "location_update", **body}))
        except Exception as exc:  # noqa: BLE001
            ride.errors[type(exc).__name__] = ride.errors.get(type(exc).__name__, 0) + 1
            await asyncio.sleep(interval)
        next_at = max(next_at + interval, time.perf_counter() - interval)


def _step_stats(rides, first_seqs, probe_reading, duration, rate, http_latencies):
    latencies, sent, lost, duplicates = [], 0, 0, 0
    errors = {}
    for ride, first in zip(rides, first_seqs):
        for seq in range(first, ride.next_seq):
            sent += 1
            got = ride.received.get(seq)
            if got is None:
                lost += 1
            else:
                latencies.append((got - ride.sent[seq]) * 1000)
        duplicates += ride.duplicates
        ride.duplicates = 0
        for code, n in ride.errors.items():
            errors[code] = errors.get(code, 0) + n
        ride.errors = {}
    stats = {"offered_rate": rate, "achieved_rate": round(sent / duration, 1), "sent": sent, "lost": lost,
             "duplicates": duplicates, "errors": errors, "latency_ms": percentiles(latencies), **probe_reading}
    if http_latencies:
        stats["http_latency_ms"] = percentiles(http_latencies)
    return stats


def step_ok(step, p99_limit_ms=100.0):
    p99 = step["latency_ms"]["p99"]
    return (step["lost"] == 0 and p99 is not None and p99 < p99_limit_ms
            and step["achieved_rate"] >= 0.95 * step["offered_rate"])


async def run(plan, params, ws_base, http_base, server_pid):
    mode = params.get("mode", "ws")  # ws | rest | relay
    count = params["rides"]
    rides = [Ride(i, spec) for i, spec in enumerate(plan["rides"][:count])]
    probe = ServerProbe(server_pid)
    _, failures, connect_seconds = await connect_many(
        [lambda r=r: _connect_ride(r, mode, ws_base) for r in rides], CONNECT_CONCURRENCY)
    rides = [r for r in rides if r.passenger is not None and (mode == "rest" or r.driver is not None)]
    readers = [asyncio.create_task(_passenger_reader(r, r.passenger)) for r in rides]
    readers += [asyncio.create_task(_driver_reader(r, r.driver)) for r in rides if r.driver is not None]
    if mode == "rest":
        for r in rides:
            r.http = HttpConnection(http_base, r.spec["driver_token"])
    result = {"mode": mode, "rides": len(rides), "connect_failures": failures,
              "connect_seconds": round(connect_seconds, 2), "steps": []}
    try:
        # Warm-up: one position per driver, not measured.
        await asyncio.gather(*(_drive(r, mode, 1.0, time.perf_counter() + 0.5, []) for r in rides))
        await asyncio.sleep(1.0)
        for r in rides:
            r.duplicates = 0
            r.errors = {}
        bounds = []  # per step: (first, end) seq per ride, to recount at the very end
        for rate in params["rates"]:
            first_seqs = [r.next_seq for r in rides]
            http_latencies = []
            probe.reset()
            started = time.perf_counter()
            end = started + params["step_seconds"]
            await asyncio.gather(*(_drive(r, mode, len(rides) / rate, end, http_latencies) for r in rides))
            reading = probe.read()
            duration = params["step_seconds"]  # sends are scheduled within it; the last sleep may overrun
            await asyncio.sleep(DRAIN_SECONDS)
            bounds.append((first_seqs, [r.next_seq for r in rides]))
            step = _step_stats(rides, first_seqs, reading, duration, rate, http_latencies)
            step["ok"] = step_ok(step)
            result["steps"].append(step)
            lat = step["latency_ms"]
            print(f"  rides[{mode}] {rate}/s: achieved {step['achieved_rate']}/s p50 {lat['p50']} p99 {lat['p99']} ms "
                  f"lost {step['lost']} cpu {step.get('server_cpu_pct')}% ok={step['ok']}", flush=True)
            if step["lost"] > 0.05 * max(1, step["sent"]) or (lat["p99"] or 0) > params.get("give_up_p99_ms", 1000):
                break  # far past saturation: higher rates only take longer to say the same
        # "lost" above is "not received within the step's 2 s drain"; give late ones more time
        # (5 s unless `late_seconds`) and recount, so late and never-delivered can be told apart.
        await asyncio.sleep(params.get("late_seconds", LATE_SECONDS))
        for step, (firsts, ends) in zip(result["steps"], bounds):
            step["lost_final"] = sum(1 for r, a, b in zip(rides, firsts, ends) for seq in range(a, b)
                                     if seq not in r.received)
    finally:
        for r in rides:
            for ws in (r.driver, r.passenger):
                if ws is not None:
                    ws.transport.abort()
            if r.http is not None:
                await r.http.close()
        for task in readers:
            task.cancel()
    good = [s["offered_rate"] for s in result["steps"] if s["ok"]]
    result["max_ok_rate"] = max(good) if good else 0
    return result
