from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^ws/stats/?$", views.WebSocketStatsView.as_view(), name="ws-stats"),
]
