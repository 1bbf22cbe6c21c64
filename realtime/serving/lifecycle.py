"""The one owner of a server process's background work: started with the server, stopped with it.

What runs (each on the event loop, its database work in threads):
- the dispatcher's hand-off queue (realtime.delivery.dispatch): sends handed over by on-commit hooks;
- `positions`: the batched write of socket positions, every LOCATION_FLUSH_SECONDS;
- `presence-sync`: the batched passenger presence entries (Redis mode), every PRESENCE_SYNC_SECONDS;
- `presence`: this process's heartbeat and the sweep of dead processes' sockets, every
  PRESENCE_REFRESH_SECONDS;
- `inbox`: messages to every server process (realtime.delivery.dispatch.read_inbox): forget a user the
  handshake cache knows;
- `relay`: the outbox relay (realtime.delivery.eventlog.relay_once), every EVENT_RELAY_INTERVAL_SECONDS;
- `retention`: the event log's purge and the idempotency keys' (rideshare.idempotency), every 10 minutes;
- `fleet`: what changed in the fleet, to this process's staff consoles (realtime.connections.fleet), every
  FLEET_UPDATE_SECONDS (no query while nobody watches);
- `push`: ride events to the devices of users with no open socket (realtime.push.sender), every
  PUSH_INTERVAL_SECONDS, when PUSH_IN_SERVER (the default; `manage.py send_push` otherwise); its
  sends run on the loop, each within PUSH_TIMEOUT_SECONDS, and are abandoned at shutdown after
  PUSH_SHUTDOWN_GRACE_SECONDS;
- `dispatch`: offer waves and request timeouts (rides.dispatching.run_due), as each wave falls
  due and at least every RIDE_DISPATCH_INTERVAL_SECONDS, when RIDE_DISPATCH_IN_SERVER (the
  embedded default; with Redis, `manage.py dispatch` runs it in its own processes);
- what other apps run inside the server (`run_in_server`): the demo fleet's drivers, `demo-fleet`
  (realtime/clients/demo), when DEMO_FLEET (`make run`).

How it is tied to the server: `ServerLifecycle` wraps the ASGI application. Servers that speak the
ASGI lifespan protocol (uvicorn, hypercorn) start and stop it through lifespan events; daphne does
not, so when the application is loaded under daphne's Twisted reactor it starts when the reactor
runs and stops before the reactor shuts down (`python -m realtime.server` is daphne too).
"""

import asyncio
import contextlib
import logging
import sys
import threading

from django.conf import settings

from drivers.known_users import known
from realtime.connections import fleet, positions
from realtime.delivery import dispatch, eventlog
from realtime.presence import presence
from realtime.push import sender as push_sender
from rides import dispatching
from rideshare.idempotency import store as idempotency_keys
from rideshare.kernel import db as kernel_db
from rideshare.kernel.db import close_kept_connections, db_call, dispatcher_call

logger = logging.getLogger(__name__)

RETENTION_INTERVAL_SECONDS = 600


async def _sync_presence():
    await presence.sync_now()


def _inbox_message(message):
    if message.get("type") == dispatch.FORGET_USER:
        known.forget(message["user_id"])


async def _purge_expired():
    await db_call(eventlog.purge_expired)()
    await db_call(idempotency_keys.purge_expired)()


def _dispatch_round():
    """One dispatcher round; returns how long to wait for the next one."""
    dispatching.run_due()
    return dispatching.seconds_until_due(longest=settings.RIDE_DISPATCH_INTERVAL_SECONDS)


async def _dispatch_due_rides():
    """Rounds as waves fall due (a tick would add up to its interval to every wave). A failed
    round ends the loop; `_forever` logs it and starts it again."""
    while True:
        await asyncio.sleep(await dispatcher_call(_dispatch_round)())


def _jobs():
    """name -> (interval in seconds, coroutine function)."""
    jobs = {
        "positions": (settings.LOCATION_FLUSH_SECONDS, positions.flush),
        "presence-sync": (settings.PRESENCE_SYNC_SECONDS or 1, _sync_presence),
        "presence": (settings.PRESENCE_REFRESH_SECONDS, presence.heartbeat),
        "relay": (settings.EVENT_RELAY_INTERVAL_SECONDS, eventlog.relay_once),
        "retention": (RETENTION_INTERVAL_SECONDS, _purge_expired),
        "fleet": (settings.FLEET_UPDATE_SECONDS, fleet.watchers.send_changes),
    }
    if settings.PUSH_IN_SERVER:
        jobs["push"] = (settings.PUSH_INTERVAL_SECONDS, push_sender.start_round)
    return jobs


# Loops of apps above realtime, each a function returning {name: (coroutine function, *args)}
# for where it runs (asked at every start): realtime.clients.demo's fleet, say.
_loops_of_apps = []


def run_in_server(loops):
    """Called from an app's ready(): the server also runs the loops that `loops()` returns."""
    if loops not in _loops_of_apps:
        _loops_of_apps.append(loops)


def _loops():
    """name -> coroutine function that runs until cancelled (restarted if it fails)."""
    loops = {"inbox": (dispatch.read_inbox, _inbox_message)}
    if settings.RIDE_DISPATCH_IN_SERVER:
        loops["dispatch"] = (_dispatch_due_rides,)
    for more in _loops_of_apps:
        loops.update(more())
    return loops


async def _every(name, seconds, job):
    """Rounds start every `seconds` (at once when one ran longer): a round that took its time
    does not push the next one back (the dispatcher's rounds are what keeps a wave on time)."""
    loop = asyncio.get_running_loop()
    next_round = loop.time() + seconds
    while True:
        await asyncio.sleep(max(0.0, next_round - loop.time()))
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database or Redis may be briefly away; the next round catches up
            logger.exception("background job %s failed", name)
        next_round = max(next_round + seconds, loop.time())


async def _forever(name, job, *args):
    """A job that runs until cancelled; restarted (after a second) if it fails."""
    while True:
        try:
            await job(*args)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background job %s failed", name)
        await asyncio.sleep(1)


class _Background:
    def __init__(self):
        self.tasks = []
        self.running = False

    async def start(self, only=None):
        """Start the dispatcher and the periodic jobs (all, or the names in `only`)."""
        if self.running:
            return
        self.running = True
        kernel_db.serving = True  # async views' queries on kept connections from now on
        dispatch.start()
        loop = asyncio.get_running_loop()
        for name, (seconds, job) in _jobs().items():
            if only is None or name in only:
                self.tasks.append(loop.create_task(_every(name, seconds, job), name=name))
        for name, (job, *args) in _loops().items():
            if only is None or name in only:
                self.tasks.append(loop.create_task(_forever(name, job, *args), name=name))
        logger.info("background work started: %s", ", ".join(t.get_name() for t in self.tasks) or "dispatcher")

    async def stop(self):
        """Cancel the periodic jobs, write the last positions, send what is queued, close the
        database connections the REST position path keeps (rideshare.kernel.db)."""
        if not self.running:
            return
        self.running = False
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:  # sends in flight get a short grace; the rest are sent again after their lease
            await asyncio.wait_for(push_sender.stop(), timeout=settings.PUSH_SHUTDOWN_GRACE_SECONDS + 2)
        except Exception:
            logger.exception("stopping the push sends at shutdown failed")
        try:
            await asyncio.wait_for(positions.flush(), timeout=5)
        except Exception:
            logger.exception("writing the last positions at shutdown failed")
        try:
            await asyncio.wait_for(presence.leave(), timeout=2)
        except Exception:
            logger.exception("leaving presence at shutdown failed")
        await dispatch.stop()
        try:  # the events the dispatcher sent, marked published (else the next relay resends them)
            await asyncio.wait_for(eventlog.published_marks.flush(), timeout=2)
        except Exception:
            logger.exception("marking the last events published at shutdown failed")
        kernel_db.serving = False
        await close_kept_connections()


background = _Background()
start = background.start
stop = background.stop


@contextlib.contextmanager
def publishing_loop():
    """For a long-running management command (`manage.py dispatch`) with a shared channel layer: a
    loop of this process, in a thread of its own, that committed events are handed to and sent
    from, as the server's loop does (realtime.delivery.dispatch.soon), and that sends what is left when the
    command stops. Without it each event went out through a blocking call that made an event loop
    and a Redis connection of its own and marked the event published by a write of its own: a
    wave's five offers cost the dispatcher more than the wave (second waves 1.2 s late, p50).
    With the in-process layer nothing here could reach a socket: the events stay for the relay of
    the server process, as before."""
    if dispatch.layer_is_process_local():
        yield
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="publishing-loop", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(only=set()), loop).result(timeout=10)
    try:
        yield
    finally:
        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            dispatch.detach()


class ServerLifecycle:
    """ASGI middleware: answers `lifespan` by starting and stopping the background work; passes
    every other scope to `app`. Under daphne (no lifespan) it follows the Twisted reactor."""

    def __init__(self, app):
        self.app = app
        _follow_twisted_reactor()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await start()
                except Exception as exc:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _follow_twisted_reactor():
    """daphne installs Twisted's asyncio reactor before it loads the application; when this
    module is loaded anywhere else (tests, management commands) no reactor runs and nothing
    is scheduled."""
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor

    loop = getattr(reactor, "_asyncioEventloop", None)
    if loop is None or getattr(reactor, "_rideshare_lifecycle", False):
        return
    reactor._rideshare_lifecycle = True  # one application object per process is the norm; be sure
    reactor.callWhenRunning(lambda: loop.create_task(start()))
    reactor.addSystemEventTrigger("before", "shutdown", lambda: defer.Deferred.fromFuture(loop.create_task(stop())))
