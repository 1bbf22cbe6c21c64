"""A server stopping with sockets open on the Redis pub/sub layer logs no error per socket."""

import asyncio
import logging

import pytest


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def pubsub_log():
    """What the configured `channels_redis.pubsub` logger lets through (its filters included)."""
    logger = logging.getLogger("channels_redis.pubsub")
    handler = Collect()
    logger.addHandler(handler)
    yield logger, handler.records
    logger.removeHandler(handler)


def log_exception(logger, exc, message):
    try:
        raise exc
    except BaseException:
        logger.exception(message)


def test_a_clean_up_cancelled_by_the_server_stopping_is_not_logged(pubsub_log):
    logger, records = pubsub_log
    log_exception(logger, asyncio.CancelledError(), "Unexpected exception while cleaning-up channel:")
    assert records == []


def test_any_other_failure_of_the_layer_is_still_logged(pubsub_log):
    logger, records = pubsub_log
    log_exception(logger, ConnectionError("redis went away"), "Unexpected exception while cleaning-up channel:")
    log_exception(logger, asyncio.CancelledError(), "Failed to receive")
    assert [r.getMessage() for r in records] == ["Unexpected exception while cleaning-up channel:", "Failed to receive"]
