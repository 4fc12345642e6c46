from django.urls import path

from state.api.views import RefreshStatusView, RefreshView

urlpatterns = [
    path("refresh", RefreshView.as_view(), name="refresh"),
    path("refresh/status", RefreshStatusView.as_view(), name="refresh-status"),
]
