"""The demo fleet wired to this project: accounts and tokens from the database, REST over HTTP,
settings from DEMO_* (rideshare/settings/demo.py). Run inside the server by realtime.serving.lifecycle when
DEMO_FLEET is on, or beside any server by `manage.py demo_fleet`."""

import asyncio
import functools

from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from realtime.serving.client import http_json
from rides.management.commands.seed_demo import CENTER, FLEET, seed_fleet_accounts
from rideshare.accounts.models import User

from .fleet import Account, Fleet, FleetConfig


def config_from_settings(base_url=None, *, auto_accept=None, spared_passenger_ids=frozenset()):
    return FleetConfig(
        base_url=(base_url or settings.DEMO_FLEET_URL).rstrip("/"),
        auto_accept=settings.DEMO_AUTO_ACCEPT if auto_accept is None else auto_accept,
        accept_share=settings.DEMO_FLEET_ACCEPT_SHARE,
        second_wave_share=settings.DEMO_FLEET_SECOND_WAVE_SHARE,
        tick_seconds=settings.DEMO_FLEET_TICK_SECONDS,
        speed_kmh=settings.DEMO_FLEET_SPEED_KMH,
        center=CENTER,
        answer_after=tuple(settings.DEMO_FLEET_ANSWER_SECONDS),
        spared_passenger_ids=spared_passenger_ids,
    )


def _accounts(size):
    """The fleet's accounts (created if `seed_demo` has not run yet), and the spared passengers' ids."""
    users = seed_fleet_accounts()
    accounts = [
        Account(str(users[phone].pk), phone, name, vehicle_type)
        for phone, name, vehicle_type, _, _ in FLEET[:size]
    ]
    spared = User.objects.filter(phone_number__in=settings.DEMO_FLEET_SPARED_PASSENGERS).values_list("pk", flat=True)
    return accounts, frozenset(str(pk) for pk in spared)


def _token(phone):
    return str(AccessToken.for_user(User.objects.get(phone_number=phone)))


async def _http(base_url, method, path, token):
    # urllib in a thread: the fleet may share the server's event loop, which must never block.
    return await asyncio.to_thread(http_json, method, base_url + path, None, token)


async def run_fleet(base_url=None, *, size=None, auto_accept=None, seed=None):
    """Runs until cancelled."""
    size = settings.DEMO_FLEET_SIZE if size is None else size
    accounts, spared = await database_sync_to_async(_accounts)(size)
    config = config_from_settings(base_url, auto_accept=auto_accept, spared_passenger_ids=spared)
    fleet = Fleet(
        config, accounts, tokens=database_sync_to_async(_token), http=functools.partial(_http, config.base_url),
        seed=seed,
    )
    await fleet.run()
