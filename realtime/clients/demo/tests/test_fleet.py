"""The demo fleet's drivers, one at a time, with a fake socket and a fake REST API: what they answer
to an offer, and how they take a ride through every state. (test_live_demo.py runs the whole
fleet inside a real server.)"""

import asyncio
import json
import random
import uuid

import pytest

from realtime.clients.demo.fleet import Account, FleetConfig, FleetDriver, WaveBook, waits_for_second_wave
from realtime.clients.demo.routes import step_towards
from rideshare.kernel.geo import haversine_km

YAOUNDE = (3.848, 11.502)
RIDE = "7d4c9a46-2a8e-4c55-9d1b-7c1d2a1f0b11"
PASSENGER = "5b0a3a52-8f8e-4f3a-b0a8-0b6a7b9d6f01"


def test_a_step_goes_the_given_distance_towards_the_target_with_the_heading_an_app_reports():
    east = (YAOUNDE[0], YAOUNDE[1] + 0.05)
    position, heading = step_towards(YAOUNDE, east, 0.5)
    assert heading == 90
    assert position[0] == pytest.approx(YAOUNDE[0]) and position[1] > YAOUNDE[1]  # latitude kept
    assert haversine_km(*YAOUNDE, *position) == pytest.approx(0.5, rel=1e-3)
    assert step_towards(YAOUNDE, (YAOUNDE[0] + 0.05, YAOUNDE[1]), 0.5)[1] == 0  # north
    assert step_towards(YAOUNDE, (YAOUNDE[0], YAOUNDE[1] - 0.05), 0.5)[1] == 270  # west


def test_a_step_longer_than_what_is_left_ends_on_the_target():
    near = (YAOUNDE[0] + 0.001, YAOUNDE[1])
    assert step_towards(YAOUNDE, near, 1.0) == (near, 0)
    assert step_towards(near, near, 1.0) == (near, None)


class FakeSocket:
    def __init__(self):
        self.sent = []

    async def send(self, text):
        self.sent.append(json.loads(text))


class FakeApi:
    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    async def __call__(self, method, path, token):
        action = path.rstrip("/").rsplit("/", 1)[-1]
        self.calls.append(action)
        return self.answers.get(action, 200), {}


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


async def _driver(api=None, waves=None, **config):
    async def tokens(phone):
        return "token"

    settings = dict(
        base_url="http://test", answer_after=(0, 0), speed_kmh=36000, tick_seconds=1.0, second_wave_share=0.0
    ) | config
    driver = FleetDriver(
        Account("u1", "+237692000001", "Brice", "moto"), FleetConfig(**settings),
        tokens=tokens, http=api or FakeApi(), rng=random.Random(7), clock=Clock(), waves=waves,
    )
    driver.socket = FakeSocket()
    driver.token = "token"
    return driver


def _offer(passenger_id=PASSENGER, expires_at="2026-12-04T10:00:15Z"):
    return {"type": "ride_requested", "id": 41, "data": {
        "ride_id": RIDE, "passenger_id": passenger_id, "offer_expires_at": expires_at,
        "pickup_latitude": 3.85, "pickup_longitude": 11.503, "dropoff_latitude": 3.86, "dropoff_longitude": 11.51,
    }}


async def _answered(driver):
    await asyncio.gather(*driver.answering.values(), return_exceptions=True)


async def test_a_driver_declines_over_the_socket_the_offers_it_does_not_take():
    api = FakeApi()
    driver = await _driver(api, accept_share=0.0)
    await driver.hear(_offer())
    await _answered(driver)
    assert driver.socket.sent == [{"type": "decline_ride", "ride_id": RIDE}]
    assert api.calls == [] and driver.trip is None
    assert driver.last_event_id == 41  # where it resumes from after a reconnect


async def test_a_driver_that_accepts_drives_the_ride_through_every_state():
    api = FakeApi()
    driver = await _driver(api, accept_share=1.0)
    await driver.hear(_offer())
    await _answered(driver)
    assert api.calls == ["accept"] and driver.trip.stage == "to_pickup"

    await driver.tick()  # the pickup is within one (very fast) step
    assert api.calls == ["accept", "arrived"]
    assert (driver.socket.sent[-1]["latitude"], driver.socket.sent[-1]["longitude"]) == (3.85, 11.503)
    await driver.tick()
    assert api.calls == ["accept", "arrived"]  # the passenger is boarding
    driver.clock.now += 10
    await driver.tick()
    await driver.tick()
    assert api.calls == ["accept", "arrived", "start", "complete"]
    assert driver.trip is None
    assert all(m["type"] == "location_update" for m in driver.socket.sent)
    assert all(m.get("speed", 0) <= 120 for m in driver.socket.sent)


async def test_a_ride_taken_by_someone_else_first_leaves_the_driver_cruising():
    driver = await _driver(FakeApi({"accept": 409}), accept_share=1.0)
    await driver.hear(_offer())
    await _answered(driver)
    assert driver.trip is None


async def test_a_withdrawn_offer_is_not_answered_and_a_cancelled_ride_is_dropped():
    api = FakeApi()
    driver = await _driver(api, accept_share=1.0, answer_after=(5, 5))
    await driver.hear(_offer())
    await driver.hear({"type": "ride_unavailable", "data": {"ride_id": RIDE, "reason": "accepted_by_another_driver"}})
    await _answered(driver)
    assert api.calls == []

    driver = await _driver(api, accept_share=1.0)
    await driver.hear(_offer())
    await _answered(driver)
    await driver.hear({"type": "ride_cancelled", "data": {"ride_id": RIDE}})
    assert driver.trip is None


@pytest.mark.parametrize("config", [{"auto_accept": False}, {"spared_passenger_ids": frozenset({PASSENGER})}])
async def test_offers_left_to_people_are_not_answered(config):
    api = FakeApi()
    driver = await _driver(api, accept_share=1.0, **config)
    await driver.hear(_offer())
    assert driver.answering == {}
    await driver.tick()
    assert api.calls == [] and [m["type"] for m in driver.socket.sent] == ["location_update"]


def test_the_rides_whose_first_wave_is_declined_are_chosen_by_id_alike_for_every_driver():
    assert waits_for_second_wave(RIDE, 1.0) and not waits_for_second_wave(RIDE, 0.0)
    ids = [str(uuid.UUID(int=n * 7919)) for n in range(1000)]
    assert sum(waits_for_second_wave(ride_id, 0.3) for ride_id in ids) == pytest.approx(300, abs=40)


async def test_the_fleet_declines_a_chosen_rides_first_wave_and_takes_it_in_the_second():
    waves = WaveBook()
    api = FakeApi()
    first = await _driver(api, waves=waves, accept_share=1.0, second_wave_share=1.0)
    other = await _driver(api, waves=waves, accept_share=1.0, second_wave_share=1.0)
    await first.hear(_offer(expires_at="2026-12-04T10:00:15Z"))
    await other.hear(_offer(expires_at="2026-12-04T10:00:15Z"))  # the same wave
    await _answered(first)
    await _answered(other)
    assert first.socket.sent == other.socket.sent == [{"type": "decline_ride", "ride_id": RIDE}]
    assert api.calls == []

    second = await _driver(api, waves=waves, accept_share=1.0, second_wave_share=1.0)
    await second.hear(_offer(expires_at="2026-12-04T10:00:30Z"))  # the next wave
    await _answered(second)
    assert api.calls == ["accept"] and second.trip is not None
