"""One command per mode for the whole benchmark:

    .venv/bin/python -m bench.run [--quick] [--backend embedded|redis]
        [--scenarios connect,rides,rest,offers,idle,storm] [--layers core,pubsub] [--workers 1,2]
        [--servers daphne,uvicorn] [--no-baselines] [--profile]

For each channel layer of the backend (embedded: what rideshare.settings configures with no
REDIS_URL; redis: RedisChannelLayer and RedisPubSubChannelLayer on PostgreSQL) it runs every
scenario against a fresh server process, each next to its baseline on the same layer in the same
run (connect: the bare Channels consumer; rides: the bare Channels relay; REST positions: the
same server's /healthz). The database is recreated and the data set up once per run; later
layers reuse them. Prints one table per layer (figure | project | baseline | ratio | target |
met?), writes bench/results/<stamp>-<backend>[-quick].json with every figure.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime

from bench import db, figures, report
from bench.profiler import Recording
from bench.servers import Dispatcher, Server, Unsupported, uvicorn_available

PROFILES = {
    "quick": {
        "setup": {"rides": 30, "offer_drivers": 200, "offer_passengers": 20, "sockets": 400, "storm_rides": 30,
                  "rest_drivers": 32},
        "connect": {"sockets": 400, "concurrency": 100, "max_connect_seconds": 30},
        "rides": {"rides": 30, "rates": [250, 500, 1000, 1500, 2000, 3000], "step_seconds": 2, "late_seconds": 3},
        "rest_positions": {"clients": 32, "window_seconds": 3, "rounds": 2},
        "rest": {"rides": 30, "rates": [100, 300], "step_seconds": 2, "late_seconds": 3},
        "offers": {"drivers": 200, "requests": 20, "request_rate": 10, "concurrency": 50, "max_connect_seconds": 10},
        "idle": {"sockets": 200, "hold_seconds": 5, "concurrency": 50, "max_connect_seconds": 10},
        "storm": {"sockets": 200, "storm_rides": 30, "concurrency": 50, "storm_concurrency": 200,
                  "max_connect_seconds": 10},
        "layers": {"redis": ["pubsub", "core"]},
        # Project, baseline, baseline, project, and the mean of each side: on a shared machine a
        # neighbour's burst during one run weighs on both sides alike (one pair swung 0.5-0.9×).
        "connect_order": ["project", "baseline", "baseline", "project"],
        "deadline_seconds": 270,
    },
    "full": {
        "setup": {"rides": 200, "offer_drivers": 10000, "offer_passengers": 200, "sockets": 10000, "storm_rides": 200,
                  "rest_drivers": 32},
        "connect": {"sockets": 2000, "concurrency": 100, "max_connect_seconds": 120},
        "rides": {"rides": 200, "rates": [250, 500, 1000, 1500, 2000, 3000, 4000], "step_seconds": 8},
        "rest_positions": {"clients": 32, "window_seconds": 10, "rounds": 3},
        "rest": {"rides": 100, "rates": [100, 200, 300, 500], "step_seconds": 8},
        "offers": {"drivers": 10000, "requests": 200, "request_rate": 10, "concurrency": 50, "max_connect_seconds": 90},
        "idle": {"sockets": 10000, "hold_seconds": 60, "concurrency": 100, "max_connect_seconds": 90},
        "storm": {"sockets": 10000, "storm_rides": 200, "concurrency": 100, "storm_concurrency": 1000,
                  "max_connect_seconds": 90},
        "layers": {"redis": ["pubsub", "core"]},
        "connect_order": ["project", "baseline", "baseline", "project"],
        "deadline_seconds": 2400,
    },
}
FULL_SIZES = {"connect": 2000, "idle": 10000, "storm": 10000, "offers": 10000}
# The project's layers (realtime.delivery.redis_layers: channels-redis's classes with their round trips cut;
# pubsub is the production default); the stock classes stay measurable with --layers.
LAYER_BACKENDS = {
    "pubsub": "realtime.delivery.redis_layers.RedisPubSubLayer",
    "core": "realtime.delivery.redis_layers.RedisLayer",
    "pubsub-stock": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core-stock": "channels_redis.core.RedisChannelLayer",
}
LOADGEN_TIMEOUT = 420
SCENARIOS = ["connect", "rides", "rest", "offers", "idle", "storm"]


class Run:
    def __init__(self, args):
        self.args = args
        self.profile = PROFILES["quick" if args.quick else "full"]
        self.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.dir = db.RESULTS / f"{self.stamp}-{args.backend}{'-quick' if args.quick else ''}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.results = {"stamp": self.stamp, "backend": args.backend, "quick": args.quick, "configs": [],
                        "machine": {"cpus": os.cpu_count()}, "full_sizes": FULL_SIZES}

    def time_left(self):
        return self.profile["deadline_seconds"] - (time.monotonic() - self.started)

    def base_env(self, layer):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
        env.update({"DJANGO_SETTINGS_MODULE": "bench.settings_bench", "PYTHONUNBUFFERED": "1"})
        # Production settings, as a deployment runs (DEBUG keeps every SQL query in memory). The
        # baselines read SECRET_KEY (and so the JWT signing key) from the same variables.
        env.update({"DEBUG": "false", "SECRET_KEY": "bench-" + "k" * 60, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "SECURE_SSL_REDIRECT": "false"})
        # Offers: a wave stands 2 s (not 15) so the second wave is measured within the run. The
        # embedded server dispatches itself; in Redis mode `manage.py dispatch` runs beside it, as
        # in production (see `measure`). Dispatchers wake as waves fall due, at least twice a second.
        env.update({"RIDE_OFFER_TIMEOUT_SECONDS": "2", "RIDE_DISPATCH_IN_SERVER": str(layer == "embedded").lower(),
                    "RIDE_DISPATCH_INTERVAL_SECONDS": "0.5"})
        if layer != "embedded":
            env["DATABASE_POOL"] = "true"
            env.update({"REDIS_URL": db.REDIS_URL, "CHANNEL_LAYER_BACKEND": LAYER_BACKENDS[layer],
                        "CHANNEL_LAYER_PREFIX": f"bench{self.stamp}{layer}"})
        return env

    def loadgen(self, server, scenario, params, plan_path, name, profile=False):
        out = self.dir / f"{name}.json"
        timeout = max(30, min(LOADGEN_TIMEOUT, self.time_left() + 60))
        cmd = [sys.executable, "-m", "bench.loadgen", "--scenario", scenario, "--plan", str(plan_path),
               "--ws", server.ws_base, "--http", server.http_base, "--server-pid", str(server.pid),
               "--params", json.dumps(params), "--out", str(out), "--timeout", str(timeout - 10)]
        recording = Recording(server.pid, self.dir / f"profile-{name}.txt") if profile else None
        try:
            subprocess.run(cmd, cwd=db.REPO_ROOT, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            return {"error": f"load generator timed out after {timeout}s"}
        finally:
            profiled = recording.stop() if recording else None
        result = json.loads(out.read_text()) if out.exists() else {"error": "no result"}
        if profiled:
            result["profile"] = profiled
        return result

    def measure(self, kind, env, scenario, params, plan_path, name, workers=None, profile=False, **labels):
        """A fresh server process, one scenario against it, the server stopped whatever happens."""
        if self.time_left() < 5:
            print(f"- skipped {name}: out of time", flush=True)
            self.results.setdefault("skipped", []).append(name)
            return None
        print(f"- {name}", flush=True)
        server = Server(kind, env, self.dir / "servers.log", workers=workers)
        dispatcher = Dispatcher(env, self.dir / "servers.log") if env["RIDE_DISPATCH_IN_SERVER"] == "false" else None
        started = time.monotonic()
        try:
            if dispatcher and scenario == "offers":
                dispatcher.start()
            server.start()
            result = self.loadgen(server, scenario, params, plan_path, name, profile=profile)
        except Unsupported as exc:
            result = {"unsupported": str(exc)}
            print(f"  unsupported: {exc}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a config that cannot run is reported, the run goes on
            result = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            stopping = time.monotonic()
            if dispatcher:
                dispatcher.stop()
            exit_code = server.stop()
            stop_seconds = round(time.monotonic() - stopping, 1)
        config = {"name": name, "server": kind, "scenario": scenario, "workers": workers, **labels, "result": result,
                  "server_exit_code": exit_code, "stop_seconds": stop_seconds,
                  "seconds": round(time.monotonic() - started, 1)}
        if profile:
            config["purpose"] = "profile"
        self.results["configs"].append(config)
        return config

    def prepare(self, env):
        env.update(db.fresh_database(self.args.backend, self.dir))
        db.migrate(env)
        plan_path = self.dir / "plan.json"
        setup = self.profile["setup"]
        subprocess.run(
            [sys.executable, "-m", "bench.setup_data", "--out", str(plan_path)]
            + [f"--{k.replace('_', '-')}={v}" for k, v in setup.items()],
            cwd=db.REPO_ROOT, env=env, check=True, timeout=300)
        return plan_path

    def session_plan(self, layer, first):
        """(server, scenario, params, name, labels) in run order. Each project measurement sits next
        to its baseline; the layer-independent ones (REST, offers, idle, storm) run on the first
        layer only."""
        wanted, p, baselines = self.args.scenarios, self.profile, self.args.baselines
        plan = []
        if "connect" in wanted:
            order = p["connect_order"] if baselines else ["project"]
            for i, side in enumerate(order):
                server = "daphne" if side == "project" else "bare_consumer"
                plan.append((server, "connect", p["connect"], f"{layer}-{server}-connect-{i + 1}", {}))
        if "rides" in wanted:
            plan.append(("daphne", "rides", {**p["rides"], "mode": "ws"}, f"{layer}-daphne-rides-ws", {"transport": "ws"}))
            if baselines:
                plan.append(("channels_relay", "rides", {**p["rides"], "mode": "relay"},
                             f"{layer}-channels_relay-rides", {"transport": "relay"}))
                if first and (self.args.backend == "embedded" or not self.args.quick):  # the floor, once
                    plan.append(("websockets_relay", "rides", {**p["rides"], "mode": "relay"},
                                 "websockets_relay-rides", {"transport": "relay", "layer": "none"}))
        if not first:
            return plan
        if "rest" in wanted:
            plan.append(("daphne", "rest_positions", p["rest_positions"], f"{layer}-daphne-rest-positions", {}))
            plan.append(("daphne", "rides", {**p["rest"], "mode": "rest"}, f"{layer}-daphne-rides-rest",
                         {"transport": "rest"}))
        for scenario in ("offers", "idle", "storm"):
            if scenario in wanted:
                plan.append(("daphne", scenario, p[scenario], f"{layer}-daphne-{scenario}", {}))
        for server in self.args.servers[1:]:  # the alternative server(s): rides and idle
            if "rides" in wanted:
                plan.append((server, "rides", {**p["rides"], "mode": "ws"}, f"{layer}-{server}-rides-ws",
                             {"transport": "ws"}))
            if "idle" in wanted:
                plan.append((server, "idle", p["idle"], f"{layer}-{server}-idle", {}))
        return plan

    def layer_session(self, layer, first, env, plan_path):
        labels = {"backend": self.args.backend, "layer": layer}
        for server, scenario, params, name, extra in self.session_plan(layer, first):
            self.measure(server, env, scenario, params, plan_path, name, **{**labels, **extra})
        if first and self.args.workers:
            self.workers_session(layer, env, plan_path, labels)
        if self.args.profile:
            self.profile_misses(layer, env, plan_path, labels)

    def workers_session(self, layer, env, plan_path, labels):
        """connect and rides (ws) against `realtime.server --workers N` for each N."""
        p = self.profile
        for n in self.args.workers:
            if n > 1 and layer == "embedded":
                self.results.setdefault("workers_notes", []).append(f"N={n}: needs --backend redis")
                continue
            for scenario, params, extra in (("connect", p["connect"], {}),
                                            ("rides", {**p["rides"], "mode": "ws"}, {"transport": "ws"})):
                config = self.measure("daphne", env, scenario, params, plan_path, f"{layer}-workers{n}-{scenario}",
                                      workers=n, purpose="workers", **labels, **extra)
                if config and "unsupported" in config["result"]:
                    self.results["workers_unsupported"] = config["result"]["unsupported"]
                    return

    def profile_misses(self, layer, env, plan_path, labels):
        """Re-run what missed its target with py-spy attached to the server for the whole run."""
        for name, scenario, params in figures.reruns(self.results, layer):
            self.measure("daphne", env, scenario, params, plan_path, f"profile-{name}", profile=True, **labels)

    def run(self):
        layers = ["embedded"] if self.args.backend == "embedded" else self.profile["layers"]["redis"]
        if self.args.layers:
            layers = self.args.layers
        try:
            env = self.base_env(layers[0])
            plan_path = self.prepare(env)
            database = {k: env[k] for k in ("DATABASE_URL", "SQLITE_PATH") if k in env}
            for i, layer in enumerate(layers):
                if self.time_left() < 10:
                    self.results.setdefault("skipped", []).append(f"layer {layer}")
                    break
                self.layer_session(layer, i == 0, {**self.base_env(layer), **database}, plan_path)
        finally:
            db.drop_database(self.args.backend)
            self.results["seconds"] = round(time.monotonic() - self.started, 1)
            self.results["server_log_problems"] = report.log_problems(self.dir / "servers.log")
            self.results["tables"] = {layer: [row.as_dict() for row in figures.rows(self.results, layer)]
                                      for layer in layers}
            path = db.RESULTS / f"{self.dir.name}.json"
            path.write_text(json.dumps(self.results, indent=1))
            print(report.render(self.results))
            plot = report.plot(self.results, db.RESULTS / f"{self.dir.name}.png")
            print(f"\nresults: {path}" + (f"\nplot: {plot}" if plot else "") + f"\nlogs and raw files: {self.dir}")


def _list(kind):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        try:
            return [kind(item) for item in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, under 4 minutes per mode")
    parser.add_argument("--backend", choices=["embedded", "redis"], default="embedded")
    parser.add_argument("--layers", type=_list(str), help="redis only: core,pubsub (default: both)")
    parser.add_argument("--scenarios", type=_list(str), default=SCENARIOS, help=",".join(SCENARIOS))
    parser.add_argument("--servers", type=_list(str), default=None, help="daphne[,uvicorn]")
    parser.add_argument("--workers", type=_list(int), default=None,
                        help="e.g. 1,2: connect and rides (ws) against realtime.server --workers N, for each N")
    parser.add_argument("--no-baselines", dest="baselines", action="store_false")
    parser.add_argument("--profile", action="store_true", help="re-run missed targets under py-spy")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {','.join(SCENARIOS)}")
    if args.layers and (args.backend != "redis" or set(args.layers) - set(LAYER_BACKENDS)):
        parser.error(f"--layers takes {','.join(LAYER_BACKENDS)} and needs --backend redis")
    if args.workers and any(n < 1 for n in args.workers):
        parser.error("--workers takes positive counts, e.g. 1,2")
    if args.servers is None:
        args.servers = ["daphne"] + (["uvicorn"] if uvicorn_available() and not args.quick else [])
    Run(args).run()


if __name__ == "__main__":
    main()
