"""`idle`: N authenticated sockets that do nothing. Connect rate and failed handshakes, server
RSS per connection, idle CPU over a hold period, and how many are still alive at its end (no
close seen, an app `ping` answered, and the server's own count in /ws/stats)."""

import asyncio
import json
import time

from bench.httpclient import HttpConnection

from .common import ServerProbe, connect_many, open_app_socket

PONG_TIMEOUT = 20


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.closed_at = None
        self.pong = asyncio.get_running_loop().create_future()

    async def read(self):
        try:
            async for raw in self.ws:
                if json.loads(raw).get("type") == "pong" and not self.pong.done():
                    self.pong.set_result(time.perf_counter())
        except Exception:  # noqa: BLE001
            pass
        self.closed_at = time.perf_counter()


async def server_connections(http_base, staff_token):
    client = HttpConnection(http_base, staff_token)
    try:
        status, data = await client.request("GET", "/api/v1/ws/stats")
        return data.get("total_connections") if status == 200 and data else None
    except Exception:  # noqa: BLE001
        return None
    finally:
        await client.close()


async def run(plan, params, ws_base, http_base, server_pid):
    users = plan["sockets"][: params["sockets"]]
    probe = ServerProbe(server_pid)
    # Warm up (imports, thread pool, first queries) so the baseline RSS is a serving process's.
    warm, _, _ = await connect_many([lambda u=u: open_app_socket(ws_base, u["token"]) for u in users[:20]], 20)
    for w in warm:
        if w is not None:
            await w[0].close()
    await asyncio.sleep(1.0)
    rss_before = probe.rss_bytes()
    probe.reset()
    sockets, failures, seconds = await connect_many(
        [lambda u=u: open_app_socket(ws_base, u["token"]) for u in users], params.get("concurrency", 200),
        params.get("max_connect_seconds"))
    connect_reading = probe.read()
    clients = [Client(s[0]) for s in sockets if s is not None]
    readers = [asyncio.create_task(c.read()) for c in clients]
    try:
        await asyncio.sleep(2.0)
        rss_after = probe.rss_bytes()
        probe.reset()
        hold_started = time.perf_counter()
        await asyncio.sleep(params["hold_seconds"])
        reading = probe.read()
        held = time.perf_counter() - hold_started
        closed_during_hold = sum(1 for c in clients if c.closed_at is not None)
        counted = await server_connections(http_base, plan["staff_token"])
        for c in clients:
            if c.closed_at is None:
                try:
                    await c.ws.send('{"type":"ping"}')
                except Exception:  # noqa: BLE001
                    pass
        done, _ = await asyncio.wait([c.pong for c in clients], timeout=PONG_TIMEOUT)
        unanswered = len(clients) - len(done)
    finally:
        for c in clients:
            c.ws.transport.abort()
        for task in readers:
            task.cancel()
    connected = len(clients)
    result = {
        "sockets": len(users), "connected": connected, "failed_handshakes": sum(n for k, n in failures.items() if k != "not_attempted"),
        "failure_kinds": failures, "connect_seconds": round(seconds, 2),
        "connect_rate": round(connected / seconds, 1) if seconds else None,
        "connect_server_cpu_pct": connect_reading.get("server_cpu_pct"),
        "connect_other_cpu_pct": connect_reading.get("other_cpu_pct"),
        "rss_before_mb": round(rss_before / 2**20, 1), "rss_after_mb": round(rss_after / 2**20, 1),
        "rss_per_connection_kb": round((rss_after - rss_before) / max(1, connected) / 1024, 1),
        "hold_seconds": round(held, 1), "idle_server_cpu_pct": reading.get("server_cpu_pct"),
        "closed_during_hold": closed_during_hold, "no_pong": unanswered,
        "consumers_lost": max(closed_during_hold, unanswered), "server_counted_connections": counted,
        **{k: v for k, v in reading.items() if k != "server_cpu_pct"},
    }
    print(f"  idle: {connected}/{len(users)} connected at {result['connect_rate']}/s, "
          f"{result['rss_per_connection_kb']} KB each, idle cpu {result['idle_server_cpu_pct']}%, "
          f"lost {result['consumers_lost']}, server counts {counted}", flush=True)
    return result
