"""Who reports a position over REST (realtime/serving/rest.py): the user of a verified access token, their
driver row and the ride their positions go to in one query, and their write policy."""

import time
import uuid
from functools import lru_cache
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from drivers.models import Driver, shown_rating
from realtime.connections import positions
from rides.matching import ASSIGNMENT_FIELDS, assignment_from
from rides.models import DRIVER_ACTIVE_STATUSES, Ride

# What the view's answer shows of the driver, besides the position and the user's name.
DRIVER_COLUMNS = ("vehicle_type", "vehicle_plate", "vehicle_color", "average_rating", "is_online")


class DriverPolicies:
    """One `positions.WriteThrough` per driver reporting over REST in this process (the socket
    keeps one per connection). Bounded: past `limit` drivers, those whose next position would be
    written at once anyway are forgotten."""

    def __init__(self, limit=50_000):
        self.limit = limit
        self.policies = {}

    def get(self, driver_id):
        policy = self.policies.get(driver_id)
        if policy is None:
            if len(self.policies) >= self.limit:
                self._forget_due()
            policy = self.policies[driver_id] = positions.WriteThrough()
        return policy

    def _forget_due(self):
        now = None
        for driver_id, policy in list(self.policies.items()):
            now = policy.clock() if now is None else now
            if policy.written_at is None or now - policy.written_at > policy.interval:
                del self.policies[driver_id]
        if len(self.policies) >= self.limit:  # all recent: drop the oldest half
            for driver_id in sorted(self.policies, key=lambda d: self.policies[d].written_at)[: self.limit // 2]:
                del self.policies[driver_id]


class AtOnce:
    """The policy when nothing in this process flushes the batch (a server run without the
    lifecycle, e.g. uvicorn --lifespan off): every position is written at once, as the view does."""

    def due(self):
        return True


policies = DriverPolicies()
authentication = JWTAuthentication()


@lru_cache(maxsize=1)
def _driver_query():
    """The SQL of `reporting_driver`, written once: the ORM compiles a query like it in ~1 ms,
    ten times what running it costs."""
    quote = connection.ops.quote_name
    driver, user, ride = Driver._meta, get_user_model()._meta, Ride._meta

    def column(alias, meta, name):
        return f"{alias}.{quote(meta.get_field(name).column)}"

    statuses = ", ".join(["%s"] * len(DRIVER_ACTIVE_STATUSES))
    driver_pk = column("d", driver, "user")
    select = [column("d", driver, name) for name in DRIVER_COLUMNS] + [column("u", user, "full_name")]
    # The active ride's Assignment (rides.matching), all NULL when there is none.
    select += [column("r", ride, name) for name in ASSIGNMENT_FIELDS]
    sql = (
        f"SELECT {', '.join(select)} FROM {quote(driver.db_table)} d"
        f" INNER JOIN {quote(user.db_table)} u ON {column('u', user, user.pk.name)} = {driver_pk}"
        f" LEFT JOIN {quote(ride.db_table)} r ON {column('r', ride, 'driver')} = {driver_pk}"
        f" AND {column('r', ride, 'status')} IN ({statuses})"
        f" WHERE {driver_pk} = %s"
    )
    if jwt_settings.CHECK_USER_IS_ACTIVE:
        sql += f" AND {column('u', user, 'is_active')} = %s"
    # The driver's lowest-keyed active ride, as rides.matching.active_assignment picks it.
    return sql + f" ORDER BY {column('r', ride, ride.pk.name)} LIMIT 1"


def _as_uuid(value):
    return value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(value)


def reporting_driver(user_id):
    """The driver `user_id` (an active user, as simplejwt requires) with what the view's answer
    shows and the `assignment` of their active ride (`rides.matching.active_assignment`'s rule,
    None without one), in one query; None if there is no such driver."""
    try:
        driver_id = uuid.UUID(str(user_id))
    except ValueError:  # a user id claim that is not one: Django answers it
        return None
    params = [*DRIVER_ACTIVE_STATUSES, Driver._meta.pk.target_field.get_db_prep_value(driver_id, connection)]
    if jwt_settings.CHECK_USER_IS_ACTIVE:
        params.append(True)
    with connection.cursor() as cursor:
        cursor.execute(_driver_query(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(DRIVER_COLUMNS)
    profile, full_name, (ride_id, passenger_id, *ride) = row[:n], row[n], row[n + 1:]
    assignment = None if ride_id is None else assignment_from(_as_uuid(ride_id), _as_uuid(passenger_id), *ride)
    columns = dict(zip(DRIVER_COLUMNS, profile))
    return SimpleNamespace(
        pk=driver_id, user_id=driver_id, user=SimpleNamespace(full_name=full_name), **columns,
        rating=shown_rating(columns["average_rating"]), assignment=assignment,
    )


class VerifiedTokens:
    """Access tokens that passed simplejwt's checks in this process, until they expire: a driver
    sends the same token every few seconds for its whole lifetime, and checking its signature
    each time was a fifth of the fast path's work. A token whose check passed stays good until
    its `exp` (plus the configured leeway), so the answer is the same. Bounded: emptied when full."""

    def __init__(self, limit=20_000, clock=time.time):
        self.limit = limit
        self.clock = clock
        self.entries = {}

    def user_id(self, raw):
        """The user id claim of `raw`; raises simplejwt's errors (or KeyError) as they do."""
        entry = self.entries.get(raw)
        if entry is not None:
            if self.clock() < entry[1]:
                return entry[0]
            del self.entries[raw]
        token = authentication.get_validated_token(raw)
        user_id = token[jwt_settings.USER_ID_CLAIM]
        good_until = token["exp"] + token.get_token_backend().get_leeway().total_seconds()
        if len(self.entries) >= self.limit:
            self.entries.clear()
        self.entries[raw] = (user_id, good_until)
        return user_id


verified_tokens = VerifiedTokens()


def authenticated_user_id(authorization):
    """The user id of a valid access token in an `Authorization` header, or None."""
    if authorization is None:
        return None
    try:
        raw = authentication.get_raw_token(authorization)
        return None if raw is None else verified_tokens.user_id(raw)
    except (AuthenticationFailed, InvalidToken, TokenError, KeyError):
        return None




@receiver(setting_changed)
def _forget_configuration(**kwargs):
    """Tests change settings (the signing key, the user checks); a server reads them once."""
    verified_tokens.entries.clear()
    _driver_query.cache_clear()
