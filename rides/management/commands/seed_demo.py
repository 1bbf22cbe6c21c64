"""Demo data around Yaoundé: a staff user, two passengers, moto and car drivers online nearby, and
the demo fleet's drivers (offline until the fleet brings them online: realtime/clients/demo).

Idempotent: running it again resets the demo accounts' passwords, profiles and positions (not their
ratings: a driver's rating is what passengers gave them).
`--reset` also ends every open ride of the demo accounts (cancelled by admin, reason
`demo_reset`), so the walk-through starts from scratch.
`--drivers N` adds N more online drivers with deterministic phone numbers (+237691000001, ...),
so a second run updates them instead of creating others; `--around LAT,LON` moves every demo
driver to another point.
"""

import math

from django.contrib.auth.hashers import make_password
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver, VehicleType
from rides.services import end_active_rides_of
from rideshare.accounts.models import User
from rideshare.kernel.cli import DatabaseCommand

CENTER = (3.848, 11.502)  # Yaoundé, Poste centrale area
PASSWORD = "demo-pass-2026"

STAFF = ("+237670000000", "Hélène Ateba")
PASSENGERS = [("+237670000001", "Awa Ngono"), ("+237670000002", "Paul Essomba")]
# (phone, name, vehicle type, plate, colour, offset north km, offset east km)
DRIVERS = [
    ("+237690000001", "Jean Mbida", VehicleType.MOTO, "CE-101-MT", "Red", 0.4, 0.2),
    ("+237690000002", "Aline Ekotto", VehicleType.MOTO, "CE-102-MT", "Yellow", -0.8, 0.5),
    ("+237690000003", "Éric Manga", VehicleType.MOTO, "CE-103-MT", "Black", 1.5, -1.1),
    ("+237690000004", "Marie Nguema", VehicleType.CAR, "CE-201-CR", "White", 0.6, -0.3),
    ("+237690000005", "Samuel Abega", VehicleType.CAR, "CE-202-CR", "Blue", -1.2, -0.9),
]

# The demo fleet (realtime/clients/demo/fleet.py): driven by the server under `make run`, not by people.
# Two motos for every car, as on Yaoundé's streets.
FLEET = [
    ("+237692000001", "Jean-Pierre Mballa", VehicleType.MOTO, "LT-301-MT", "Red"),
    ("+237692000002", "Brice Ngono", VehicleType.MOTO, "LT-302-MT", "Yellow"),
    ("+237692000003", "Serge Atangana", VehicleType.MOTO, "LT-303-MT", "Black"),
    ("+237692000004", "Didier Essomba", VehicleType.MOTO, "LT-304-MT", "Blue"),
    ("+237692000005", "Hervé Fouda", VehicleType.MOTO, "LT-305-MT", "Green"),
    ("+237692000006", "Rodrigue Onana", VehicleType.MOTO, "LT-306-MT", "Red"),
    ("+237692000007", "Yannick Mbarga", VehicleType.MOTO, "LT-307-MT", "Yellow"),
    ("+237692000008", "Clarisse Ndzana", VehicleType.MOTO, "LT-308-MT", "White"),
    ("+237692000009", "Martine Abena", VehicleType.CAR, "LT-401-CR", "White"),
    ("+237692000010", "Thierry Nkodo", VehicleType.CAR, "LT-402-CR", "Blue"),
    ("+237692000011", "Pascal Owona", VehicleType.CAR, "LT-403-CR", "Black"),
    ("+237692000012", "Sandrine Bella", VehicleType.CAR, "LT-404-CR", "Green"),
]
RESET_REASON = "demo_reset"

EXTRA_PHONE = "+237691{:06d}"  # extra driver i (from 1): a valid Orange Cameroon number
EXTRA_MAX = 999_999
EXTRA_RADIUS_KM = 3.0
COLOURS = ["Red", "Yellow", "Black", "White", "Blue", "Green"]
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))

KM_PER_DEGREE = 111.32


def extra_drivers(count):
    """Extra driver i: two motos for every car (as on Yaoundé's streets), spread evenly over a
    disc of EXTRA_RADIUS_KM (sunflower pattern), so positions are deterministic and distinct."""
    for i in range(1, count + 1):
        vtype = VehicleType.CAR if i % 3 == 0 else VehicleType.MOTO
        suffix = "CR" if vtype == VehicleType.CAR else "MT"
        radius = EXTRA_RADIUS_KM * math.sqrt((i - 0.5) / count)
        angle = i * GOLDEN_ANGLE
        yield (
            EXTRA_PHONE.format(i),
            f"Chauffeur démo {i}",
            vtype,
            f"DM-{i:06d}-{suffix}",
            COLOURS[i % len(COLOURS)],
            radius * math.cos(angle),
            radius * math.sin(angle),
        )


def parse_point(text):
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise CommandError(f"--around must be LAT,LON in degrees, e.g. 3.848,11.502 (got {text!r})") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CommandError(f"--around {text}: latitude must be within ±90 and longitude within ±180")
    return lat, lon


class Command(DatabaseCommand):
    help = "Create or refresh demo accounts and online drivers around Yaoundé (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--drivers", type=int, default=0, metavar="N",
            help=f"also place N extra online drivers (2 motos per car) within {EXTRA_RADIUS_KM:g} km; "
            "phone numbers +237691000001... are reused on every run",
        )
        parser.add_argument(
            "--reset", action="store_true",
            help="also end every open ride of the demo accounts (cancelled by admin, reason demo_reset)",
        )
        parser.add_argument(
            "--around", default=f"{CENTER[0]},{CENTER[1]}", metavar="LAT,LON",
            help="where the demo drivers are placed (default: Yaoundé %(default)s)",
        )

    def handle(self, *args, drivers, around, reset, **options):
        if not 0 <= drivers <= EXTRA_MAX:
            raise CommandError(f"--drivers must be between 0 and {EXTRA_MAX} (got {drivers})")
        center = parse_point(around)
        if reset:
            ended = end_demo_rides()
            self.stdout.write(f"Ended {ended} open ride(s) of the demo accounts.")
        with transaction.atomic():
            rows = self._seed(center, drivers)
        self.stdout.write(f"Demo accounts (password for all: {PASSWORD}):")
        for role, phone, name in rows[: 3 + len(DRIVERS)]:
            self.stdout.write(f"  {role:<16} {phone}  {name}")
        if drivers:
            motos = sum(1 for role, _, _ in rows[3 + len(DRIVERS):] if "moto" in role)
            self.stdout.write(
                f"  + {drivers} extra online drivers ({motos} moto, {drivers - motos} car): "
                f"{EXTRA_PHONE.format(1)} .. {EXTRA_PHONE.format(drivers)}"
            )
        self.stdout.write(f"Drivers are online around ({center[0]}, {center[1]}).")
        self.stdout.write(
            f"Demo fleet ({len(FLEET)} drivers, online while the fleet runs): {FLEET[0][0]} .. {FLEET[-1][0]}"
        )

    def _seed(self, center, extra):
        now = timezone.now()
        # One hash for every account: hashing is deliberately slow (~0.3 s each).
        password = make_password(PASSWORD)
        rows = [("staff (admin)", STAFF[0], STAFF[1])]
        self._user(*STAFF, password, staff=True)
        for phone, name in PASSENGERS:
            self._user(phone, name, password)
            rows.append(("passenger", phone, name))
        for phone, name, vtype, plate, colour, north_km, east_km in [*DRIVERS, *extra_drivers(extra)]:
            user = self._user(phone, name, password)
            Driver.objects.update_or_create(
                user=user,
                defaults={
                    "vehicle_type": vtype,
                    "vehicle_plate": plate,
                    "vehicle_color": colour,
                    "is_online": True,
                    "latitude": center[0] + north_km / KM_PER_DEGREE,
                    "longitude": center[1] + east_km / (KM_PER_DEGREE * math.cos(math.radians(center[0]))),
                    "heading": 0,
                    "speed": 0,
                    "location_updated_at": now,
                },
            )
            rows.append((f"driver ({vtype})", phone, name))
        seed_fleet_accounts(password)
        return rows

    @staticmethod
    def _user(phone, name, password, *, staff=False):
        user, _ = User.objects.get_or_create(phone_number=phone, defaults={"full_name": name})
        user.full_name = name
        user.is_active = True
        user.is_staff = user.is_superuser = staff
        user.password = password
        user.save()
        return user


def seed_fleet_accounts(password=None):
    """The demo fleet's accounts and driver profiles (created offline: the fleet goes online over
    its sockets). Returns {phone: user}."""
    password = password or make_password(PASSWORD)
    users = {}
    for phone, name, vtype, plate, colour in FLEET:
        user = Command._user(phone, name, password)
        Driver.objects.update_or_create(
            user=user,
            defaults={"vehicle_type": vtype, "vehicle_plate": plate, "vehicle_color": colour},
        )
        users[phone] = user
    return users


def demo_phones():
    return [STAFF[0], *(phone for phone, _ in PASSENGERS), *(row[0] for row in DRIVERS), *(row[0] for row in FLEET)]


def end_demo_rides():
    """End every open ride of a demo account through the operator's service (so every participant
    hears ride_cancelled). Returns how many were ended."""
    ended = 0
    for user in User.objects.filter(phone_number__in=demo_phones()):
        ended += len(end_active_rides_of(user, reason=RESET_REASON))
    return ended
