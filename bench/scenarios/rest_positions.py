"""`rest_positions`: C keep-alive clients in a closed loop (each sends its next request when the
previous one answered), each a different online driver, in alternating windows against the same
server process: `GET /healthz` (the server's floor for an HTTP request through Django), then
`POST /api/v1/drivers/me/location/` with a valid position around Yaoundé, then healthz again...
Per kind: requests/s, p50/p99 latency, errors; and the load generator's own CPU, so a saturated
generator is visible."""

import asyncio
import random
import time

from bench.httpclient import HttpConnection

from .common import ServerProbe, percentiles

YAOUNDE = (3.848, 11.502)
SPREAD_DEG = 0.05
LOCATION_PATH = "/api/v1/drivers/me/location/"
HEALTHZ_PATH = "/healthz"
WARMUP_SECONDS = 1.0


def _location_body(rng):
    return {"latitude": round(YAOUNDE[0] + rng.uniform(-SPREAD_DEG, SPREAD_DEG), 6),
            "longitude": round(YAOUNDE[1] + rng.uniform(-SPREAD_DEG, SPREAD_DEG), 6),
            "heading": rng.randrange(360), "speed": round(rng.uniform(0, 60), 1)}


async def _client_loop(connection, kind, end, rng, latencies, errors):
    while time.perf_counter() < end:
        started = time.perf_counter()
        try:
            if kind == "location":
                status, _ = await connection.request("POST", LOCATION_PATH, _location_body(rng))
            else:
                status, _ = await connection.request("GET", HEALTHZ_PATH)
        except Exception as exc:  # noqa: BLE001 - counted, the client goes on
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            await connection.close()
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            errors[f"http_{status}"] = errors.get(f"http_{status}", 0) + 1


async def _window(connections, kind, seconds, probe, rngs):
    latencies, errors = [], {}
    probe.reset()
    started = time.perf_counter()
    end = started + seconds
    await asyncio.gather(*(_client_loop(c, kind, end, rng, latencies, errors) for c, rng in zip(connections, rngs)))
    duration = time.perf_counter() - started  # the last answers come in after `end`: counted, and so is their time
    reading = probe.read()
    done = len(latencies)
    return {"kind": kind, "seconds": round(duration, 2), "requests": done, "rate": round(done / duration, 1),
            "errors": errors, "latency_ms": percentiles(latencies), **reading}, latencies


def _summary(windows, latencies, kind):
    mine = [w for w in windows if w["kind"] == kind]
    requests = sum(w["requests"] for w in mine)
    seconds = sum(w["seconds"] for w in mine)
    errors = {}
    for w in mine:
        for code, n in w["errors"].items():
            errors[code] = errors.get(code, 0) + n
    cpu = [w.get("loadgen_cpu_pct") for w in mine if w.get("loadgen_cpu_pct") is not None]
    server_cpu = [w.get("server_cpu_pct") for w in mine if w.get("server_cpu_pct") is not None]
    return {"requests": requests, "seconds": round(seconds, 2), "rate": round(requests / seconds, 1) if seconds else None,
            "errors": errors, "error_count": sum(errors.values()), "latency_ms": percentiles(latencies),
            "loadgen_cpu_pct": max(cpu) if cpu else None,
            "server_cpu_pct": round(sum(server_cpu) / len(server_cpu), 1) if server_cpu else None}


async def run(plan, params, ws_base, http_base, server_pid):
    drivers = plan["rest_drivers"][: params["clients"]]
    if len(drivers) < params["clients"]:
        raise ValueError(f"the plan has {len(drivers)} REST drivers, {params['clients']} clients asked for")
    probe = ServerProbe(server_pid)
    connections = [HttpConnection(http_base, d["token"]) for d in drivers]
    rngs = [random.Random(i) for i in range(len(connections))]
    kinds = params.get("order", ["healthz", "location"]) * params.get("rounds", 2)
    windows, latencies = [], {"healthz": [], "location": []}
    try:
        for kind in ("healthz", "location"):  # warm-up: connections open, first queries, not measured
            await _window(connections, kind, WARMUP_SECONDS, probe, rngs)
        for kind in kinds:
            window, got = await _window(connections, kind, params["window_seconds"], probe, rngs)
            windows.append(window)
            latencies[kind].extend(got)
            print(f"  rest[{kind}] {window['rate']}/s p50 {window['latency_ms']['p50']} p99 "
                  f"{window['latency_ms']['p99']} ms errors {sum(window['errors'].values())} server cpu "
                  f"{window.get('server_cpu_pct')}% loadgen {window.get('loadgen_cpu_pct')}%", flush=True)
    finally:
        for c in connections:
            await c.close()
    result = {"clients": len(connections), "window_seconds": params["window_seconds"], "windows": windows,
              "healthz": _summary(windows, latencies["healthz"], "healthz"),
              "location": _summary(windows, latencies["location"], "location")}
    h, loc = result["healthz"]["rate"], result["location"]["rate"]
    result["location_to_healthz"] = round(loc / h, 2) if h and loc is not None else None
    return result
