from django.urls import path

import mvcontrol.converters  # noqa: F401 - registers <id:…>
from devices.api import views

urlpatterns = [
    path("catalog", views.CatalogView.as_view(), name="nexx-catalog"),
    path("layouts", views.LayoutsView.as_view(), name="nexx-layouts"),
    path("layouts/<id:number>", views.LayoutView.as_view(), name="nexx-layout"),
]
