"""Payload encryption in tests: MEMBERFLOW_TEST_CODEC=1 runs the session's Temporal environments, the app and
the workers with the payload codec on (`make pytest-codec` runs the journey and campaign suites that way), and
fixed test key rings for the codec's own tests."""

from __future__ import annotations

import base64
import os

from pydantic import SecretStr

from core.settings import TemporalSettings

# Two keys, the newer active: a codec run also decrypts with a ring that has been rotated once.
OLD_KEY = base64.b64encode(b"memberflow-test-key-old-32-bytes").decode()
NEW_KEY = base64.b64encode(b"memberflow-test-key-new-32-bytes").decode()
TEST_KEYS = f"test-old={OLD_KEY},test-new={NEW_KEY}"
TEST_ACTIVE_KEY = "test-new"


def codec_on() -> bool:
    """Whether this test session runs with payload encryption (MEMBERFLOW_TEST_CODEC=1)."""
    return os.environ.get("MEMBERFLOW_TEST_CODEC", "") == "1"


def encrypted(settings: TemporalSettings, keys: str = TEST_KEYS, active: str = TEST_ACTIVE_KEY) -> TemporalSettings:
    """`settings` with the payload codec on (validated, as loading them from the environment would be)."""
    data = settings.model_dump() | {"codec_keys": SecretStr(keys), "codec_active_key": active}
    return TemporalSettings.model_validate(data)


def session_temporal_settings(address: str = "127.0.0.1:1") -> TemporalSettings:
    """The Temporal settings of the test session: encrypted under MEMBERFLOW_TEST_CODEC=1, else in clear."""
    settings = TemporalSettings(address=address)
    return encrypted(settings) if codec_on() else settings


def codec_env(settings: TemporalSettings) -> dict[str, str]:
    """The environment variables that give a child process (a worker under test) the same codec."""
    if settings.codec_keys is None:
        return {}
    return {
        "MEMBERFLOW_TEMPORAL__CODEC_KEYS": settings.codec_keys.get_secret_value(),
        "MEMBERFLOW_TEMPORAL__CODEC_ACTIVE_KEY": settings.codec_active_key or "",
    }
