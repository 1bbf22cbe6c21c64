"""Ratings after a completed ride: the passenger rates the driver, the driver may rate the
passenger, each once. A driver's `average_rating` (what `Driver.rating` shows) is recomputed from
all the stars passengers gave them, in the transaction that adds one, with the driver's row
locked: concurrent ratings of one driver take turns, so none is lost to a read-modify-write race.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from drivers.models import Driver
from rideshare.kernel.errors import Conflict

from .models import RatedBy, Rating, RideStatus
from .services import lock_for_participant, require_status

ONE_DECIMAL = Decimal("0.1")


class AlreadyRated(Conflict):
    code = "already_rated"

    def __init__(self):
        super().__init__(_("You already rated this ride."))


def average(total_stars, count):
    """The exact mean of `count` ratings adding up to `total_stars`, to one decimal, halves up
    (4.25 → 4.3: decimal arithmetic, not a float's nearest binary value); None for no ratings."""
    if not count:
        return None
    return (Decimal(total_stars) / Decimal(count)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


@transaction.atomic
def rate_ride(*, ride_id, user, stars, comment=""):
    """`user` rates the other participant of their completed ride. 404 ride_not_found for anyone
    else, 409 invalid_transition before completion, 409 already_rated the second time."""
    ride = lock_for_participant(ride_id, user)
    require_status(ride, [RideStatus.COMPLETED], "rate")
    by_passenger = user.pk == ride.passenger_id
    if by_passenger:
        # Before anything is read: whoever rates this driver next waits here until we commit.
        # (The ride is completed, so no transition waits on it while we wait on the driver.)
        driver = Driver.objects.select_for_update(no_key=True).get(pk=ride.driver_id)
    rating = Rating(
        ride=ride,
        rated_by=RatedBy.PASSENGER if by_passenger else RatedBy.DRIVER,
        rater_id=user.pk,
        rated_user_id=ride.driver_id if by_passenger else ride.passenger_id,
        stars=stars,
        comment=comment,
    )
    try:
        with transaction.atomic():
            rating.save(force_insert=True)
    except IntegrityError:
        raise AlreadyRated() from None
    if by_passenger:
        driver.average_rating = driver_average(driver.pk)
        driver.save(update_fields=["average_rating"])
    return rating


def driver_average(driver_id):
    """The mean of the stars passengers gave `driver_id`, to one decimal (None: never rated)."""
    totals = Rating.objects.filter(rated_user_id=driver_id, rated_by=RatedBy.PASSENGER).aggregate(
        total=Sum("stars"), count=Count("id")
    )
    return average(totals["total"], totals["count"])
