"""realtime.serving.lifecycle: one owner starts the background work with the server and stops it with it."""

import asyncio

import pytest
from django.conf import settings
from django.db import transaction

from realtime.delivery import dispatch, eventlog, events
from realtime.serving import lifecycle
from realtime.serving.lifecycle import ServerLifecycle
from rideshare.tests.factories import RideFactory

# `dispatch` too: the tests run the embedded default (no REDIS_URL), which dispatches in the server.
ALL_JOBS = {"positions", "presence-sync", "presence", "relay", "retention", "fleet", "inbox", "push"} | (
    {"dispatch"} if settings.RIDE_DISPATCH_IN_SERVER else set()
)


async def _lifespan(app):
    """Drive `app` through the ASGI lifespan protocol as uvicorn does; returns what it sent."""
    inbox, sent = asyncio.Queue(), []

    async def send(message):
        sent.append(message["type"])

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    while not sent:
        await asyncio.sleep(0)
    running = {t.get_name() for t in lifecycle.background.tasks if not t.done()}
    handoff_loop = dispatch._handoff.loop
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(task, 5)
    return sent, running, handoff_loop


async def test_lifespan_startup_starts_every_job_and_shutdown_stops_them():
    await lifecycle.stop()  # the test fixture's own server loop; this test plays the server
    dispatch.detach()

    async def never_called(scope, receive, send):
        raise AssertionError("the lifespan scope must not reach the application")

    sent, running, handoff_loop = await _lifespan(ServerLifecycle(never_called))

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert running == ALL_JOBS
    assert handoff_loop is asyncio.get_running_loop()
    assert lifecycle.background.tasks == [] and not lifecycle.background.running
    assert not dispatch._handoff.accepting  # later hand-offs are dropped, not waited on


async def test_other_scopes_go_to_the_application():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    await ServerLifecycle(app)({"type": "http"}, None, None)
    assert seen == ["http"]


@pytest.mark.django_db(transaction=True)
def test_a_long_running_command_publishes_its_committed_events_from_a_loop_of_its_own():
    # `manage.py dispatch` beside the servers: with Redis its events go out from its own loop and
    # are marked published before it exits; with the in-process layer no socket could hear them
    # here, so they stay for the server's relay.
    shared_layer = not dispatch.layer_is_process_local()
    ride = RideFactory()
    with lifecycle.publishing_loop():
        sends_from_a_loop = dispatch.serving()
        with transaction.atomic():
            event = eventlog.record(events.ride_unavailable(ride, "offer_expired"), user_ids=[ride.passenger_id],
                                    ride_id=ride.pk)
    event.refresh_from_db()
    assert sends_from_a_loop == shared_layer
    assert (event.published_at is not None) == shared_layer
    assert not dispatch.serving() and not lifecycle.background.running  # the loop stopped with the command
