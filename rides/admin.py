import uuid
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from drivers.admin import DriverAdmin
from drivers.models import Driver
from rideshare.kernel.display import timestamp
from rideshare.kernel.errors import DomainError

from .models import CancelledBy, OfferStatus, RatedBy, Rating, Ride
from .selectors import offer_figures
from .services import cancel_ride_as, end_ride_as_operator

ADMIN_CANCEL_REASON = "cancelled_by_operator"
ADMIN_END_REASON = "ended_by_operator"


class ViewOnly:
    """Ratings are what the participants said: shown, never written here (rides.ratings is the
    only writer, and a driver's average follows from them)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RatingInline(ViewOnly, admin.TabularInline):
    model = Rating
    fields = ["rated_by", "rater", "rated_user", "stars", "comment", "given"]
    readonly_fields = fields
    extra = 0
    given = timestamp("created_at", "given")


@admin.register(Rating)
class RatingAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["short_ride", "rated_by", "rater_phone", "rated_phone", "stars", "comment", "given"]
    list_filter = ["rated_by", "stars", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["rater__phone_number", "rated_user__phone_number", "comment"]
    list_select_related = ["rater", "rated_user"]
    fields = ["ride", "rated_by", "rater", "rated_user", "stars", "comment", "given"]
    readonly_fields = fields
    given = timestamp("created_at", "given")

    @admin.display(description="ride", ordering="ride_id")
    def short_ride(self, rating):
        return str(rating.ride_id)[:8]

    @admin.display(description="by", ordering="rater__phone_number")
    def rater_phone(self, rating):
        return rating.rater.phone_number

    @admin.display(description="rated", ordering="rated_user__phone_number")
    def rated_phone(self, rating):
        return rating.rated_user.phone_number


@admin.register(Ride)
class RideAdmin(admin.ModelAdmin):
    # Few, short columns: the list stays readable on a 1366 px screen beside the filters.
    list_display = ["short_id", "status", "vehicle", "passenger_phone", "driver_phone", "fare", "requested"]
    list_filter = ["status", "ride_type", ("requested_at", admin.DateFieldListFilter)]
    search_fields = ["passenger__phone_number", "driver__user__phone_number", "driver__vehicle_plate"]
    list_select_related = ["passenger", "driver__user"]
    date_hierarchy = "requested_at"
    actions = ["cancel_rides", "end_rides"]
    inlines = [RatingInline]
    fieldsets = [
        ("Ride", {"fields": ["id", "status", "ride_type", "passenger", "driver"]}),
        ("Trip", {"fields": ["pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude",
                             "distance_km", "estimated_fare", "final_fare"]}),
        ("Timeline", {"fields": ["requested", "accepted", "approaching_announced", "arrived", "started", "completed",
                                 "cancelled", "cancelled_by", "cancel_reason"]}),
        ("Dispatch", {"fields": ["offer_wave", "next_wave"]}),
    ]
    # Times to the second (Django's default format drops the seconds).
    requested = timestamp("requested_at")
    accepted = timestamp("accepted_at")
    approaching_announced = timestamp("approaching_announced_at")
    arrived = timestamp("arrived_at")
    started = timestamp("started_at")
    completed = timestamp("completed_at")
    cancelled = timestamp("cancelled_at")
    next_wave = timestamp("next_wave_at")
    # The state machine (rides.services) is the only writer of these; the page is view-only anyway
    # (has_change_permission).
    readonly_fields = [
        "id",
        "passenger",
        "driver",
        "ride_type",
        "status",
        "pickup_latitude",
        "pickup_longitude",
        "dropoff_latitude",
        "dropoff_longitude",
        "distance_km",
        "estimated_fare",
        "final_fare",
        "requested",
        "accepted",
        "approaching_announced",
        "arrived",
        "started",
        "completed",
        "cancelled",
        "cancelled_by",
        "cancel_reason",
        "offer_wave",
        "next_wave",
    ]

    @admin.display(description="ride", ordering="id")
    def short_id(self, ride):
        return str(ride.pk)[:8]  # enough to tell rides apart on a page; search takes the whole id

    @admin.display(description="type", ordering="ride_type")
    def vehicle(self, ride):
        return ride.ride_type  # "moto", narrower than its label "Moto-taxi"

    @admin.display(description="passenger", ordering="passenger__phone_number")
    def passenger_phone(self, ride):
        return ride.passenger.phone_number

    @admin.display(description="driver", ordering="driver__user__phone_number")
    def driver_phone(self, ride):
        return ride.driver.user.phone_number if ride.driver_id else "-"

    @admin.display(description="fare")
    def fare(self, ride):
        # Whole XAF: the final fare once completed, the estimate until then.
        return ride.final_fare if ride.final_fare is not None else ride.estimated_fare

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            ride_id = uuid.UUID(search_term.strip())
        except ValueError:
            return queryset, may_have_duplicates
        return queryset | self.model.objects.filter(pk=ride_id), may_have_duplicates

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A ride's page is view-only (no Save buttons; a POST is refused): nothing on it is
        # editable, and saving the row loaded with the page could only overwrite a transition made
        # meanwhile. Without an object this is the permission the list's actions need.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        # A ride ends by being completed or cancelled (the action below), never by vanishing.
        return False

    @admin.action(description="Cancel selected rides", permissions=["change"])
    def cancel_rides(self, request, queryset):
        # Through the service, one ride at a time: it locks the row and checks the state, and the
        # signal receivers announce each cancel like any other.
        self._one_by_one(
            request, queryset, "Cancelled",
            lambda ride_id: cancel_ride_as(ride_id=ride_id, by=CancelledBy.ADMIN, reason=ADMIN_CANCEL_REASON),
        )

    @admin.action(description="End selected rides, started ones included (operator)", permissions=["change"])
    def end_rides(self, request, queryset):
        # For a ride nobody else can end (its driver deactivated mid-trip): any active ride ends
        # cancelled by admin, through rides.services.end_ride_as_operator, announced like any cancel.
        self._one_by_one(
            request, queryset, "Ended", lambda ride_id: end_ride_as_operator(ride_id=ride_id, reason=ADMIN_END_REASON)
        )

    def _one_by_one(self, request, queryset, done, service):
        """Run `service` on each selected ride; rides it refuses are skipped and listed."""
        count, skipped = 0, []
        for ride_id in queryset.values_list("pk", flat=True):
            try:
                service(ride_id)
                count += 1
            except DomainError as exc:
                skipped.append(f"{ride_id} ({exc.detail})")
        if count:
            self.message_user(request, f"{done} {count} ride(s).", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {len(skipped)}: " + "; ".join(skipped), messages.WARNING)


# The driver admin, with how the driver answers offers: drivers knows nothing of rides, so rides
# extends drivers' admin rather than the other way round.
admin.site.unregister(Driver)


@admin.register(Driver)
class DriverWithOffersAdmin(DriverAdmin):
    list_display = [*DriverAdmin.list_display, "acceptance_rate"]
    readonly_fields = [*DriverAdmin.readonly_fields, "acceptance", "ratings"]

    def get_queryset(self, request):
        # The list's rate column, in the list's own query.
        answered = Q(offers__status__in=[OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED])
        return super().get_queryset(request).annotate(
            offers_answered=Count("offers", filter=answered),
            offers_accepted=Count("offers", filter=Q(offers__status=OfferStatus.ACCEPTED)),
        )

    @admin.display(description="Acceptance")
    def acceptance_rate(self, driver):
        answered = getattr(driver, "offers_answered", 0)
        return f"{driver.offers_accepted / answered:.0%} of {answered}" if answered else "-"

    @admin.display(description="Ratings")
    def ratings(self, driver):
        if driver is None or driver.pk is None:
            return "-"
        given = Rating.objects.filter(rated_user_id=driver.pk, rated_by=RatedBy.PASSENGER).count()
        if not given:
            return f"none yet (shown as {driver.rating})"
        url = reverse("admin:rides_rating_changelist")
        return format_html(
            '{} from {} rating(s): <a href="{}?{}">see them</a>',
            driver.rating, given, url, urlencode({"rated_by__exact": RatedBy.PASSENGER, "q": driver.user.phone_number}),
        )

    @admin.display(description="Offers")
    def acceptance(self, driver):
        if driver is None or driver.pk is None:
            return "-"
        f = offer_figures(driver.pk)
        rate = "no answered offers yet" if f["acceptance_rate"] is None else f"{f['acceptance_rate']:.0%} accepted"
        return (f"{f['offers']} offered: {f['accepted']} accepted, {f['declined']} declined, "
                f"{f['expired']} expired, {f['withdrawn']} withdrawn ({rate})")
