"""Campaign test fixtures: each module tunes the campaign paging (`campaign_tuning`) to the sizes its tests need."""

from __future__ import annotations

import pytest

from core.settings import CampaignSettings, Settings


@pytest.fixture
def settings(settings: Settings, campaign_tuning: CampaignSettings) -> Settings:
    return settings.model_copy(update={"campaigns": campaign_tuning})
