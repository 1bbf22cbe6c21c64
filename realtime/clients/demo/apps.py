from django.apps import AppConfig
from django.conf import settings


class DemoConfig(AppConfig):
    """The demo fleet: inside the server when DEMO_FLEET is on (`make run`), or `manage.py demo_fleet`."""

    name = "realtime.clients.demo"
    label = "demo"

    def ready(self):
        from realtime.serving import lifecycle

        lifecycle.run_in_server(_fleet_loop)


def _fleet_loop():
    """The server's loop of the demo fleet's drivers, where DEMO_FLEET is on."""
    if not settings.DEMO_FLEET:
        return {}
    from .runner import run_fleet  # only where the demo runs

    return {"demo-fleet": (run_fleet,)}
