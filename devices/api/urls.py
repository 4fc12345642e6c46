from django.urls import path

from devices.api import views

urlpatterns = [
    path("catalog", views.CatalogView.as_view(), name="nexx-catalog"),
    path("layouts", views.LayoutsView.as_view(), name="nexx-layouts"),
    path("layouts/<int:number>", views.LayoutView.as_view(), name="nexx-layout"),
]
