"""The drill's SMTP server: aiosmtpd keeping each message's recipient, subject and arrival time (headers only),
so a drill can count per member what really left memberflow."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    to: str
    subject: str
    at: float  # time.monotonic()


@dataclass
class Sink:
    """aiosmtpd handler; `received` is appended from the controller's thread."""

    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # aiosmtpd's hook
        assert isinstance(envelope.content, bytes)
        headers = BytesHeaderParser().parsebytes(envelope.content)
        with self._lock:
            self.received.append(Received(str(headers["To"]), str(headers["Subject"]), time.monotonic()))
        return "250 Message accepted"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def last_at(self) -> float | None:
        with self._lock:
            return self.received[-1].at if self.received else None


def start_sink(port: int) -> tuple[Sink, Controller]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller
