"""API keys: only a SHA-256 hash of the secret is stored."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from models.base import Base, created_at_column


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the secret, shown in listings so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # "bootstrap" for the key made from MEMBERFLOW_ADMIN_KEY, "api"/"cli" otherwise.
    source: Mapped[str] = mapped_column(String(20), default="api")
    # May read unmasked personal data (services.privacy.masking), each read audited; admins by default.
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # From this time on the key is refused (401 api_key_expired); NULL: it never expires.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the key last authenticated, to the minute: each API process writes it at most once a minute per key.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
