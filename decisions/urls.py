from django.urls import path

from decisions.link_views import decision_link
from decisions.profile_views import language_switch
from decisions.telegram_views import telegram_webhook

app_name = "decisions"
urlpatterns = [
    path("<int:decision_id>/link/<str:token>/", decision_link, name="link"),
    path("telegram/webhook/", telegram_webhook, name="telegram_webhook"),
    # The header's language switch: set_language, and the profile for a signed-in person.
    path("language/", language_switch, name="language_switch"),
]
