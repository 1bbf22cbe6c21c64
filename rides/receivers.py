"""A deactivated account leaves nobody stuck: its active rides end (as `admin`, through
rides.services) and, for a driver, matching stops offering it rides.

Whoever deactivates (the user admin, `manage.py shell`, a script saving `is_active=False`), the
receiver runs inside the saving transaction, so the rides end with the change or not at all; the
passenger and the driver hear `ride_cancelled` (realtime's receivers announce it) and the
passenger can request a new ride at once. Deleting a user who ever had a ride is refused by the
database (rides keep their passenger and driver: `on_delete=PROTECT`), so deactivation is the
only way an account goes away mid-ride.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from drivers.models import Driver
from drivers.services import set_online

from .services import end_active_rides_of

ACCOUNT_DISABLED_REASON = "account_disabled"


@receiver(post_save, sender=get_user_model(), dispatch_uid="rides.user_deactivated")
def user_deactivated(sender, instance, created, raw=False, **kwargs):
    if raw or created or instance.is_active:
        return
    end_active_rides_of(instance, reason=ACCOUNT_DISABLED_REASON)
    if Driver.objects.filter(pk=instance.pk, is_online=True).exists():
        set_online(user=instance, online=False)
