"""Dispatch: a requested ride is offered in waves until a driver accepts or the request times out.

- `first_wave(ride)`, in `request_ride`'s transaction: the nearest drivers (rides.matching).
- `run_due(now)`, when the earliest wave is due (`seconds_until_due`) and at least every
  RIDE_DISPATCH_INTERVAL_SECONDS (`manage.py dispatch`, or the server's lifecycle job, which
  waits for the next due wave rather than ticking, so a wave follows its predecessor's expiry
  at once): each requested ride whose `next_wave_at` has come is claimed with a row lock
  (`SKIP LOCKED` on PostgreSQL, so dispatchers running together share the work and never send one
  wave twice), its standing offers expire, and then it times out (cancelled by `system`,
  `no_driver_found`) or the next wave goes out. Everything of one ride is one transaction: a
  dispatcher that dies mid-wave leaves the ride as it was, due, for the next round of any other;
  a ride that fails is tried again a dispatch interval later, and the others go on.
- `decline_ride`: the driver hears no more of it; a wave everyone declined is replaced at once.
- `offers_taken` / `offers_withdrawn`: the services' accept and cancel settle the standing offers.

Accepting does not need a standing offer: a driver whose offer expired, or who was never offered
the ride, may still accept it while it is `requested` and they are eligible (first come wins).

Offers are announced through rides.signals (realtime logs `ride_requested` / `ride_unavailable`).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from drivers.services import get_driver_profile

from . import matching, services
from .models import OfferStatus, Ride, RideOffer, RideStatus
from .signals import offers_expired, offers_made

logger = logging.getLogger(__name__)

NO_DRIVER_FOUND = "no_driver_found"


def _seconds(value):
    return timedelta(seconds=value)


def request_deadline(ride):
    """When the request is cancelled if nobody took it."""
    return ride.requested_at + _seconds(settings.RIDE_REQUEST_TIMEOUT_SECONDS)


def first_wave(ride, *, now=None):
    """Offer a just requested ride (the caller's transaction holds it)."""
    return _send_wave(ride, now or ride.requested_at)


def _send_wave(ride, now):
    """Offer the ride to the next drivers; schedule when this wave is replaced. With nobody to
    offer it to, look again at the next tick (a driver may come online) and count no wave."""
    offered = RideOffer.objects.filter(ride=ride).values("driver_id")  # a subquery of the wave's query
    drivers = matching.drivers_for_wave(ride, already_offered=offered)
    deadline = request_deadline(ride)
    if not drivers:
        ride.next_wave_at = min(now + _seconds(settings.RIDE_DISPATCH_INTERVAL_SECONDS), deadline)
        ride.save(update_fields=["next_wave_at"])
        return []
    ride.offer_wave += 1
    expires_at = now + _seconds(settings.RIDE_OFFER_TIMEOUT_SECONDS)
    offers = RideOffer.objects.bulk_create([
        RideOffer(ride=ride, driver=driver, wave=ride.offer_wave, distance_km=round(driver.distance_km, 3),
                  offered_at=now, expires_at=expires_at)
        for driver in drivers
    ])
    ride.next_wave_at = min(expires_at, deadline)
    ride.save(update_fields=["offer_wave", "next_wave_at"])
    offers_made.send(sender=RideOffer, ride=ride, offers=offers)
    return offers


def _standing(ride):
    return RideOffer.objects.filter(ride=ride, status=OfferStatus.OFFERED)


def _expire_standing(ride, now):
    standing = list(_standing(ride))
    if standing:
        _standing(ride).update(status=OfferStatus.EXPIRED, responded_at=now)
        offers_expired.send(sender=RideOffer, ride=ride, offers=standing)
    return standing


def _due(now):
    # A requested ride with no wave scheduled was made outside request_ride (a shell, a fixture):
    # it is due at once, so it is offered and times out like any other.
    return Ride.objects.filter(Q(next_wave_at__lte=now) | Q(next_wave_at__isnull=True), status=RideStatus.REQUESTED)


def due_ride_ids(now, limit):
    return list(_due(now).order_by(F("next_wave_at").asc(nulls_first=True)).values_list("pk", flat=True)[:limit])


# However near the next wave, a dispatcher loop pauses this long between rounds: a ride another
# dispatcher holds (skipped) stays due, and should not spin this one.
SHORTEST_PAUSE_SECONDS = 0.02


def seconds_until_due(*, now=None, longest):
    """How long a dispatcher loop may wait before its next round: until the earliest requested
    ride's next wave, at most `longest` (a ride requested meanwhile in another process is due in
    RIDE_OFFER_TIMEOUT_SECONDS at the earliest, and found in time at the next round)."""
    now = now or timezone.now()
    earliest = (
        Ride.objects.filter(status=RideStatus.REQUESTED, next_wave_at__isnull=False)
        .order_by("next_wave_at").values_list("next_wave_at", flat=True).first()
    )
    if earliest is None:
        return longest
    return min(longest, max(SHORTEST_PAUSE_SECONDS, (earliest - now).total_seconds()))


def run_due(*, now=None, limit=100):
    """Replace the due waves and time out the expired requests; returns how many rides were handled
    by this dispatcher (one another dispatcher holds, or handled meanwhile, is skipped). A ride that
    fails is logged and tried again a dispatch interval later; the others go on."""
    now = now or timezone.now()
    handled = 0
    for ride_id in due_ride_ids(now, limit):
        try:
            handled += _advance_if_still_due(ride_id, now)
        except Exception:
            logger.exception("dispatching ride %s failed; trying it again in %s s", ride_id,
                             settings.RIDE_DISPATCH_INTERVAL_SECONDS)
            # Only if still due: another dispatcher may have advanced it since this one rolled back.
            handled += _due(now).filter(pk=ride_id).update(
                next_wave_at=now + _seconds(settings.RIDE_DISPATCH_INTERVAL_SECONDS))  # put off: handled too
    return handled


def _advance_if_still_due(ride_id, now):
    with transaction.atomic():
        # Skip a ride another dispatcher holds; re-check it is still due (handled meanwhile?).
        # SQLite has no row locks: its writes are serial anyway.
        ride = _due(now).select_for_update(skip_locked=True).filter(pk=ride_id).first()
        if ride is None:
            return 0
        _advance(ride, now)
        return 1


def _advance(ride, now):
    _expire_standing(ride, now)
    if now >= request_deadline(ride):
        services.expire_request(ride_id=ride.pk, reason=NO_DRIVER_FOUND)
    else:
        _send_wave(ride, now)


def decline_ride(*, ride_id, user, now=None):
    """The driver turns the offer down and is not offered the ride again. 404 for a ride never
    offered to them, 409 once it is no longer requested. Declining twice is declining."""
    profile = get_driver_profile(user)
    now = now or timezone.now()
    with transaction.atomic():
        ride = services.lock_ride(ride_id)
        offer = RideOffer.objects.filter(ride=ride, driver_id=profile.pk).first()
        if offer is None:
            raise services.RideNotFound()
        services.require_status(ride, [RideStatus.REQUESTED], "decline")
        if offer.status != OfferStatus.DECLINED:
            offer.status = OfferStatus.DECLINED
            offer.responded_at = now
            offer.save(update_fields=["status", "responded_at"])
        wave = RideOffer.objects.filter(ride=ride, wave=ride.offer_wave)
        if offer.wave == ride.offer_wave and not wave.exclude(status=OfferStatus.DECLINED).exists():
            _send_wave(ride, now)  # nobody left in this wave: no point waiting for it to expire
    return ride


def offers_taken(ride, driver, now):
    """`driver` accepted: their offer (standing, expired or declined) is accepted, the others
    standing are withdrawn (the transition that follows schedules no more waves)."""
    RideOffer.objects.filter(ride=ride, driver=driver).update(status=OfferStatus.ACCEPTED, responded_at=now)
    offers_withdrawn(ride, now)


def offers_withdrawn(ride, now):
    """The ride is leaving `requested`: the offers still standing are withdrawn (the transition
    that follows schedules no more waves: `next_wave_at=None`)."""
    _standing(ride).update(status=OfferStatus.WITHDRAWN, responded_at=now)
