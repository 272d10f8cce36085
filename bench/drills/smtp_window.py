"""How long the two parts of one SMTP send last against a local aiosmtpd sink: connect to the end of the body
inside DATA (a crash there loses nothing: the server discards an unterminated DATA and the retry sends) and the
terminating line to the server's reply and QUIT (a crash there leaves the outcome unknown). It sends through the
product's SmtpEmailProvider and times its hand-over point.

    .venv/bin/python bench/drills/smtp_window.py [--sends 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from aiosmtpd.controller import Controller  # noqa: E402

from core.settings import MessagingSettings  # noqa: E402
from devstack.embedded import free_port  # noqa: E402
from services.messaging.providers import OutgoingEmail, SmtpEmailProvider  # noqa: E402


class _Sink:
    async def handle_DATA(self, *_: object) -> str:  # aiosmtpd's hook name
        return "250 OK"


async def _measure(sends: int, port: int) -> tuple[list[float], list[float]]:
    provider = SmtpEmailProvider(MessagingSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False))
    before: list[float] = []
    after: list[float] = []
    for n in range(sends):
        email = OutgoingEmail(
            message_id=str(n), message_key=f"k{n}", to="m@example.com", subject="Hi", html="<p>Hi</p>", text="Hi\n"
        )
        marks: list[float] = []

        async def hand_over(marks: list[float] = marks) -> None:
            marks.append(time.perf_counter())

        began = time.perf_counter()
        await provider.send_email(email, hand_over)
        ended = time.perf_counter()
        before.append((marks[0] - began) * 1000)
        after.append((ended - marks[0]) * 1000)
    return before, after


def _line(name: str, values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100)
    return f"{name}: median {statistics.median(values):.2f} ms, p99 {cuts[98]:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=500)
    args = parser.parse_args()
    port = free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        before, after = asyncio.run(_measure(args.sends, port))
    finally:
        controller.stop()
    share = sum(after) / (sum(before) + sum(after))
    print(_line("connect to the body written inside DATA (retry sends)", before))
    print(_line("the terminating line, its reply and QUIT (outcome unknown)", after))
    print(f"share of the exchange where a crash leaves the outcome unknown: {share:.0%}")


if __name__ == "__main__":
    main()
