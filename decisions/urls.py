from django.urls import path  # noqa: F401 - the routes are added by the governance views

app_name = "decisions"
urlpatterns: list = []
