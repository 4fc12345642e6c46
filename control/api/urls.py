from django.urls import path

import mvcontrol.converters  # noqa: F401 - registers <id:…>
from control.api import views

urlpatterns = [
    path("sources", views.SourcesView.as_view(), name="sources"),
    path("sources/<id:pk>/favourite", views.SourceFavouriteView.as_view(),
         name="source-favourite"),
    path("multiviewers", views.MultiviewersView.as_view(), name="multiviewers"),
    path("multiviewers/<id:pk>", views.MultiviewerView.as_view(), name="multiviewer"),
    path("multiviewers/<id:pk>/layout", views.MultiviewerLayoutView.as_view(),
         name="multiviewer-layout"),
    path("multiviewers/<id:pk>/windows/<id:window>", views.WindowView.as_view(),
         name="multiviewer-window"),
    path("multiviewers/<id:pk>/undo", views.MultiviewerUndoView.as_view(),
         name="multiviewer-undo"),
    path("multiviewers/<id:pk>/lease", views.LeaseView.as_view(), name="multiviewer-lease"),
    path("routing", views.RoutingView.as_view(), name="routing"),
    path("routing/switch", views.RoutingSwitchView.as_view(), name="routing-switch"),
]
