"""REST positions against `/healthz` on the same server, interleaved in one run:

    .venv/bin/python -m bench.rest_ab [--backend embedded|redis] [--clients 32] [--window 4]
                                      [--rounds 3] [--rate 300] [--passengers] [--profile FILE]

One fresh `python -m realtime.server` (daphne) on a fresh bench database with `--clients`
drivers on started rides. Each round runs, against that one process, with `--clients`
keep-alive HTTP/1.1 clients (bench/httpclient.py, one request in flight each):
- `healthz`: closed loop (each client sends its next request when the last one answered);
- `location`: the same closed loop on `POST /api/v1/drivers/me/location/`;
- `location@RATE`: open loop, RATE requests/s spread over the clients (the issue's target:
  >= 300 req/s at p99 < 100 ms).
Closed-loop throughputs are compared as a ratio (location / healthz) within the round, so a busy
machine slows both alike. `--passengers` connects each ride's passenger socket and counts the
`driver_location_update`s it hears (the relay's work is then in the figures too).
`--profile FILE` attaches py-spy (raw collapsed stacks) to the server for the whole run.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime

from bench import db, procstat, servers
from bench.httpclient import HttpConnection
from bench.scenarios.common import open_app_socket, percentiles
from bench.servers import Server

LOCATION = "/api/v1/drivers/me/location/"


def server_env(backend):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
    env.update({"DJANGO_SETTINGS_MODULE": "bench.settings_bench", "PYTHONUNBUFFERED": "1", "DEBUG": "false",
                "SECRET_KEY": "bench-" + "k" * 60, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "false"})
    if backend == "redis":
        env.update({"REDIS_URL": db.REDIS_URL, "DATABASE_POOL": os.environ.get("DATABASE_POOL", "true"),
                    "CHANNEL_LAYER_PREFIX": f"restab{os.getpid()}"})
    return env


def body(i, seq):
    return {"latitude": round(4.05 + seq * 1e-6, 6), "longitude": round(9.70 + i * 1e-4, 4), "heading": 90,
            "speed": 25}


async def closed_loop(clients, seconds, make_request):
    latencies, errors = [], {}
    end = time.perf_counter() + seconds

    async def one(i, client):
        seq = 0
        while time.perf_counter() < end:
            seq += 1
            started = time.perf_counter()
            status, _ = await make_request(i, client, seq)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    return len(latencies) / (time.perf_counter() - started), percentiles(latencies), errors


async def open_loop(clients, seconds, rate, make_request):
    """Each client sends every len(clients)/rate s (staggered); a late client sends at once, once."""
    latencies, errors, sent = [], {}, [0]
    interval = len(clients) / rate
    start = time.perf_counter()
    end = start + seconds

    async def one(i, client):
        next_at = start + interval * i / len(clients)
        seq = 0
        while True:
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() >= end:
                return
            seq += 1
            sent[0] += 1
            began = time.perf_counter()
            status, _ = await make_request(i, client, seq)
            latencies.append((time.perf_counter() - began) * 1000)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
            next_at = max(next_at + interval, time.perf_counter() - interval)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    return sent[0] / seconds, percentiles(latencies), errors


async def healthz(i, client, seq):
    return await client.request("GET", "/healthz")


async def location(i, client, seq):
    return await client.request("POST", LOCATION, body(i, seq))


async def listen(ws, counter):
    try:
        async for text in ws:
            if '"driver_location_update"' in text:
                counter[0] += 1
    except Exception:  # noqa: BLE001 - closed at the end
        pass


async def drive(args, server, plan):
    rides = plan["rides"][: args.clients]
    drivers = [HttpConnection(server.http_base, r["driver_token"]) for r in rides]
    anonymous = [HttpConnection(server.http_base) for _ in rides]
    heard, listeners, sockets = [0], [], []
    if args.passengers:
        for r in rides:
            ws, _ = await open_app_socket(server.ws_base, r["passenger_token"])
            sockets.append(ws)
            listeners.append(asyncio.create_task(listen(ws, heard)))
    meter = procstat.CpuMeter(server.pid)
    rows = []
    try:
        await closed_loop(anonymous, 1.0, healthz)  # warm-up: connections open, code paths loaded
        await closed_loop(drivers, 1.0, location)
        for round_no in range(1, args.rounds + 1):
            figures = {}
            windows = [
                ("healthz", anonymous, lambda c: closed_loop(c, args.window, healthz)),
                ("location", drivers, lambda c: closed_loop(c, args.window, location)),
                (f"location@{args.rate}", drivers, lambda c: open_loop(c, args.window, args.rate, location)),
            ]
            for extra in args.extra:
                method, path = extra.split(" ", 1)
                windows.append((extra, drivers, lambda c, m=method, p=path: closed_loop(
                    c, args.window, lambda i, client, seq: client.request(m, p, body(i, seq) if m == "POST" else None))))
            for name, clients, runner in windows:
                meter.reset()
                rate, lat, errors = await runner(clients)
                cpu = meter.read()
                figures[name] = rate
                rows.append({"round": round_no, "name": name, "req_per_s": round(rate, 1), "latency_ms": lat,
                             "errors": errors, **cpu})
                print(f"round {round_no} {name:14} {rate:7.1f} req/s  p50 {lat['p50']:>8} p99 {lat['p99']:>8} ms"
                      f"  server cpu {cpu['cpu_pct']:5.1f}%  machine {cpu['machine_cpu_pct']:5.1f}%"
                      f"{'  errors ' + json.dumps(errors) if errors else ''}", flush=True)
            print(f"round {round_no} ratio location/healthz {figures['location'] / figures['healthz']:.2f}", flush=True)
        await asyncio.sleep(1.5)  # positions batched by the server are flushed; the last relays land
    finally:
        for client in drivers + anonymous:
            await client.close()
        for ws in sockets:
            ws.transport.abort()
        for task in listeners:
            task.cancel()
    return rows, heard[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "redis"], default="embedded")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--passengers", action="store_true")
    parser.add_argument("--profile", help="py-spy raw output file")
    parser.add_argument("--extra", action="append", default=[], help='another closed-loop window: "GET /path"')
    parser.add_argument("--app", default="rideshare.asgi:application", help="the ASGI application daphne serves")
    args = parser.parse_args()
    workdir = db.RESULTS / f"restab-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{args.backend}"
    workdir.mkdir(parents=True, exist_ok=True)
    env = server_env(args.backend)
    env.update(db.fresh_database(args.backend, workdir))
    server = spy = None
    try:
        db.migrate(env)
        plan_path = workdir / "plan.json"
        subprocess.run([sys.executable, "-m", "bench.setup_data", "--out", str(plan_path), f"--rides={args.clients}"],
                       cwd=db.REPO_ROOT, env=env, check=True, timeout=300)
        plan = json.loads(plan_path.read_text())
        if args.app != "rideshare.asgi:application":
            servers.command = lambda kind, port, base=servers.command: base(kind, port)[:-1] + [args.app]
        server = Server("daphne", env, workdir / "server.log").start()
        if args.profile:
            spy = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-r", "200", "-f", "raw", "--nonblocking", "-o",
                                    args.profile, "-p", str(server.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        rows, heard = asyncio.run(drive(args, server, plan))
        if args.passengers:
            print(f"passengers heard {heard} driver_location_update", flush=True)
        (workdir / "result.json").write_text(json.dumps(rows, indent=1))
        print(f"results: {workdir}/result.json")
    finally:
        if spy is not None:
            spy.send_signal(2)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
        if server is not None:
            server.stop()
        db.drop_database(args.backend)


if __name__ == "__main__":
    main()
