"""The management commands' loops (rideshare.kernel.cli.repeat): rounds start on a fixed beat."""

import pytest

from rideshare.kernel.cli import repeat

# Between rounds the loop closes stale database connections, as Django does between requests.
pytestmark = pytest.mark.django_db


def test_rounds_start_every_interval_whatever_each_round_took(loop_clock):
    durations = iter([0.0, 3.0, 7.0, 1.0])
    starts = []

    def round_():
        starts.append(loop_clock.now)
        loop_clock.advance(next(durations))

    assert repeat(round_, interval=5, iterations=4) == 4
    # 0 s then 3 s rounds keep the beat; a 7 s round is followed at once, and the beat restarts there.
    assert [start - starts[0] for start in starts] == [0.0, 5.0, 10.0, 17.0]
    assert loop_clock.sleeps == [5.0, 2.0, 0.0]


def test_a_round_that_knows_its_next_is_due_sooner_says_so(loop_clock):
    # Sooner than the interval; later than it (the interval wins); nothing to say.
    due_in = iter([0.5, 12.0, None, None])
    assert repeat(lambda: next(due_in), interval=5, iterations=4) == 4
    assert loop_clock.sleeps == [0.5, 5.0, 5.0]


def test_a_loop_stops_on_ctrl_c(loop_clock):
    def interrupted():
        raise KeyboardInterrupt

    assert repeat(interrupted, interval=5) == 0
