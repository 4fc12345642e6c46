from django.urls import path
from django.views.decorators.csrf import ensure_csrf_cookie

import mvcontrol.converters  # noqa: F401 - registers <id:…>
from accounts.api import views

# The page reads the csrftoken cookie: the first calls it makes (me, setup) hand it out.
urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", ensure_csrf_cookie(views.MeView.as_view()), name="auth-me"),
    path("auth/password", views.PasswordView.as_view(), name="auth-password"),
    path("auth/setup", ensure_csrf_cookie(views.SetupView.as_view()), name="auth-setup"),
    path("users", views.UsersView.as_view(), name="users"),
    path("users/<id:user_id>", views.UserView.as_view(), name="user"),
    path("users/<id:user_id>/access", views.UserAccessView.as_view(), name="user-access"),
]
