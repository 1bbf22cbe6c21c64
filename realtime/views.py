from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from . import presence


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
