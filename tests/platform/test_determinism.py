"""The suite's own footing: the test server survives another pytest session starting beside it, the zoned
sessions really run in their zones, and the date helpers hold on 29 February."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from devstack.embedded import EmbeddedPostgres
from tests.support.clock import born_on_the_day, same_birthday_next_year


async def test_the_test_database_survives_another_pytest_session_starting(
    postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A pytest session that starts resets /tmp/pytest-of-<user> to mode 0700 (done here by hand); the server,
    which runs as another user, must keep reading and writing its data, so its data is not under that folder."""
    pytest_root = tmp_path_factory.getbasetemp().parent
    assert not postgres.data_dir.is_relative_to(pytest_root)
    mode = stat.S_IMODE(os.stat(pytest_root).st_mode)
    os.chmod(pytest_root, mode & 0o700)
    engine = create_async_engine(postgres.url(f"survive_{uuid.uuid4().hex[:8]}"))
    try:
        postgres.ensure_database(engine.url.database or "")  # new files in the data folder
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
        os.chmod(pytest_root, mode)  # as it was: other sessions' servers may still live under it


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
async def test_zoned_sessions_run_in_their_zone(zoned_engines: dict[str, AsyncEngine], zone: str) -> None:
    async with zoned_engines[zone].connect() as connection:
        assert (await connection.execute(text("SHOW timezone"))).scalar_one() == zone
        hour = "extract(hour FROM timestamptz '2026-06-01 20:00:00+00')"
        assert (await connection.execute(text(f"SELECT {hour}"))).scalar_one() == (20 if zone == "UTC" else 4)


@pytest.mark.parametrize(
    ("today", "year", "born"),
    [
        (date(2028, 2, 29), 1990, date(1988, 2, 29)),  # a leap day: the leap year before
        (date(2028, 2, 29), 1992, date(1992, 2, 29)),
        (date(2027, 2, 28), 1990, date(1990, 2, 28)),
        (date(2026, 12, 1), 1985, date(1985, 12, 1)),
    ],
)
def test_born_on_the_day_never_raises_on_29_february(today: date, year: int, born: date) -> None:
    assert born_on_the_day(today, year) == born


def test_same_birthday_next_year_moves_29_february_to_the_28th() -> None:
    assert same_birthday_next_year(date(2028, 2, 29)) == date(2029, 2, 28)
    assert same_birthday_next_year(date(2031, 2, 28)) == date(2032, 2, 28)
    assert same_birthday_next_year(date(2026, 12, 1)) == date(2027, 12, 1)
