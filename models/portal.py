"""The member portal's sign-in: one-time codes asked for by address, and the sessions they (or a signed link)
open. Neither table holds an address or a code in clear: only keyed hashes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column


class PortalSignInCode(Base):
    """One request for a code. A row is written for every request, known address or not (then `member_id` is
    NULL and no code can match), so the answer and its cost do not tell whether the address is a member's;
    the rows also count the requests per address and per source that the rate limits allow."""

    __tablename__ = "portal_sign_in_codes"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_portal_sign_in_codes_address_created", "address_hash", "created_at"),
        Index("ix_portal_sign_in_codes_source_created", "source_hash", "created_at"),
        Index("ix_portal_sign_in_codes_member", "member_id"),
    )

    # Random (uuid4): the code page's handle, so it must not be guessable from another request's.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(10))
    # HMAC-SHA256 of the normalised address and of the requesting IP, under a key derived from secret_key.
    address_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    source_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # HMAC-SHA256 of the row id and the code.
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class PortalSession(Base):
    """A signed-in member in a browser: the cookie holds a random token, this row its SHA-256, so a session
    can be ended on the server (sign-out, erasure) and a leaked table signs nobody in."""

    __tablename__ = "portal_sessions"
    __table_args__ = (
        CheckConstraint("method IN ('code', 'link')", name="method_known"),
        Index("ix_portal_sessions_member", "member_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    # How the member signed in: a one-time code or a signed link.
    method: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class PortalSource(Base):
    """A registration link staff publish for a channel or a store (`/portal/join?src={code}`, with its QR
    code). Sign-ups record the code in `members.source`; a code nobody defined is still recorded when it is
    safe, so this table names and lists sources, it does not limit them."""

    __tablename__ = "portal_sources"
    __table_args__ = (CheckConstraint("kind IN ('channel', 'store')", name="kind_known"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
