from django.urls import path

from goals import views

app_name = "goals"

urlpatterns = [
    path("goals/webhook/whop", views.whop_webhook, name="whop-webhook"),
]
