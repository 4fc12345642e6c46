from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from mvcontrol import health, pages

admin.site.site_header = "mvcontrol administration"
admin.site.site_title = "mvcontrol admin"
admin.site.index_title = "Users, devices and state"

handler404 = "mvcontrol.api_errors.json_404"
handler500 = "mvcontrol.api_errors.json_500"

api_patterns = [
    path("", include("accounts.api.urls")),
    path("", include("devices.api.urls")),
    path("", include("control.api.urls")),
    path("", include("live.urls")),
    path("", include("state.api.urls")),
    path("", include("presets.api.urls")),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # drf-spectacular's page without its web fonts (templates/api_docs/redoc.html).
    path("redoc", SpectacularRedocView.as_view(url_name="api-schema",
                                               template_name="api_docs/redoc.html"),
         name="api-redoc"),
]

urlpatterns = [
    path("", pages.control_page, name="control"),
    path("login", pages.login_page, name="login"),
    path("favicon.ico", pages.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
]
