
from django.db import transaction
from rest_framework import serializers

from rideshare.accounts import serializers as accounts
from rideshare.kernel import bounds
from rideshare.kernel.fields import FiniteFloatField, latitude_field, longitude_field

from . import services
from .models import Driver, VehicleType


class DriverSerializer(serializers.ModelSerializer):
    driver_id = serializers.UUIDField(source="user_id", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    rating = serializers.FloatField(read_only=True)

    class Meta:
        model = Driver
        fields = [
            "driver_id",
            "full_name",
            "vehicle_type",
            "vehicle_plate",
            "vehicle_color",
            "rating",
            "is_online",
            "latitude",
            "longitude",
            "heading",
            "speed",
            "location_updated_at",
        ]
        read_only_fields = [
            "is_online",
            "latitude",
            "longitude",
            "heading",
            "speed",
            "location_updated_at",
        ]


class DriverProfileInputSerializer(serializers.Serializer):
    vehicle_type = serializers.ChoiceField(choices=VehicleType.choices)
    vehicle_plate = serializers.CharField(max_length=20)
    vehicle_color = serializers.CharField(max_length=30)


# What auth/register/ and auth/me/ answer: the account with its driver profile (None for a
# passenger). No docstrings on these two: the OpenAPI document would carry them.
class UserSerializer(accounts.UserSerializer):
    driver = serializers.SerializerMethodField()

    class Meta(accounts.UserSerializer.Meta):
        fields = ["user_id", "phone_number", "full_name", "is_driver", "driver", "date_joined"]
        read_only_fields = fields

    def get_driver(self, user) -> dict | None:
        return DriverSerializer(user.driver).data if user.is_driver else None


# A passenger account, or a driver account with `driver` (the vehicle), in one transaction.
class RegisterSerializer(accounts.RegisterSerializer):
    driver = DriverProfileInputSerializer(required=False)

    @transaction.atomic
    def create(self, validated_data):
        driver = validated_data.pop("driver", None)
        user = super().create(validated_data)
        if driver:
            services.create_driver_profile(user=user, **driver)
        return user


class LocationSerializer(serializers.Serializer):
    """A driver's reported position; shared by the REST endpoint and the WebSocket message."""

    latitude = latitude_field()
    longitude = longitude_field()
    heading = FiniteFloatField(
        min_value=bounds.HEADING_MIN, max_value=bounds.HEADING_MAX, required=False, allow_null=True
    )
    speed = FiniteFloatField(
        min_value=bounds.SPEED_MIN, max_value=bounds.SPEED_MAX, required=False, allow_null=True
    )

    def validate_heading(self, value):
        return bounds.stored_heading(value)


class NearbyQuerySerializer(serializers.Serializer):
    latitude = latitude_field()
    longitude = longitude_field()
    ride_type = serializers.ChoiceField(choices=VehicleType.choices)


class NearbyDriverSerializer(serializers.Serializer):
    """What a passenger's map may know about a nearby driver: position and vehicle, no identity."""

    vehicle_type = serializers.CharField()
    vehicle_color = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    heading = serializers.IntegerField(allow_null=True)
    distance_km = serializers.FloatField()
