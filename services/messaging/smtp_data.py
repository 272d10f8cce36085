"""SMTP DATA in two steps, so that the hand-over can be recorded between the message body and its terminator.

Why: a server takes a message only when it reads the line with the lone `.` (RFC 5321 4.1.1.4), so a DATA
whose connection drops before it is thrown away (aiosmtpd does; tests/messaging/test_smtp_data.py checks it).
Recording `sending` after the body is written and before that line narrows the window in which a crash
leaves the outcome unknown to one line and its reply, instead of the whole body.

aiosmtplib's `SMTP.data()` writes the body and the terminator in one go, so this module sends `DATA` with the
public `SMTP.execute_command`, then writes through `SMTP.protocol` (an exported `SMTPProtocol`) with its public
`write` and `read_response`, as `SMTPProtocol.execute_data_command` does. The framing (CRLF line endings,
leading periods doubled) is written here, not imported, because aiosmtplib does not export its helpers;
tests/messaging/test_smtp_data.py checks that it frames a message exactly as aiosmtplib does and that the
attributes used here still exist, so an aiosmtplib release that changes them fails loudly (pyproject pins
the range)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import aiosmtplib
from aiosmtplib import SMTPDataError, SMTPResponse, SMTPServerDisconnected, SMTPStatus

TERMINATOR = b".\r\n"
_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_PERIOD = re.compile(rb"(?m)^\.")


def framed(message: bytes) -> bytes:
    """The body as it travels inside DATA, without the terminator: every line ends in CRLF (the last one too)
    and a line that starts with a period gets a second one (RFC 5321 4.5.2)."""
    body = _LINE_ENDINGS.sub(b"\r\n", message)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return _LEADING_PERIOD.sub(b"..", body)


async def data_handed_over(
    client: aiosmtplib.SMTP, message: bytes, before_terminator: Callable[[], Awaitable[None]], *, timeout: float
) -> SMTPResponse:
    """DATA, its 354, the body, then `before_terminator`, then the terminator and the server's reply.

    SMTPDataError when the server refuses DATA or the message (it did not take it). If anything fails or is
    cancelled between the 354 and the reply (`before_terminator` raising included), the connection is closed
    at once: a QUIT there would be read as part of the body, and a closed connection makes the server discard
    the unterminated message."""
    start = await client.execute_command(b"DATA", timeout=timeout)
    if start.code != SMTPStatus.start_input:
        raise SMTPDataError(start.code, start.message)
    try:
        protocol = client.protocol
        if protocol is None:
            raise SMTPServerDisconnected("Connection lost")
        protocol.write(framed(message))
        await before_terminator()
        protocol.write(TERMINATOR)
        reply = await protocol.read_response(timeout=timeout)
    except BaseException:
        client.close()
        raise
    if reply.code != SMTPStatus.completed:
        raise SMTPDataError(reply.code, reply.message)
    return reply
