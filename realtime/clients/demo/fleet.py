"""The demo fleet: a dozen drivers that behave like driver apps, around Yaoundé.

Each one speaks the public protocol only, like a phone: one WebSocket (`driver_online`, a
`location_update` every tick, the events it hears), and REST for its actions (accept, arrived,
start, complete). So everything the console and the apps show of it is real. Only its access
token is minted from the database instead of logging in (a dozen logins from one address at start
would meet the login throttle) and again whenever the server closes its socket.

With auto-accept on, a driver offered a ride (`ride_requested`) answers after a few seconds. A
share of rides (`second_wave_share`, decided by the ride's id so every driver agrees) is declined
by every fleet driver of its first wave (`decline_ride`), so the next wave goes out at once and can
be watched; other offers are accepted with probability `accept_share`, else declined. A driver
tells the waves of a ride apart by their `offer_expires_at` (one per wave), which the fleet's
drivers share (`WaveBook`): the only thing they know of each other. The driver whose accept wins
drives to the pickup, waits, drives to the drop-off and completes the ride. Rides of
the `spared` passengers are left to people (the README's walk-through, the console's driver pane).
Between rides drivers cruise from one random point to another within `radius_km` of the centre.
"""

import asyncio
import contextlib
import json
import logging
import math
import random
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import websockets

from rideshare.kernel.geo import haversine_km

from .routes import KM_PER_DEGREE, step_towards

logger = logging.getLogger(__name__)

ARRIVED_WITHIN_KM = 0.03
BOARDING_SECONDS = 3.0
MAX_BACKOFF_SECONDS = 15.0
REPORTED_SPEED_MAX_KMH = 120


@dataclass(frozen=True)
class FleetConfig:
    base_url: str  # the server, e.g. http://127.0.0.1:8000
    auto_accept: bool = True
    accept_share: float = 0.5  # of offers accepted (past a declined first wave); the others are declined
    second_wave_share: float = 0.3  # of rides whose first wave the fleet declines
    tick_seconds: float = 2.0  # between positions
    speed_kmh: float = 40.0
    center: tuple = (3.848, 11.502)
    radius_km: float = 3.0
    answer_after: tuple = (2.0, 6.0)  # seconds a driver takes to answer an offer
    spared_passenger_ids: frozenset = frozenset()  # user ids whose rides the fleet leaves alone


@dataclass
class Account:
    user_id: str
    phone: str
    name: str
    vehicle_type: str


@dataclass
class Trip:
    ride_id: str
    pickup: tuple
    dropoff: tuple
    stage: str = "to_pickup"  # to_pickup -> boarding -> to_dropoff
    boarding_until: float = 0.0


def waits_for_second_wave(ride_id, share):
    """Whether the fleet declines this ride's first wave: the same answer for every driver."""
    try:
        return uuid.UUID(ride_id).int % 1000 < share * 1000
    except (TypeError, ValueError):
        return False


class WaveBook:
    """Which wave of a ride an offer belongs to, from the offers the fleet's drivers heard: every
    offer of one wave stands until the same `offer_expires_at`."""

    MAX_RIDES = 1000

    def __init__(self):
        self.expiries = {}  # ride id -> the offer_expires_at values heard, in order

    def wave_of(self, ride_id, offer_expires_at):
        heard = self.expiries.setdefault(ride_id, [])
        if offer_expires_at not in heard:
            heard.append(offer_expires_at)
            while len(self.expiries) > self.MAX_RIDES:  # the oldest rides first (dicts keep order)
                del self.expiries[next(iter(self.expiries))]
        return heard.index(offer_expires_at) + 1


def ws_url(base_url, token, last_event_id):
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = f"token={token}" + (f"&last_event_id={last_event_id}" if last_event_id else "")
    return urlunsplit((scheme, parts.netloc, "/api/v1/ws/connect", query, ""))


class FleetDriver:
    """One simulated driver app. `tokens(phone)` mints an access token (awaitable), `http(method,
    path, token)` calls the REST API (awaitable, returns (status, body))."""

    def __init__(self, account, config, *, tokens, http, rng, clock=None, waves=None):
        self.account = account
        self.waves = waves if waves is not None else WaveBook()
        self.config = config
        self.tokens = tokens
        self.http = http
        self.rng = rng
        self.clock = clock or asyncio.get_running_loop().time
        self.position = self._random_point()
        self.waypoint = self._random_point()
        self.trip = None
        self.token = None
        self.last_event_id = 0
        self.answering = {}  # ride id -> task answering its offer
        self.socket = None

    # --- the app's life: connect, reconnect --------------------------------------------------

    async def run(self):
        backoff = 1.0
        while True:
            try:
                await self._session()
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server restarting, a token expiring: reconnect
                logger.info("demo driver %s reconnecting after %s", self.account.phone, exc)
            await asyncio.sleep(backoff * (1 + self.rng.random()))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _session(self):
        self.token = await self.tokens(self.account.phone)
        url = ws_url(self.config.base_url, self.token, self.last_event_id)
        async with websockets.connect(url, open_timeout=10, close_timeout=1) as socket:
            self.socket = socket
            try:
                await self._send({"type": "driver_online"})
                mover = asyncio.create_task(self._move_forever())
                try:
                    async for text in socket:
                        await self.hear(json.loads(text))
                finally:
                    mover.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await mover
            finally:
                self.socket = None

    async def _send(self, message):
        if self.socket is not None:
            await self.socket.send(json.dumps(message))

    # --- what it hears -------------------------------------------------------------------------

    async def hear(self, message):
        if isinstance(message.get("id"), int):
            self.last_event_id = max(self.last_event_id, message["id"])
        kind, data = message.get("type"), message.get("data") or {}
        if kind == "ride_requested":
            self._offered(data)
        elif kind == "ride_unavailable":
            task = self.answering.pop(data.get("ride_id"), None)
            if task is not None and data.get("reason") != "offer_expired":
                task.cancel()  # taken or cancelled: nothing to answer (an expired offer may still be taken)
        elif kind == "ride_cancelled" and self.trip is not None and data.get("ride_id") == self.trip.ride_id:
            self.trip = None
        elif kind == "error":
            logger.info("demo driver %s: %s", self.account.phone, data)

    def _offered(self, data):
        ride_id = data["ride_id"]
        if (not self.config.auto_accept or self.trip is not None or ride_id in self.answering
                or data.get("passenger_id") in self.config.spared_passenger_ids):
            return  # a person answers it, or nobody: the offer expires
        wave = self.waves.wave_of(ride_id, data.get("offer_expires_at"))
        if wave == 1 and waits_for_second_wave(ride_id, self.config.second_wave_share):
            accept = False
        else:
            accept = self.rng.random() < self.config.accept_share
        delay = self.rng.uniform(*self.config.answer_after)
        self.answering[ride_id] = asyncio.create_task(self._answer(data, accept, delay))

    async def _answer(self, data, accept, delay):
        ride_id = data["ride_id"]
        try:
            await asyncio.sleep(delay)
            if not accept:
                await self._send({"type": "decline_ride", "ride_id": ride_id})
                return
            if self.trip is not None:
                return
            status, _ = await self.http("POST", f"/api/v1/rides/{ride_id}/accept/", self.token)
            if status == 200 and self.trip is None:
                self.trip = Trip(
                    ride_id,
                    (data["pickup_latitude"], data["pickup_longitude"]),
                    (data["dropoff_latitude"], data["dropoff_longitude"]),
                )
        finally:
            self.answering.pop(ride_id, None)

    # --- driving ---------------------------------------------------------------------------------

    async def _move_forever(self):
        while True:
            await self.tick()
            await asyncio.sleep(self.config.tick_seconds)

    async def tick(self):
        """One step along the current path, its position sent, and the ride's next action taken."""
        trip = self.trip
        if trip is not None and trip.stage == "boarding" and self.clock() >= trip.boarding_until:
            trip.stage = "to_dropoff"  # before the action: a refused start ends the trip (self.trip)
            await self._ride_action(trip, "start")
            trip = self.trip
        if trip is None:
            target = self.waypoint
        elif trip.stage == "boarding":
            target = self.position
        else:
            target = trip.pickup if trip.stage == "to_pickup" else trip.dropoff
        step_km = self.config.speed_kmh * self.config.tick_seconds / 3600
        self.position, heading = step_towards(self.position, target, step_km)
        position = {"latitude": round(self.position[0], 6), "longitude": round(self.position[1], 6)}
        if heading is None:  # standing still
            position["speed"] = 0
        else:
            # A sped-up fleet (tests) still reports a speed a phone could.
            position.update(heading=heading, speed=min(self.config.speed_kmh, REPORTED_SPEED_MAX_KMH))
        await self._send({"type": "location_update", **position})
        if haversine_km(*self.position, *target) > ARRIVED_WITHIN_KM:
            return
        if trip is None:
            self.waypoint = self._random_point()
        elif trip.stage == "to_pickup":
            await self._ride_action(trip, "arrived")
            trip.stage, trip.boarding_until = "boarding", self.clock() + BOARDING_SECONDS
        elif trip.stage == "to_dropoff":
            await self._ride_action(trip, "complete")
            self.trip = None

    async def _ride_action(self, trip, action):
        status, body = await self.http("POST", f"/api/v1/rides/{trip.ride_id}/{action}/", self.token)
        if status != 200 and self.trip is trip:
            # Cancelled meanwhile (its event may still be on its way), or ended by an operator.
            logger.info("demo driver %s: %s of ride %s refused: %s", self.account.phone, action, trip.ride_id, body)
            self.trip = None

    def _random_point(self):
        """Uniform over the disc of radius_km around the centre."""
        distance = self.config.radius_km * math.sqrt(self.rng.random())
        angle = self.rng.uniform(0, 2 * math.pi)
        lat0, lon0 = self.config.center
        return (
            lat0 + distance * math.cos(angle) / KM_PER_DEGREE,
            lon0 + distance * math.sin(angle) / (KM_PER_DEGREE * math.cos(math.radians(lat0))),
        )


@dataclass
class Fleet:
    """Every driver's app, run together until cancelled."""

    config: FleetConfig
    accounts: list
    tokens: object
    http: object
    seed: int | None = None
    drivers: list = field(default_factory=list)

    async def run(self):
        rng = random.Random(self.seed)
        waves = WaveBook()
        self.drivers = [
            FleetDriver(
                account, self.config, tokens=self.tokens, http=self.http, rng=random.Random(rng.random()), waves=waves
            )
            for account in self.accounts
        ]
        logger.info("demo fleet: %d drivers on %s", len(self.drivers), self.config.base_url)
        async with asyncio.TaskGroup() as group:
            for driver in self.drivers:
                group.create_task(driver.run(), name=f"demo-driver-{driver.account.phone}")
