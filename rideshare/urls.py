from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import health

# "View site" in the admin leads to the web console, served at "/".
admin.site.site_url = "/"

api_v1 = [
    path("", include("rideshare.accounts.urls")),
    path("", include("drivers.urls")),
    path("", include("rides.urls")),
    path("", include("realtime.urls")),
    path("", include("realtime.push.urls")),
]

urlpatterns = [
    # The web console (ops map, passenger, driver): static pages over the API and socket.
    path("", include("realtime.clients.console.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="docs/redoc.html"), name="redoc"),
    path("api/docs/websocket/", include("realtime.protocol.urls")),
]
