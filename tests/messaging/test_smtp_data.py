"""SMTP DATA in two steps (services/messaging/smtp_data.py): the hand-over runs after the body and before the
terminating line, a process SIGKILLed there leaves the server without the message, the framing is aiosmtplib's
own, and the aiosmtplib attributes the module relies on are still there."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import aiosmtplib
import aiosmtplib.protocol
import pytest
from aiosmtplib.protocol import SMTPProtocol

from core.settings import Settings
from services.messaging.providers import OutgoingEmail, ProviderError, SmtpEmailProvider
from services.messaging.smtp_data import TERMINATOR, framed
from tests.support.messaging import SmtpSink
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]

TRICKY = [
    b"",
    b"one line",
    b"a\nb\rc\r\nd",
    b".\n..\n.leading\nmiddle . dot\n.",
    b"\r\n.\r\n",
    b"ends with a lone CR\r",
]


def _email(to: str, text: str = "Hello\n") -> OutgoingEmail:
    return OutgoingEmail(
        message_id=str(uuid.uuid4()),
        message_key=f"smtp-data-{uuid.uuid4()}",
        to=to,
        subject="Hello",
        html=f"<p>{text}</p>",
        text=text,
    )


def _address(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@pytest.mark.parametrize("message", TRICKY)
def test_the_body_is_framed_exactly_as_aiosmtplib_frames_it(message: bytes) -> None:
    """If aiosmtplib renames or changes its framing, this fails: smtp_data.py must then be checked again."""
    theirs = aiosmtplib.protocol.PERIOD_REGEX.sub(b"..", aiosmtplib.protocol.normalize_message_line_endings(message))
    assert framed(message) == theirs
    assert framed(message).endswith(b"\r\n")
    assert b"\r\n" + TERMINATOR not in b"\r\n" + framed(message)  # no line of the body ends DATA early


async def test_the_aiosmtplib_surface_smtp_data_uses_is_still_there(smtp_sink: SmtpSink) -> None:
    """The version pyproject pins, and what a connected client offers: SMTP.protocol, an SMTPProtocol with
    write and read_response, and execute_command."""
    major, minor = (int(part) for part in aiosmtplib.__version__.split(".")[:2])
    assert (major, minor) >= (5, 1), aiosmtplib.__version__
    assert major < 6, aiosmtplib.__version__
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_sink.port, start_tls=False, timeout=10)
    await client.connect()
    try:
        assert isinstance(client.protocol, SMTPProtocol)
        assert callable(client.protocol.write)
        assert asyncio.iscoroutinefunction(client.protocol.read_response)
        noop = await client.execute_command(b"NOOP")
        assert noop.code == 250
    finally:
        await client.quit()


async def test_the_hand_over_runs_after_the_body_and_lines_with_periods_arrive_intact(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    to = _address()
    text = ".\n..two\n.one\nplain\n"
    seen_at_hand_over: list[int] = []

    async def hand_over() -> None:
        seen_at_hand_over.append(len(smtp_sink.to(to)))

    receipt = await SmtpEmailProvider(settings.messaging).send_email(_email(to, text), hand_over)
    assert seen_at_hand_over == [0]  # the server had nothing yet when `sending` would be committed
    (received,) = smtp_sink.to(to)
    assert received["Message-ID"] == receipt.provider_message_id
    plain = received.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().replace("\r\n", "\n") == text


async def test_a_message_refused_at_the_end_of_data_is_a_permanent_provider_error(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    to = _address("reject")
    handed_over: list[bool] = []

    async def hand_over() -> None:
        handed_over.append(True)

    with pytest.raises(ProviderError, match="554") as refused:
        await SmtpEmailProvider(settings.messaging).send_email(_email(to), hand_over)
    assert refused.value.permanent
    assert handed_over == [True]
    assert smtp_sink.to(to) == []


# A child process sends one email and is SIGKILLed at the hand-over point (it says so on stdout and waits).
_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from core.settings import MessagingSettings
    from services.messaging.providers import OutgoingEmail, SmtpEmailProvider

    async def main(port, to):
        settings = MessagingSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
        email = OutgoingEmail(message_id="1", message_key="k", to=to, subject="Hi", html="<p>Hi</p>", text="Hi")

        async def hand_over():
            print("at the terminator", flush=True)
            await asyncio.Event().wait()

        await SmtpEmailProvider(settings).send_email(email, hand_over)

    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    """
)


async def test_a_process_killed_after_the_body_leaves_the_server_without_the_message(
    smtp_sink: SmtpSink,
) -> None:
    to, cuts = _address(), smtp_sink.cut_during_data
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(smtp_sink.port), to, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        assert line == b"at the terminator\n"
        assert smtp_sink.recipients.count(to) == 1
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    async def cut() -> bool:
        return smtp_sink.cut_during_data > cuts

    await eventually(cut, timeout=10, what="the sink to see the DATA connection drop")
    assert smtp_sink.to(to) == []
