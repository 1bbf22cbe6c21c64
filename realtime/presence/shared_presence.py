"""Presence shared by every server process through Redis (the mode with REDIS_URL), with TTLs:
no database write per socket, and a process that dies stops counting on its own.

Keys, under the channel layer's prefix:
- `presence:servers`: sorted set, server id -> time of its last heartbeat. A process whose
  heartbeat is older than PRESENCE_TTL_SECONDS is dead: its sockets do not count, and the first
  live process to notice sweeps it (takes its drivers offline unless connected elsewhere).
- `presence:sockets:<server id>`: hash, channel name -> "user id|1 for a driver|opened at":
  every socket of that process, the figures of `ws/stats` and what a sweep reads.
- `presence:user:<user id>`: hash, channel name -> "server id|opened at": the user's sockets in
  every process, for the connection cap and "is this driver still connected anywhere".
Every key expires (EXPIRY_TTLS × the TTL) unless refreshed by a heartbeat, so nothing outlives
the processes that wrote it. Everything here is sync, called in worker threads.
"""

import time
from functools import lru_cache

import redis
from django.conf import settings

EXPIRY_TTLS = 5


@lru_cache(maxsize=4)
def _client(url):
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=15,
                                decode_responses=True)


def client():
    return _client(settings.REDIS_URL)


def _prefix():
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG") or {}
    return f"{config.get('prefix', 'rideshare')}:presence"


def _servers():
    return f"{_prefix()}:servers"


def _sockets(server_id):
    return f"{_prefix()}:sockets:{server_id}"


def _user(user_id):
    return f"{_prefix()}:user:{user_id}"


def _expiry():
    return max(1, int(settings.PRESENCE_TTL_SECONDS * EXPIRY_TTLS))


def _live_since(now=None):
    return (time.time() if now is None else now) - settings.PRESENCE_TTL_SECONDS


def _encode_socket(user_id, is_driver, opened_at):
    return f"{user_id}|{int(bool(is_driver))}|{opened_at}"


def _decode_socket(value):
    user_id, is_driver, opened_at = value.split("|")
    return user_id, is_driver == "1", float(opened_at)


def _others(entries, live, server_id):
    """[(opened at, channel name)] of a user hash's entries held by other live processes."""
    found = []
    for channel_name, value in entries.items():
        holder, opened_at = value.split("|")
        if holder != server_id and holder in live:
            found.append((float(opened_at), channel_name))
    return found


def live_servers():
    return set(client().zrangebyscore(_servers(), _live_since(), "+inf"))


def add(sockets, removes, server_id):
    """Write `sockets` [(channel name, user id, is driver, opened at)] and remove `removes`
    [(channel name, user id)] of this process in one round trip. Returns, per user of
    `sockets`, their sockets held by other live processes: {user id: [(opened at, channel)]}."""
    expiry = _expiry()
    pipe = client().pipeline(transaction=False)
    for channel_name, user_id in removes:
        pipe.hdel(_sockets(server_id), channel_name)
        pipe.hdel(_user(user_id), channel_name)
    users = []
    if sockets:
        pipe.zadd(_servers(), {server_id: time.time()})  # a process that writes is alive
        pipe.hset(_sockets(server_id), mapping={
            name: _encode_socket(user_id, is_driver, opened_at) for name, user_id, is_driver, opened_at in sockets
        })
        pipe.expire(_sockets(server_id), expiry)
        for name, user_id, _, opened_at in sockets:
            pipe.hset(_user(user_id), name, f"{server_id}|{opened_at}")
            pipe.expire(_user(user_id), expiry)
        users = list(dict.fromkeys(str(user_id) for _, user_id, _, _ in sockets))
        for user_id in users:
            pipe.hgetall(_user(user_id))
        pipe.zrangebyscore(_servers(), _live_since(), "+inf")
    replies = pipe.execute()
    if not users:
        return {}
    live = set(replies[-1])
    return {user_id: _others(entries, live, server_id)
            for user_id, entries in zip(users, replies[-1 - len(users):-1], strict=True)}


def connected_elsewhere(user_ids, server_id):
    """Those of `user_ids` with a socket in another live process."""
    user_ids = [str(u) for u in user_ids]
    pipe = client().pipeline(transaction=False)
    for user_id in user_ids:
        pipe.hgetall(_user(user_id))
    pipe.zrangebyscore(_servers(), _live_since(), "+inf")
    *entries, live = pipe.execute()
    return {user_id for user_id, found in zip(user_ids, entries, strict=True) if _others(found, set(live), server_id)}


def heartbeat(open_sockets, server_id):
    """This process is alive with `open_sockets` {channel: (user id, is driver, opened at)}, a
    snapshot: its keys are refreshed, and rewritten if they are not what it holds (Redis
    restarted, or the process stalled past the TTL and was swept)."""
    r = client()
    expiry = _expiry()
    r.zadd(_servers(), {server_id: time.time()})
    if r.hlen(_sockets(server_id)) != len(open_sockets):
        pipe = r.pipeline(transaction=False)
        pipe.delete(_sockets(server_id))
        if open_sockets:
            pipe.hset(_sockets(server_id), mapping={
                name: _encode_socket(user_id, is_driver, opened_at)
                for name, (user_id, is_driver, opened_at) in open_sockets.items()
            })
            for name, (user_id, _, opened_at) in open_sockets.items():
                pipe.hset(_user(user_id), name, f"{server_id}|{opened_at}")
        pipe.execute()
    pipe = r.pipeline(transaction=False)
    pipe.expire(_sockets(server_id), expiry)
    # The users' keys (one per user: thousands) only when half their expiry has passed: their
    # expiry is a backstop for a dead process nobody swept, not what decides who counts.
    now = time.monotonic()
    if now - _users_refreshed.get(server_id, float("-inf")) > expiry / 2:
        _users_refreshed[server_id] = now
        for user_id in {user_id for user_id, _, _ in open_sockets.values()}:
            pipe.expire(_user(user_id), expiry)
    pipe.execute()


_users_refreshed = {}  # server id -> when its users' keys were last given their expiry again


def sweep(server_id=None):
    """Remove the sockets of processes whose heartbeat stopped; returns (sockets removed, the
    driver ids among them not connected in any live process). Each dead process is claimed by
    one sweeper (ZREM answers 1 once)."""
    r = client()
    removed, drivers = 0, set()
    for dead in r.zrangebyscore(_servers(), "-inf", f"({_live_since()}"):
        if dead == server_id or not r.zrem(_servers(), dead):
            continue
        entries = r.hgetall(_sockets(dead))
        pipe = r.pipeline(transaction=False)
        for channel_name, value in entries.items():
            user_id, is_driver, _ = _decode_socket(value)
            pipe.hdel(_user(user_id), channel_name)
            if is_driver:
                drivers.add(user_id)
        pipe.delete(_sockets(dead))
        pipe.execute()
        removed += len(entries)
    if not drivers:
        return removed, []
    still = connected_elsewhere(drivers, server_id=None)
    return removed, sorted(drivers - still)


def leave(open_sockets, server_id):
    """This process stops (shutdown): its sockets stop counting now rather than after the TTL."""
    r = client()
    pipe = r.pipeline(transaction=False)
    for name, (user_id, _, _) in open_sockets.items():
        pipe.hdel(_user(user_id), name)
    pipe.delete(_sockets(server_id))
    pipe.zrem(_servers(), server_id)
    pipe.execute()


def figures():
    """Connection figures across every live process."""
    r = client()
    live = sorted(live_servers())
    pipe = r.pipeline(transaction=False)
    for server_id in live:
        pipe.hvals(_sockets(server_id))
    total, users, drivers = 0, set(), set()
    for values in pipe.execute() if live else []:
        total += len(values)
        for value in values:
            user_id, is_driver, _ = _decode_socket(value)
            users.add(user_id)
            if is_driver:
                drivers.add(user_id)
    return {"total_connections": total, "connected_users": len(users), "connected_drivers": len(drivers),
            "server_processes": len(live)}


def forget_everything():
    """Tests: delete every presence key under the current prefix."""
    r = client()
    keys = list(r.scan_iter(f"{_prefix()}:*", count=1000))
    if keys:
        r.delete(*keys)
