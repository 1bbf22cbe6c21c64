from django.urls import path

from . import views

urlpatterns = [
    path("drivers/me/", views.DriverMeView.as_view(), name="driver-me"),
    path("drivers/me/online/", views.DriverOnlineView.as_view(), name="driver-online"),
    path("drivers/me/offline/", views.DriverOfflineView.as_view(), name="driver-offline"),
    path("drivers/me/location/", views.DriverLocationView.as_view(), name="driver-location"),
]
