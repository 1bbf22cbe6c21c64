"""Factories and helpers shared by the test suites of every app."""

import itertools

import factory
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from drivers.models import Driver, VehicleType
from rides.models import Ride, RideStatus
from rideshare.accounts.models import User

YAOUNDE = (3.848, 11.502)
PASSWORD = "test-pass-2026"
_phone_numbers = itertools.count(1)


def next_phone_number():
    # +23767xxxxxxx is a valid MTN Cameroon range.
    return f"+2376{next(_phone_numbers):08d}"


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
    rating = 4.8
    is_online = True
    latitude = YAOUNDE[0]
    longitude = YAOUNDE[1]
    heading = 0
    speed = 0.0
    location_updated_at = factory.LazyFunction(timezone.now)


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


def access_token_for(user):
    return str(AccessToken.for_user(user))


def api_client_for(user=None):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client
