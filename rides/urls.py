from django.urls import path

from . import views

urlpatterns = [
    path("rides/", views.RideListCreateView.as_view(), name="ride-list"),
    path("rides/estimate/", views.RideEstimateView.as_view(), name="ride-estimate"),
    path("rides/<str:ride_id>/", views.RideDetailView.as_view(), name="ride-detail"),
    path("rides/<str:ride_id>/accept/", views.AcceptRideView.as_view(), name="ride-accept"),
    path("rides/<str:ride_id>/arrived/", views.ArrivedView.as_view(), name="ride-arrived"),
    path("rides/<str:ride_id>/start/", views.StartRideView.as_view(), name="ride-start"),
    path("rides/<str:ride_id>/complete/", views.CompleteRideView.as_view(), name="ride-complete"),
    path("rides/<str:ride_id>/decline/", views.DeclineRideView.as_view(), name="ride-decline"),
    path("rides/<str:ride_id>/cancel/", views.CancelRideView.as_view(), name="ride-cancel"),
    path("rides/<str:ride_id>/rate/", views.RateRideView.as_view(), name="ride-rate"),
    path("drivers/nearby/", views.NearbyDriversView.as_view(), name="drivers-nearby"),
]
