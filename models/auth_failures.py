"""Failed authentications per source address, counted across every API process for the rate limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AuthFailure(Base):
    __tablename__ = "auth_failures"

    # The client's address (IPv4 or IPv6 text), as the API sees it behind its trusted proxies.
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The start of the current counting window; a failure after the window ends starts a new one.
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer)
