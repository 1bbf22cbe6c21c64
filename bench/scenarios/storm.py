"""`storm`: N sockets connected; all drop at once (TCP abort, like a network switch) and
reconnect with `last_event_id`. While they do, M rides go through arrived, started, completed
over REST, so their passengers get reliable events before, during and after their reconnect.
Measures the reconnect rate and failed handshakes, and checks every passenger got each of its
events exactly once, in increasing id order."""

import asyncio
import json
import time

from bench.httpclient import HttpConnection

from .common import connect_many, open_app_socket

EXPECTED = ("driver_arrived", "ride_started", "ride_completed")
WAIT_FOR_EVENTS_SECONDS = 15
RETRIES = 3


class Client:
    def __init__(self, user):
        self.user = user
        self.ws = None
        self.last_id = 0
        self.events = []  # (id, type, ride_id) of every reliable event, both connections
        self.reader = None
        self.failed_attempts = 0
        self.failure_kinds = {}

    async def read(self, ws):
        try:
            async for raw in ws:
                message = json.loads(raw)
                event_id = message.get("id")
                if event_id is not None:
                    self.events.append((event_id, message["type"], (message.get("metadata") or {}).get("ride_id")))
                    self.last_id = max(self.last_id, event_id)
        except Exception:  # noqa: BLE001
            pass

    def attach(self, ws, connected, resume):
        self.ws = ws
        if not resume:  # a fresh app starts from the newest event it can see
            self.last_id = connected.get("last_event_id") or 0
        self.reader = asyncio.create_task(self.read(ws))

    async def connect(self, ws_base, resume):
        for attempt in range(RETRIES):
            try:
                ws, connected = await open_app_socket(ws_base, self.user["token"], self.last_id if resume else None)
                self.attach(ws, connected, resume)
                return self
            except Exception as exc:  # noqa: BLE001
                self.failed_attempts += 1
                kind = type(exc).__name__
                self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1
                if attempt == RETRIES - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))


async def _drive_rides(http_base, storm_rides, concurrency):
    """Each storm ride: arrived, start, complete by its driver over REST."""
    statuses = {}
    queue = list(storm_rides)

    async def worker():
        while queue:
            ride = queue.pop()
            client = HttpConnection(http_base, ride["driver_token"])
            try:
                for step in ("arrived", "start", "complete"):
                    status, _ = await client.request("POST", f"/api/v1/rides/{ride['ride_id']}/{step}/")
                    statuses[status] = statuses.get(status, 0) + 1
            except Exception as exc:  # noqa: BLE001
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
            finally:
                await client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def run(plan, params, ws_base, http_base, server_pid):
    users = plan["sockets"][: params["sockets"]]
    clients = [Client(u) for u in users]
    _, failures, seconds = await connect_many([lambda c=c: c.connect(ws_base, False) for c in clients],
                                              params.get("concurrency", 200), params.get("max_connect_seconds"))
    initial = [c for c in clients if c.ws is not None]
    # Only rides whose passenger is connected can be checked.
    storm_rides = [r for r in plan["storm_rides"][: params["storm_rides"]]
                   if r["socket_index"] < len(users) and clients[r["socket_index"]].ws is not None]
    result = {"sockets": len(users), "initially_connected": len(initial), "initial_failures": failures,
              "initial_connect_rate": round(len(initial) / seconds, 1)}
    try:
        await asyncio.sleep(1.0)
        for c in initial:
            c.failed_attempts = 0
            c.failure_kinds = {}
        # The storm: every socket drops at once, then reconnects with the last id it applied.
        started = time.perf_counter()
        for c in initial:
            c.ws.transport.abort()
        rides_task = asyncio.create_task(_drive_rides(http_base, storm_rides, params.get("rest_concurrency", 10)))
        _, failures, _ = await connect_many([lambda c=c: c.connect(ws_base, True) for c in initial],
                                            params.get("storm_concurrency", 1000))
        reconnect_seconds = time.perf_counter() - started
        rest_statuses = await rides_task
        reconnected = [c for c in initial if c.ws is not None and c.ws.state.name == "OPEN"]
        watched = [(clients[r["socket_index"]], r["ride_id"]) for r in storm_rides]
        deadline = time.perf_counter() + WAIT_FOR_EVENTS_SECONDS
        while time.perf_counter() < deadline:
            if all(sum(1 for e in c.events if e[2] == ride_id) >= len(EXPECTED) for c, ride_id in watched):
                break
            await asyncio.sleep(0.25)
    finally:
        for c in clients:
            if c.ws is not None:
                c.ws.transport.abort()
            if c.reader is not None:
                c.reader.cancel()
    lost = duplicates = out_of_order = 0
    for c, ride_id in watched:
        types = [e[1] for e in c.events if e[2] == ride_id]
        lost += sum(1 for t in EXPECTED if t not in types)
        ids = [e[0] for e in c.events]
        duplicates += len(ids) - len(set(ids))
        out_of_order += sum(1 for a, b in zip(ids, ids[1:]) if b <= a)
    attempts_failed = sum(c.failed_attempts for c in initial)
    kinds = {}
    for c in initial:
        for k, n in c.failure_kinds.items():
            kinds[k] = kinds.get(k, 0) + n
    result.update({
        "reconnected": len(reconnected), "never_reconnected": len(initial) - len(reconnected),
        "failed_handshakes": attempts_failed, "failure_kinds": kinds, "gave_up": failures,
        "reconnect_seconds": round(reconnect_seconds, 2),
        "reconnect_rate": round(len(reconnected) / reconnect_seconds, 1),
        "reliable_events_expected": len(watched) * len(EXPECTED), "reliable_events_lost": lost,
        "duplicates": duplicates, "out_of_order": out_of_order, "rest_statuses": rest_statuses,
    })
    print(f"  storm: {len(reconnected)}/{len(initial)} reconnected at {result['reconnect_rate']}/s, "
          f"failed handshakes {attempts_failed}, events lost {lost}/{result['reliable_events_expected']}, "
          f"dups {duplicates}, rest {rest_statuses}", flush=True)
    return result
