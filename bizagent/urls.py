from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The home page and its sections (staff only: the admin's login otherwise).
    path("", include("goals.home")),
    # The language switch posts here (Django's set_language: session and cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("decisions/", include("decisions.urls")),
    path("api/v1/", include("workflows.api.urls")),
    path("api/v1/", include("goals.urls")),
]

# A body too large to read gets a message naming the limit, not a bare 400.
handler400 = "bizagent.http_errors.bad_request"
