"""Fixtures for the loop: an active theme, quick retries, no chained ticks, the studio
answering the loop's model calls in process."""

from __future__ import annotations

import pytest

from tests.goals.factories import ThemeFactory, catalogue_rows_seed
from tests.goals.studio import StudioClient


@pytest.fixture(autouse=True)
def _loop_settings(settings):
    settings.GOALS_RETRY_DELAY_SECONDS = 0
    settings.GOALS_TICK_CHAIN = False
    settings.GOALS_LEASE_SECONDS = 600
    settings.GOALS_BACKOFF_BASE_SECONDS = 30
    settings.GOALS_BACKOFF_MAX_SECONDS = 300
    settings.LLM_MAX_RETRIES = 0
    return settings


@pytest.fixture
def theme(db):
    return ThemeFactory()


@pytest.fixture
def catalogue_seeded(db):
    """The catalogue rows migration 0010 seeds, again (see ``catalogue_rows_seed``)."""
    return catalogue_rows_seed()


@pytest.fixture
def studio(monkeypatch):
    """The scripted studio as the loop's model client (a module may define its own)."""
    client = StudioClient()
    monkeypatch.setattr("goals.services.iteration.llm_client", lambda: client)
    return client
