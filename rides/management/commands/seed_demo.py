"""Demo data around Yaoundé: a staff user, two passengers, moto and car drivers online nearby.

Idempotent: running it again resets the demo accounts' passwords, profiles and positions.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver, VehicleType
from rideshare.accounts.models import User

CENTER = (3.848, 11.502)  # Yaoundé, Poste centrale area
PASSWORD = "demo-pass-2026"

STAFF = ("+237670000000", "Ops Admin")
PASSENGERS = [("+237670000001", "Awa Passenger"), ("+237670000002", "Paul Passenger")]
# (phone, name, vehicle type, plate, colour, offset north km, offset east km)
DRIVERS = [
    ("+237690000001", "Jean Moto", VehicleType.MOTO, "CE-101-MT", "Red", 0.4, 0.2),
    ("+237690000002", "Aline Moto", VehicleType.MOTO, "CE-102-MT", "Yellow", -0.8, 0.5),
    ("+237690000003", "Eric Moto", VehicleType.MOTO, "CE-103-MT", "Black", 1.5, -1.1),
    ("+237690000004", "Marie Car", VehicleType.CAR, "CE-201-CR", "White", 0.6, -0.3),
    ("+237690000005", "Samuel Car", VehicleType.CAR, "CE-202-CR", "Blue", -1.2, -0.9),
]

KM_PER_DEGREE = 111.32


def _user(phone, name, *, staff=False):
    user, _ = User.objects.get_or_create(phone_number=phone, defaults={"full_name": name})
    user.full_name = name
    user.is_active = True
    user.is_staff = user.is_superuser = staff
    user.set_password(PASSWORD)
    user.save()
    return user


class Command(BaseCommand):
    help = "Create or refresh demo accounts and online drivers around Yaoundé (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        now = timezone.now()
        rows = [("staff (admin)", STAFF[0], STAFF[1])]
        _user(*STAFF, staff=True)
        for phone, name in PASSENGERS:
            _user(phone, name)
            rows.append(("passenger", phone, name))
        for phone, name, vtype, plate, colour, north_km, east_km in DRIVERS:
            user = _user(phone, name)
            Driver.objects.update_or_create(
                user=user,
                defaults={
                    "vehicle_type": vtype,
                    "vehicle_plate": plate,
                    "vehicle_color": colour,
                    "rating": 4.8,
                    "is_online": True,
                    "latitude": CENTER[0] + north_km / KM_PER_DEGREE,
                    "longitude": CENTER[1] + east_km / KM_PER_DEGREE,
                    "heading": 0,
                    "speed": 0,
                    "location_updated_at": now,
                },
            )
            rows.append((f"driver ({vtype})", phone, name))

        self.stdout.write(f"Demo accounts (password for all: {PASSWORD}):")
        for role, phone, name in rows:
            self.stdout.write(f"  {role:<16} {phone}  {name}")
