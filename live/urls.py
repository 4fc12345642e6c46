from django.urls import path

from live import views

urlpatterns = [
    path("events", views.events, name="events"),
]
