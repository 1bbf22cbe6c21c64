"""The console page: static HTML and ES modules; everything else comes from the API and socket."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from rides.management.commands import seed_demo


@require_GET
def index(request):
    # The demo accounts come from the seed itself, so the login forms list what `seed_demo` made;
    # only where the demo runs (DEBUG, or DEMO_FLEET): a production server never shows a login.
    demo = settings.DEBUG or settings.DEMO_FLEET
    context = {
        "config": {
            "tile_url": settings.CONSOLE_TILE_URL,
            "tile_attribution": settings.CONSOLE_TILE_ATTRIBUTION,
            "center": list(seed_demo.CENTER),
        },
    }
    if demo:
        context.update(
            password=seed_demo.PASSWORD,
            staff=[{"phone": seed_demo.STAFF[0], "name": seed_demo.STAFF[1]}],
            passengers=[{"phone": phone, "name": name} for phone, name in seed_demo.PASSENGERS],
            drivers=[
                {"phone": phone, "name": name, "vehicle": str(vehicle)}
                for phone, name, vehicle, *_ in seed_demo.DRIVERS
            ],
        )
    return render(request, "console/index.html", context)
