from django.urls import path

from . import views

urlpatterns = [
    path("devices/", views.DeviceListView.as_view(), name="device-list"),
    path("devices/vapid-public-key/", views.VapidPublicKeyView.as_view(), name="device-vapid-public-key"),
    path("devices/<str:device_id>/", views.DeviceView.as_view(), name="device-detail"),
]
