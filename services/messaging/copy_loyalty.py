"""The programme's shipped message copy beside services.messaging.copy: the points expiry reminder (the built-in
`points_expiring` journey). Seeded the same way, in English and Simplified Chinese.

Variables besides the usual ones: `expiry` (the member's next expiry at send time: `points`, `expires_on`, and
`total`, every point still to expire) and `affordable_rewards` (active rewards in stock the member's available
points pay for, dearest first: `name`, `points_cost`), both read when the message is rendered."""

# ruff: noqa: E501

from __future__ import annotations

from services.messaging.copy import Copy

LOYALTY_COPY: dict[tuple[str, str], dict[str, Copy]] = {
    ("points_expiring", "email"): {
        "en": Copy(
            "{% if expiry %}{{ expiry.points }} of your {{ brand }} points expire on {{ expiry.expires_on }}{% else %}Your {{ brand }} points{% endif %}",
            """<h1>Your points are waiting{% if member.name %}, {{ member.name }}{% endif %}</h1>
{% if expiry %}<p><strong>{{ expiry.points }} points</strong> expire on <strong>{{ expiry.expires_on }}</strong>.
You have {{ member.points }} points to spend today.</p>{% endif %}
{% if affordable_rewards %}<p>They could still be yours:</p>
<ul>{% for reward in affordable_rewards %}<li>{{ reward.name }}: {{ reward.points_cost }} points</li>{% endfor %}</ul>
{% else %}<p>Every purchase adds to them, so a reward may be closer than you think.</p>{% endif %}""",
        ),
        "zh-CN": Copy(
            "{% if expiry %}您有{{ expiry.points }}积分将于{{ expiry.expires_on }}过期{% else %}您的{{ brand }}积分{% endif %}",
            """<h1>{{ member.name or "亲爱的会员" }}，别让积分溜走</h1>
{% if expiry %}<p>您有<strong>{{ expiry.points }}积分</strong>将于<strong>{{ expiry.expires_on }}</strong>过期，当前可用积分{{ member.points }}。</p>{% endif %}
{% if affordable_rewards %}<p>这些礼品您现在就能兑换：</p>
<ul>{% for reward in affordable_rewards %}<li>{{ reward.name }}：{{ reward.points_cost }}积分</li>{% endfor %}</ul>
{% else %}<p>每次消费都能累积积分，心仪的礼品也许就差一点点。</p>{% endif %}""",
        ),
    },
}
