"""Baseline for the project's REST views (bench.http_path): the same three endpoints as plain DRF
APIViews with minimal serializers, in a bare project (settings: bare_drf_settings: the project's
models and database, simplejwt's JWTAuthentication, no middleware). Each view does the database
work the project's view does, written out here:

- `GET rides/{id}/`: the ride with its passenger, driver and driver's user in one query, limited to
  its participants (staff: any ride); the same fields as the project's answer.
- `GET drivers/nearby/?latitude=&longitude=&ride_type=`: online, idle drivers of the type in the
  bounding box of NEARBY_RADIUS_KM, fresh positions only, the database's nearest by a flat-map
  distance (limit × 4 + 20 rows), measured exactly, the nearest NEARBY_LIMIT loaded with their
  users in a second query; the same fields.
- `POST drivers/me/location/`: the driver's row, the position validated, stored with one UPDATE
  and the driver's active ride read in the same transaction; after commit the position goes to
  the ride's and the passenger's groups on the channel layer (`group_send` through
  `async_to_sync`, as Channels documents for sync code). Not done: the project's "approaching"
  check (an announcement when a driver nears the pickup; none here, the rides are started).

    DJANGO_SETTINGS_MODULE=bench.baselines.bare_drf_settings \
        python -m realtime.server bench.baselines.bare_drf:application
"""

import json
import math
import os
import uuid
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.bare_drf_settings")

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()  # sets Django up before the models load

from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import Exists, F, FloatField, OuterRef, Q  # noqa: E402
from django.db.models.functions import Cast  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.exceptions import NotFound, PermissionDenied  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from drivers.models import Driver  # noqa: E402
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus  # noqa: E402

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1, lon1, lat2, lon2):
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat, lon, radius_km):
    dlat = radius_km / (math.pi * EARTH_RADIUS_KM / 180)
    angle = radius_km / EARTH_RADIUS_KM
    cos_lat = math.cos(math.radians(lat))
    if angle >= math.pi / 2 or math.sin(angle) >= cos_lat:
        return max(-90.0, lat - dlat), min(90.0, lat + dlat), -180.0, 180.0
    dlon = math.degrees(math.asin(math.sin(angle) / cos_lat))
    return max(-90.0, lat - dlat), min(90.0, lat + dlat), max(-180.0, lon - dlon), min(180.0, lon + dlon)


# --- GET rides/{id}/ -------------------------------------------------------------------------

class RideDriverSerializer(serializers.Serializer):
    driver_id = serializers.UUIDField(source="user_id")
    full_name = serializers.CharField(source="user.full_name")
    phone_number = serializers.CharField(source="user.phone_number")
    vehicle_type = serializers.CharField()
    vehicle_plate = serializers.CharField()
    vehicle_color = serializers.CharField()
    rating = serializers.FloatField()


class RideSerializer(serializers.ModelSerializer):
    ride_id = serializers.UUIDField(source="id")
    passenger_id = serializers.UUIDField()
    driver_id = serializers.UUIDField(allow_null=True)
    driver = RideDriverSerializer(allow_null=True)

    class Meta:
        model = Ride
        fields = ["ride_id", "status", "ride_type", "passenger_id", "driver_id", "driver", "pickup_latitude",
                  "pickup_longitude", "dropoff_latitude", "dropoff_longitude", "distance_km", "estimated_fare",
                  "final_fare", "requested_at", "accepted_at", "arrived_at", "started_at", "completed_at",
                  "cancelled_at", "cancelled_by", "cancel_reason"]
        read_only_fields = fields


class RideDetail(APIView):
    def get(self, request, ride_id):
        rides = Ride.objects.select_related("passenger", "driver", "driver__user")
        if not request.user.is_staff:
            rides = rides.filter(Q(passenger=request.user) | Q(driver_id=request.user.pk))
        try:
            ride_id = uuid.UUID(ride_id)
        except ValueError:
            raise NotFound() from None
        ride = rides.filter(pk=ride_id).first()
        if ride is None:
            raise NotFound()
        return Response(RideSerializer(ride).data)


# --- GET drivers/nearby/ ---------------------------------------------------------------------

class NearbyQuery(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    ride_type = serializers.ChoiceField(choices=["moto", "car"])


class NearbyDriverSerializer(serializers.Serializer):
    vehicle_type = serializers.CharField()
    vehicle_color = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    heading = serializers.IntegerField(allow_null=True)
    distance_km = serializers.FloatField()


class NearbyDrivers(APIView):
    def get(self, request):
        query = NearbyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        lat, lon = query.validated_data["latitude"], query.validated_data["longitude"]
        radius_km, limit = settings.NEARBY_RADIUS_KM, settings.NEARBY_LIMIT
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_km)
        busy = Ride.objects.filter(driver=OuterRef("pk"), status__in=DRIVER_ACTIVE_STATUSES)
        in_box = Driver.objects.exclude(Exists(busy)).exclude(pk=request.user.pk).filter(
            is_online=True, vehicle_type=query.validated_data["ride_type"],
            latitude__gte=min_lat, latitude__lte=max_lat, longitude__gte=min_lon, longitude__lte=max_lon,
            location_updated_at__gte=timezone.now() - timedelta(seconds=settings.DRIVER_POSITION_MAX_AGE_SECONDS),
        )
        dlat = F("latitude") - lat
        dlon = (F("longitude") - lon) * math.cos(math.radians(lat))
        candidates = (in_box.annotate(flat_distance=Cast(dlat * dlat + dlon * dlon, FloatField()))
                      .order_by("flat_distance").values_list("pk", "latitude", "longitude")[: limit * 4 + 20])
        measured = sorted((d, pk) for pk, la, lo in candidates if (d := haversine_km(lat, lon, la, lo)) <= radius_km)
        measured = measured[:limit]
        loaded = Driver.objects.select_related("user").in_bulk([pk for _, pk in measured])
        found = []
        for distance, pk in measured:
            if pk in loaded:
                loaded[pk].distance_km = distance
                found.append(loaded[pk])
        return Response(NearbyDriverSerializer(found, many=True).data)


# --- POST drivers/me/location/ ---------------------------------------------------------------

class LocationInput(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    heading = serializers.FloatField(min_value=0, max_value=359.999, required=False, allow_null=True)
    speed = serializers.FloatField(min_value=0, max_value=400, required=False, allow_null=True)


class DriverSerializer(serializers.ModelSerializer):
    driver_id = serializers.UUIDField(source="user_id")
    full_name = serializers.CharField(source="user.full_name")
    rating = serializers.FloatField()

    class Meta:
        model = Driver
        fields = ["driver_id", "full_name", "vehicle_type", "vehicle_plate", "vehicle_color", "rating", "is_online",
                  "latitude", "longitude", "heading", "speed", "location_updated_at"]
        read_only_fields = fields


async def relay(groups, message):
    layer = get_channel_layer()
    for group in groups:
        await layer.group_send(group, message)


class DriverLocation(APIView):
    def post(self, request):
        try:
            driver = request.user.driver
        except Driver.DoesNotExist:
            raise PermissionDenied("This action needs a driver account.") from None
        body = LocationInput(data=request.data)
        body.is_valid(raise_exception=True)
        position = dict(body.validated_data)
        heading = position.get("heading")
        position["heading"] = None if heading is None else int(round(heading)) % 360
        position.setdefault("speed", None)
        now = timezone.now()
        with transaction.atomic():
            Driver.objects.filter(pk=driver.pk).update(**position, location_updated_at=now, location_recorded_at=now)
            ride = (Ride.objects.filter(driver_id=driver.pk, status__in=DRIVER_ACTIVE_STATUSES)
                    .values_list("id", "passenger_id", "status", "pickup_latitude", "pickup_longitude",
                                 "dropoff_latitude", "dropoff_longitude").first())
        for name, value in position.items():
            setattr(driver, name, value)
        driver.location_updated_at = driver.location_recorded_at = now
        if ride is not None:
            ride_id, passenger_id, status, *points = ride
            target = points[2:] if status == RideStatus.STARTED else points[:2]
            event = {"type": "driver_location_update", "data": {
                "driver_id": str(driver.pk), "ride_id": str(ride_id), **position, "recorded_at": now.isoformat(),
                "distance_km": round(haversine_km(position["latitude"], position["longitude"], *target), 3)}}
            async_to_sync(relay)([f"ride.{ride_id}", f"user.{passenger_id}"],
                                 {"type": "ride.event", "text": json.dumps(event)})
        return Response(DriverSerializer(driver).data)


urlpatterns = [
    path("api/v1/rides/<str:ride_id>/", RideDetail.as_view()),
    path("api/v1/drivers/nearby/", NearbyDrivers.as_view()),
    path("api/v1/drivers/me/location/", DriverLocation.as_view()),
]
