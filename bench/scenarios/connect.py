"""`connect`: N sockets open with at most `concurrency` handshakes in flight, each until its first
frame (`connected` from the project; the bare consumer's one frame). Then every socket drops at
once (TCP abort, no close frame) and reconnects with `?last_event_id=` (the id its `connected`
carried), again with at most `concurrency` in flight, one attempt each. Connect rate = sockets
that got their first frame / time until the last did; the same for the reconnect. The same code
runs against the project and the bare Channels consumer (bench/baselines/bare_consumer.py)."""

import asyncio
import time

from .common import ServerProbe, connect_many, open_app_socket, percentiles

SETTLE_SECONDS = 1.0


async def _timed_open(ws_base, token, last_event_id, handshake_ms):
    started = time.perf_counter()
    ws, connected = await open_app_socket(ws_base, token, last_event_id)
    handshake_ms.append((time.perf_counter() - started) * 1000)
    return ws, connected


async def _wave(ws_base, users, last_ids, params, probe):
    """Open one socket per user; (sockets, figures)."""
    handshake_ms = []
    probe.reset()
    sockets, failures, seconds = await connect_many(
        [lambda u=u, i=i: _timed_open(ws_base, u["token"], i, handshake_ms) for u, i in zip(users, last_ids)],
        params.get("concurrency", 100), params.get("max_connect_seconds"))
    reading = probe.read()
    ok = sum(1 for s in sockets if s is not None)
    figures = {
        "attempted": len(users), "ok": ok, "failed": sum(n for k, n in failures.items() if k != "not_attempted"),
        "failure_kinds": failures, "seconds": round(seconds, 2), "rate": round(ok / seconds, 1) if seconds else None,
        "handshake_ms": percentiles(handshake_ms), **reading,
    }
    return sockets, figures


def _last_event_id(connected):
    value = connected.get("last_event_id") if isinstance(connected, dict) else None
    return value if isinstance(value, int) else 0


async def run(plan, params, ws_base, http_base, server_pid):
    users = plan["sockets"][: params["sockets"]]
    probe = ServerProbe(server_pid)
    # Warm-up (imports, thread pool, first queries), not measured.
    warm, _ = await _wave(ws_base, users[:10], [None] * 10, {"concurrency": 10}, probe)
    for s in warm:
        if s is not None:
            s[0].transport.abort()
    await asyncio.sleep(SETTLE_SECONDS)
    sockets, connect = await _wave(ws_base, users, [None] * len(users), params, probe)
    result = {"sockets": len(users), "concurrency": params.get("concurrency", 100), "connect": connect}
    print(f"  connect: {connect['ok']}/{len(users)} at {connect['rate']}/s, failed {connect['failed']}, "
          f"server cpu {connect.get('server_cpu_pct')}% loadgen {connect.get('loadgen_cpu_pct')}%", flush=True)
    reconnected = []
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        back = [(u, _last_event_id(s[1])) for u, s in zip(users, sockets) if s is not None]
        for s in sockets:  # the drop: every socket at once, as a network switch does
            if s is not None:
                s[0].transport.abort()
        reconnected, reconnect = await _wave(ws_base, [u for u, _ in back], [i for _, i in back], params, probe)
        result["reconnect"] = reconnect
        print(f"  reconnect with last_event_id: {reconnect['ok']}/{len(back)} at {reconnect['rate']}/s, "
              f"failed {reconnect['failed']}, server cpu {reconnect.get('server_cpu_pct')}%", flush=True)
    finally:
        for s in list(sockets) + list(reconnected):
            if s is not None:
                s[0].transport.abort()
    return result
