from rest_framework import serializers

from drivers.models import VehicleType
from rideshare.kernel.fields import latitude_field, longitude_field

from .models import CancelledBy, Rating, Ride, RideStatus


class TripInputSerializer(serializers.Serializer):
    """What a passenger chooses; everything else about a ride is decided by the server."""

    ride_type = serializers.ChoiceField(choices=VehicleType.choices)
    pickup_latitude = latitude_field()
    pickup_longitude = longitude_field()
    dropoff_latitude = latitude_field()
    dropoff_longitude = longitude_field()


class EstimateSerializer(serializers.Serializer):
    estimated_fare = serializers.IntegerField()
    distance_km = serializers.FloatField()
    currency = serializers.CharField()


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class RideListQuerySerializer(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=RideStatus.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class RideDriverSerializer(serializers.Serializer):
    driver_id = serializers.UUIDField(source="user_id")
    full_name = serializers.CharField(source="user.full_name")
    phone_number = serializers.CharField(source="user.phone_number")
    vehicle_type = serializers.CharField()
    vehicle_plate = serializers.CharField()
    vehicle_color = serializers.CharField()
    rating = serializers.FloatField()


class RideSerializer(serializers.ModelSerializer):
    ride_id = serializers.UUIDField(source="id", read_only=True)
    passenger_id = serializers.UUIDField(read_only=True)
    driver_id = serializers.UUIDField(read_only=True, allow_null=True)
    driver = RideDriverSerializer(read_only=True, allow_null=True)
    # "" until the ride is cancelled (what the apps read today); declared so the schema says so.
    cancelled_by = serializers.ChoiceField(choices=CancelledBy.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Ride
        fields = [
            "ride_id",
            "status",
            "ride_type",
            "passenger_id",
            "driver_id",
            "driver",
            "pickup_latitude",
            "pickup_longitude",
            "dropoff_latitude",
            "dropoff_longitude",
            "distance_km",
            "estimated_fare",
            "final_fare",
            "requested_at",
            "accepted_at",
            "arrived_at",
            "started_at",
            "completed_at",
            "cancelled_at",
            "cancelled_by",
            "cancel_reason",
        ]
        read_only_fields = fields


class DeclineSerializer(serializers.Serializer):
    """The answer to a decline."""

    ride_id = serializers.UUIDField()
    declined = serializers.BooleanField()


class RateInputSerializer(serializers.Serializer):
    """What a participant says about the other after a completed ride."""

    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RatingSerializer(serializers.ModelSerializer):
    """A rating as given: who gave it (`passenger`: of the driver; `driver`: of the passenger)."""

    ride_id = serializers.UUIDField(read_only=True)
    rated_user_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Rating
        fields = ["ride_id", "rated_by", "rated_user_id", "stars", "comment", "created_at"]
        read_only_fields = fields
