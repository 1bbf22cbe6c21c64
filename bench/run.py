"""One command for the whole benchmark:

    .venv/bin/python -m bench.run [--quick] [--backend embedded|redis] [--scenarios rides,rest,offers,idle,storm]
                                  [--servers daphne,uvicorn] [--no-baselines] [--profile]

For each channel layer of the backend (embedded: what rideshare.settings configures with no
REDIS_URL; redis: RedisChannelLayer and RedisPubSubChannelLayer on PostgreSQL) it recreates the
database, sets up the data, and runs every scenario against a fresh server process, then the same
`rides` load against the two baselines. Prints a table, writes bench/results/<stamp>-<backend>.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime

from bench import db, report
from bench.profiler import Recording
from bench.servers import Server, uvicorn_available

PROFILES = {
    "quick": {
        "setup": {"rides": 30, "offer_drivers": 200, "offer_passengers": 20, "sockets": 200, "storm_rides": 30},
        "rides": {"rides": 30, "rates": [250, 1000, 2000], "step_seconds": 2},
        "rest": {"rides": 30, "rates": [100, 300], "step_seconds": 2},
        "offers": {"drivers": 200, "requests": 20, "request_rate": 10, "concurrency": 50, "max_connect_seconds": 10},
        "idle": {"sockets": 200, "hold_seconds": 5, "concurrency": 50, "max_connect_seconds": 10},
        "storm": {"sockets": 200, "storm_rides": 30, "concurrency": 50, "storm_concurrency": 200,
                  "max_connect_seconds": 10},
        "layers": {"redis": ["core"]},
        "deadline_seconds": 110,
    },
    "full": {
        "setup": {"rides": 200, "offer_drivers": 10000, "offer_passengers": 200, "sockets": 10000, "storm_rides": 200},
        "rides": {"rides": 200, "rates": [250, 500, 1000, 1500, 2000, 3000, 4000], "step_seconds": 8},
        "rest": {"rides": 100, "rates": [100, 200, 300, 500], "step_seconds": 8},
        "offers": {"drivers": 10000, "requests": 200, "request_rate": 10, "concurrency": 50, "max_connect_seconds": 90},
        "idle": {"sockets": 10000, "hold_seconds": 60, "concurrency": 100, "max_connect_seconds": 90},
        "storm": {"sockets": 10000, "storm_rides": 200, "concurrency": 100, "storm_concurrency": 1000,
                  "max_connect_seconds": 90},
        "layers": {"redis": ["core", "pubsub"]},
        "deadline_seconds": 900,
    },
}
LAYER_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
LOADGEN_TIMEOUT = 420


class Run:
    def __init__(self, args):
        self.args = args
        self.profile = PROFILES["quick" if args.quick else "full"]
        self.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.dir = db.RESULTS / f"{self.stamp}-{args.backend}{'-quick' if args.quick else ''}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.results = {"stamp": self.stamp, "backend": args.backend, "quick": args.quick, "configs": [],
                        "machine": {"cpus": os.cpu_count()}}

    def time_left(self):
        return self.profile["deadline_seconds"] - (time.monotonic() - self.started)

    def base_env(self, layer):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
        env.update({"DJANGO_SETTINGS_MODULE": "bench.settings_bench", "PYTHONUNBUFFERED": "1"})
        # Production settings, as a deployment runs (DEBUG keeps every SQL query in memory).
        env.update({"DEBUG": "false", "SECRET_KEY": "bench-" + "k" * 60, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "SECURE_SSL_REDIRECT": "false"})
        if layer != "embedded":
            env["DATABASE_POOL"] = "true"
        if layer != "embedded":
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

    def measure(self, kind, env, scenario, params, plan_path, name, **labels):
        """A fresh server process, one scenario against it, the server stopped whatever happens."""
        if self.time_left() < 5:
            print(f"- skipped {name}: out of time", flush=True)
            return None
        print(f"- {name}", flush=True)
        server = Server(kind, env, self.dir / "servers.log")
        started = time.monotonic()
        try:
            server.start()
            result = self.loadgen(server, scenario, params, plan_path, name, profile=labels.pop("profile", False))
        except Exception as exc:  # noqa: BLE001 - a config that cannot run is reported, the run goes on
            result = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            stopping = time.monotonic()
            exit_code = server.stop()
            stop_seconds = round(time.monotonic() - stopping, 1)
        config = {"name": name, "server": kind, "scenario": scenario, **labels, "result": result,
                  "server_exit_code": exit_code, "stop_seconds": stop_seconds, "seconds": round(time.monotonic() - started, 1)}
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

    def layer_session(self, layer, first):
        """Everything on the first layer; the same rides load (and its Channels baseline) on the others."""
        env = self.base_env(layer)
        plan_path = self.prepare(env)
        wanted = self.args.scenarios
        labels = {"backend": self.args.backend, "layer": layer}
        p = self.profile
        plan = []
        if "rides" in wanted:
            plan.append(("daphne", "rides", {**p["rides"], "mode": "ws"}, f"{layer}-daphne-rides-ws", {"transport": "ws"}))
        if first and "rest" in wanted:
            plan.append(("daphne", "rides", {**p["rest"], "mode": "rest"}, f"{layer}-daphne-rides-rest",
                         {"transport": "rest"}))
        if self.args.baselines and "rides" in wanted:
            plan.append(("channels_relay", "rides", {**p["rides"], "mode": "relay"}, f"{layer}-channels_relay-rides",
                         {"transport": "relay"}))
            if first:
                plan.append(("websockets_relay", "rides", {**p["rides"], "mode": "relay"}, "websockets_relay-rides",
                             {"transport": "relay", "layer": "none"}))
        if first:
            for scenario in ("offers", "idle", "storm"):
                if scenario in wanted:
                    plan.append(("daphne", scenario, p[scenario], f"{layer}-daphne-{scenario}", {}))
            for server in self.args.servers[1:]:  # the alternative server(s): rides and idle
                if "rides" in wanted:
                    plan.append((server, "rides", {**p["rides"], "mode": "ws"}, f"{layer}-{server}-rides-ws",
                                 {"transport": "ws"}))
                if "idle" in wanted:
                    plan.append((server, "idle", p["idle"], f"{layer}-{server}-idle", {}))
        for server, scenario, params, name, extra in plan:
            self.measure(server, env, scenario, params, plan_path, name, **{**labels, **extra})
        if self.args.profile:
            self.profile_misses(layer, env, plan_path, labels)

    def profile_misses(self, layer, env, plan_path, labels):
        """Re-run what missed its target with py-spy attached to the server for the whole run."""
        missed = report.missed_targets(self.results, layer)
        for name, scenario, params in missed:
            self.measure("daphne", env, scenario, params, plan_path, f"profile-{name}", profile=True,
                         purpose="profile", **labels)

    def run(self):
        layers = ["embedded"] if self.args.backend == "embedded" else self.profile["layers"]["redis"]
        if self.args.layers:
            layers = self.args.layers
        try:
            for i, layer in enumerate(layers):
                if self.time_left() < 10:
                    break
                self.layer_session(layer, first=(i == 0))
        finally:
            db.drop_database(self.args.backend)
            self.results["seconds"] = round(time.monotonic() - self.started, 1)
            self.results["server_log_problems"] = report.log_problems(self.dir / "servers.log")
            path = db.RESULTS / f"{self.dir.name}.json"
            path.write_text(json.dumps(self.results, indent=1))
            print(report.render(self.results))
            plot = report.plot(self.results, db.RESULTS / f"{self.dir.name}.png")
            print(f"\nresults: {path}" + (f"\nplot: {plot}" if plot else "") + f"\nlogs and raw files: {self.dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument("--backend", choices=["embedded", "redis"], default="embedded")
    parser.add_argument("--layers", type=lambda s: s.split(","), help="redis only: core,pubsub")
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=["rides", "rest", "offers", "idle", "storm"])
    parser.add_argument("--servers", type=lambda s: s.split(","), default=None)
    parser.add_argument("--no-baselines", dest="baselines", action="store_false")
    parser.add_argument("--profile", action="store_true", help="re-run missed targets under py-spy")
    args = parser.parse_args()
    if args.servers is None:
        args.servers = ["daphne"] + (["uvicorn"] if uvicorn_available() and not args.quick else [])
    Run(args).run()


if __name__ == "__main__":
    main()
