"""The portal shows every upcoming expiry: the first dates on the home page with the total and a link to the rest,
every date (24, then "and N more") on the points page, in the member's language."""

from __future__ import annotations

import uuid

import httpx

from tests.support.calendar_events import first_weeks, member_with_26_dates
from tests.support.helpers import ApiClient
from tests.support.messaging import Sessions
from tests.support.portal import portal_member, sign_in_by_link


def _rows(html: str) -> list[str]:
    table = html.split('data-testid="expiries"', 1)[1].split("</table>", 1)[0]
    return [row.split("</tr>", 1)[0] for row in table.split("<tr><td>")[1:]]


async def test_home_and_points_pages_list_the_expiries(
    http: httpx.AsyncClient, shop: ApiClient, sessions: Sessions
) -> None:
    member = await portal_member(shop, timezone="Asia/Shanghai", locale="en")
    first = await member_with_26_dates(sessions, uuid.UUID(member["id"]))
    await sign_in_by_link(http, member["id"])
    home = (await http.get("/portal")).text
    assert _rows(home) == [
        f'{first.isoformat()}</td><td class="num">5</td>',
        *(f'{day.isoformat()}</td><td class="num">10</td>' for day in first_weeks(first, 1, 3)),
    ]
    assert 'data-testid="expiries-total">255 points in all<' in home
    assert 'href="/portal/points#expiries"' in home
    points = (await http.get("/portal/points")).text
    assert len(_rows(points)) == 24
    assert 'data-testid="expiries-more">and 2 more dates: 20 points<' in points


async def test_a_member_with_nothing_to_expire_reads_so_in_chinese(http: httpx.AsyncClient, shop: ApiClient) -> None:
    member = await portal_member(shop, locale="zh-CN")
    await sign_in_by_link(http, member["id"])
    points = (await http.get("/portal/points", headers={"accept-language": "zh-CN"})).text
    assert "积分过期时间" in points
    assert "暂无即将过期的积分。" in points
    assert 'data-testid="expiries"' not in points
