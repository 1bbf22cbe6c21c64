"""The issue-10 table from a run's results: ratios to the same run's baseline, targets, and what
--profile re-runs."""

from bench import figures


def wave(rate, failed=0, attempted=400):
    return {"rate": rate, "failed": failed, "ok": attempted - failed, "attempted": attempted}


def connect_config(server, connect_rate, reconnect_rate, failed=0):
    return {"name": f"embedded-{server}-connect", "server": server, "scenario": "connect", "layer": "embedded",
            "workers": None, "result": {"concurrency": 100, "params": {"sockets": 400, "concurrency": 100},
                                        "connect": wave(connect_rate, failed), "reconnect": wave(reconnect_rate)}}


def rides_config(server, layer, max_ok, p99_at_1000):
    steps = [{"offered_rate": 1000, "lost": 0, "latency_ms": {"p99": p99_at_1000}}]
    return {"name": f"{layer}-{server}-rides", "server": server, "scenario": "rides", "layer": layer, "workers": None,
            "transport": "ws" if server == "daphne" else "relay",
            "result": {"rides": 30, "max_ok_rate": max_ok, "steps": steps, "params": {"rates": [1000], "mode": "ws"}}}


def results(*configs):
    return {"configs": list(configs), "full_sizes": {"connect": 2000, "idle": 10000, "storm": 10000, "offers": 10000}}


def by_figure(rows):
    return {row.figure.split(" (")[0]: row for row in rows}


def test_connect_is_judged_against_the_bare_consumer_of_the_same_run():
    run = results(connect_config("daphne", 200, 100, failed=3), connect_config("bare_consumer", 250, 400))
    rows = by_figure(figures.rows(run, "embedded"))
    assert rows["connect /s"].ratio == "0.80×" and rows["connect /s"].met is True
    assert rows["reconnect with last_event_id /s"].ratio == "0.25×"
    assert rows["reconnect with last_event_id /s"].met is False
    assert rows["connect: failed handshakes"].project == "3 of 400" and rows["connect: failed handshakes"].met is False
    assert all(row.smaller for row in rows.values())  # 400 sockets, the target is at 2,000


def test_rounds_of_the_same_side_are_averaged():
    run = results(connect_config("daphne", 100, 100), connect_config("bare_consumer", 200, 200),
                  connect_config("bare_consumer", 300, 300), connect_config("daphne", 300, 300))
    assert by_figure(figures.rows(run, "embedded"))["connect /s"].ratio == "0.80×"


def test_redis_relay_needs_both_the_rate_and_the_ratio():
    run = results(rides_config("daphne", "pubsub", 1000, 80.0), rides_config("channels_relay", "pubsub", 1500, 10.0))
    rows = by_figure(figures.rows(run, "pubsub"))
    relay = rows["positions relayed: max rate at p99 < 100 ms, 0 lost"]
    assert relay.ratio == "0.67×" and relay.met is False  # 1,000/s reached, but < 0.9× the bare relay
    assert rows["positions relayed at 1,000/s: p99 ms"].met is True


def test_embedded_relay_is_a_ratio_only():
    run = results(rides_config("daphne", "embedded", 1600, 90.0), rides_config("channels_relay", "embedded", 2000, 5.0))
    relay = by_figure(figures.rows(run, "embedded"))["positions relayed: max rate at p99 < 100 ms, 0 lost"]
    assert relay.met is True and relay.baseline == "2,000/s"


def test_rest_positions_against_healthz():
    summary = {"rate": 150.0, "error_count": 0, "loadgen_cpu_pct": 5.0, "latency_ms": {"p50": 50, "p99": 90}}
    healthz = {**summary, "rate": 250.0}
    config = {"name": "embedded-daphne-rest-positions", "server": "daphne", "scenario": "rest_positions",
              "layer": "embedded", "workers": None,
              "result": {"clients": 32, "location": summary, "healthz": healthz, "location_to_healthz": 0.6,
                         "params": {"clients": 32, "window_seconds": 3}}}
    rows = by_figure(figures.rows(results(config), "embedded"))
    location = rows["POST drivers/me/location/ req/s"]
    assert location.ratio == "0.60×" and location.met is False  # ≥ 0.5× healthz, but under 300/s
    assert rows["POST drivers/me/location/: p50 / p99 ms"].met is True


def test_missed_targets_are_rerun_once_each_with_their_params():
    run = results(connect_config("daphne", 100, 100), connect_config("bare_consumer", 300, 300),
                  rides_config("daphne", "embedded", 500, 400.0), rides_config("channels_relay", "embedded", 2000, 5.0))
    reruns = figures.reruns(run, "embedded")
    assert [(name, scenario) for name, scenario, _ in reruns] == [
        ("embedded-daphne-connect", "connect"), ("embedded-daphne-rides", "rides")]
    assert reruns[0][2]["sockets"] == 400
    assert reruns[1][2]["rates"] == [1000] and reruns[1][2]["mode"] == "ws"


def test_workers_scaling_and_unsupported():
    def workers(n, rate):
        config = connect_config("daphne", rate, rate)
        return {**config, "name": f"core-workers{n}-connect", "layer": "core", "workers": n, "purpose": "workers"}

    rows = figures.rows(results(workers(1, 100), workers(2, 180)), "core")
    assert [(r.figure, r.ratio) for r in rows] == [("workers: connect /s, N=2 vs N=1", "1.80×")]
    unsupported = {**results(), "workers_unsupported": "error: unrecognized arguments: --workers"}
    assert [r.project for r in figures.rows(unsupported, "core")] == ["unsupported"]
