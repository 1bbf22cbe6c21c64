"""The load generator: its own process, asyncio, real WebSocket clients (`websockets`) and real
JWT access tokens from the setup step's plan file. Runs one scenario, writes its result as JSON.

    python -m bench.loadgen --scenario rides --plan plan.json --ws ws://127.0.0.1:8000 \
        --http http://127.0.0.1:8000 --server-pid 1234 --params '{"mode": "ws", ...}' --out out.json
"""

import argparse
import asyncio
import json
import resource
import sys

from bench.scenarios import connect, idle, offers, rest_positions, rides, storm

SCENARIOS = {"rides": rides.run, "offers": offers.run, "idle": idle.run, "storm": storm.run, "connect": connect.run,
             "rest_positions": rest_positions.run}


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--ws", required=True)
    parser.add_argument("--http", required=True)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--params", default="{}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    raise_nofile_limit()
    with open(args.plan) as fh:
        plan = json.load(fh)
    params = json.loads(args.params)
    coro = SCENARIOS[args.scenario](plan, params, args.ws, args.http, args.server_pid)
    try:
        result = asyncio.run(asyncio.wait_for(coro, args.timeout))
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        result = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"  loadgen {args.scenario} failed: {result['error']}", file=sys.stderr, flush=True)
    result["params"] = params
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
