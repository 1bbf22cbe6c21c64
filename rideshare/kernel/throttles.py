"""Request throttles (DRF), per client address or per user, on the endpoints worth abusing.

Counters live in the "throttles" cache (settings.CACHES): Redis with REDIS_URL (shared by every
server process), local memory embedded, sized so that other traffic (the socket's applied message
ids are in a cache of their own) cannot push them out. Rates come from settings
(`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, from `THROTTLE_*_RATE`), read at request time; a
rate of None turns a throttle off. An exceeded rate is a 429 `{detail, code: "throttled"}` with
`Retry-After` (the exception handler).

If the cache is unreachable the request goes through (logged): a Redis outage must not lock every
user out of logging in.
"""

import logging

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.connection import ConnectionProxy
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from . import proxies

logger = logging.getLogger(__name__)

CACHE = "throttles"  # the alias in settings.CACHES


class RateThrottle(SimpleRateThrottle):
    # DRF counts in the default cache; ours is looked up at each use, as Django's `cache` is (a
    # test's settings override reaches it).
    cache = ConnectionProxy(caches, CACHE)

    def get_rate(self):
        # DRF binds the rates to the class at import; read them now (settings can change).
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for the {self.scope!r} scope") from None

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("throttle %s: cache unavailable, request let through", self.scope, exc_info=True)
            return True

    def key_for(self, ident):
        return self.cache_format % {"scope": self.scope, "ident": ident}

    @staticmethod
    def counted_in_this_process():
        """Whether the counters are this process's own memory (the embedded default), out of reach
        of any other process (a management command cannot clear a server's)."""
        return isinstance(caches[CACHE], LocMemCache)

    def forget(self, ident):
        """Clear `ident`'s count, so that its next request starts afresh (an operator lifting a
        lockout: `manage.py unlock_login`). Returns how many requests it held within the window."""
        key = self.key_for(ident)
        history = self.cache.get(key, [])
        self.cache.delete(key)
        if self.duration is None:
            return len(history)
        return len([at for at in history if at > self.timer() - self.duration])


class AddressRateThrottle(RateThrottle):
    """Per client address, as rideshare.kernel.proxies reads it (X-Forwarded-For believed only as
    far as TRUSTED_PROXIES wrote it)."""

    def get_ident(self, request):
        return proxies.request_client(request)

    def get_cache_key(self, request, view):
        return self.key_for(self.get_ident(request))


class UserRateThrottle(RateThrottle):
    """Per authenticated user (anonymous requests are not counted here)."""

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return self.key_for(user.pk)


class LoginThrottle(AddressRateThrottle):
    scope = "login"


class RegisterThrottle(AddressRateThrottle):
    scope = "register"


class TokenRefreshThrottle(AddressRateThrottle):
    scope = "token_refresh"


class RideRequestThrottle(UserRateThrottle):
    scope = "ride_request"


class RideRequestAddressThrottle(AddressRateThrottle):
    scope = "ride_request_address"
