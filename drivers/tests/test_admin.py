"""Driver admin: availability changes only through drivers.services."""

import pytest
from django.urls import reverse

from drivers.models import Driver
from rideshare.tests.factories import DriverFactory, UserFactory


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_force_driver_offline_action(admin_client):
    from realtime.models import Event

    online, other = DriverFactory(), DriverFactory()
    response = admin_client.post(
        reverse("admin:drivers_driver_changelist"),
        {"action": "force_offline", "_selected_action": [str(online.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 driver(s) taken offline." in response.content.decode()
    assert not Driver.objects.get(pk=online.pk).is_online
    assert Driver.objects.get(pk=other.pk).is_online
    # Same path as the app's driver_offline: the change is announced.
    assert Event.objects.filter(type="driver_availability_changed", recipients__user=online.user).exists()


def test_change_form_cannot_set_availability_or_position(admin_client):
    driver = DriverFactory(latitude=3.85, longitude=11.5)
    url = reverse("admin:drivers_driver_change", args=[driver.pk])
    page = admin_client.get(url).content.decode()
    assert "https://www.openstreetmap.org/?mlat=3.850000&amp;mlon=11.500000#map=17/3.850000/11.500000" in page

    response = admin_client.post(url, {
        "vehicle_type": "moto", "vehicle_plate": "CE-999-MT", "vehicle_color": "Green", "rating": "4.5",
        "is_online": "", "latitude": "0", "longitude": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    driver.refresh_from_db()
    assert (driver.vehicle_color, driver.vehicle_plate) == ("Green", "CE-999-MT")
    assert driver.is_online and (driver.latitude, driver.longitude) == (3.85, 11.5)
