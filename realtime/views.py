import yaml
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.delivery.eventlog import ride_timeline_entries
from realtime.presence import presence
from realtime.protocol import asyncapi
from rides.selectors import visible_ride
from rides.services import RideNotFound


class WebSocketStatsView(APIView):
    """Figures across every server process sharing the database (staff only)."""

    permission_classes = [IsAdminUser]
    schema_errors = ("presence_unavailable",)

    @extend_schema(
        summary="WebSocket figures",
        description="Connections, online drivers, active rides and server processes, across every "
        "server process (staff only).",
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

    schema_errors = ("ride_not_found",)

    @extend_schema(
        summary="A ride's events",
        description="The ride's reliable events from the log, oldest first, as sent on the socket; "
        "staff also see each event's recipients.",
        responses=inline_serializer(
            "RideTimelineEvent",
            {
                "id": serializers.IntegerField(),
                "type": serializers.CharField(),
                "data": serializers.DictField(),
                "timestamp": serializers.CharField(),
                "metadata": serializers.DictField(required=False, help_text="as on the socket (`ride_id`)"),
                "recipients": serializers.ListField(
                    child=serializers.UUIDField(), required=False, help_text="staff only: absent for participants"
                ),
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


class AsyncApiView(APIView):
    """The WebSocket protocol as an AsyncAPI 3.0 document (JSON, or YAML with the .yaml suffix)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(exclude=True)
    def get(self, request, fmt="json"):
        doc = asyncapi.document()
        if fmt == "yaml":
            return HttpResponse(yaml.safe_dump(doc, sort_keys=False), content_type="application/yaml")
        return JsonResponse(doc, json_dumps_params={"indent": 2})
