from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from drivers.serializers import NearbyDriverSerializer, NearbyQuerySerializer
from rideshare.idempotency.decorators import idempotent
from rideshare.kernel.throttles import RideRequestAddressThrottle, RideRequestThrottle

from . import dispatching, fares, ratings, selectors, services, trips
from .models import DRIVER_ACTIVE_STATUSES, PASSENGER_ACTIVE_STATUSES
from .serializers import (
    CancelInputSerializer,
    DeclineSerializer,
    EstimateSerializer,
    RateInputSerializer,
    RatingSerializer,
    RideListQuerySerializer,
    RideSerializer,
    TripInputSerializer,
)


def _trip(request):
    """The trip in the body: valid fields (400 validation_error), then inside the bounds (400
    outside_service_area / trip_too_long)."""
    trip = TripInputSerializer(data=request.data)
    trip.is_valid(raise_exception=True)
    trips.check_trip(**trip.validated_data)
    return trip.validated_data


def _ride_response(ride, status_code=status.HTTP_200_OK):
    return Response(RideSerializer(ride).data, status=status_code)


class RideListCreateView(APIView):
    schema_errors = {"post": ("trip_too_long", "outside_service_area", "active_ride_exists")}

    def get_throttles(self):
        # Requesting a ride offers it to drivers: throttled per passenger and per address.
        if getattr(self.request, "method", None) == "POST":
            return [RideRequestThrottle(), RideRequestAddressThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="My rides",
        description="Rides the user is passenger or driver of (at most 100). `status` (repeatable) keeps "
        "those statuses; `active=true` only rides in progress, `active=false` only ended ones.",
        parameters=[RideListQuerySerializer],
        responses=RideSerializer(many=True),
    )
    def get(self, request):
        query = RideListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rides = selectors.rides_of(request.user)
        statuses = query.validated_data.get("status")
        if statuses:
            rides = rides.filter(status__in=statuses)
        active = query.validated_data.get("active")
        if active is not None:
            active_statuses = set(PASSENGER_ACTIVE_STATUSES) | set(DRIVER_ACTIVE_STATUSES)
            rides = rides.filter(status__in=active_statuses) if active else rides.exclude(status__in=active_statuses)
        return Response(RideSerializer(rides[:100], many=True).data)

    @extend_schema(
        summary="Request a ride",
        description="The passenger asks for a moto or a car; the request is offered to nearby drivers "
        "in waves (`ride_requested` on their sockets). One active ride per passenger.",
        request=TripInputSerializer,
        responses={201: RideSerializer},
    )
    @idempotent
    def post(self, request):
        ride = services.request_ride(passenger=request.user, **_trip(request))
        return _ride_response(ride, status.HTTP_201_CREATED)


class RideEstimateView(APIView):
    schema_errors = ("trip_too_long", "outside_service_area")

    @extend_schema(
        summary="Estimate a fare",
        description="The fare and distance of a trip, in whole XAF; creates nothing.",
        request=TripInputSerializer,
        responses=EstimateSerializer,
    )
    def post(self, request):
        return Response(fares.estimate(**_trip(request)))


class RideDetailView(APIView):
    schema_errors = ("ride_not_found",)

    @extend_schema(summary="One ride", description="For its passenger, its driver and staff.", responses=RideSerializer)
    def get(self, request, ride_id):
        ride = selectors.visible_ride(request.user, ride_id)
        if ride is None:
            raise services.RideNotFound()
        return _ride_response(ride)


class RideTransitionView(APIView):
    """POST /rides/{id}/<action>/: one state-machine transition, no body."""

    transition = None
    # The driver's steps after accepting (AcceptRideView adds what only accepting checks).
    schema_errors = ("ride_not_found", "not_ride_driver", "invalid_transition", "concurrent_update")

    @extend_schema(request=None, responses=RideSerializer)
    @idempotent
    def post(self, request, ride_id):
        ride = type(self).transition(ride_id=ride_id, user=request.user)
        return _ride_response(ride)


@extend_schema_view(post=extend_schema(
    summary="Accept a ride",
    description="`requested → accepted`, by an online, idle driver of the ride's vehicle type with a "
    "reported position; no offer is needed (first come wins). The passenger gets `ride_accepted`.",
))
class AcceptRideView(RideTransitionView):
    transition = staticmethod(services.accept_ride)
    schema_errors = (
        "not_a_driver", "own_ride", "wrong_vehicle_type", "ride_not_found", "invalid_transition",
        "driver_offline", "driver_position_unknown", "driver_busy", "concurrent_update",
    )


@extend_schema_view(post=extend_schema(
    summary="Mark arrival at the pickup",
    description="`accepted → driver_arrived`, by the ride's driver (`driver_arrived` to both).",
))
class ArrivedView(RideTransitionView):
    transition = staticmethod(services.mark_arrived)


@extend_schema_view(post=extend_schema(
    summary="Start the ride",
    description="`driver_arrived → started`, by the ride's driver (`ride_started` to both).",
))
class StartRideView(RideTransitionView):
    transition = staticmethod(services.start_ride)


@extend_schema_view(post=extend_schema(
    summary="Complete the ride",
    description="`started → completed`, by the ride's driver; the final fare is the estimate "
    "(`ride_completed` to both).",
))
class CompleteRideView(RideTransitionView):
    transition = staticmethod(services.complete_ride)


class DeclineRideView(APIView):
    """POST /rides/{id}/decline/: the driver turns the offer down; no body."""

    schema_errors = ("not_a_driver", "ride_not_found", "invalid_transition")

    @extend_schema(
        summary="Decline a ride offer",
        description="No more offers of this ride to this driver. `ride_not_found` for a ride never "
        "offered to them, `invalid_transition` once it is no longer requested; declining twice is a 200.",
        request=None,
        responses=DeclineSerializer,
    )
    @idempotent
    def post(self, request, ride_id):
        ride = dispatching.decline_ride(ride_id=ride_id, user=request.user)
        return Response(DeclineSerializer({"ride_id": ride.pk, "declined": True}).data)


class CancelRideView(APIView):
    schema_errors = ("ride_not_found", "invalid_transition", "concurrent_update")

    @extend_schema(
        summary="Cancel a ride",
        description="By its passenger or its driver, from `requested`, `accepted` or `driver_arrived` "
        "(`ride_cancelled` to both).",
        request=CancelInputSerializer,
        responses=RideSerializer,
    )
    @idempotent
    def post(self, request, ride_id):
        body = CancelInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ride = services.cancel_ride(ride_id=ride_id, user=request.user, reason=body.validated_data["reason"])
        return _ride_response(ride)


class RateRideView(APIView):
    schema_errors = ("ride_not_found", "invalid_transition", "already_rated")

    @extend_schema(
        summary="Rate a completed ride",
        description="The passenger rates the driver (their `rating`, and `driver_rating` in later events, "
        "is the mean of the stars passengers gave them, to one decimal), the driver may rate the "
        "passenger; each once (`already_rated`), after `completed` only (`invalid_transition`).",
        request=RateInputSerializer,
        responses={201: RatingSerializer},
    )
    @idempotent
    def post(self, request, ride_id):
        body = RateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rating = ratings.rate_ride(ride_id=ride_id, user=request.user, **body.validated_data)
        return Response(RatingSerializer(rating).data, status=status.HTTP_201_CREATED)


class NearbyDriversView(APIView):
    """Drivers a passenger could get now, for the map: position and vehicle only.

    Served under /drivers/ but lives here because "idle" is a fact about rides.
    """

    @extend_schema(
        summary="Drivers nearby",
        description="Online, idle drivers of a vehicle type near a point, nearest first: position and vehicle only.",
        parameters=[NearbyQuerySerializer],
        responses=NearbyDriverSerializer(many=True),
    )
    def get(self, request):
        query = NearbyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        drivers = selectors.nearby_idle_drivers(
            query.validated_data["latitude"],
            query.validated_data["longitude"],
            vehicle_type=query.validated_data["ride_type"],
            exclude_user_id=request.user.pk,
        )
        return Response(NearbyDriverSerializer(drivers, many=True).data)
