"""Turn a run's results into text: each scenario's details, then one table per layer (figure |
this project | baseline, same run | ratio | target | met?, from bench/figures.py), the profiles'
top frames, a plot if matplotlib happens to be importable, and the problems in the servers' log."""

import re
from pathlib import Path

from bench import figures

TABLE_HEADER = ("figure", "this project", "baseline (same run)", "ratio", "target", "met?")
PROFILE_TOP = 10


def _configs(results, **match):
    return [c for c in results["configs"] if all(c.get(k) == v for k, v in match.items())
            and c.get("purpose") != "profile" and isinstance(c.get("result"), dict)]


def _fmt(value, unit=""):
    return "-" if value is None else f"{value}{unit}"


def _at_rate(result, rate):
    for step in result.get("steps", []):
        if step["offered_rate"] == rate:
            return step
    return None


# --- table ------------------------------------------------------------------------------------


def _rides_table(results):
    if not _configs(results, scenario="rides"):
        return []
    lines = ["", "rides: position → passenger (per offered rate: achieved/s, p50/p95/p99 ms, lost, server CPU %, RSS MB,\n  load generator CPU %, CPU % used by every other process on the machine — PostgreSQL, Redis, other users — in % of one core)"]
    relay = {c["layer"]: c["result"] for c in _configs(results, server="channels_relay")}
    plain = next((c["result"] for c in _configs(results, server="websockets_relay")), None)
    for c in _configs(results, scenario="rides"):
        r = c["result"]
        lines.append(f"  {c['name']}" + (f" (workers {c['workers']})" if c.get("workers") else ""))
        if "unsupported" in r:
            lines.append(f"    unsupported: {r['unsupported']}")
            continue
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


def _connect_details(results):
    lines = []
    for c in _configs(results, scenario="connect"):
        r = c["result"]
        lines += ["", f"connect {c['name']}" + (f" (workers {c['workers']})" if c.get("workers") else "")]
        if "error" in r or "unsupported" in r:
            lines.append(f"  {'ERROR ' + r['error'] if 'error' in r else 'unsupported: ' + r['unsupported']}")
            continue
        for wave in ("connect", "reconnect"):
            w = r.get(wave)
            if not w:
                continue
            h = w["handshake_ms"]
            lines.append(f"  {wave:>9}: {w['ok']}/{w['attempted']} in {w['seconds']} s = {w['rate']}/s, failed {w['failed']} "
                         f"{w['failure_kinds'] or ''}; handshake p50 {h['p50']} p99 {h['p99']} ms; server cpu "
                         f"{w.get('server_cpu_pct')}% loadgen {w.get('loadgen_cpu_pct')}% others {w.get('other_cpu_pct')}%")
    return lines


def _rest_details(results):
    lines = []
    for c in _configs(results, scenario="rest_positions"):
        r = c["result"]
        lines += ["", f"rest {c['name']} (closed loop, windows in run order)"]
        if "error" in r:
            lines.append(f"  ERROR {r['error']}")
            continue
        for w in r["windows"]:
            lat = w["latency_ms"]
            lines.append(f"  {w['kind']:>8}: {w['requests']} in {w['seconds']} s = {w['rate']}/s  p50 {lat['p50']} "
                         f"p99 {lat['p99']} ms  errors {w['errors'] or 0}  server cpu {w.get('server_cpu_pct')}% "
                         f"loadgen {w.get('loadgen_cpu_pct')}% others {w.get('other_cpu_pct')}%")
        lines.append(f"  location / healthz = {r['location_to_healthz']}×")
    return lines


def _cell(text, width):
    return text + " " * (width - len(text))


def _table(rows, quick):
    header = list(TABLE_HEADER)
    body = []
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        if row.smaller and row.met is not None:
            met += "*"
        body.append([row.figure, row.project, row.baseline, row.ratio, row.target, met])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = ["  " + " | ".join(_cell(h, w) for h, w in zip(header, widths)),
             "  " + "-+-".join("-" * w for w in widths)]
    lines += ["  " + " | ".join(_cell(v, w) for v, w in zip(r, widths)) for r in body]
    if any(row.smaller for row in rows):
        lines.append("  * measured below the target's size" + (" (quick run)" if quick else "") + ": indicative only")
    return lines


def _profiles(results, layer):
    lines = []
    for c in results["configs"]:
        prof = c["result"].get("profile") if isinstance(c.get("result"), dict) else None
        if not prof or c.get("layer") != layer:
            continue
        lines += ["", f"  profile {c['name']}: {prof.get('samples', 0)} samples, waiting {prof.get('idle_pct')}%"
                  + (f" ERROR {prof['error']}" if "error" in prof else "") + "; top own time by function, waits left out:"]
        for row in prof.get("top_own_busy", prof.get("top_own", []))[:PROFILE_TOP]:
            lines.append(f"    {row['pct']:>5}%  {row['function']}")
        inclusive = prof.get("top_inclusive", [])[:PROFILE_TOP]
        if inclusive:
            lines.append("    inclusive:")
            lines += [f"    {row['pct']:>5}%  {row['function']}" for row in inclusive]
        if prof.get("raw"):
            lines.append(f"    collapsed stacks: {prof['raw']}")
    return lines


def layers(results):
    seen = []
    for c in results["configs"]:
        if c.get("layer") not in (None, "none") and c["layer"] not in seen:
            seen.append(c["layer"])
    return seen


def render(results):
    lines = [f"== rideshare realtime benchmark {results['stamp']} backend={results['backend']}"
             f"{' (quick: small sizes, targets are judged at full size)' if results['quick'] else ''}"
             f" {results.get('seconds', '?')} s"]
    lines += _rides_table(results)
    lines += _connect_details(results)
    lines += _rest_details(results)
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
        if "second_wave_delay_ms" in r:
            d2 = r["second_wave_delay_ms"]
            lines.append(f"  first wave's offer_expires_at → second wave's ride_requested: p50 {d2['p50']} p99 {d2['p99']} "
                         f"max {d2['max']} ms over {r['second_wave_offers']} offers (waves stand "
                         f"{r['offer_timeout_seconds']} s); wrong second waves {r['rides_with_wrong_second_wave']}")
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
    for layer in layers(results):
        lines += ["", f"== issue 10 figures, backend={results['backend']} layer={layer}"]
        lines += _table(figures.rows(results, layer), results["quick"])
        lines += _profiles(results, layer)
    if results.get("workers_unsupported"):
        lines += ["", f"workers: unsupported ({results['workers_unsupported']})"]
    if results.get("skipped"):
        lines += ["", f"skipped (out of time): {', '.join(results['skipped'])}"]
    problems = results.get("server_log_problems") or {}
    if problems:
        lines += ["", "server log problems (count: first line)"]
        for line, n in sorted(problems.items(), key=lambda kv: -kv[1])[:15]:
            lines.append(f"  {n:>6}: {line}")
    return "\n".join(lines)


def log_problems(path):
    """Distinct error/exception lines in the servers' log, with counts (numbers blanked), each
    prefixed with the kind of server that wrote it (the project or a baseline)."""
    path = Path(path)
    if not path.exists():
        return {}
    counts, kind = {}, "?"
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("=== "):
            kind = line.split()[1]
            continue
        if re.search(r"ERROR|CRITICAL|Traceback|Exception|Error:", line):
            key = f"[{kind}] " + re.sub(r"0x[0-9a-f]+|\d+", "N", line.strip())[:200]
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
