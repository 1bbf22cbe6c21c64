"""Issue 10's figures from a run's results, one row each: the project's figure, its baseline from
the same run, the ratio, the target and whether it is met; and which measurement to re-run under
the profiler when it is not."""

from dataclasses import asdict, dataclass, field

RATIO_CONNECT = 0.8  # × the bare Channels consumer, connect and reconnect-with-resume
RATIO_RELAY_EMBEDDED = 0.8  # × the bare Channels relay
RATIO_RELAY_REDIS = 0.9
RATE_RELAY_REDIS = 1000
RATE_REST = 300  # POST /drivers/me/location/ req/s
RATIO_REST = 0.5  # × /healthz on the same server
P99_MS = 100
LOADGEN_CPU_LIMIT = 90  # % of one core: above it the load generator, not the server, may be the limit
IDLE_KB = 40
IDLE_CPU_PCT = 10
STORM_RATE = 400
OFFERS_P99_MS = 50
SECOND_WAVE_P99_MS = 1000  # from the first wave's offer_expires_at


@dataclass
class Row:
    figure: str
    project: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: bool | None = None  # None: reported, no target
    smaller: bool = False  # measured below the target's size (quick runs): only indicative
    rerun: tuple | None = field(default=None, repr=False)  # (name, scenario, params) for --profile

    def as_dict(self):
        out = asdict(self)
        out.pop("rerun")
        return out


def _configs(results, **match):
    return [c for c in results["configs"] if all(c.get(k) == v for k, v in match.items())
            and c.get("purpose") is None and isinstance(c.get("result"), dict)]


def _ok(configs):
    return [c for c in configs if "error" not in c["result"] and "unsupported" not in c["result"]]


def _errors(configs):
    return "; ".join(c["result"]["error"] for c in configs if "error" in c["result"])


def _num(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def _times(ratio):
    return "-" if ratio is None else f"{ratio:.2f}×"


def _mean(values):
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 1) if values else None


def _step(result, rate):
    return next((s for s in result.get("steps", []) if s["offered_rate"] == rate), None)


def step_ok(step):
    p99 = step["latency_ms"]["p99"]
    return step["lost"] == 0 and p99 is not None and p99 < P99_MS


def _rerun_params(config, **overrides):
    return (config["name"], config["scenario"], {**config["result"].get("params", {}), **overrides})


# --- connect and reconnect ---------------------------------------------------------------------


def _wave(configs, wave):
    waves = [c["result"][wave] for c in configs if wave in c["result"]]
    if not waves:
        return None
    return {"rate": _mean(w["rate"] for w in waves), "failed": sum(w["failed"] for w in waves),
            "ok": sum(w["ok"] for w in waves), "attempted": sum(w["attempted"] for w in waves), "runs": len(waves)}


def connect_rows(results, layer, full_size):
    project = _configs(results, scenario="connect", layer=layer, server="daphne")
    bare = _configs(results, scenario="connect", layer=layer, server="bare_consumer")
    if not project:
        return []
    if not _ok(project):
        return [Row(f"connect ({layer})", "ERROR " + _errors(project))]
    sockets = project[0]["result"].get("params", {}).get("sockets", 0)
    rerun = _rerun_params(_ok(project)[0])
    rows = []
    for wave, label in (("connect", "connect"), ("reconnect", "reconnect with last_event_id")):
        mine, theirs = _wave(_ok(project), wave), _wave(_ok(bare), wave)
        if mine is None:
            continue
        ratio = _ratio(mine["rate"], theirs and theirs["rate"])
        rows.append(Row(f"{label} /s ({sockets:,} sockets, ≤ {project[0]['result'].get('concurrency')} in flight)",
                        _num(mine["rate"]), _num(theirs and theirs["rate"]), _times(ratio),
                        f"≥ {RATIO_CONNECT}× bare consumer", None if ratio is None else ratio >= RATIO_CONNECT,
                        sockets < full_size, rerun))
        rows.append(Row(f"{label}: failed handshakes", f"{mine['failed']} of {mine['attempted']}",
                        "-" if theirs is None else f"{theirs['failed']} of {theirs['attempted']}", "-", "0",
                        mine["failed"] == 0, sockets < full_size, rerun))
    return rows


# --- positions relayed over WebSocket ----------------------------------------------------------


def relay_rows(results, layer):
    project = _configs(results, scenario="rides", layer=layer, server="daphne", transport="ws")
    bare = _ok(_configs(results, scenario="rides", layer=layer, server="channels_relay"))
    floor = _ok(_configs(results, scenario="rides", server="websockets_relay"))
    if not project:
        return []
    if not _ok(project):
        return [Row(f"positions relayed ({layer})", "ERROR " + _errors(project))]
    config = _ok(project)[0]
    mine, theirs = config["result"], bare[0]["result"] if bare else None
    rerun = _rerun_params(config, rates=[RATE_RELAY_REDIS], step_seconds=10)
    ratio = _ratio(mine["max_ok_rate"], theirs and theirs["max_ok_rate"])
    if layer == "embedded":
        target, met = f"≥ {RATIO_RELAY_EMBEDDED}× bare relay", None if ratio is None else ratio >= RATIO_RELAY_EMBEDDED
    else:
        target = f"≥ {RATE_RELAY_REDIS:,}/s and ≥ {RATIO_RELAY_REDIS}× bare relay"
        met = mine["max_ok_rate"] >= RATE_RELAY_REDIS and ratio is not None and ratio >= RATIO_RELAY_REDIS
    rows = [Row(f"positions relayed: max rate at p99 < {P99_MS} ms, 0 lost ({mine['rides']} rides)",
                _num(mine["max_ok_rate"], "/s"), _num(theirs and theirs["max_ok_rate"], "/s"), _times(ratio),
                target, met, rerun=rerun)]
    lowest = mine["steps"][0] if mine.get("steps") else None
    if lowest and lowest["offered_rate"] != RATE_RELAY_REDIS:  # where both sides are still compared when 1,000/s is not reached
        base_low = theirs and _step(theirs, lowest["offered_rate"])
        rows.append(Row(f"positions relayed at {lowest['offered_rate']:,}/s (lowest step): p99 ms, lost",
                        f"{_num(lowest['latency_ms']['p99'])}, {lowest['lost']} lost",
                        "-" if not base_low else f"{_num(base_low['latency_ms']['p99'])}, {base_low['lost']} lost",
                        _times(_ratio(lowest["latency_ms"]["p99"], base_low and base_low["latency_ms"]["p99"])),
                        f"< {P99_MS} ms, 0 lost", step_ok(lowest), rerun=rerun))
    at, base_at = _step(mine, RATE_RELAY_REDIS), theirs and _step(theirs, RATE_RELAY_REDIS)
    if at:
        p99, base_p99 = at["latency_ms"]["p99"], base_at and base_at["latency_ms"]["p99"]
        rows.append(Row(f"positions relayed at {RATE_RELAY_REDIS:,}/s: p99 ms", _num(p99), _num(base_p99),
                        _times(_ratio(p99, base_p99)), f"< {P99_MS} ms", p99 is not None and p99 < P99_MS,
                        rerun=rerun))
        rows.append(Row(f"positions relayed at {RATE_RELAY_REDIS:,}/s: lost", _num(at["lost"]),
                        _num(base_at and base_at["lost"]), "-", "0", at["lost"] == 0, rerun=rerun))
    if floor:
        base = floor[0]["result"]["max_ok_rate"]
        rows.append(Row("positions relayed: vs plain websockets relay (the floor)", _num(mine["max_ok_rate"], "/s"),
                        _num(base, "/s"), _times(_ratio(mine["max_ok_rate"], base)), "(reported)"))
    return rows


# --- REST ----------------------------------------------------------------------------------------


def rest_rows(results, layer):
    rows = []
    configs = _configs(results, scenario="rest_positions", layer=layer, server="daphne")
    if configs and not _ok(configs):
        rows.append(Row("REST positions vs /healthz", "ERROR " + _errors(configs)))
    for config in _ok(configs)[:1]:
        r = config["result"]
        loc, health = r["location"], r["healthz"]
        rerun = _rerun_params(config, order=["location"], rounds=1, window_seconds=10)
        ratio = r["location_to_healthz"]
        rows.append(Row(f"POST drivers/me/location/ req/s ({r['clients']} keep-alive clients, closed loop)",
                        _num(loc["rate"]), _num(health["rate"]) + " (healthz)", _times(ratio),
                        f"≥ {RATE_REST}/s and ≥ {RATIO_REST}× healthz",
                        (loc["rate"] or 0) >= RATE_REST and ratio is not None and ratio >= RATIO_REST, rerun=rerun))
        p99, h99 = loc["latency_ms"]["p99"], health["latency_ms"]["p99"]
        rows.append(Row("POST drivers/me/location/: p50 / p99 ms",
                        f"{_num(loc['latency_ms']['p50'])} / {_num(p99)}",
                        f"{_num(health['latency_ms']['p50'])} / {_num(h99)}", _times(_ratio(p99, h99)),
                        f"p99 < {P99_MS} ms", p99 is not None and p99 < P99_MS, rerun=rerun))
        rows.append(Row("POST drivers/me/location/: errors", _num(loc["error_count"]), _num(health["error_count"]),
                        "-", "0", loc["error_count"] == 0, rerun=rerun))
        worst = max(v for v in (loc["loadgen_cpu_pct"], health["loadgen_cpu_pct"], 0) if v is not None)
        rows.append(Row("load generator CPU % of a core (busiest window)", _num(loc["loadgen_cpu_pct"]),
                        _num(health["loadgen_cpu_pct"]), "-", f"< {LOADGEN_CPU_LIMIT} % (else it is the limit)",
                        worst < LOADGEN_CPU_LIMIT))
    for config in _configs(results, scenario="rides", layer=layer, server="daphne", transport="rest")[:1]:
        r = config["result"]
        if "error" in r:
            rows.append(Row("REST positions relayed to the passenger", "ERROR " + r["error"]))
            continue
        rows.append(Row(f"REST positions relayed to the passenger: max fixed rate at p99 < {P99_MS} ms, 0 lost",
                        _num(r["max_ok_rate"], "/s"), "-", "-", f"≥ {RATE_REST}/s", r["max_ok_rate"] >= RATE_REST))
    return rows


# --- idle, storm, offers -----------------------------------------------------------------------


def idle_rows(results, layer, full_size):
    rows = []
    for config in _configs(results, scenario="idle", layer=layer):
        r, server = config["result"], config["server"]
        if "error" in r:
            rows.append(Row(f"idle ({server})", "ERROR " + r["error"]))
            continue
        smaller = r["sockets"] < full_size
        rerun = _rerun_params(config, hold_seconds=min(10, r["params"]["hold_seconds"])) if server == "daphne" else None
        rows += [
            Row(f"idle ({server}): RSS per socket ({r['connected']:,} sockets)", _num(r["rss_per_connection_kb"], " KB"),
                target=f"≤ {IDLE_KB} KB", met=r["rss_per_connection_kb"] <= IDLE_KB, smaller=smaller, rerun=rerun),
            Row(f"idle ({server}): CPU over {r['hold_seconds']} s, % of a core", _num(r["idle_server_cpu_pct"], " %"),
                target=f"< {IDLE_CPU_PCT} %", met=(r["idle_server_cpu_pct"] or 0) < IDLE_CPU_PCT, smaller=smaller,
                rerun=rerun),
            Row(f"idle ({server}): sockets open, failed handshakes, lost",
                f"{r['connected']:,}/{r['sockets']:,}, {r['failed_handshakes']} failed, {r['consumers_lost']} lost",
                target=f"{full_size:,}, 0 failed, 0 lost",
                met=r["connected"] == r["sockets"] and not r["failed_handshakes"] and not r["consumers_lost"],
                smaller=smaller, rerun=rerun),
        ]
    return rows


def storm_rows(results, layer, full_size):
    rows = []
    for config in _configs(results, scenario="storm", layer=layer):
        r = config["result"]
        if "error" in r:
            rows.append(Row("storm", "ERROR " + r["error"]))
            continue
        smaller, rerun = r["sockets"] < full_size, _rerun_params(config)
        rows += [
            Row(f"storm: reconnect with last_event_id /s ({r['initially_connected']:,} sockets)",
                _num(r["reconnect_rate"]), target=f"≥ {STORM_RATE}/s", met=r["reconnect_rate"] >= STORM_RATE,
                smaller=smaller, rerun=rerun),
            Row("storm: failed handshakes", _num(r["failed_handshakes"]), target="0", met=r["failed_handshakes"] == 0,
                smaller=smaller, rerun=rerun),
            Row("storm: reliable events lost", f"{r['reliable_events_lost']}/{r['reliable_events_expected']}",
                target="0", met=r["reliable_events_lost"] == 0, smaller=smaller, rerun=rerun),
            Row("storm: sockets back", f"{r['reconnected']:,}/{r['initially_connected']:,}",
                target=f"all, of {full_size:,}", met=r["never_reconnected"] == 0 and r["initially_connected"] == r["sockets"],
                smaller=smaller, rerun=rerun),
        ]
    return rows


def offers_rows(results, layer, full_size):
    rows = []
    for config in _configs(results, scenario="offers", layer=layer):
        r = config["result"]
        if "error" in r:
            rows.append(Row("offers", "ERROR " + r["error"]))
            continue
        p99, smaller, rerun = r["offer_delay_ms"]["p99"], r["drivers"] < full_size, _rerun_params(config)
        rows += [
            Row(f"offers: response → ride_requested p99 ({r['connected']:,} drivers)", _num(p99, " ms"),
                target=f"< {OFFERS_P99_MS} ms", met=p99 is not None and p99 < OFFERS_P99_MS, smaller=smaller,
                rerun=rerun),
            Row("offers: rides offered to the wrong drivers", f"{r['rides_with_wrong_recipients']}/{r['requests']}",
                target="0", met=r["rides_with_wrong_recipients"] == 0, smaller=smaller, rerun=rerun),
        ]
        if "second_wave_delay_ms" in r:  # results from before waves have none
            p99_second = r["second_wave_delay_ms"]["p99"]
            rows.append(Row("offers: first wave's expiry → second wave's ride_requested p99", _num(p99_second, " ms"),
                            target=f"< {SECOND_WAVE_P99_MS} ms",
                            met=p99_second is not None and p99_second < SECOND_WAVE_P99_MS, smaller=smaller, rerun=rerun))
    return rows


# --- workers -----------------------------------------------------------------------------------


def workers_rows(results, layer):
    configs = [c for c in results["configs"] if c.get("purpose") == "workers" and c.get("layer") == layer]
    if results.get("workers_unsupported"):
        return [Row("workers (realtime.server --workers N)", "unsupported", target="(reported)")]
    if not configs:
        return []
    rows = []

    def lowest_p99(result):
        steps = result.get("steps") or [{"offered_rate": None, "latency_ms": {"p99": None}}]
        return steps[0]["latency_ms"]["p99"]

    extractors = (("connect", "connect /s", lambda r: r["connect"]["rate"]),
                  ("rides", "positions relayed, max ok /s", lambda r: r["max_ok_rate"]),
                  # Both sides may miss every step: the first step's p99 still compares them.
                  ("rides", "positions relayed, p99 ms at the lowest step", lowest_p99))
    for scenario, label, extract in extractors:
        by_n = {c["workers"]: extract(c["result"]) for c in configs if c["scenario"] == scenario
                and "error" not in c["result"] and "unsupported" not in c["result"]}
        if not by_n:
            continue
        base_n = min(by_n)
        for n, value in sorted(by_n.items()):
            if n == base_n:
                continue
            rows.append(Row(f"workers: {label}, N={n} vs N={base_n}", _num(value), _num(by_n[base_n]),
                            _times(_ratio(value, by_n[base_n])), "(scaling, reported)"))
        if len(by_n) == 1:
            rows.append(Row(f"workers: {label}, N={base_n}", _num(by_n[base_n]), target="(reported)"))
    for config in configs:
        if "error" in config["result"]:
            rows.append(Row(f"workers: N={config['workers']} {config['scenario']}", "ERROR " + config["result"]["error"]))
    for note in results.get("workers_notes", []):
        rows.append(Row("workers", note))
    return rows


# --- the machine ---------------------------------------------------------------------------


def _other_cpu(value):
    """Every `other_cpu_pct` reading in a result (steps, waves, windows)."""
    if isinstance(value, dict):
        found = [value["other_cpu_pct"]] if isinstance(value.get("other_cpu_pct"), (int, float)) else []
        return found + [v for child in value.values() for v in _other_cpu(child)]
    if isinstance(value, list):
        return [v for child in value for v in _other_cpu(child)]
    return []


def machine_rows(results, layer):
    """CPU that neither the server nor the load generator used (other people's jobs, PostgreSQL,
    Redis), during the project's and the baselines' measurements: high means noisy figures."""
    baselines = ("bare_consumer", "channels_relay", "websockets_relay")
    configs = [c for c in _configs(results, layer=layer) if "error" not in c["result"]]
    mine = _mean(v for c in configs if c["server"] not in baselines for v in _other_cpu(c["result"]))
    theirs = _mean(v for c in configs if c["server"] in baselines for v in _other_cpu(c["result"]))
    if mine is None:
        return []
    return [Row("machine: CPU used by other processes, % of a core (mean)", _num(mine, " %"), _num(theirs, " %"),
                "-", "low (else the figures are noisy)")]


def rows(results, layer):
    sizes = results.get("full_sizes", {})
    return (connect_rows(results, layer, sizes.get("connect", 0)) + relay_rows(results, layer)
            + rest_rows(results, layer) + idle_rows(results, layer, sizes.get("idle", 0))
            + storm_rows(results, layer, sizes.get("storm", 0)) + offers_rows(results, layer, sizes.get("offers", 0))
            + workers_rows(results, layer) + machine_rows(results, layer))


def reruns(results, layer):
    """(name, scenario, params) of every measurement on `layer` with a missed target, once each."""
    seen = {}
    for row in rows(results, layer):
        if row.met is False and row.rerun and row.rerun[0] not in seen:
            seen[row.rerun[0]] = row.rerun
    return list(seen.values())
