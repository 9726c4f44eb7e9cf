from django.urls import path

from decisions.link_views import decision_link

app_name = "decisions"
urlpatterns = [
    path("<int:decision_id>/link/<str:token>/", decision_link, name="link"),
]
