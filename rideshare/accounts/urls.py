from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.PhoneTokenObtainPairView.as_view(), name="auth-token"),
    path("auth/token/refresh/", views.RefreshView.as_view(), name="auth-token-refresh"),
]
