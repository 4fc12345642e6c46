from django.urls import path

from devices.api.views import CatalogView, LayoutsView, LayoutView

urlpatterns = [
    path("catalog", CatalogView.as_view(), name="nexx-catalog"),
    path("layouts", LayoutsView.as_view(), name="nexx-layouts"),
    path("layouts/<int:number>", LayoutView.as_view(), name="nexx-layout"),
]
