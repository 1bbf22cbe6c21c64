"""The console page as Django renders it (no browser): accounts from the seed, tiles from settings."""

import json
import re

from django.contrib.staticfiles import finders

from rides.management.commands import seed_demo


def config_of(response):
    match = re.search(r'<script id="console-config" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(match.group(1))


def test_lists_the_seeded_demo_accounts_where_the_demo_runs(client, settings):
    settings.DEBUG = True  # `make run` (pytest runs with DEBUG off)
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for phone, *_ in [seed_demo.STAFF, *seed_demo.PASSENGERS, *seed_demo.DRIVERS]:
        assert f'data-phone="{phone}"' in page
    assert seed_demo.PASSWORD in page


def test_a_production_server_lists_no_demo_account(client, settings):
    settings.DEBUG, settings.DEMO_FLEET = False, False
    page = client.get("/", HTTP_HOST="localhost").content.decode()
    assert seed_demo.PASSWORD not in page and 'data-testid="demo-account"' not in page
    assert 'data-testid="login-phone"' in page  # anyone may still log in with their own account


def test_tiles_follow_the_setting(client, settings):
    assert "tile.openstreetmap.org" in config_of(client.get("/"))["tile_url"]  # the default, with attribution
    assert "OpenStreetMap" in config_of(client.get("/"))["tile_attribution"]
    settings.CONSOLE_TILE_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    assert config_of(client.get("/"))["tile_url"] == "http://127.0.0.1:9/{z}/{x}/{y}.png"


def test_leaflet_comes_from_our_own_static_files(client):
    page = client.get("/").content.decode()
    assert 'src="/static/leaflet/leaflet.js"' in page and 'href="/static/leaflet/leaflet.css"' in page
    assert finders.find("leaflet/leaflet.js") and finders.find("console/main.js")
    # Nothing in the page itself names another host (the tile URL is only in the JSON config).
    assert not re.search(r'(src|href)="(https?:)?//', page)
