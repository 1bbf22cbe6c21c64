"""The admin lists devices and the pushes waiting to be sent, view-only (devices come from apps)."""

import pytest
from django.test import Client

from realtime.push import devices
from realtime.push.models import PushDelivery
from rides import services as ride_services
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_see_devices_and_pending_pushes(push_services):
    driver = DriverFactory()
    device, _ = devices.register_device(user=driver.user, kind="fcm", address="driver-phone-token")
    ride_services.request_ride(passenger=UserFactory(), **TRIP)
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))

    listed = staff.get("/admin/push/device/")
    assert listed.status_code == 200 and "driver-phone-token" in listed.text
    page = staff.get(f"/admin/push/device/{device.pk}/change/")
    assert page.status_code == 200 and "Save" not in page.text
    outbox = staff.get("/admin/push/pushdelivery/")
    assert outbox.status_code == 200 and f"#{PushDelivery.objects.get().event_id}" in outbox.text
    assert staff.get("/admin/push/device/add/").status_code == 403
