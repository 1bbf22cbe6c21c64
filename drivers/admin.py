from django.contrib import admin, messages
from django.utils.html import format_html

from rideshare.kernel.display import timestamp, to_the_second

from .models import Driver
from .services import set_online

OSM_URL = "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def position_link(driver):
    """The driver's last reported position, linked to OpenStreetMap, with when it was reported."""
    if driver is None or not driver.has_position:
        return "no position reported"
    lat, lon = f"{driver.latitude:.6f}", f"{driver.longitude:.6f}"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener">{}, {}</a> (reported {})',
        OSM_URL.format(lat=lat, lon=lon), lat, lon, to_the_second(driver.location_updated_at) if driver.location_updated_at else "never",
    )


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ["user", "vehicle_type", "vehicle_plate", "is_online", "rating", "position_reported"]
    list_filter = ["vehicle_type", "is_online"]
    search_fields = ["user__phone_number", "user__full_name", "vehicle_plate"]
    raw_id_fields = ["user"]
    # Availability and position change only through drivers.services (the app, or the action below);
    # the rating only through passengers' ratings (rides.ratings).
    readonly_fields = [
        "average_rating", "is_online", "latitude", "longitude", "heading", "speed", "location_updated_at", "map",
    ]
    actions = ["force_offline"]
    position_reported = timestamp("location_updated_at", "position reported")

    @admin.display(description="Last position")
    def map(self, driver):
        return position_link(driver)

    def get_readonly_fields(self, request, obj=None):
        # The user is the primary key: changing it would make a new driver, not edit this one.
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Write only what the form changed: a full save would put back the position and
        # availability loaded with the page over any update the app made meanwhile.
        if not change:
            obj.save()
        elif form.changed_data:
            obj.save(update_fields=form.changed_data)

    @admin.action(description="Force driver offline", permissions=["change"])
    def force_offline(self, request, queryset):
        went_offline = 0
        for driver in queryset.filter(is_online=True).select_related("user"):
            set_online(user=driver.user, online=False)
            went_offline += 1
        self.message_user(request, f"{went_offline} driver(s) taken offline.", messages.SUCCESS)
