"""The rides' domain signals, for whoever announces them (realtime): each is sent by name, as the
last step of the code that made the change, inside its transaction, so what a receiver logs
commits or rolls back with it.

- `ride_transitioned`: by `Ride.transition` (rides.models), the one method every status change
  goes through, whoever calls it (rides.services, so the API, the admin's actions, the commands,
  the dispatcher).
- `offers_made`, `offers_expired`: by rides.dispatching. Offers are written with bulk_create and
  update, which fire no model signals.
- `account_deactivated`: by rides.receivers, once a deactivated account's rides have ended and
  its driver profile is offline, so what announces those reaches its connections before they close.
"""

from django.dispatch import Signal

# ride: the Ride, saved in its new status; previous, new: the RideStatus it left and the one it is in.
ride_transitioned = Signal()

# ride: the Ride; offers: the RideOffers just made, each with its `driver` loaded (position included).
offers_made = Signal()
# ride: the Ride; offers: the RideOffers that stood and expired without an answer.
offers_expired = Signal()

# user: a user saved inactive (deactivated in the admin, a shell, a script), whose active rides
# have just ended and whose driver profile, if any, is offline.
account_deactivated = Signal()
