import uuid

from django.contrib import admin

from .models import Ride


@admin.register(Ride)
class RideAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "ride_type",
        "passenger",
        "driver",
        "estimated_fare",
        "final_fare",
        "requested_at",
        "completed_at",
    ]
    list_filter = ["status", "ride_type", ("requested_at", admin.DateFieldListFilter)]
    search_fields = ["passenger__phone_number", "driver__user__phone_number", "driver__vehicle_plate"]
    list_select_related = ["passenger", "driver__user"]
    date_hierarchy = "requested_at"
    # The state machine (rides.services) is the only writer of these.
    readonly_fields = [
        "id",
        "passenger",
        "driver",
        "ride_type",
        "status",
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

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            ride_id = uuid.UUID(search_term.strip())
        except ValueError:
            return queryset, may_have_duplicates
        return queryset | self.model.objects.filter(pk=ride_id), may_have_duplicates

    def has_add_permission(self, request):
        return False
