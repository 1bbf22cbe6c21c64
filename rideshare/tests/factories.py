"""Factories and helpers shared by the test suites of every app."""

import itertools

import factory
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from drivers.models import Driver, VehicleType
from rides import dispatching
from rides.models import Ride, RideStatus
from rideshare.accounts.models import User

YAOUNDE = (3.848, 11.502)
# A short moto trip inside Yaoundé: the request body most API tests send.
TRIP = {
    "ride_type": "moto",
    "pickup_latitude": 3.848,
    "pickup_longitude": 11.502,
    "dropoff_latitude": 3.866,
    "dropoff_longitude": 11.516,
}
PASSWORD = "test-pass-2026"
_phone_numbers = itertools.count(1)


def next_phone_number():
    # +23765xxxxxxx: a valid Cameroonian mobile range, apart from the demo accounts' 67x/69x.
    return f"+23765{next(_phone_numbers):07d}"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    phone_number = factory.LazyFunction(next_phone_number)
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class DriverFactory(factory.django.DjangoModelFactory):
    """An online driver positioned at `YAOUNDE` with a fresh position, unless told otherwise."""

    class Meta:
        model = Driver

    user = factory.SubFactory(UserFactory)
    vehicle_type = VehicleType.MOTO
    vehicle_plate = factory.Sequence(lambda n: f"CE-{n:03d}-MT")
    vehicle_color = "Red"
    is_online = True
    latitude = YAOUNDE[0]
    longitude = YAOUNDE[1]
    heading = 0
    speed = 0.0
    location_updated_at = factory.LazyFunction(timezone.now)
    location_recorded_at = factory.SelfAttribute("location_updated_at")  # the phone's clock agrees


class RideFactory(factory.django.DjangoModelFactory):
    """A requested ride in Yaoundé; pass `status` and `driver` for later states."""

    class Meta:
        model = Ride

    passenger = factory.SubFactory(UserFactory)
    ride_type = VehicleType.MOTO
    status = RideStatus.REQUESTED
    pickup_latitude = YAOUNDE[0]
    pickup_longitude = YAOUNDE[1]
    dropoff_latitude = 3.866
    dropoff_longitude = 11.516
    distance_km = 2.533
    estimated_fare = 700

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # As rides.services.request_ride does: a requested ride goes out to its first wave.
        with transaction.atomic():
            ride = super()._create(model_class, *args, **kwargs)
            if ride.status == RideStatus.REQUESTED:
                dispatching.first_wave(ride)
        return ride


def access_token_for(user):
    return str(AccessToken.for_user(user))


def api_client_for(user=None):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


_NO_DRIVER = object()
_STATUS_TIMESTAMPS = [
    (RideStatus.ACCEPTED, "accepted_at"),
    (RideStatus.DRIVER_ARRIVED, "arrived_at"),
    (RideStatus.STARTED, "started_at"),
    (RideStatus.COMPLETED, "completed_at"),
]


def ride_in_status(status=RideStatus.REQUESTED, *, driver=_NO_DRIVER, **kwargs):
    """A ride already in `status`, with the timestamps of the steps it went through.

    Every status but `requested` gets a driver (a new online one unless `driver` is given);
    `cancelled` means cancelled by the passenger after acceptance. Pass `driver=None` for a
    ride cancelled before anyone accepted it.
    """
    status = RideStatus(status)
    if driver is _NO_DRIVER:
        driver = None if status == RideStatus.REQUESTED else DriverFactory()
    now = timezone.now()
    fields = {"status": status, "driver": driver}
    reached = {
        RideStatus.ACCEPTED: 1,
        RideStatus.DRIVER_ARRIVED: 2,
        RideStatus.STARTED: 3,
        RideStatus.COMPLETED: 4,
        RideStatus.CANCELLED: 1 if driver is not None else 0,
    }.get(status, 0)
    for _, timestamp in _STATUS_TIMESTAMPS[:reached]:
        fields[timestamp] = now
    if status == RideStatus.COMPLETED:
        fields["final_fare"] = kwargs.get("estimated_fare", 700)
    if status == RideStatus.CANCELLED:
        fields.update(cancelled_at=now, cancelled_by="passenger")
    fields.update(kwargs)
    return RideFactory(**fields)
