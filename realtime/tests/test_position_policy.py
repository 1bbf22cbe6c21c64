"""realtime.positions.WriteThrough: which socket positions are written at once."""

from realtime.positions import PositionBuffer, WriteThrough


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
