"""A deactivated account leaves nobody stuck, in this order: its active rides end (as `admin`,
through rides.services, each announcing itself: `ride_transitioned`), a driver goes offline, so
matching stops offering it rides, and then `account_deactivated` is sent (realtime closes the
account's sockets; the rides' ends reach them first).

This is the one receiver of the user model's post_save with work to do on deactivation. Whoever
deactivates (the user admin, `manage.py shell`, a script saving `is_active=False`), it runs inside
the saving transaction, so the rides end with the change or not at all; the passenger can request
a new ride at once. Deleting a user who ever had a ride is refused by the database (rides keep
their passenger and driver: `on_delete=PROTECT`), so deactivation is the only way an account goes
away mid-ride.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from drivers.models import Driver
from drivers.services import set_online

from .services import end_active_rides_of
from .signals import account_deactivated

ACCOUNT_DISABLED_REASON = "account_disabled"


@receiver(post_save, sender=get_user_model(), dispatch_uid="rides.user_deactivated")
def user_deactivated(sender, instance, created, raw=False, **kwargs):
    if raw or created or instance.is_active:
        return
    end_active_rides_of(instance, reason=ACCOUNT_DISABLED_REASON)
    if Driver.objects.filter(pk=instance.pk, is_online=True).exists():
        set_online(user=instance, online=False)
    account_deactivated.send(sender=sender, user=instance)
