"""Prometheus metrics of the real-time layer (one registry per server process)."""

import time

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# One series per metric: the `_created` timestamps only add noise to every scrape.
disable_created_metrics()

open_connections = Gauge("rideshare_ws_open_connections", "Open WebSocket connections in this process")
events_sent = Counter("rideshare_ws_events_sent_total", "Server messages sent to apps, by type", ["type"])
resumes = Counter("rideshare_ws_resumes_total", "Resume requests, by outcome", ["outcome"])
rate_limited = Counter("rideshare_ws_rate_limited_total", "Client messages refused by a rate limit", ["type"])
layer_send_failures = Counter(
    "rideshare_channel_layer_send_failures_total", "Channel-layer sends that raised", ["kind"]
)
redis_unreachable = Counter(
    "rideshare_redis_unreachable_total", "Redis calls that found it unreachable (logged once per outage)"
)
commit_to_send_seconds = Histogram(
    "rideshare_event_commit_to_send_seconds",
    "From the commit of a change to the socket send of its event",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


_sent_by_type = {}


def count_sent(event_type, committed_at=None):
    """events_sent for one type (the labelled child is looked up once per type, not per message),
    and the time from the change's commit to this send when it is known."""
    child = _sent_by_type.get(event_type)
    if child is None:
        child = _sent_by_type[event_type] = events_sent.labels(event_type)
    child.inc()
    if committed_at is not None:
        commit_to_send_seconds.observe(max(0.0, time.time() - committed_at))
