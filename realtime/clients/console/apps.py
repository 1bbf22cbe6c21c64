from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The web console at /: an ops map, a passenger and a driver, in the browser."""

    name = "realtime.clients.console"
    label = "console"
