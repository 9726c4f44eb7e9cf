from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("decisions/", include("decisions.urls")),
    path("api/v1/", include("workflows.api.urls")),
    path("api/v1/", include("goals.urls")),
]

# A body too large to read gets a message naming the limit, not a bare 400.
handler400 = "bizagent.http_errors.bad_request"
