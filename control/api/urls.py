from django.urls import path

from control.api import views

urlpatterns = [
    path("sources", views.SourcesView.as_view(), name="sources"),
    path("multiviewers", views.MultiviewersView.as_view(), name="multiviewers"),
    path("multiviewers/<int:pk>", views.MultiviewerView.as_view(), name="multiviewer"),
    path("multiviewers/<int:pk>/layout", views.MultiviewerLayoutView.as_view(),
         name="multiviewer-layout"),
    path("multiviewers/<int:pk>/windows/<int:window>", views.WindowView.as_view(),
         name="multiviewer-window"),
    path("multiviewers/<int:pk>/lease", views.LeaseView.as_view(), name="multiviewer-lease"),
    path("routing", views.RoutingView.as_view(), name="routing"),
    path("routing/switch", views.RoutingSwitchView.as_view(), name="routing-switch"),
]
