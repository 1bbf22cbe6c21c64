from django.contrib import admin

from rideshare.kernel.display import timestamp

from .models import Device, PushDelivery


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Devices come from the apps (POST /api/v1/devices/); an operator may look or delete one."""

    list_display = ["user", "kind", "short_address", "registered", "updated"]
    list_filter = ["kind"]
    search_fields = ["user__phone_number", "user__full_name", "address"]
    list_select_related = ["user"]
    fields = ["user", "kind", "address", "p256dh", "auth", "registered", "updated"]
    readonly_fields = fields
    registered = timestamp("created_at", "registered")
    updated = timestamp("updated_at", "updated")

    @admin.display(description="endpoint or token")
    def short_address(self, device):
        return device.address if len(device.address) <= 60 else f"{device.address[:57]}..."

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PushDelivery)
class PushDeliveryAdmin(admin.ModelAdmin):
    """The push outbox: what waits to be sent, or to be tried again."""

    list_display = ["event", "user", "device", "due", "attempts", "last_error"]
    list_select_related = ["event", "user", "device"]
    search_fields = ["user__phone_number"]
    fields = ["event", "user", "device", "due", "expires", "attempts", "last_error"]
    readonly_fields = fields
    due = timestamp("due_at", "due")
    expires = timestamp("expires_at", "expires")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
