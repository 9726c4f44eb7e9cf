from django.urls import path

from decisions.link_views import decision_link
from decisions.telegram_views import telegram_webhook

app_name = "decisions"
urlpatterns = [
    path("<int:decision_id>/link/<str:token>/", decision_link, name="link"),
    path("telegram/webhook/", telegram_webhook, name="telegram_webhook"),
]
