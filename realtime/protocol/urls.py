from django.urls import path

from . import page

urlpatterns = [
    path("", page.view, name="websocket-docs"),
]
