"""Turn a run's results into the table (with ratios to the baselines and the targets), a plot
if matplotlib happens to be importable, and a list of problems found in the servers' log."""

import re
from pathlib import Path

TARGET_RATE_WS = 1000
TARGET_RATE_REST = 300


def _configs(results, **match):
    return [c for c in results["configs"] if all(c.get(k) == v for k, v in match.items())
            and c.get("purpose") != "profile"]


def _fmt(value, unit=""):
    return "-" if value is None else f"{value}{unit}"


def _at_rate(result, rate):
    for step in result.get("steps", []):
        if step["offered_rate"] == rate:
            return step
    return None


# --- targets ----------------------------------------------------------------------------------


def targets(results):
    """[(target, figure, met)] for everything this run measured."""
    rows = []
    for c in _configs(results, scenario="rides"):
        r = c["result"]
        if "error" in r or c["server"] not in ("daphne", "uvicorn"):
            continue
        goal = TARGET_RATE_REST if c["transport"] == "rest" else TARGET_RATE_WS
        what = f"rides {c['transport']} {c['layer']} {c['server']}: ≥ {goal}/s at p99 < 100 ms, 0 lost"
        rows.append((what, f"max {r['max_ok_rate']}/s (of {r['rides']} rides)", r["max_ok_rate"] >= goal))
    for c in _configs(results, scenario="offers"):
        r = c["result"]
        if "error" in r:
            rows.append((f"offers {c['layer']}", r["error"], False))
            continue
        p99 = r["offer_delay_ms"]["p99"]
        met = (p99 is not None and p99 < 50 and r["rides_with_wrong_recipients"] == 0 and r["connected"] >= 10000)
        rows.append((f"offers {c['layer']} {c['server']}: 10,000 drivers, nearest 10, p99 < 50 ms",
                     f"{r['connected']} drivers, p99 {p99} ms, {r['rides_with_wrong_recipients']}/{r['requests']} "
                     f"wrong recipient sets", met))
    for c in _configs(results, scenario="idle"):
        r = c["result"]
        if "error" in r:
            rows.append((f"idle {c['layer']} {c['server']}", r["error"], False))
            continue
        met = (r["connected"] >= 10000 and r["rss_per_connection_kb"] <= 40 and r["failed_handshakes"] == 0
               and r["consumers_lost"] == 0 and r["hold_seconds"] >= 60)
        rows.append((f"idle {c['layer']} {c['server']}: 10,000 sockets ≤ 40 KB, 0 failed, 0 lost over 60 s",
                     f"{r['connected']}/{r['sockets']}, {r['rss_per_connection_kb']} KB each, {r['failed_handshakes']} "
                     f"failed, {r['consumers_lost']} lost over {r['hold_seconds']} s", met))
    for c in _configs(results, scenario="storm"):
        r = c["result"]
        if "error" in r:
            rows.append((f"storm {c['layer']} {c['server']}", r["error"], False))
            continue
        met = (r["reconnected"] >= 10000 and r["failed_handshakes"] == 0 and r["reliable_events_lost"] == 0
               and r["reconnect_rate"] >= 400)
        rows.append((f"storm {c['layer']} {c['server']}: 10,000 resumes, 0 failed, 0 lost, ≥ 400/s",
                     f"{r['reconnected']}/{r['sockets']} at {r['reconnect_rate']}/s, {r['failed_handshakes']} failed, "
                     f"{r['reliable_events_lost']}/{r['reliable_events_expected']} events lost", met))
    return rows


def missed_targets(results, layer):
    """(name, scenario, params) to re-run under the profiler, for the primary server's misses."""
    missed = []
    for c in _configs(results, layer=layer, server="daphne"):
        r = c["result"]
        if "error" in r or "params" not in r:
            continue
        params = dict(r["params"])
        if c["scenario"] == "rides":
            goal = TARGET_RATE_REST if c["transport"] == "rest" else TARGET_RATE_WS
            if r["max_ok_rate"] < goal:
                missed.append((c["name"], "rides", {**params, "rates": [goal], "step_seconds": 10}))
        elif c["scenario"] == "offers" and ((r["offer_delay_ms"]["p99"] or 1e9) >= 50 or r["rides_with_wrong_recipients"]):
            missed.append((c["name"], "offers", params))
        elif c["scenario"] == "idle" and (r["rss_per_connection_kb"] > 40 or r["consumers_lost"] or r["failed_handshakes"]):
            missed.append((c["name"], "idle", {**params, "hold_seconds": min(10, params["hold_seconds"])}))
        elif c["scenario"] == "storm" and (r["reconnect_rate"] < 400 or r["failed_handshakes"] or r["reliable_events_lost"]):
            missed.append((c["name"], "storm", params))
    return missed


# --- table ------------------------------------------------------------------------------------


def _rides_table(results):
    lines = ["", "rides: position → passenger (per offered rate: achieved/s, p50/p95/p99 ms, lost, server CPU %, RSS MB,\n  load generator CPU %, CPU % used by every other process on the machine — PostgreSQL, Redis, other users — in % of one core)"]
    relay = {c["layer"]: c["result"] for c in _configs(results, server="channels_relay")}
    plain = next((c["result"] for c in _configs(results, server="websockets_relay")), None)
    for c in _configs(results, scenario="rides"):
        r = c["result"]
        lines.append(f"  {c['name']}")
        if "error" in r:
            lines.append(f"    ERROR {r['error']}")
            continue
        for s in r["steps"]:
            lat = s["latency_ms"]
            extra = f" http p99 {s['http_latency_ms']['p99']}" if "http_latency_ms" in s else ""
            errors = f" errors {s['errors']}" if s["errors"] else ""
            lines.append(
                f"    {s['offered_rate']:>5}/s → {s['achieved_rate']:>7}/s  p50 {_fmt(lat['p50']):>7} p95 {_fmt(lat['p95']):>7} "
                f"p99 {_fmt(lat['p99']):>7}  lost {s['lost']:>5}{'' if s.get('lost_final') in (None, s['lost']) else ' (' + str(s['lost_final']) + ' never)'}  cpu {_fmt(s.get('server_cpu_pct')):>5}% "
                f"rss {_fmt(s.get('server_rss_mb'))}  loadgen {s.get('loadgen_cpu_pct')}% others {s.get('other_cpu_pct')}%"
                f"{extra}{errors}  {'ok' if s['ok'] else 'MISS'}")
        summary = f"    max rate with p99 < 100 ms and 0 lost: {r['max_ok_rate']}/s"
        if c["server"] in ("daphne", "uvicorn") and c.get("transport") == "ws":
            ratios = []
            for label, base in (("channels relay", relay.get(c["layer"])), ("websockets relay", plain)):
                if base and "error" not in base and base.get("max_ok_rate"):
                    ratios.append(f"{r['max_ok_rate'] / base['max_ok_rate']:.2f}× {label} ({base['max_ok_rate']}/s)")
                    mine, theirs = _at_rate(r, 1000), _at_rate(base, 1000)
                    if mine and theirs and mine["latency_ms"]["p99"] and theirs["latency_ms"]["p99"]:
                        ratios.append(f"p99 at 1000/s {mine['latency_ms']['p99'] / theirs['latency_ms']['p99']:.1f}× {label}'s")
            if ratios:
                summary += "; " + "; ".join(ratios)
        lines.append(summary)
    return lines


def render(results):
    lines = [f"== rideshare realtime benchmark {results['stamp']} backend={results['backend']}"
             f"{' (quick: small sizes, targets are judged at full size)' if results['quick'] else ''}"
             f" {results.get('seconds', '?')} s"]
    lines += _rides_table(results)
    for c in _configs(results, scenario="offers"):
        r = c["result"]
        lines += ["", f"offers {c['name']}"]
        if "error" in r:
            lines.append(f"  ERROR {r['error']}")
            continue
        d, h = r["offer_delay_ms"], r["http_latency_ms"]
        lines.append(f"  {r['connected']}/{r['drivers']} drivers connected ({r['connect_rate']}/s); {r['requests']} requests "
                     f"(http {r['http_status']}, p50 {h['p50']} p99 {h['p99']} ms)")
        lines.append(f"  response → ride_requested: p50 {d['p50']} p95 {d['p95']} p99 {d['p99']} max {d['max']} ms over "
                     f"{r['offers_received']} offers; wrong recipient sets {r['rides_with_wrong_recipients']} "
                     f"(missing {r['missing_offers']}, unexpected {r['unexpected_offers']}); server cpu {r.get('server_cpu_pct')}%")
    for c in _configs(results, scenario="idle"):
        r = c["result"]
        lines += ["", f"idle {c['name']}"]
        if "error" in r:
            lines.append(f"  ERROR {r['error']}")
            continue
        lines.append(f"  {r['connected']}/{r['sockets']} connected in {r['connect_seconds']} s ({r['connect_rate']}/s), "
                     f"failed {r['failed_handshakes']} {r['failure_kinds'] or ''}")
        lines.append(f"  RSS {r['rss_before_mb']} → {r['rss_after_mb']} MB = {r['rss_per_connection_kb']} KB/connection; "
                     f"idle CPU {r['idle_server_cpu_pct']}% over {r['hold_seconds']} s; lost {r['consumers_lost']} "
                     f"(closed {r['closed_during_hold']}, no pong {r['no_pong']}); server counts {r['server_counted_connections']}")
        lines.append(f"  server CPU while connecting {r.get('connect_server_cpu_pct')}% (others {r.get('connect_other_cpu_pct')}%)")
    for c in _configs(results, scenario="storm"):
        r = c["result"]
        lines += ["", f"storm {c['name']}"]
        if "error" in r:
            lines.append(f"  ERROR {r['error']}")
            continue
        lines.append(f"  {r['reconnected']}/{r['initially_connected']} reconnected with last_event_id in "
                     f"{r['reconnect_seconds']} s ({r['reconnect_rate']}/s); failed handshakes {r['failed_handshakes']} "
                     f"{r['failure_kinds'] or ''}; never back {r['never_reconnected']}")
        lines.append(f"  reliable events lost {r['reliable_events_lost']}/{r['reliable_events_expected']}, duplicates "
                     f"{r['duplicates']}, out of order {r['out_of_order']}; REST {r['rest_statuses']}")
    lines += ["", "targets (full-size figures; a quick run only indicates)"]
    for what, figure, met in targets(results):
        lines.append(f"  [{'MET ' if met else 'MISS'}] {what}: {figure}")
    for c in results["configs"]:
        prof = c["result"].get("profile") if isinstance(c.get("result"), dict) else None
        if prof:
            lines += ["", f"profile {c['name']}: {prof.get('samples', 0)} samples, idle {prof.get('idle_pct')}%"
                      + (f" ERROR {prof['error']}" if "error" in prof else "")]
            for row in prof.get("top_own", [])[:10]:
                lines.append(f"  own {row['pct']:>5}%  {row['function']}")
            for row in prof.get("top_inclusive", [])[:12]:
                lines.append(f"  incl {row['pct']:>5}%  {row['function']}")
    problems = results.get("server_log_problems") or {}
    if problems:
        lines += ["", "server log problems (count: first line)"]
        for line, n in sorted(problems.items(), key=lambda kv: -kv[1])[:15]:
            lines.append(f"  {n:>6}: {line}")
    return "\n".join(lines)


def log_problems(path):
    """Distinct error/exception lines in the servers' log, with counts (numbers blanked)."""
    path = Path(path)
    if not path.exists():
        return {}
    counts = {}
    for line in path.read_text(errors="replace").splitlines():
        if re.search(r"ERROR|CRITICAL|Traceback|Exception|Error:", line) and not line.startswith("==="):
            key = re.sub(r"0x[0-9a-f]+|\d+", "N", line.strip())[:200]
            counts[key] = counts.get(key, 0) + 1
    return counts


def plot(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for c in _configs(results, scenario="rides"):
        steps = c["result"].get("steps") or []
        points = [(s["offered_rate"], s["latency_ms"]["p99"]) for s in steps if s["latency_ms"]["p99"] is not None]
        if points:
            ax.plot(*zip(*points), marker="o", label=c["name"])
    ax.axhline(100, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("offered positions/s")
    ax.set_ylabel("p99 delay to passenger (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
