"""Domain signals of dispatch (rides.dispatching), for whoever announces offers (realtime).

Offers are written with bulk_create and update, which fire no model signals; these are sent
inside the transaction that wrote them, so what a receiver logs commits or rolls back with them.
"""

from django.dispatch import Signal

# ride: the Ride; offers: the RideOffers just made, each with its `driver` loaded (position included).
offers_made = Signal()
# ride: the Ride; offers: the RideOffers that stood and expired without an answer.
offers_expired = Signal()
