"""The demo fleet (realtime/clients/demo) and the web console (realtime/clients/console)."""

import importlib.util
from pathlib import Path

from .environment import env

# --- Demo fleet (realtime/clients/demo) ------------------------------------------------------------
# Drivers that behave like driver apps, run inside the server when DEMO_FLEET is on (`make run`
# turns it on) or beside any server with `manage.py demo_fleet`.
DEMO_FLEET = env.bool("DEMO_FLEET", False)
DEMO_FLEET_URL = env.str("DEMO_FLEET_URL", "http://127.0.0.1:8000")  # the server the fleet talks to
DEMO_FLEET_SIZE = env.int("DEMO_FLEET_SIZE", 12)
DEMO_AUTO_ACCEPT = env.bool("DEMO_AUTO_ACCEPT", False)  # `make run` turns it on
DEMO_FLEET_ACCEPT_SHARE = env.float("DEMO_FLEET_ACCEPT_SHARE", 0.5)  # of offers; the rest are declined
# Of rides whose whole first wave the fleet declines, so that a second wave goes out and shows.
DEMO_FLEET_SECOND_WAVE_SHARE = env.float("DEMO_FLEET_SECOND_WAVE_SHARE", 0.3)
DEMO_FLEET_ANSWER_SECONDS = [float(s) for s in env.csv("DEMO_FLEET_ANSWER_SECONDS", ["2", "6"])]
DEMO_FLEET_TICK_SECONDS = env.float("DEMO_FLEET_TICK_SECONDS", 2.0)
DEMO_FLEET_SPEED_KMH = env.float("DEMO_FLEET_SPEED_KMH", 40.0)
# Rides of these passengers are left to people (the README's walk-through, the console's driver pane).
DEMO_FLEET_SPARED_PASSENGERS = env.csv("DEMO_FLEET_SPARED_PASSENGERS", ["+237670000001"])

# --- Web console (realtime/clients/console) ----------------------------------------------------------
# Leaflet as django-leaflet bundles it (static/leaflet/leaflet.js, .css), its static files only:
# the package is not an installed app, since the admin would then import its GeoDjango widgets
# (which need the GDAL library).
STATICFILES_DIRS = [
    ("leaflet", Path(importlib.util.find_spec("leaflet").submodule_search_locations[0]) / "static" / "leaflet"),
]
# Map tiles: any {z}/{x}/{y} URL (a tile server of your own, a loopback one offline); "" shows
# markers on a plain background. Tiles that fail to load leave the same plain background.
CONSOLE_TILE_URL = env.str("CONSOLE_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
CONSOLE_TILE_ATTRIBUTION = env.str(
    "CONSOLE_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
