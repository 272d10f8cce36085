"""Message providers: email over SMTP, SMS over an HTTP API, and a log provider for development.

The contract every provider keeps: return a Receipt only when the provider accepted the message; raise
ProviderError only when it did not (nothing went out), with `permanent` when retrying cannot help. Anything
else raised leaves the outcome unknown, and the message is then never retried (at most once).

Each send also awaits `before_hand_over` at the last moment nothing has reached the provider yet: for SMTP after
the message body and right before the line that ends DATA (a server takes a message only at that line), for the
HTTP SMS provider right before the POST. The caller records there that the outcome may become unknown from now on;
if it raises (another attempt has taken the message over), the provider hands nothing over and lets it through."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

import aiosmtplib
import httpx

from core.settings import MessagingSettings
from services.messaging.smtp_data import data_handed_over

log = logging.getLogger("memberflow.messaging")


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: str
    message_key: str
    to: str
    subject: str
    html: str
    text: str
    # Marketing only: becomes List-Unsubscribe (with one-click, RFC 8058).
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str
    message_key: str
    to: str
    text: str


@dataclass(frozen=True)
class Receipt:
    provider: str
    provider_message_id: str | None
    # True when the provider already reports delivery (most only accept, and report later or never).
    delivered: bool = False


class ProviderError(Exception):
    """The provider did not take the message. Transient unless `permanent` (e.g. a recipient refused)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


HandOver = Callable[[], Awaitable[None]]


async def no_record() -> None:
    """The hand-over point of a send no message row tracks (staff notifications): nothing to record."""


class EmailProvider(Protocol):
    name: str

    async def send_email(self, email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt: ...


class SmsProvider(Protocol):
    name: str

    async def send_sms(self, sms: OutgoingSms, before_hand_over: HandOver = no_record) -> Receipt: ...


@dataclass(frozen=True)
class Providers:
    email: EmailProvider
    sms: SmsProvider


def message_id_header(message_key: str, from_address: str) -> str:
    """A Message-ID derived from the message key: the same message always carries the same id, so a
    receiving system can recognise a duplicate."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "memberflow.local"
    return f"<{hashlib.sha256(message_key.encode()).hexdigest()[:40]}@{domain}>"


def _transfer_encoding(text: str) -> str:
    return "quoted-printable" if text.isascii() else "base64"


class LogProvider:
    """Development: records what would be sent (the last 1,000, in memory) and logs one line per message;
    nothing leaves the machine. The message log (`GET /api/v1/messages`) shows the rendered text."""

    name = "log"

    def __init__(self) -> None:
        self.sent: deque[OutgoingEmail | OutgoingSms] = deque(maxlen=1000)

    def _receipt(self, message: OutgoingEmail | OutgoingSms) -> Receipt:
        self.sent.append(message)
        return Receipt(provider=self.name, provider_message_id=f"log-{message.message_id}")

    async def send_email(self, email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt:
        await before_hand_over()
        log.info("email %s (%s) recorded by the log provider: %s", email.message_id, email.message_key, email.subject)
        return self._receipt(email)

    async def send_sms(self, sms: OutgoingSms, before_hand_over: HandOver = no_record) -> Receipt:
        await before_hand_over()
        log.info("sms %s (%s) recorded by the log provider", sms.message_id, sms.message_key)
        return self._receipt(sms)


class SmtpEmailProvider:
    """Email over SMTP with aiosmtplib: one connection per message (sends are rate limited per channel)."""

    name = "smtp"

    def __init__(self, settings: MessagingSettings) -> None:
        if settings.smtp_host is None:
            raise ValueError("SmtpEmailProvider needs messaging.smtp_host")
        self._settings = settings
        self._host = settings.smtp_host

    def build(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.from_address
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id_header(email.message_key, self._settings.from_address)
        if email.unsubscribe_url:
            message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # 7-bit transfer encodings: no dependence on the server's 8BITMIME for Chinese text.
        message.set_content(email.text, cte=_transfer_encoding(email.text))
        message.add_alternative(email.html, subtype="html", cte=_transfer_encoding(email.html))
        return message

    async def send_email(self, email: OutgoingEmail, before_hand_over: HandOver = no_record) -> Receipt:
        """Step by step, so that a failure before the end of DATA (nothing taken) is told apart from a
        connection lost after it (the server may have the message: the outcome is unknown, so no ProviderError).
        Only the stretch from the terminating `.` to the server's reply is unknown (RFC 1047);
        `before_hand_over` runs right before that line, after the body is written (services.messaging.smtp_data),
        and if it raises the connection is closed without the line, so the server discards the message."""
        settings = self._settings
        message = self.build(email)
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=settings.smtp_port,
            use_tls=settings.smtp_use_tls,
            start_tls=False if settings.smtp_use_tls else settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )
        try:
            try:
                await client.connect()
                if settings.smtp_username:
                    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                    await client.login(settings.smtp_username, password)
                await client.mail(parseaddr(settings.from_address)[1])
                await client.rcpt(email.to)
            except aiosmtplib.SMTPResponseException as exc:
                raise ProviderError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise ProviderError(f"SMTP server {self._host}:{settings.smtp_port} unavailable: {exc}") from exc
            try:
                body = message.as_bytes(policy=SMTP_POLICY)
                await data_handed_over(client, body, before_hand_over, timeout=settings.smtp_timeout)
            except aiosmtplib.SMTPResponseException as exc:  # the server answered: it did not take the message
                raise ProviderError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from exc
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if client.is_connected:
                    await client.quit()
        return Receipt(provider=self.name, provider_message_id=str(message["Message-ID"]))


class HttpSmsProvider:
    """SMS through an HTTP API: POST {to, text, message_id} as JSON with a bearer token. The provider can use
    message_id to drop a duplicate. 2xx: accepted; 408, 429 and 5xx: try again later; other 4xx: refused."""

    name = "http"

    def __init__(
        self, url: str, token: str | None, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._transport = transport

    async def send_sms(self, sms: OutgoingSms, before_hand_over: HandOver = no_record) -> Receipt:
        body = {"to": sms.to, "text": sms.text, "message_id": sms.message_id}
        await before_hand_over()
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                response = await client.post(self._url, json=body, headers=self._headers)
        except httpx.TransportError as exc:
            raise ProviderError(f"SMS provider unreachable: {exc!r}") from exc
        if response.status_code >= 300:
            transient = response.status_code in (408, 429) or response.status_code >= 500
            raise ProviderError(
                f"SMS provider answered {response.status_code}: {response.text[:200]}", permanent=not transient
            )
        return Receipt(provider=self.name, provider_message_id=_provider_id(response), delivered=_delivered(response))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _provider_id(response: httpx.Response) -> str | None:
    data = _json(response)
    value = data.get("id", data.get("message_id"))
    return str(value)[:255] if value is not None else None


def _delivered(response: httpx.Response) -> bool:
    return _json(response).get("status") == "delivered"


def build_providers(settings: MessagingSettings) -> Providers:
    """SMTP when a host is configured, else the log provider; SMS as `sms_provider` says."""
    development = LogProvider()
    email: EmailProvider = SmtpEmailProvider(settings) if settings.smtp_host else development
    sms: SmsProvider = development
    if settings.sms_provider == "http":
        if not settings.sms_url:
            raise ValueError("messaging.sms_provider is 'http' but messaging.sms_url is not set")
        token = settings.sms_token.get_secret_value() if settings.sms_token else None
        sms = HttpSmsProvider(settings.sms_url, token)
    return Providers(email=email, sms=sms)
