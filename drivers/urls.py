from django.urls import path

from . import views

urlpatterns = [
    # The account endpoints that carry a driver profile (auth/token/ and its refresh: rideshare.accounts).
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    path("drivers/me/", views.DriverMeView.as_view(), name="driver-me"),
    path("drivers/me/online/", views.DriverOnlineView.as_view(), name="driver-online"),
    path("drivers/me/offline/", views.DriverOfflineView.as_view(), name="driver-offline"),
    path("drivers/me/location/", views.DriverLocationView.as_view(), name="driver-location"),
]
