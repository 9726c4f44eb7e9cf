"""Mounted at ``/api/v1/`` by ``bizagent/urls.py`` (by name: bizagent imports no app)."""

from django.urls import path

from workflows.api import api

urlpatterns = [path("", api.urls)]
