
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
