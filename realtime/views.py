from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from rides.selectors import visible_ride
from rides.services import RideNotFound

from . import presence
from .eventlog import ride_timeline_entries


class WebSocketStatsView(APIView):
    """Figures across every server process sharing the database (staff only)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        responses=inline_serializer(
            "WebSocketStats",
            {
                "total_connections": serializers.IntegerField(),
                "online_drivers": serializers.IntegerField(),
                "active_rides": serializers.IntegerField(),
                "pending_requests": serializers.IntegerField(),
                "connected_users": serializers.IntegerField(),
                "connected_drivers": serializers.IntegerField(),
                "server_processes": serializers.IntegerField(),
            },
        )
    )
    def get(self, request):
        return Response(presence.stats())


class RideTimelineView(APIView):
    """A ride's reliable events from the log, oldest first (its participants and staff)."""

    @extend_schema(
        responses=inline_serializer(
            "RideTimelineEvent",
            {
                "id": serializers.IntegerField(),
                "type": serializers.CharField(),
                "data": serializers.DictField(),
                "timestamp": serializers.CharField(),
                "recipients": serializers.ListField(child=serializers.UUIDField(), help_text="staff only"),
            },
            many=True,
        )
    )
    def get(self, request, ride_id):
        ride = visible_ride(request.user, ride_id)
        if ride is None:
            raise RideNotFound()
        viewer = None if request.user.is_staff else request.user
        return Response(ride_timeline_entries(ride.pk, for_user=viewer))
