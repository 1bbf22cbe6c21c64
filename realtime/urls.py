from django.urls import path, re_path

from . import views

urlpatterns = [
    re_path(r"^ws/stats/?$", views.WebSocketStatsView.as_view(), name="ws-stats"),
    path("ws/asyncapi.json", views.AsyncApiView.as_view(), {"fmt": "json"}, name="ws-asyncapi"),
    path("ws/asyncapi.yaml", views.AsyncApiView.as_view(), {"fmt": "yaml"}, name="ws-asyncapi-yaml"),
    path("rides/<str:ride_id>/events/", views.RideTimelineView.as_view(), name="ride-events"),
]
