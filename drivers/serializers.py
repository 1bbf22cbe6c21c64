import math

from rest_framework import serializers

from rideshare.kernel import bounds
from rideshare.kernel.fields import FiniteFloatField, latitude_field, longitude_field

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
        return None if value is None else int(round(value)) % 360


def _number_in(value, low, high):
    return type(value) in (int, float) and math.isfinite(value) and low <= value <= high


def plain_location(payload):
    """LocationSerializer's result for the common, valid payload, without DRF's machinery (the
    socket's hot path); None when the payload needs the serializer, to accept or to explain."""
    latitude, longitude = payload.get("latitude"), payload.get("longitude")
    heading, speed = payload.get("heading"), payload.get("speed")
    if not _number_in(latitude, bounds.LATITUDE_MIN, bounds.LATITUDE_MAX):
        return None
    if not _number_in(longitude, bounds.LONGITUDE_MIN, bounds.LONGITUDE_MAX):
        return None
    if heading is not None and not _number_in(heading, bounds.HEADING_MIN, bounds.HEADING_MAX):
        return None
    if speed is not None and not _number_in(speed, bounds.SPEED_MIN, bounds.SPEED_MAX):
        return None
    return {
        "latitude": float(latitude),
        "longitude": float(longitude),
        "heading": None if heading is None else int(round(heading)) % 360,
        "speed": None if speed is None else float(speed),
    }


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
