"""realtime.lifecycle: one owner starts the background work with the server and stops it with it."""

import asyncio

from django.conf import settings

from realtime import dispatch, lifecycle
from realtime.lifecycle import ServerLifecycle

# `dispatch` too: the tests run the embedded default (no REDIS_URL), which dispatches in the server.
ALL_JOBS = {"positions", "presence-sync", "presence", "relay", "retention", "inbox"} | (
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
