"""Fast data setup, straight through the ORM: users, drivers and rides with bulk_create and one
password hash, access tokens from simplejwt. Writes everything the load generator needs to a
JSON file.

    DJANGO_SETTINGS_MODULE=bench.settings_bench python -m bench.setup_data --out plan.json \
        --rides 200 --offer-drivers 10000 --offer-passengers 200 --sockets 10000 --storm-rides 200 \
        --rest-drivers 32

Signals are not fired by bulk_create: no events are logged for the data set up here.
"""

import argparse
import json
import os
import random
import time
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_bench")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from drivers.models import Driver  # noqa: E402
from rides.models import Ride, RideStatus  # noqa: E402
from rideshare.accounts.models import User  # noqa: E402

YAOUNDE = (3.848, 11.502)  # offers happen here
DOUALA = (4.05, 9.70)  # drivers on a ride (busy, never offered anything)
OFFER_SPREAD_DEG = 0.135  # drivers spread over a ~30 km x 30 km square around the centre
TOKEN_LIFETIME = timedelta(hours=12)
BATCH = 2000


class Factory:
    def __init__(self):
        self.password = make_password("bench-pass-2026")
        self.serial = 0

    def users(self, count, prefix):
        made = []
        for _ in range(count):
            self.serial += 1
            made.append(User(phone_number=f"+2376{self.serial:08d}", full_name=f"{prefix} {self.serial}",
                             password=self.password))
        User.objects.bulk_create(made, batch_size=BATCH)
        return made


def token(user):
    access = AccessToken.for_user(user)
    access.set_exp(lifetime=TOKEN_LIFETIME)
    return str(access)


def build(args):
    rng = random.Random(args.seed)
    factory = Factory()
    now = timezone.now()
    plan = {"settings": {
        "RIDE_OFFER_RADII_KM": settings.RIDE_OFFER_RADII_KM,
        "RIDE_OFFER_WAVE_SIZE": settings.RIDE_OFFER_WAVE_SIZE,
        "RIDE_OFFER_TIMEOUT_SECONDS": settings.RIDE_OFFER_TIMEOUT_SECONDS,
    }}

    # rides: R drivers on a started ride with R passengers.
    drivers = factory.users(args.rides, "Ride driver")
    passengers = factory.users(args.rides, "Ride passenger")
    Driver.objects.bulk_create([
        Driver(user=u, vehicle_type="moto", vehicle_plate=f"LT{i:05d}", vehicle_color="red",
               latitude=DOUALA[0], longitude=DOUALA[1], location_updated_at=now)
        for i, u in enumerate(drivers)
    ], batch_size=BATCH)
    rides = [
        Ride(passenger=p, driver_id=d.pk, ride_type="moto", status=RideStatus.STARTED,
             pickup_latitude=DOUALA[0], pickup_longitude=DOUALA[1], dropoff_latitude=DOUALA[0] + 0.02,
             dropoff_longitude=DOUALA[1] + 0.02, distance_km=3.1, estimated_fare=800,
             accepted_at=now, arrived_at=now, started_at=now)
        for d, p in zip(drivers, passengers)
    ]
    Ride.objects.bulk_create(rides, batch_size=BATCH)
    plan["rides"] = [
        {"ride_id": str(r.pk), "driver_id": str(d.pk), "driver_token": token(d), "passenger_token": token(p),
         "base_lat": DOUALA[0], "base_lon": round(DOUALA[1] + (i % 1000) * 1e-4, 4)}
        for i, (r, d, p) in enumerate(zip(rides, drivers, passengers))
    ]

    # offers: D online drivers with fresh positions over the city, P passengers with pickups in it.
    offer_drivers = factory.users(args.offer_drivers, "Driver")
    profiles = []
    for i, u in enumerate(offer_drivers):
        profiles.append(Driver(
            user=u, vehicle_type="moto" if rng.random() < 0.8 else "car", vehicle_plate=f"CE{i:05d}",
            vehicle_color="yellow", is_online=True,
            latitude=YAOUNDE[0] + rng.uniform(-OFFER_SPREAD_DEG, OFFER_SPREAD_DEG),
            longitude=YAOUNDE[1] + rng.uniform(-OFFER_SPREAD_DEG, OFFER_SPREAD_DEG),
            location_updated_at=now,
        ))
    Driver.objects.bulk_create(profiles, batch_size=BATCH)
    offer_passengers = factory.users(args.offer_passengers, "Passenger")
    plan["offers"] = {
        "drivers": [
            {"id": str(p.pk), "token": token(p.user), "lat": p.latitude, "lon": p.longitude,
             "vehicle_type": p.vehicle_type}
            for p in profiles
        ],
        "passengers": [
            {"id": str(u.pk), "token": token(u),
             "pickup": [YAOUNDE[0] + rng.uniform(-0.08, 0.08), YAOUNDE[1] + rng.uniform(-0.08, 0.08)]}
            for u in offer_passengers
        ],
    }

    # idle and storm: N passengers; the first M have an accepted ride whose driver (REST only)
    # takes it through arrived, started, completed during the storm: reliable events.
    socket_users = factory.users(args.sockets, "Idle")
    storm_rides = min(args.storm_rides, args.sockets)
    storm_drivers = factory.users(storm_rides, "Storm driver")
    Driver.objects.bulk_create([
        Driver(user=u, vehicle_type="car", vehicle_plate=f"SD{i:05d}", vehicle_color="blue",
               latitude=DOUALA[0] - 0.5, longitude=DOUALA[1], location_updated_at=now - timedelta(days=1))
        for i, u in enumerate(storm_drivers)
    ], batch_size=BATCH)
    accepted = [
        Ride(passenger=p, driver_id=d.pk, ride_type="car", status=RideStatus.ACCEPTED,
             pickup_latitude=DOUALA[0], pickup_longitude=DOUALA[1], dropoff_latitude=DOUALA[0] + 0.02,
             dropoff_longitude=DOUALA[1] + 0.02, distance_km=3.1, estimated_fare=2100, accepted_at=now)
        for d, p in zip(storm_drivers, socket_users)
    ]
    Ride.objects.bulk_create(accepted, batch_size=BATCH)
    plan["sockets"] = [{"id": str(u.pk), "token": token(u)} for u in socket_users]
    plan["storm_rides"] = [
        {"ride_id": str(r.pk), "socket_index": i, "driver_token": token(d)}
        for i, (r, d) in enumerate(zip(accepted, storm_drivers))
    ]

    # rest_positions: C online car drivers around Yaoundé reporting positions over REST. Car, so
    # the offers scenario's moto requests never match them, wherever their positions go.
    rest_drivers = factory.users(args.rest_drivers, "REST driver")
    Driver.objects.bulk_create([
        Driver(user=u, vehicle_type="car", vehicle_plate=f"RD{i:05d}", vehicle_color="green", is_online=True,
               latitude=YAOUNDE[0], longitude=YAOUNDE[1], location_updated_at=now)
        for i, u in enumerate(rest_drivers)
    ], batch_size=BATCH)
    plan["rest_drivers"] = [{"id": str(u.pk), "token": token(u)} for u in rest_drivers]

    staff = User(phone_number="+237699999999", full_name="Bench staff", password=factory.password, is_staff=True)
    staff.save()
    plan["staff_token"] = token(staff)
    return plan


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rides", type=int, default=0)
    parser.add_argument("--offer-drivers", type=int, default=0)
    parser.add_argument("--offer-passengers", type=int, default=0)
    parser.add_argument("--sockets", type=int, default=0)
    parser.add_argument("--storm-rides", type=int, default=0)
    parser.add_argument("--rest-drivers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    started = time.monotonic()
    plan = build(args)
    plan["setup_seconds"] = round(time.monotonic() - started, 2)
    with open(args.out, "w") as fh:
        json.dump(plan, fh)
    print(f"setup: {args} in {plan['setup_seconds']}s")


if __name__ == "__main__":
    main()
