from django.urls import path, re_path

from . import views

urlpatterns = [
    re_path(r"^ws/stats/?$", views.WebSocketStatsView.as_view(), name="ws-stats"),
    path("rides/<str:ride_id>/events/", views.RideTimelineView.as_view(), name="ride-events"),
]
