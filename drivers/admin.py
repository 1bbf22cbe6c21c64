from django.contrib import admin

from .models import Driver


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ["user", "vehicle_type", "vehicle_plate", "is_online", "rating", "location_updated_at"]
    list_filter = ["vehicle_type", "is_online"]
    search_fields = ["user__phone_number", "user__full_name", "vehicle_plate"]
    raw_id_fields = ["user"]
    readonly_fields = ["latitude", "longitude", "heading", "speed", "location_updated_at"]
