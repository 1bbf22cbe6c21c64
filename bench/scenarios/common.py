"""What every scenario shares: WebSocket connect, percentiles, the server's /proc figures."""

import asyncio
import json
import math
import os
import time

from websockets.asyncio.client import connect

from bench import procstat

WS_PATH = "/api/v1/ws/connect"
OPEN_TIMEOUT = 30


def percentiles(values_ms):
    if not values_ms:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values_ms)

    def pct(p):
        return round(ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))], 2)

    return {"n": len(ordered), "p50": pct(50), "p95": pct(95), "p99": pct(99), "max": round(ordered[-1], 2),
            "mean": round(sum(ordered) / len(ordered), 2)}


async def open_ws(url):
    """A client socket as a phone app would open it: no compression, the library answers the
    server's pings; our own keepalive pings are off (the server pings every 20 s)."""
    return await connect(url, open_timeout=OPEN_TIMEOUT, ping_interval=None, compression=None,
                         max_size=2**20, close_timeout=2)


async def open_app_socket(ws_base, token, last_event_id=None):
    """Connect with a token and wait for `connected`; returns (socket, connected data)."""
    url = f"{ws_base}{WS_PATH}?token={token}"
    if last_event_id is not None:
        url += f"&last_event_id={last_event_id}"
    ws = await open_ws(url)
    try:
        first = json.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
    except BaseException:
        ws.transport.abort()
        raise
    if first.get("type") != "connected":
        ws.transport.abort()
        raise RuntimeError(f"first message {first.get('type')}")
    return ws, first["data"]


async def connect_many(factories, concurrency, max_seconds=None):
    """Run the connect coroutines made by `factories` with at most `concurrency` in flight.
    Returns (results in order with None for failures, failure reasons, seconds). Past
    `max_seconds` the ones not started yet are skipped (counted as "not_attempted")."""
    semaphore = asyncio.Semaphore(concurrency)
    results = [None] * len(factories)
    failures = {}
    deadline = None if max_seconds is None else time.monotonic() + max_seconds

    async def one(i, factory):
        async with semaphore:
            if deadline is not None and time.monotonic() > deadline:
                failures["not_attempted"] = failures.get("not_attempted", 0) + 1
                return
            try:
                results[i] = await factory()
            except Exception as exc:  # noqa: BLE001 - every failure is counted by kind
                key = type(exc).__name__
                failures[key] = failures.get(key, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(one(i, f) for i, f in enumerate(factories)))
    return results, failures, time.monotonic() - started


class ServerProbe:
    """The server's CPU and RSS, read from /proc (same machine): every process of its process
    group (the bench starts each server in its own), so N workers count as one server."""

    def __init__(self, pid):
        self.pid = pid
        self.meter = procstat.CpuMeter(pid, group=True) if pid else None
        self.self_meter = procstat.CpuMeter("self")

    def reset(self):
        if self.meter:
            self.meter.reset()
        self.self_meter.reset()

    def rss_mb(self):
        rss = self.rss_bytes()
        return None if rss is None else round(rss / 2**20, 1)

    def rss_bytes(self):
        return procstat.group_rss_bytes(self.pid) if self.pid else None

    def read(self):
        out = {"server_rss_mb": self.rss_mb(), "loadgen_cpu_pct": self.self_meter.read()["cpu_pct"]}
        if self.meter:
            reading = self.meter.read()
            out["server_cpu_pct"] = reading["cpu_pct"]
            out["machine_cpu_pct"] = reading["machine_cpu_pct"]
            # CPU used by anything else on the machine (other engineers' tests, PostgreSQL, Redis),
            # in % of one core: a noisy neighbour shows up here.
            cores = os.cpu_count() or 1
            out["other_cpu_pct"] = round(max(0.0, reading["machine_cpu_pct"] * cores - reading["cpu_pct"]
                                             - out["loadgen_cpu_pct"]), 1)
        return out
