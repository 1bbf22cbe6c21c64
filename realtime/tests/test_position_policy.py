"""realtime.connections.positions.WriteThrough: which socket positions are written at once."""

from realtime.connections.positions import Latest, PositionBuffer, WriteThrough


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_first_position_and_the_first_after_the_interval_are_written_at_once():
    clock = FakeClock()
    policy = WriteThrough(interval_seconds=30, clock=clock)
    assert policy.due()
    clock.now += 29
    assert not policy.due()
    clock.now += 1.5  # 30.5 s after the last write
    assert policy.due()
    clock.now += 1
    assert not policy.due()


def test_the_buffer_keeps_the_newest_position_per_driver_and_newer_wins_over_a_failed_batch():
    buffer = PositionBuffer()
    buffer.put("d1", latitude=1, longitude=1, heading=None, speed=None, recorded_at="t1")
    buffer.put("d1", latitude=2, longitude=2, heading=None, speed=None, recorded_at="t2")
    buffer.put("d2", latitude=3, longitude=3, heading=90, speed=10.0, recorded_at="t3")
    batch = buffer.take()
    assert batch == {"d1": (2, 2, None, None, "t2"), "d2": (3, 3, 90, 10.0, "t3")}
    assert buffer.take() == {}
    buffer.put("d1", latitude=4, longitude=4, heading=None, speed=None, recorded_at="t4")
    buffer.give_back(batch)  # the write failed; d1 moved meanwhile
    assert buffer.take() == {"d1": (4, 4, None, None, "t4"), "d2": (3, 3, 90, 10.0, "t3")}


def test_the_buffer_keeps_another_connections_newer_position_over_an_older_one():
    buffer = PositionBuffer()
    buffer.put("d1", latitude=2, longitude=2, heading=None, speed=None, recorded_at="t2")
    buffer.put("d1", latitude=1, longitude=1, heading=None, speed=None, recorded_at="t1")
    buffer.discard("d1", older_than="t1")  # t1 written at once: t2 still waits for the batch
    assert buffer.take() == {"d1": (2, 2, None, None, "t2")}
    buffer.put("d1", latitude=2, longitude=2, heading=None, speed=None, recorded_at="t2")
    buffer.discard("d1", older_than="t3")
    assert buffer.take() == {}


def test_a_connection_takes_only_positions_newer_than_the_latest_it_knows():
    latest = Latest(recorded_at=10)  # the stored position's time when the connection opened
    assert not latest.is_newer(9) and not latest.is_newer(10)
    assert latest.is_newer(11)
    assert latest.is_newer(12)  # asking takes nothing: a position is taken once relayed and stored
    latest.took(12)
    assert not latest.is_newer(11)
    latest.took(11)  # never steps back
    assert latest.recorded_at == 12
    assert Latest().is_newer(0)  # a driver who never had a position
