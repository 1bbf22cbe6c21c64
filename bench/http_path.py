"""Issue 21's HTTP targets, each figure beside its baseline from the same run:

    .venv/bin/python -m bench.http_path [--backend embedded|redis] [--quick] [--seconds N]
                                        [--clients N] [--rounds N] [--workers 2] [--profile]

| figure | baseline (same run) | target |
|---|---|---|
| `/healthz` req/s | the same async view in a bare Django project (no middleware, no app), same server | ≥ 0.8× |
| `GET rides/{id}/`, `GET drivers/nearby/`, `POST drivers/me/location/` req/s, one process | the same view in a bare DRF project (bench/baselines/bare_drf.py) | ≥ 0.8× each |
| the same three, production deployment (`realtime.server --workers 2`) | the project on one process | ≥ 1.6× |
| `POST drivers/me/location/` p99 at 300 req/s offered (open loop) | - | < 100 ms |

All servers run at once on a fresh bench database (bench/db.py, bench/setup_data.py), each in
its own process group: the project (`python -m realtime.server rideshare.asgi:application`,
settings bench.settings_bench: throttles off), the bare Django project on the same server and on
plain `daphne`, the bare DRF project on the same server, and with `--workers 2` the project's
production deployment. The project is measured as it serves a request at the time of the run
(whatever answers `POST drivers/me/location/`: Django or something in front of it).

Load: `--clients` keep-alive HTTP/1.1 connections (bench/httpclient.py), each its own user (a
ride's passenger for `rides/{id}/` and `nearby`, its driver for `location`). Closed loop (each
connection sends its next request when the last one answered) for req/s; open loop (each
connection sends on its own schedule, `--rate` in all; a request's latency counts from when it was
due, so a late server is not hidden by a late client) for p99. Rounds are interleaved: every
round measures every server on every endpoint, one window each, the order reversed every other
round; a figure's ratio is the median of its rounds' ratios (this machine is shared: compare
ratios, not absolute rates). A ratio is met only if neither side answered anything but 200.

Per window, in % of one core: the measured server's CPU (its process group and every process it
started: the workers), the load generator's, the other bench servers' (idle meanwhile), PostgreSQL
and Redis (every `postgres` and `redis-server` process, other users' included) and everybody else's.
Output: the table on stdout, `bench/results/<stamp>-http-path-<backend>[-quick].json` (every
window), `bench/results/<stamp>-http-path-<backend>/` (plan, servers.log, profiles).
"""

import argparse
import asyncio
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from bench import db, procstat, servers
from bench.httpclient import HttpConnection
from bench.scenarios.common import percentiles

YAOUNDE = (3.848, 11.502)  # where setup_data puts the online drivers that `nearby` finds
DOUALA = (4.05, 9.70)  # where the drivers on a ride are (busy: never in `nearby`'s answer)
TARGET_BARE = 0.8
TARGET_WORKERS = 1.6
P99_LIMIT_MS = 100.0
PROFILES = {
    "quick": {"seconds": 1.5, "rounds": 2, "clients": 32, "nearby_drivers": 300},
    "full": {"seconds": 4.0, "rounds": 4, "clients": 32, "nearby_drivers": 2000},
}
PAUSE_SECONDS = 0.2  # between windows: what a server does after a window (batched writes) settles
REQUEST_TIMEOUT = 10.0

ENDPOINTS = ("healthz", "ride", "nearby", "location")
ENDPOINT_LABELS = {
    "healthz": "/healthz",
    "ride": "GET rides/{id}/",
    "nearby": "GET drivers/nearby/",
    "location": "POST drivers/me/location/",
}
# Which servers each endpoint is measured on, the project first.
SERVERS_FOR = {
    "healthz": ("project", "bare-django", "bare-django-daphne"),
    "ride": ("project", "bare-drf", "project-w2"),
    "nearby": ("project", "bare-drf", "project-w2"),
    "location": ("project", "bare-drf", "project-w2"),
}
SERVER_LABELS = {
    "project": "the project, one process (realtime.server)",
    "project-w2": "the project, realtime.server --workers 2",
    "bare-django": "bare Django, realtime.server",
    "bare-django-daphne": "bare Django, plain daphne",
    "bare-drf": "bare DRF, realtime.server",
}


# --- the servers -----------------------------------------------------------------------------

def baseline_command(kind, port):
    """The bare projects' command lines, or None for the project's own kinds (bench/servers.py)."""
    py = sys.executable
    binding = ["-b", "127.0.0.1", "-p", str(port), "-v", "0"]
    if kind == "bare-django":
        return [py, "-m", servers.SERVER_MODULE, *binding, "bench.baselines.bare_django:application"]
    if kind == "bare-django-daphne":
        return [py, "-m", "daphne", *binding, "bench.baselines.bare_django:application"]
    if kind == "bare-drf":
        return [py, "-m", servers.SERVER_MODULE, *binding, "bench.baselines.bare_drf:application"]
    return None


BASELINE_SETTINGS = {"bare-django": "bench.baselines.bare_django_settings",
                     "bare-django-daphne": "bench.baselines.bare_django_settings",
                     "bare-drf": "bench.baselines.bare_drf_settings"}


def install_baseline_commands():
    """bench/servers.py starts what `servers.command` names; the bare projects are added to it
    in this process only (the way bench/rest_ab.py swaps the application)."""
    base = servers.command
    if getattr(base, "http_path", False):
        return

    def command(kind, port, workers=None):
        return baseline_command(kind, port) or base(kind, port, workers)

    command.http_path = True
    servers.command = command


def start_servers(args, env, log_path):
    """{name: Server}, and {name: why it is not there} for those that could not start."""
    started, missing = {}, {}
    wanted = [("project", "daphne", None), ("bare-django", "bare-django", None),
              ("bare-django-daphne", "bare-django-daphne", None), ("bare-drf", "bare-drf", None)]
    if args.workers > 1:
        wanted.append(("project-w2", "daphne", args.workers))
    for name, kind, workers in wanted:
        server_env = dict(env)
        if kind in BASELINE_SETTINGS:
            server_env["DJANGO_SETTINGS_MODULE"] = BASELINE_SETTINGS[kind]
        try:
            started[name] = servers.Server(kind, server_env, log_path, workers=workers).start()
        except (RuntimeError, servers.Unsupported) as exc:
            missing[name] = last_log_line(log_path) or str(exc)
            print(f"  {name}: did not start: {exc} — {missing[name]}", flush=True)
    return started, missing


def last_log_line(log_path):
    """The servers' log's last line (a server that exits at start says why there)."""
    try:
        lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


# --- requests --------------------------------------------------------------------------------

def location_body(i, seq):
    return {"latitude": round(DOUALA[0] + seq * 1e-6, 6), "longitude": round(DOUALA[1] + i * 1e-4, 4),
            "heading": 90, "speed": 25}


def nearby_path(i, seq):
    """A point within ±0.05° of Yaoundé's centre, the same sequence for every server."""
    dlat = ((i * 7919 + seq * 104729) % 1001 - 500) * 1e-4
    dlon = ((i * 104723 + seq * 7907) % 1001 - 500) * 1e-4
    return (f"/api/v1/drivers/nearby/?latitude={YAOUNDE[0] + dlat:.4f}&longitude={YAOUNDE[1] + dlon:.4f}"
            f"&ride_type=moto")


def make_clients(endpoint, base_url, rides, count):
    if endpoint == "healthz":
        return [HttpConnection(base_url, timeout=REQUEST_TIMEOUT) for _ in range(count)]
    key = "driver_token" if endpoint == "location" else "passenger_token"
    return [HttpConnection(base_url, rides[i][key], timeout=REQUEST_TIMEOUT) for i in range(count)]


def requester(endpoint, rides):
    """`await request(i, client, seq)` → (status, body) for the endpoint."""
    if endpoint == "healthz":
        return lambda i, client, seq: client.request("GET", "/healthz")
    if endpoint == "ride":
        return lambda i, client, seq: client.request("GET", f"/api/v1/rides/{rides[i]['ride_id']}/")
    if endpoint == "nearby":
        return lambda i, client, seq: client.request("GET", nearby_path(i, seq))
    if endpoint == "location":
        return lambda i, client, seq: client.request("POST", "/api/v1/drivers/me/location/", location_body(i, seq))
    raise ValueError(endpoint)


async def _send(request, i, client, seq, errors):
    try:
        status, body = await request(i, client, seq)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
        await client.close()  # a request may still be in flight on it: open a new one next time
        status, body = f"exception {type(exc).__name__}", None
    if status != 200:
        errors[str(status)] = errors.get(str(status), 0) + 1
    return status, body


async def closed_loop(clients, seconds, request):
    """Each client sends its next request when its last one answered. → (req/s, latencies, errors)"""
    latencies, errors = [], {}
    start = time.perf_counter()
    end = start + seconds

    async def one(i, client):
        seq = 0
        while time.perf_counter() < end:
            seq += 1
            began = time.perf_counter()
            await _send(request, i, client, seq, errors)
            latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    return len(latencies) / (time.perf_counter() - start), latencies, errors


async def open_loop(clients, seconds, rate, request):
    """`rate` requests/s in all, each client on its own schedule (every len(clients)/rate s,
    staggered). A request's latency counts from when it was due: a client still waiting for its
    previous answer sends late, and that wait is in the figure. A server that cannot keep up is not
    waited for beyond `seconds` more: requests due but not sent by then count as unsent, each with
    the time it had waited as its latency (a lower bound). → (sent/s, latencies, errors, unsent)"""
    latencies, errors, sent, unsent = [], {}, [0], [0]
    interval = len(clients) / rate
    start = time.perf_counter() + 0.01
    end = start + seconds
    give_up = end + seconds

    async def one(i, client):
        due = start + interval * i / len(clients)
        seq = 0
        while due < end:
            now = time.perf_counter()
            if now > give_up:
                while due < end:
                    unsent[0] += 1
                    latencies.append((now - due) * 1000)
                    due += interval
                return
            if due > now:
                await asyncio.sleep(due - now)
            seq += 1
            sent[0] += 1
            await _send(request, i, client, seq, errors)
            latencies.append((time.perf_counter() - due) * 1000)
            due += interval

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))
    return sent[0] / max(seconds, time.perf_counter() - start), latencies, errors, unsent[0]


# --- CPU per window --------------------------------------------------------------------------

SERVICES = ("postgres", "redis-server")  # their CPU is shown apart from everybody else's


def process_table():
    """{pid: (ppid, pgrp, comm, cpu seconds)} of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1:raw.rfind(")")]
        fields = raw.rsplit(")", 1)[1].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), comm,
                             (int(fields[11]) + int(fields[12])) / procstat.CLK_TCK)
    return table


def tree_members(table, root):
    """`root`'s process group and every descendant of it: `realtime.server --workers N` starts
    each child in a process group of its own."""
    members = {pid for pid, (_, pgrp, _, _) in table.items() if pgrp == root} | {root}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _, _) in table.items() if ppid in members} - members
        members |= children
        grew = bool(children)
    return {pid for pid in members if pid in table}


def tree_cpu_seconds(table, root):
    return sum(table[pid][3] for pid in tree_members(table, root))


def services_cpu_seconds(table):
    return sum(cpu for _, _, comm, cpu in table.values() if comm.startswith(SERVICES))


class WindowMeter:
    """CPU over a window, in % of one core: the measured server (its process group and every
    process it started), the other bench servers (idle meanwhile), this load generator, PostgreSQL
    and Redis, and everything else on the machine (other users)."""

    def __init__(self, roots):
        self.roots = dict(roots)  # name -> pid (each server leads its own process group)
        self.cores = os.cpu_count() or 1

    def _read(self):
        table = process_table()
        self.tables.append(table)
        return ({name: tree_cpu_seconds(table, pid) for name, pid in self.roots.items()},
                services_cpu_seconds(table), procstat.cpu_seconds("self") or 0.0, procstat.machine_ticks())

    def start(self):
        self.t0 = time.monotonic()
        self.tables = []
        self.first = self._read()

    def stop(self, measured):
        elapsed = max(1e-6, time.monotonic() - self.t0)
        (cpu0, services0, self0, (busy0, total0)), (cpu1, services1, self1, (busy1, total1)) = self.first, self._read()
        cpu = {name: 100 * max(0.0, cpu1.get(name, 0.0) - cpu0[name]) / elapsed for name in cpu0}
        loadgen = 100 * (self1 - self0) / elapsed
        services = 100 * max(0.0, services1 - services0) / elapsed
        machine = 100 * self.cores * (busy1 - busy0) / max(1, total1 - total0)
        server = cpu.get(measured, 0.0)
        idle_servers = sum(v for name, v in cpu.items() if name != measured)
        # Each worker's share (a server with child processes): keep-alive connections stay with the
        # worker that accepted them, so an uneven split caps what N workers can do.
        root, (before, after) = self.roots.get(measured), self.tables
        workers = sorted((round(100 * (after[pid][3] - before[pid][3]) / elapsed, 1)
                          for pid in tree_members(after, root) if pid != root and pid in before),
                         reverse=True) if root else []
        return {"server_cpu_pct": round(server, 1), "loadgen_cpu_pct": round(loadgen, 1),
                **({"workers_cpu_pct": workers} if workers else {}),
                "idle_bench_servers_cpu_pct": round(idle_servers, 1), "postgres_redis_cpu_pct": round(services, 1),
                "others_cpu_pct": round(max(0.0, machine - server - idle_servers - loadgen - services), 1),
                "machine_cpu_pct_of_one_core": round(machine, 1)}


def machine_sample(seconds=2.0):
    """The machine's busy CPU (in % of one core) over a moment before anything of this run starts."""
    busy0, total0 = procstat.machine_ticks()
    time.sleep(seconds)
    busy1, total1 = procstat.machine_ticks()
    cores = os.cpu_count() or 1
    return {"busy_pct_of_one_core": round(100 * cores * (busy1 - busy0) / max(1, total1 - total0), 1),
            "cores": cores, "loadavg": [round(v, 2) for v in os.getloadavg()]}


# --- the run ---------------------------------------------------------------------------------

def round_plan(available, round_no, workers_rate=True):
    """The windows of one round, as (mode, endpoint, server): per endpoint every server it is
    measured on, in reversed order every other round; then the open-loop windows."""
    plan = []
    for endpoint in ENDPOINTS:
        names = [n for n in SERVERS_FOR[endpoint] if n in available]
        if round_no % 2 == 0:
            names.reverse()
        plan += [("closed", endpoint, n) for n in names]
    plan.append(("open", "location", "project"))
    if workers_rate and "project-w2" in available:
        plan.append(("open", "location", "project-w2"))
    return [w for w in plan if w[2] in available]


def compare_answers(endpoint, project, baseline):
    """'same', or what differs between two (status, body) answers (the location's times differ)."""
    (p_status, p_body), (b_status, b_body) = project, baseline
    if p_status != 200 or b_status != 200:
        return f"status {p_status} vs {b_status}"
    if endpoint == "location":
        if not isinstance(p_body, dict) or not isinstance(b_body, dict):
            return "not JSON objects"
        if set(p_body) != set(b_body):
            return f"fields differ: {sorted(set(p_body) ^ set(b_body))}"
        differ = [k for k in p_body if k != "location_updated_at" and p_body[k] != b_body[k]]
        return f"values differ: {differ}" if differ else "same"
    if p_body == b_body:
        return "same"
    if isinstance(p_body, dict) and isinstance(b_body, dict):
        return f"values differ: {sorted(k for k in set(p_body) | set(b_body) if p_body.get(k) != b_body.get(k))}"
    return f"bodies differ ({len(p_body or [])} vs {len(b_body or [])} items)"


async def drive(args, plan, started):
    rides = plan["rides"][: args.clients]
    pools = {(name, ep): make_clients(ep, server.http_base, rides, args.clients)
             for name, server in started.items() for ep in ENDPOINTS if name in SERVERS_FOR[ep]}
    meter = WindowMeter({name: server.pid for name, server in started.items()})
    windows, answers = [], {}
    try:
        # The same request to every server: the baselines must answer what the project answers.
        for ep in ENDPOINTS:
            first = {}
            for name in SERVERS_FOR[ep]:
                if (name, ep) in pools:
                    first[name] = await _send(requester(ep, rides), 0, pools[(name, ep)][0], 0, {})
            if "project" in first:
                answers[ep] = {name: compare_answers(ep, first["project"], answer)
                               for name, answer in first.items() if name != "project"}
                answers[ep]["project status"] = first["project"][0]
        # Several processes on one port: the kernel gives a new connection to whichever accepts it
        # first, and 32 connections opened at once mostly go to one of them. Opened one by one
        # instead (each answers a request before the next opens), they split about evenly.
        for (name, ep), clients in pools.items():
            if name == "project-w2":
                for i, client in enumerate(clients):
                    await _send(requester(ep, rides), i, client, 0, {})
        # Warm-up, unmeasured: connections open, code paths and caches loaded.
        for (_name, ep), clients in pools.items():
            await closed_loop(clients, args.warmup, requester(ep, rides))
        for round_no in range(1, args.rounds + 1):
            for mode, ep, name in round_plan(set(started), round_no):
                clients, request = pools[(name, ep)], requester(ep, rides)
                await asyncio.sleep(PAUSE_SECONDS)
                meter.start()
                unsent = None
                if mode == "closed":
                    rate, latencies, errors = await closed_loop(clients, args.seconds, request)
                else:
                    rate, latencies, errors, unsent = await open_loop(clients, args.seconds, args.rate, request)
                cpu = meter.stop(name)
                window = {"round": round_no, "mode": mode, "endpoint": ep, "server": name,
                          "offered_rate": args.rate if mode == "open" else None, "req_per_s": round(rate, 1),
                          "latency_ms": percentiles(latencies), "errors": errors, "cpu": cpu}
                if mode == "open":
                    window["unsent"] = unsent
                    window["latencies_ms"] = [round(v, 2) for v in latencies]
                windows.append(window)
                lat = window["latency_ms"]
                print(f"  round {round_no} {mode:6} {ENDPOINT_LABELS[ep]:27} {name:19} {rate:8.1f} req/s"
                      f"  p50 {lat['p50']:>7} p99 {lat['p99']:>7} ms  cpu {cpu['server_cpu_pct']:5.1f}%"
                      f"  loadgen {cpu['loadgen_cpu_pct']:5.1f}%  pg+redis {cpu['postgres_redis_cpu_pct']:5.1f}%"
                      f"  others {cpu['others_cpu_pct']:5.1f}%"
                      f"{'  workers ' + '/'.join(f'{v:.0f}' for v in cpu['workers_cpu_pct']) + '%' if 'workers_cpu_pct' in cpu else ''}"
                      f"{'  errors ' + json.dumps(errors) if errors else ''}"
                      f"{f'  unsent {unsent}' if unsent else ''}", flush=True)
    finally:
        for clients in pools.values():
            for client in clients:
                await client.close()
    return windows, answers


async def profile_project(args, plan, server, workdir):
    """py-spy on the one-process project, one closed-loop window per endpoint (not measured)."""
    from bench import profiler

    rides = plan["rides"][: args.clients]
    out = {}
    for ep in ENDPOINTS:
        clients = make_clients(ep, server.http_base, rides, args.clients)
        try:
            await closed_loop(clients, 0.5, requester(ep, rides))
            recording = profiler.Recording(server.pid, workdir / f"profile-{ep}.txt", rate=200)
            await asyncio.sleep(0.5)
            rate, _, errors = await closed_loop(clients, max(args.seconds, 3.0), requester(ep, rides))
            out[ep] = {"req_per_s": round(rate, 1), "errors": errors, **recording.stop()}
        finally:
            for client in clients:
                await client.close()
    return out


# --- the table -------------------------------------------------------------------------------

@dataclass
class Row:
    figure: str
    project: str
    baseline: str
    ratio: str
    rounds: str
    target: str
    met: object  # True, False, or None (not measured)
    note: str = ""


def _rate(value):
    return f"{value:,.0f}/s"


def _errors(windows):
    total = {}
    for w in windows:
        for status, n in w["errors"].items():
            total[status] = total.get(status, 0) + n
    return total


def ratio_row(figure, windows, endpoint, server, baseline, target, baseline_label, missing=None):
    """Project / baseline req/s, closed loop, paired round by round; the median of the rounds'
    ratios is judged against `target`. Any non-200 answer on either side: not met."""
    missing = missing or {}
    if server in missing or baseline in missing:
        why = missing.get(server) or missing.get(baseline)
        return Row(figure, "-", baseline_label, "-", "-", f"≥ {target}×", None, f"not measured: {why}")
    by_round = {}
    for w in windows:
        if w["mode"] == "closed" and w["endpoint"] == endpoint and w["server"] in (server, baseline):
            by_round.setdefault(w["round"], {})[w["server"]] = w
    pairs = [(r[server], r[baseline]) for _, r in sorted(by_round.items()) if server in r and baseline in r]
    if not pairs:
        return Row(figure, "-", baseline_label, "-", "-", f"≥ {target}×", None, "not measured")
    ratios = [p["req_per_s"] / b["req_per_s"] for p, b in pairs if b["req_per_s"] > 0]
    ratio = statistics.median(ratios) if ratios else 0.0
    project_rate = statistics.median(p["req_per_s"] for p, _ in pairs)
    baseline_rate = statistics.median(b["req_per_s"] for _, b in pairs)
    errors = {"project": _errors(p for p, _ in pairs), "baseline": _errors(b for _, b in pairs)}
    note = "; ".join(f"{side} errors {json.dumps(e)}" for side, e in errors.items() if e)
    met = ratio >= target and not any(errors.values())
    spread = f"{min(ratios):.2f}–{max(ratios):.2f}× ({len(ratios)})" if ratios else "-"
    return Row(figure, _rate(project_rate), f"{_rate(baseline_rate)} {baseline_label}", f"{ratio:.2f}×", spread,
               f"≥ {target}×", met, note)


def p99_row(figure, windows, server, rate, limit_ms, missing=None):
    """The p99 of every open-loop request at `rate` on `server`, all rounds pooled."""
    missing = missing or {}
    if server in missing:
        return Row(figure, "-", "-", "-", "-", f"< {limit_ms:.0f} ms", None, f"not measured: {missing[server]}")
    chosen = [w for w in windows if w["mode"] == "open" and w["server"] == server]
    if not chosen:
        return Row(figure, "-", "-", "-", "-", f"< {limit_ms:.0f} ms", None, "not measured")
    pooled = percentiles([v for w in chosen for v in w.get("latencies_ms", [])])
    p99 = pooled["p99"] if pooled["n"] else max(w["latency_ms"]["p99"] or 0 for w in chosen)
    sent = statistics.median(w["req_per_s"] for w in chosen)
    errors = _errors(chosen)
    unsent = sum(w.get("unsent") or 0 for w in chosen)
    rounds = "–".join(f"{v:.0f}" for v in (min(w['latency_ms']['p99'] or 0 for w in chosen),
                                           max(w['latency_ms']['p99'] or 0 for w in chosen)))
    met = p99 < limit_ms and not errors and not unsent and sent >= 0.95 * rate
    note = "; ".join(filter(None, [f"errors {json.dumps(errors)}" if errors else "",
                                   f"{unsent} due requests never sent (the server fell behind)" if unsent else "",
                                   f"{sent:.0f}/s sent of {rate}/s offered" if sent < 0.95 * rate else ""]))
    return Row(figure, f"p99 {p99:.1f} ms (p50 {pooled['p50']}, {sent:.0f}/s sent)", "-", "-",
               f"p99 {rounds} ms ({len(chosen)})", f"< {limit_ms:.0f} ms", met, note)


def rows(windows, missing=None, rate=300):
    out = [ratio_row("/healthz req/s", windows, "healthz", "project", "bare-django", TARGET_BARE,
                     "(bare Django, realtime.server)", missing)]
    plain = ratio_row("/healthz req/s vs plain daphne", windows, "healthz", "project", "bare-django-daphne",
                      TARGET_BARE, "(bare Django, plain daphne)", missing)
    plain.target, plain.met = "- (info)", None
    out.append(plain)
    for ep in ("ride", "nearby", "location"):
        out.append(ratio_row(f"{ENDPOINT_LABELS[ep]} req/s, one process", windows, ep, "project", "bare-drf",
                             TARGET_BARE, "(bare DRF, realtime.server)", missing))
    for ep in ("ride", "nearby", "location"):
        out.append(ratio_row(f"{ENDPOINT_LABELS[ep]} req/s, --workers 2", windows, ep, "project-w2", "project",
                             TARGET_WORKERS, "(the project, one process)", missing))
    out.append(p99_row(f"POST drivers/me/location/ p99 at {rate} req/s offered, one process", windows, "project",
                       rate, P99_LIMIT_MS, missing))
    if any(w["server"] == "project-w2" and w["mode"] == "open" for w in windows):
        extra = p99_row(f"POST drivers/me/location/ p99 at {rate} req/s offered, --workers 2", windows,
                        "project-w2", rate, P99_LIMIT_MS, missing)
        out.append(extra)
    return out


def format_table(table, indicative=False):
    header = ["figure", "this project", "baseline (same run)", "ratio (median)", "rounds", "target", "met?"]
    body = []
    for row in table:
        met = {True: "met", False: "MISSED", None: "-"}[row.met]
        if indicative and row.met is not None:
            met += "*"
        body.append([row.figure, row.project, row.baseline, row.ratio, row.rounds, row.target, met])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in body]
    notes = {}
    for row in table:
        if row.note:
            notes.setdefault(row.note, []).append(row.figure)
    if notes:
        lines += ["notes:"] + [f"  {'; '.join(figures)}: {note}" for note, figures in notes.items()]
    if indicative:
        lines.append("* quick run: short windows, indicative only")
    return lines


def load_summary(windows, before, after):
    """The machine's other load: before the run, and over the measured windows."""
    others = [w["cpu"]["others_cpu_pct"] for w in windows]
    loadgen = [w["cpu"]["loadgen_cpu_pct"] for w in windows]
    idle = [w["cpu"]["idle_bench_servers_cpu_pct"] for w in windows]
    services = [w["cpu"].get("postgres_redis_cpu_pct", 0.0) for w in windows]
    lines = [f"machine: {before['cores']} cores; before the run {before['busy_pct_of_one_core']}% of one core busy, "
             f"load average {before['loadavg']} (after: {after['loadavg']})"]
    if others:
        lines.append(f"during the windows (% of one core): others (other users' processes) median "
                     f"{statistics.median(others):.0f}%, max {max(others):.0f}%; PostgreSQL + Redis median "
                     f"{statistics.median(services):.0f}%, max {max(services):.0f}%; load generator median "
                     f"{statistics.median(loadgen):.0f}%, max {max(loadgen):.0f}%; idle bench servers median "
                     f"{statistics.median(idle):.0f}%")
        per_server = {}
        for w in windows:
            if w["mode"] == "closed":
                per_server.setdefault(w["server"], []).append(w["cpu"]["server_cpu_pct"])
        lines.append("server CPU under closed-loop load (median, % of one core): " + ", ".join(
            f"{name} {statistics.median(v):.0f}%" for name, v in per_server.items()))
        shares = [max(w["cpu"]["workers_cpu_pct"]) / sum(w["cpu"]["workers_cpu_pct"]) for w in windows
                  if len(w["cpu"].get("workers_cpu_pct", [])) > 1 and sum(w["cpu"]["workers_cpu_pct"]) > 0]
        if shares:
            lines.append(f"workers: the busiest worker's share of the workers' CPU, median {statistics.median(shares):.0%}"
                         f" (range {min(shares):.0%}–{max(shares):.0%}; 50% is an even split)")
    return lines


def answers_lines(answers):
    lines = []
    for ep, by_server in answers.items():
        parts = [f"{name} {verdict}" for name, verdict in by_server.items() if name != "project status"]
        lines.append(f"  {ENDPOINT_LABELS[ep]} (project: {by_server.get('project status')}): " + ", ".join(parts))
    return ["the same first request to every server, each answer against the project's:"] + lines if lines else []


def profile_lines(profiles, top=8):
    lines = []
    for ep, prof in profiles.items():
        if "error" in prof:
            lines.append(f"profile {ENDPOINT_LABELS[ep]}: {prof['error'].strip()[:300]}")
            continue
        lines.append(f"profile {ENDPOINT_LABELS[ep]} (the project, one process, {prof.get('req_per_s')} req/s): "
                     f"{prof.get('samples', 0)} samples, waiting {prof.get('idle_pct')}%; own time, waits left out:")
        lines += [f"  {r['pct']:>5}%  {r['function']}" for r in prof.get("top_own_busy", [])[:top]]
        lines.append("  inclusive:")
        lines += [f"  {r['pct']:>5}%  {r['function']}" for r in prof.get("top_inclusive", [])[:top]]
    return lines


# --- main ------------------------------------------------------------------------------------

def server_env(backend):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
    env.update({"DJANGO_SETTINGS_MODULE": "bench.settings_bench", "PYTHONUNBUFFERED": "1", "DEBUG": "false",
                "SECRET_KEY": "bench-" + "k" * 60, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "false"})
    if backend == "redis":
        env.update({"REDIS_URL": db.REDIS_URL, "DATABASE_POOL": os.environ.get("DATABASE_POOL", "true"),
                    "CHANNEL_LAYER_PREFIX": f"httppath{os.getpid()}"})
    return env


def code_state():
    """The code measured: the commit, and the uncommitted changes of the working tree (other people
    edit it meanwhile: two runs compare only if this line is the same)."""
    def git(*cmd):
        try:
            return subprocess.run(["git", *cmd], cwd=db.REPO_ROOT, capture_output=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return b""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").decode().splitlines()]
    diff = hashlib.sha1(git("diff", "HEAD")).hexdigest()[:10] if changed else None
    return {"commit": git("rev-parse", "--short", "HEAD").decode().strip(), "changed_files": changed, "diff_sha1": diff}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "redis"], default="embedded")
    parser.add_argument("--quick", action="store_true", help="short windows, 2 rounds (development)")
    parser.add_argument("--seconds", type=float, help="per window (full 4, quick 1.5)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (full 4, quick 2)")
    parser.add_argument("--clients", type=int, help="keep-alive connections, each its own user (32)")
    parser.add_argument("--rate", type=int, default=300, help="open loop: requests/s offered (300)")
    parser.add_argument("--workers", type=int, default=2, help="the production deployment's processes (2; 1: skip)")
    parser.add_argument("--profile", action="store_true", help="then py-spy on the one-process project, per endpoint")
    args = parser.parse_args(argv)
    sizes = PROFILES["quick" if args.quick else "full"]
    for name in ("seconds", "rounds", "clients"):
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    args.nearby_drivers = sizes["nearby_drivers"]
    args.warmup = 0.5 if args.quick else 1.0
    return args


def main(argv=None):
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    install_baseline_commands()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-http-path-{args.backend}{'-quick' if args.quick else ''}"
    workdir = db.RESULTS / name
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"== issue 21 HTTP path, backend={args.backend}, {args.rounds} rounds × {args.seconds} s windows, "
          f"{args.clients} clients, open loop {args.rate}/s", flush=True)
    before = machine_sample()
    code = code_state()
    env = server_env(args.backend)
    env.update(db.fresh_database(args.backend, workdir))
    started, missing, profiles = {}, {}, {}
    windows, answers = [], {}
    try:
        db.migrate(env)
        plan_path = workdir / "plan.json"
        subprocess.run([sys.executable, "-m", "bench.setup_data", "--out", str(plan_path), f"--rides={args.clients}",
                        f"--offer-drivers={args.nearby_drivers}"],
                       cwd=db.REPO_ROOT, env=env, check=True, timeout=300)
        plan = json.loads(plan_path.read_text())
        started, missing = start_servers(args, env, workdir / "servers.log")
        if "project" not in started:
            raise SystemExit(f"the project's server did not start: {missing.get('project')}")
        windows, answers = asyncio.run(drive(args, plan, started))
        if args.profile:
            profiles = asyncio.run(profile_project(args, plan, started["project"], workdir))
    finally:
        for server in started.values():
            server.stop()
        db.drop_database(args.backend)
    after = machine_sample(0.5)
    table = rows(windows, missing, args.rate)
    lines = ["", f"== issue 21 HTTP targets, backend={args.backend} ({len(windows)} windows, same run)"]
    lines += format_table(table, indicative=args.quick)
    lines += [""] + load_summary(windows, before, after) + answers_lines(answers)
    lines.append(f"code: {code['commit']}" + (f" + uncommitted changes (diff {code['diff_sha1']}) in "
                                              f"{', '.join(code['changed_files'])}" if code["changed_files"] else ""))
    lines.append("baselines: bench/baselines/bare_django.py (/healthz), bench/baselines/bare_drf.py (same queries, "
                 "simplejwt JWTAuthentication, no middleware; location: same UPDATE and active-ride read, relayed "
                 "with group_send; the project's 'approaching' check is not done)")
    if profiles:
        lines += [""] + profile_lines(profiles)
    print("\n".join(lines), flush=True)
    result = {"stamp": stamp, "backend": args.backend, "quick": args.quick,
              "args": {k: v for k, v in vars(args).items()}, "code": code, "machine_before": before, "machine_after": after,
              "servers": {n: SERVER_LABELS[n] for n in started}, "missing": missing, "answers": answers,
              "table": [asdict(r) for r in table], "windows": windows, "profiles": profiles}
    out = db.RESULTS / f"{name}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
