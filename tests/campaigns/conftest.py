"""Campaign fixtures: small pages (`campaign_tuning`) unless a module tunes the paging to the sizes its tests need."""

from __future__ import annotations

import pytest

from core.settings import CampaignSettings, Settings


@pytest.fixture
def campaign_tuning() -> CampaignSettings:
    return CampaignSettings(page_size=10, concurrency=2, pages_per_run=5)


@pytest.fixture
def settings(settings: Settings, campaign_tuning: CampaignSettings) -> Settings:
    return settings.model_copy(update={"campaigns": campaign_tuning})
