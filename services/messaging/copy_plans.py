"""The paid plan's shipped copy: the renewal reminder its PlanTerm workflow sends 7 days before the end.
Variables from the workflow's `data`: `plan_name_en`, `plan_name_zh_cn`, `ends_on` (a date), `plan_code`."""

# ruff: noqa: E501

from __future__ import annotations

# (key, channel) → locale → (subject, body); services.messaging.copy makes them `Copy`s.
PLAN_COPY: dict[tuple[str, str], dict[str, tuple[str | None, str]]] = {
    ("plan_renewal_reminder", "email"): {
        "en": (
            "Your {{ data.plan_name_en | default('membership') }} ends on {{ data.ends_on }}",
            """<h1>Your {{ data.plan_name_en | default("membership") }} ends soon</h1>
<p>{% if member.name %}{{ member.name }}, your{% else %}Your{% endif %} plan ends on <strong>{{ data.ends_on }}</strong>.
Renew before then and your benefits carry on without a break: the extra points on every order, the monthly coupon
and the rest.</p>
<p>You have {{ member.points }} points. Thank you for being a member of {{ brand }}.</p>""",
        ),
        "zh-CN": (
            "您的{{ data.plan_name_zh_cn | default('付费会员') }}将于{{ data.ends_on }}到期",
            """<h1>您的{{ data.plan_name_zh_cn | default("付费会员") }}即将到期</h1>
<p>{{ member.name or "亲爱的会员" }}，您的会员权益将于<strong>{{ data.ends_on }}</strong>到期。在此之前续费，积分加倍、每月优惠券等权益不会中断。</p>
<p>您目前有 {{ member.points }} 积分。感谢您一直支持{{ brand }}。</p>""",
        ),
    },
}
