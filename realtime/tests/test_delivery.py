"""realtime.delivery.cursor: each reliable id once per connection, in order, gaps filled from the log."""

from realtime.delivery.cursor import Decision, DeliveryCursor


def test_the_next_event_on_the_stream_is_sent_and_moves_the_position():
    cursor = DeliveryCursor(position=4)
    assert cursor.live(5, prev=4) is Decision.SEND
    assert cursor.position == 5


def test_an_id_already_delivered_is_dropped():
    cursor = DeliveryCursor(position=7)
    assert cursor.live(7, prev=6) is Decision.DROP
    assert cursor.live(3, prev=None) is Decision.DROP
    assert cursor.position == 7


def test_a_missed_predecessor_means_reading_the_log_first():
    cursor = DeliveryCursor(position=4)
    assert cursor.live(9, prev=8) is Decision.CATCH_UP
    assert cursor.position == 4  # nothing delivered yet: the catch-up starts from here


def test_a_users_first_event_has_no_predecessor():
    assert DeliveryCursor(position=0).live(1, prev=None) is Decision.SEND


def test_replay_yields_only_what_is_above_the_position_and_advances():
    cursor = DeliveryCursor(position=2)
    rows = [(1, "a", "t1"), (2, "b", "t2"), (3, "c", "t3"), (5, "d", "t5")]
    assert list(cursor.replay(rows)) == [(3, "c", "t3"), (5, "d", "t5")]
    assert cursor.position == 5
    assert cursor.live(5, prev=3) is Decision.DROP  # the live copy of a replayed event


def test_an_observed_event_is_sent_once_even_if_it_also_comes_on_the_users_stream():
    cursor = DeliveryCursor(position=0)
    assert cursor.observed(10) is Decision.SEND
    assert cursor.observed(10) is Decision.DROP
    assert cursor.live(10, prev=None) is Decision.DROP
    assert cursor.position == 10


def test_the_memory_of_recent_ids_is_bounded():
    cursor = DeliveryCursor(memory=3)
    for event_id in (1, 2, 3, 4):
        assert cursor.observed(event_id) is Decision.SEND
    assert cursor.observed(1) is Decision.SEND  # forgotten: only the position protects old ids
    assert cursor.observed(4) is Decision.DROP


def test_a_dispatched_message_is_routed_by_what_it_carries():
    cursor = DeliveryCursor(position=1)
    assert cursor.decide({"text": "position"}) is Decision.SEND  # latest-wins: no id
    assert cursor.decide({"id": 3, "prev": 2}) is Decision.CATCH_UP
    assert cursor.decide({"id": 2, "prev": 1}) is Decision.SEND
    assert cursor.decide({"id": 2}) is Decision.DROP  # the same event heard as an observer
    assert cursor.decide({"id": 9}) is Decision.SEND


def test_a_position_is_sent_once_and_never_one_older_than_the_last_delivered_for_that_driver():
    cursor = DeliveryCursor()
    assert cursor.fresh_position("driver_location:a", 10.0) is Decision.SEND
    assert cursor.fresh_position("driver_location:a", 10.0) is Decision.DROP  # the same one again
    assert cursor.fresh_position("driver_location:a", 9.5) is Decision.DROP  # an older one, late
    assert cursor.fresh_position("driver_location:b", 9.5) is Decision.SEND  # another driver
    assert cursor.fresh_position("driver_location:a", 10.5) is Decision.SEND
    assert cursor.decide({"latest_key": "driver_location:a", "recorded_at": 10.5}) is Decision.DROP
    assert cursor.decide({"latest_key": "driver_location:a", "recorded_at": 11.0}) is Decision.SEND


def test_a_position_without_its_recording_time_is_always_sent():
    cursor = DeliveryCursor()
    assert cursor.decide({}) is Decision.SEND
    assert cursor.decide({"latest_key": "driver_location:a", "recorded_at": None}) is Decision.SEND
