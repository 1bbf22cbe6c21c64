"""A deactivation is one path (rides.receivers): the account's rides end, a driver goes offline,
and then `account_deactivated` is sent, once per save, with all of that already done."""

import pytest

from drivers.models import Driver
from rides.models import Ride, RideStatus
from rides.signals import account_deactivated, ride_transitioned
from rideshare.accounts.models import User
from rideshare.tests.factories import UserFactory, ride_in_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """The domain signals sent meanwhile, in order."""
    calls = []

    def transitioned(sender, ride, previous, new, **kwargs):
        calls.append(("ride_transitioned", ride.pk, new))

    def deactivated(sender, user, **kwargs):
        driver_online = Driver.objects.filter(pk=user.pk, is_online=True).exists()
        active = Ride.objects.filter(driver_id=user.pk, status=RideStatus.STARTED).exists()
        calls.append(("account_deactivated", user.pk, driver_online, active))

    ride_transitioned.connect(transitioned, dispatch_uid="test.transitioned")
    account_deactivated.connect(deactivated, dispatch_uid="test.deactivated")
    yield calls
    ride_transitioned.disconnect(dispatch_uid="test.transitioned")
    account_deactivated.disconnect(dispatch_uid="test.deactivated")


def test_a_deactivated_driver_s_ride_ends_and_they_go_offline_before_the_account_is_announced(heard):
    ride = ride_in_status(RideStatus.STARTED)
    user = ride.driver.user
    user.is_active = False
    user.save()
    assert heard == [
        ("ride_transitioned", ride.pk, RideStatus.CANCELLED),
        ("account_deactivated", user.pk, False, False),
    ]


def test_saving_an_active_user_or_creating_an_inactive_one_announces_nothing(heard):
    user = UserFactory()
    user.full_name = "Renamed"
    user.save()
    User.objects.create_user("+237650999999", "pass", full_name="Never active", is_active=False)
    assert heard == []
