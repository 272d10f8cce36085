"""All configuration, read once from the environment (prefix MEMBERFLOW_, nested with __)."""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.codec import CodecError, KeyRing, parse_keys


class TemporalSettings(BaseModel):
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "memberflow"
    # Base address of the Temporal Web UI, used for links from the API and console.
    ui_url: str = "http://127.0.0.1:8233"
    tls: bool = False
    api_key: SecretStr | None = None
    # Payload encryption (docs/configuration.md): `id=base64,id=base64`, each a 32-byte AES-256 key. Unset:
    # payloads are stored in clear. Every process that talks to Temporal (API, worker, CLI) needs the same keys.
    codec_keys: SecretStr | None = None
    # The key new payloads are sealed with; the others only decrypt (rotation). May be left out with one key.
    codec_active_key: str | None = None
    # The browser origin allowed to call the codec endpoint (CORS); default: the origin of ui_url.
    codec_ui_origin: str | None = None

    @model_validator(mode="after")
    def _check_codec(self) -> TemporalSettings:
        self.key_ring()  # a bad key, or an active key not in the ring, fails at start-up rather than mid-run
        return self

    def key_ring(self) -> KeyRing | None:
        """The payload codec's keys, or None when encryption is off."""
        if self.codec_keys is None or not self.codec_keys.get_secret_value().strip():
            if self.codec_active_key:
                raise ValueError("codec_active_key is set but codec_keys is empty")
            return None
        try:
            keys = parse_keys(self.codec_keys.get_secret_value())
            active = self.codec_active_key or (next(iter(keys)) if len(keys) == 1 else "")
            if not active:
                raise CodecError("codec_active_key must name one of several codec_keys")
            return KeyRing(keys, active)
        except CodecError as exc:
            raise ValueError(str(exc)) from exc

    def codec_origin(self) -> str:
        """The one origin (scheme://host[:port]) whose pages may call the codec endpoint."""
        parts = urlsplit(self.codec_ui_origin or self.ui_url)
        return f"{parts.scheme}://{parts.netloc}"


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Request bodies above this size are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # One log line per request (uvicorn's access log). Off by default: it cost about a sixth of a request's CPU
    # on the hot paths, and /metrics already counts and times requests by route and status.
    access_log: bool = False
    # API processes sharing the port (uvicorn workers); 0 means one per CPU this process may use.
    workers: int = Field(default=0, ge=0, le=64)
    # Reverse proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips): comma-separated
    # addresses or networks, "*" for any. Failed authentications are counted per client address.
    trusted_proxies: str = "127.0.0.1"
    # After this many failed authentications (API keys, console sign-ins) from one address within the window,
    # every authenticated request from it gets 429 too_many_failed_logins until the window ends.
    failed_auth_limit: int = Field(default=20, ge=1)
    failed_auth_window_seconds: int = Field(default=300, ge=1, le=86_400)
    # Every failed authentication answers this long after it began, whatever the kind of failure, so its time
    # tells nothing; it must exceed the slowest failure's own time (docs/operating.md, "Failed sign-ins").
    failed_auth_floor_seconds: float = Field(default=0.2, ge=0, le=10)
    # Each process writes a key's last_used_at at most this often (the uses in between are kept in memory).
    key_use_write_seconds: float = Field(default=60.0, gt=0, le=3600)

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)


def _default_awards() -> dict[str, int]:
    return {"signed_up": 100, "checked_in": 10, "profile_completed": 50, "review_posted": 20, "shared": 5}


class PointsSettings(BaseModel):
    """The loyalty programme's point settings."""

    # Earned points expire this many calendar months after they were earned.
    expiry_months: int = Field(default=12, ge=1, le=120)
    # Redemptions costing more than this need an approver (a reward may set its own threshold).
    approval_threshold: int = Field(default=5000, ge=0)
    # A hold left pending this long is released by the daily sweep (the approval flow decides sooner).
    hold_ttl_hours: int = Field(default=72, ge=1)
    # Points for behaviour events, seeded once as the built-in `award_*` rules (edited through /rules after);
    # checked_in and shared pay once per local day, a review once per review id, the others once.
    awards: dict[str, int] = Field(default_factory=_default_awards)
    # UTC time of day (HH:MM) of the daily ledger maintenance: expiring lots and stale holds.
    maintenance_time: str = Field(default="02:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # `points_expiring` fires this many days before a date on which points expire, once per lead and date
    # (MEMBERFLOW_POINTS__EXPIRY_REMINDER_DAYS='[30, 7]'; [] fires none).
    expiry_reminder_days: list[int] = Field(default_factory=lambda: [30, 7], max_length=10)

    @field_validator("expiry_reminder_days")
    @classmethod
    def _leads(cls, value: list[int]) -> list[int]:
        if any(not 1 <= days <= 365 for days in value):
            raise ValueError("each expiry reminder lead is 1 to 365 days")
        return sorted(set(value), reverse=True)


_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class MessagingSettings(BaseModel):
    """Email (SMTP) and SMS providers, and the rules every marketing message obeys."""

    # Unset: email goes to the log provider (recorded in the message log, never delivered).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # None: upgrade with STARTTLS when the server offers it; True: require it; False: never.
    smtp_starttls: bool | None = None
    # Implicit TLS from the first byte (usually port 465); excludes STARTTLS.
    smtp_use_tls: bool = False
    smtp_timeout: float = Field(default=20.0, gt=0, le=300)
    from_address: str = "memberflow <no-reply@memberflow.local>"
    # The name messages sign with.
    brand_name: str = "memberflow"
    sms_provider: Literal["log", "http"] = "log"
    # The HTTP SMS provider: POST {to, text, message_id} as JSON, with `Authorization: Bearer <sms_token>`.
    sms_url: str | None = None
    sms_token: SecretStr | None = None
    # Marketing messages wait outside this window in the member's time zone (start after end: over midnight).
    quiet_hours_start: str = Field(default="21:00", pattern=_CLOCK)
    quiet_hours_end: str = Field(default="09:00", pattern=_CLOCK)
    # At most this many marketing messages per member in any rolling 7 days (transactional ones are exempt).
    frequency_cap: int = Field(default=3, ge=0)
    # Provider rate limits: each channel's sends run on their own task queue at this many per second.
    email_rate_per_second: float = Field(default=10.0, gt=0)
    sms_rate_per_second: float = Field(default=5.0, gt=0)
    # Base of the unsubscribe links in emails (this API's public address).
    public_url: str = "http://127.0.0.1:8000"
    # Tests only: fail right after a sent message is recorded, to prove that a retry does not send again.
    fail_after_send: bool = False


_COLOUR = r"^#[0-9a-fA-F]{6}$"


class PortalSettings(BaseModel):
    """The member portal under /portal (docs/portal.md): its brand, sign-in by one-time code or signed link,
    and how long what it hands out lives."""

    # Shown in the portal's header and title; unset: messaging.brand_name.
    brand_name: str | None = Field(default=None, max_length=100)
    # The logo: a path on this app's own origin or a data: URL, since the pages' Content-Security-Policy loads
    # images from nowhere else (an app's web view applies it too). Unset: the brand name alone.
    logo_url: str | None = Field(default=None, max_length=100_000)
    primary_color: str = Field(default="#0f766e", pattern=_COLOUR)
    accent_color: str = Field(default="#f59e0b", pattern=_COLOUR)
    # One-time sign-in codes: valid this long, and this many wrong tries spend one.
    code_minutes: int = Field(default=10, ge=1, le=60)
    code_attempts: int = Field(default=5, ge=1, le=20)
    # Code requests per address, and per requesting address (IP), in any rolling window of this many minutes.
    requests_per_address: int = Field(default=5, ge=1, le=100)
    requests_per_source: int = Field(default=20, ge=1, le=10_000)
    request_window_minutes: int = Field(default=15, ge=1, le=1440)
    # Signed links (`{{ portal_link }}` in messages) sign the member in for this long after they were sent.
    link_minutes: int = Field(default=24 * 60, ge=5, le=30 * 24 * 60)
    # A portal session ends after this many days (or at sign-out, or when the member is erased).
    session_days: int = Field(default=30, ge=1, le=365)
    # Daily check-in: each check-in earns the `checked_in` award (points.awards, the award_checked_in rule);
    # every `check_in_streak_days`-th day in a row also earns `check_in_streak_bonus` points (0: no bonus).
    check_in_streak_days: int = Field(default=7, ge=2, le=365)
    check_in_streak_bonus: int = Field(default=50, ge=0, le=1_000_000)
    # The time zone of members who sign up on the registration page (their local day for check-ins).
    signup_timezone: str = Field(default="UTC", max_length=64)
    # A survey's answer link (`{{ survey_link }}` in a survey invitation) works this many days after it was sent.
    survey_link_days: int = Field(default=14, ge=1, le=90)

    @model_validator(mode="after")
    def _own_origin_logo(self) -> PortalSettings:
        logo = self.logo_url
        if logo and not (logo.startswith("data:image/") or (logo.startswith("/") and not logo.startswith("//"))):
            raise ValueError("portal logo_url must be a path on this origin (/static/logo.svg) or a data:image/ URL")
        return self


class ApprovalSettings(BaseModel):
    """High-value redemptions: when the approver task escalates and expires, who hears of it, and how the
    warehouse is told of an approved one."""

    escalate_after_hours: float = Field(default=24, gt=0)
    expire_after_hours: float = Field(default=48, gt=0)
    # Approvers are emailed at this address when a task opens; the escalation address after escalate_after.
    approver_email: str | None = None
    escalation_email: str | None = None
    # log: record only (development); webhook: POST a signed JSON body to fulfilment_url.
    fulfilment: Literal["log", "webhook"] = "log"
    fulfilment_url: str | None = None


class SlaTarget(BaseModel):
    """A priority's service level: hours to the first staff reply and to the ticket's close."""

    first_response_hours: float = Field(gt=0, le=24 * 365)
    resolution_hours: float = Field(gt=0, le=24 * 365)


def _default_sla() -> dict[str, SlaTarget]:
    return {
        "urgent": SlaTarget(first_response_hours=1, resolution_hours=4),
        "high": SlaTarget(first_response_hours=4, resolution_hours=24),
        "normal": SlaTarget(first_response_hours=24, resolution_hours=72),
        "low": SlaTarget(first_response_hours=48, resolution_hours=120),
    }


class CareSettings(BaseModel):
    """Service tickets: the SLA per priority, how long a closed ticket may be reopened, when the survey is due
    after a close and which survey it is (the built-in CSAT survey; empty sends none), and the queue a ticket
    goes to when its caller names none."""

    sla: dict[str, SlaTarget] = Field(default_factory=_default_sla)
    reopen_days: float = Field(default=7, ge=0, le=365)
    survey_delay_hours: float = Field(default=24, ge=0, le=24 * 90)
    ticket_survey: str = Field(default="ticket_csat", pattern=r"^([a-z][a-z0-9_]{0,63})?$")
    default_queue: str = "general"

    @model_validator(mode="after")
    def _every_priority(self) -> CareSettings:
        missing = {"urgent", "high", "normal", "low"} - set(self.sla)
        if missing:
            raise ValueError(f"care.sla needs a target for every priority; missing: {', '.join(sorted(missing))}")
        return self


class CampaignSettings(BaseModel):
    """How the campaign workflow enrols: members per page, journey starts at once, pages per workflow run
    (it continues as new after that many, or sooner when Temporal suggests it)."""

    page_size: int = Field(default=200, ge=1, le=2000)
    concurrency: int = Field(default=20, ge=1, le=200)
    pages_per_run: int = Field(default=25, ge=1, le=1000)


class KpiSettings(BaseModel):
    """How insight figures are valued and windowed."""

    # What one point is worth in the programme's currency, to value the outstanding points as a liability.
    point_value: Decimal = Field(default=Decimal("0.01"), ge=0, le=1000)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    # An order within this many days after a journey run started counts as that journey's conversion.
    journey_attribution_days: int = Field(default=7, ge=1, le=365)


class WorkerSettings(BaseModel):
    """How one worker process runs workflows: its sandbox, its cache of open runs and its pollers. The
    defaults were chosen from `make bench-worker` on a 2-core machine; docs/scaling.md gives the reasons."""

    # pass_through: the workflow modules (`workflows.*`, deterministic, without mutable module state) are
    # imported once per process and shared by every run, so a new run or a run brought back after eviction
    # costs about 0.2 ms instead of a re-import (1.4 ms with .pyc files, 3.3 ms without) and a cached run
    # holds no module copies. strict: re-imported per run, so the sandbox's checks (no datetime.now(), no
    # random) also cover our own workflow code; the test suite runs this way.
    sandbox: Literal["pass_through", "strict"] = "pass_through"
    # Open runs kept in memory. A sleeping run that is not cached costs the worker nothing until it wakes,
    # then a replay of its history; a cached one costs memory (see docs/benchmarks.md, "Open journeys").
    max_cached_workflows: int = Field(default=5000, ge=0, le=1_000_000)
    # Workflow tasks and activities run at once, and the long polls that fetch them.
    max_concurrent_workflow_tasks: int = Field(default=100, ge=2, le=10_000)
    max_concurrent_activities: int = Field(default=100, ge=1, le=10_000)
    workflow_task_pollers: int = Field(default=5, ge=2, le=100)
    activity_task_pollers: int = Field(default=5, ge=1, le=100)


class DevSettings(BaseModel):
    """The embedded stack of `memberflow dev` (`make run`)."""

    data_dir: Path = Path(".data")
    postgres_port: int = Field(default=55432, ge=1, le=65535)
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    # How much lower the journey side (the worker and the Temporal dev server) runs in CPU priority than the API,
    # as a nice increment. On one machine they share, a higher value serves requests first and lets the journeys
    # catch up after a burst (docs/operating.md, "CPU priority"); 0 gives all the same priority.
    background_nice: int = Field(default=0, ge=0, le=19)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEMBERFLOW_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    # SQLAlchemy URL (postgresql+asyncpg://…). Unset under `memberflow dev`: the embedded server is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MEMBERFLOW_DATABASE_URL", "DATABASE_URL")
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Test each pooled connection before use (one extra round trip per checkout). Off by default: a
    # connection lost to a database restart fails one request with 503, after which the pool renews itself.
    database_pre_ping: bool = False
    temporal: TemporalSettings = TemporalSettings()
    api: ApiSettings = ApiSettings()
    dev: DevSettings = DevSettings()
    worker: WorkerSettings = WorkerSettings()
    points: PointsSettings = PointsSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    messaging: MessagingSettings = MessagingSettings()
    portal: PortalSettings = PortalSettings()
    campaigns: CampaignSettings = CampaignSettings()
    care: CareSettings = CareSettings()
    kpis: KpiSettings = KpiSettings()
    # When set, an admin API key with exactly this value exists after the API starts.
    admin_key: SecretStr | None = None
    # Signs unsubscribe links and the portal's links and codes; required to send marketing email and for portal
    # sign-in (`memberflow dev` generates one).
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool = False

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError(
                "MEMBERFLOW_DATABASE_URL is not set. Set it to a PostgreSQL URL "
                "(postgresql+asyncpg://user:pass@host:5432/db), or use `memberflow dev` for the embedded stack."
            )
        return self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
