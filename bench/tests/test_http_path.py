"""bench.http_path's table: each figure beside its baseline from the same rounds, the median of the
rounds' ratios judged against the target, errors and unsent requests never pass. Not timed."""

from bench import http_path


def closed(round_no, endpoint, server, rate, errors=None):
    return {"round": round_no, "mode": "closed", "endpoint": endpoint, "server": server, "req_per_s": rate,
            "errors": errors or {}, "latency_ms": {"p50": 1.0, "p99": 2.0}}


def opened(round_no, server, latencies, sent=300, unsent=0, errors=None):
    return {"round": round_no, "mode": "open", "endpoint": "location", "server": server, "req_per_s": sent,
            "errors": errors or {}, "unsent": unsent, "latencies_ms": latencies,
            "latency_ms": http_path.percentiles(latencies)}


def by_figure(table):
    return {row.figure: row for row in table}


def test_a_ratio_is_the_median_of_the_rounds_ratios():
    windows = [closed(1, "ride", "project", 80), closed(1, "ride", "bare-drf", 100),     # 0.80
               closed(2, "ride", "bare-drf", 200), closed(2, "ride", "project", 100),    # 0.50
               closed(3, "ride", "project", 90), closed(3, "ride", "bare-drf", 100)]     # 0.90
    row = http_path.ratio_row("ride", windows, "ride", "project", "bare-drf", 0.8, "(bare DRF)")
    assert row.ratio == "0.80×" and row.met is True
    assert row.rounds == "0.50–0.90× (3)"
    assert row.project == "90/s" and row.baseline.startswith("100/s")  # medians of each side


def test_below_the_target_or_with_errors_is_missed():
    windows = [closed(1, "nearby", "project", 79), closed(1, "nearby", "bare-drf", 100)]
    assert http_path.ratio_row("n", windows, "nearby", "project", "bare-drf", 0.8, "").met is False
    windows = [closed(1, "nearby", "project", 200, errors={"500": 3}), closed(1, "nearby", "bare-drf", 100)]
    row = http_path.ratio_row("n", windows, "nearby", "project", "bare-drf", 0.8, "")
    assert row.ratio == "2.00×" and row.met is False and '"500": 3' in row.note
    windows = [closed(1, "nearby", "project", 100), closed(1, "nearby", "bare-drf", 100, errors={"401": 1})]
    assert http_path.ratio_row("n", windows, "nearby", "project", "bare-drf", 0.8, "").met is False


def test_only_rounds_with_both_sides_count():
    windows = [closed(1, "location", "project", 100), closed(2, "location", "project", 10),
               closed(2, "location", "bare-drf", 100)]
    row = http_path.ratio_row("l", windows, "location", "project", "bare-drf", 0.8, "")
    assert row.ratio == "0.10×" and row.rounds.endswith("(1)")


def test_workers_against_one_process_and_a_server_that_did_not_start():
    windows = [closed(1, "ride", "project-w2", 170), closed(1, "ride", "project", 100)]
    table = by_figure(http_path.rows(windows))
    assert table["GET rides/{id}/ req/s, --workers 2"].ratio == "1.70×"
    assert table["GET rides/{id}/ req/s, --workers 2"].met is True
    assert table["GET drivers/nearby/ req/s, --workers 2"].met is None  # no windows: not measured
    table = by_figure(http_path.rows([], missing={"project-w2": "needs REDIS_URL"}))
    row = table["POST drivers/me/location/ req/s, --workers 2"]
    assert row.met is None and "needs REDIS_URL" in row.note
    assert "met?" in http_path.format_table(list(table.values()))[0]


def test_p99_pools_every_round_and_needs_the_offered_rate():
    fast = [1.0] * 990 + [150.0] * 10   # p99 of this round alone: 1 ms
    slow = [1.0] * 980 + [150.0] * 20   # 2 % slow: p99 150 ms
    row = http_path.p99_row("p99", [opened(1, "project", fast)], "project", 300, 100.0)
    assert row.met is True and row.project.startswith("p99 1.0 ms")
    row = http_path.p99_row("p99", [opened(1, "project", fast), opened(2, "project", slow)], "project", 300, 100.0)
    assert row.met is False  # pooled: 30 of 2,000 over 100 ms
    row = http_path.p99_row("p99", [opened(1, "project", fast, sent=150, unsent=40)], "project", 300, 100.0)
    assert row.met is False and "never sent" in row.note and "150/s sent" in row.note


def test_rounds_alternate_the_order_and_skip_missing_servers():
    available = {"project", "bare-drf", "bare-django", "bare-django-daphne"}
    first, second = http_path.round_plan(available, 1), http_path.round_plan(available, 2)
    assert [w for w in first if w[1] == "ride"] == [("closed", "ride", "project"), ("closed", "ride", "bare-drf")]
    assert [w for w in second if w[1] == "ride"] == [("closed", "ride", "bare-drf"), ("closed", "ride", "project")]
    assert first[-1] == ("open", "location", "project")
    assert not any(w[2] == "project-w2" for w in first)


def test_answers_are_compared_field_by_field():
    ok = (200, {"driver_id": "x", "latitude": 4.0, "location_updated_at": "t1"})
    assert http_path.compare_answers("location", ok, (200, {**ok[1], "location_updated_at": "t2"})) == "same"
    assert "latitude" in http_path.compare_answers("location", ok, (200, {**ok[1], "latitude": 5.0}))
    assert http_path.compare_answers("ride", (200, {"a": 1}), (404, {"detail": "x"})) == "status 200 vs 404"
    assert http_path.compare_answers("nearby", (200, [1, 2]), (200, [1, 2])) == "same"


def test_a_server_counts_its_workers_in_their_own_process_groups():
    table = {  # pid: (ppid, pgrp, comm, cpu seconds)
        100: (1, 100, "python", 1.0),      # realtime.server --workers 2 (the parent)
        101: (100, 101, "python", 5.0),    # a worker, process_group=0
        102: (100, 102, "python", 7.0),
        103: (101, 101, "py-spy", 0.5),    # started by a worker
        200: (1, 200, "python", 9.0),      # another server
        300: (1, 300, "postgres", 2.0),
    }
    assert http_path.tree_cpu_seconds(table, 100) == 13.5
    assert http_path.tree_cpu_seconds(table, 200) == 9.0
    assert http_path.services_cpu_seconds(table) == 2.0
