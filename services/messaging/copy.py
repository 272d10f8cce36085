"""The message templates memberflow ships with, in English and Simplified Chinese.

Seeded into `message_templates` when missing (services.messaging.templates.seed_builtin_templates); marketers
then edit them through the API. Email bodies are HTML fragments: the shared layout adds the frame, the
footer and, for marketing email, the unsubscribe link. Variables: `member` (name, tier, tier_name, points,
locale), `coupon` (code, kind, value, discount, discount_zh, expires_on; or none), `brand`, and `data` (the
caller's extra values, e.g. `data.reward_name` for redemptions)."""

# Chinese copy is not wrapped: a line break between CJK characters shows as a stray space in mail clients.
# ruff: noqa: E501

from __future__ import annotations

from typing import NamedTuple


class Copy(NamedTuple):
    subject: str | None
    body: str


# (key, channel) → locale → copy
BUILTIN_COPY: dict[tuple[str, str], dict[str, Copy]] = {
    ("welcome", "email"): {
        "en": Copy(
            "Welcome to {{ brand }}{% if member.name %}, {{ member.name }}{% endif %}",
            """<h1>Welcome{% if member.name %}, {{ member.name }}{% endif %}!</h1>
<p>Thank you for joining {{ brand }}. Every purchase earns you points, and the higher your tier, the more
you get back.</p>
{% if coupon %}<p>To get you started, here is <strong>{{ coupon.discount }} off</strong> your first order.
Use code <strong>{{ coupon.code }}</strong> at checkout{% if coupon.expires_on %} before
{{ coupon.expires_on }}{% endif %}.</p>{% endif %}
<p>You already have {{ member.points }} points. We are glad you are here.</p>""",
        ),
        "zh-CN": Copy(
            "欢迎加入{{ brand }}{% if member.name %}，{{ member.name }}{% endif %}",
            """<h1>{{ member.name or "亲爱的会员" }}，欢迎您！</h1>
<p>感谢您加入{{ brand }}会员。每一笔消费都能累积积分，会员等级越高，回馈越多。</p>
{% if coupon %}<p>送您一张首单<strong>{{ coupon.discount_zh }}</strong>优惠券，结账时输入券码
<strong>{{ coupon.code }}</strong>即可使用{% if coupon.expires_on %}（{{ coupon.expires_on }}前有效）{% endif %}。</p>{% endif %}
<p>您目前有 {{ member.points }} 积分。很高兴与您相遇！</p>""",
        ),
    },
    ("brand_story", "email"): {
        "en": Copy(
            "The story behind {{ brand }}",
            """<h1>Why we do what we do</h1>
<p>{{ brand }} started with a simple idea: good things, made with care, at a fair price. We work with a
small number of makers we know by name, and we test everything before it reaches you.</p>
<p>As a member you are part of that story. Tell us what you love and what we could do better: just reply
to this email, a real person reads every answer.</p>""",
        ),
        "zh-CN": Copy(
            "{{ brand }}的故事",
            """<h1>我们为什么这样做</h1>
<p>{{ brand }}源于一个简单的想法：用心做好东西，价格公道。我们只与少数熟悉的匠人合作，每件商品都经过我们亲自检验才送到您手中。</p>
<p>作为会员，您也是这个故事的一部分。喜欢什么、希望我们改进什么，直接回复这封邮件告诉我们，每一条回复都有专人阅读。</p>""",
        ),
    },
    ("purchase_thanks", "email"): {
        "en": Copy(
            "Thank you for your first order",
            """<h1>Thank you{% if member.name %}, {{ member.name }}{% endif %}!</h1>
<p>Your first order with {{ brand }} is on its way to becoming a habit, we hope. It also earned you points:
you now have <strong>{{ member.points }} points</strong> to spend on rewards.</p>
<p>In a week we will send you a few tips to get the most out of what you bought.</p>""",
        ),
        "zh-CN": Copy(
            "感谢您的首次购买",
            """<h1>{{ member.name or "亲爱的会员" }}，感谢您的支持！</h1>
<p>感谢您在{{ brand }}完成首单。本次消费已为您累积积分，您现在共有<strong>{{ member.points }}</strong>积分，可用于兑换礼品。</p>
<p>一周后，我们会为您送上一些实用的使用小贴士。</p>""",
        ),
    },
    ("care_tips", "email"): {
        "en": Copy(
            "Making the most of your purchase",
            """<h1>A few tips from us</h1>
<p>Good things last longer with a little care: keep them away from direct sun and damp, follow the care
label, and store them clean and dry.</p>
<p>Questions about your order? Reply to this email and we will help.</p>""",
        ),
        "zh-CN": Copy(
            "让您的商品用得更久",
            """<h1>几条实用小贴士</h1>
<p>好东西需要一点点呵护：避免阳光直射和潮湿，按照洗护标签打理，清洁干燥后再收纳。</p>
<p>对订单有任何疑问？直接回复这封邮件，我们随时为您解答。</p>""",
        ),
    },
    ("cross_sell", "email"): {
        "en": Copy(
            "Picked for you{% if member.name %}, {{ member.name }}{% endif %}",
            """<h1>You might also like</h1>
<p>Members who bought what you bought often come back for our seasonal favourites. Have a look at what is
new this month.</p>
<p>You have <strong>{{ member.points }} points</strong>: see which rewards they already unlock.</p>""",
        ),
        "zh-CN": Copy(
            "为您精选{% if member.name %}，{{ member.name }}{% endif %}",
            """<h1>您可能也会喜欢</h1>
<p>和您购买了同款商品的会员，常常还会选购我们的当季好物。来看看本月上新吧。</p>
<p>您现在有<strong>{{ member.points }}</strong>积分，看看已经可以兑换哪些礼品。</p>""",
        ),
    },
    ("we_miss_you", "email"): {
        "en": Copy(
            "We miss you{% if member.name %}, {{ member.name }}{% endif %}",
            """<h1>It has been a while</h1>
<p>We have not seen you at {{ brand }} for some time, and a lot is new since your last visit.</p>
{% if coupon %}<p>Come back and take <strong>{{ coupon.discount }} off</strong> with code
<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}, valid until {{ coupon.expires_on }}{% endif %}.</p>{% endif %}
<p>Your {{ member.points }} points are still waiting for you.</p>""",
        ),
        "zh-CN": Copy(
            "{{ member.name or '亲爱的会员' }}，好久不见",
            """<h1>好久不见，甚是想念</h1>
<p>您已经有一段时间没有光临{{ brand }}了，这段时间我们上新了不少好物。</p>
{% if coupon %}<p>特别为您准备了<strong>{{ coupon.discount_zh }}</strong>优惠券，券码<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}，{{ coupon.expires_on }}前有效{% endif %}。</p>{% endif %}
<p>您的 {{ member.points }} 积分还在等您使用。</p>""",
        ),
    },
    ("win_back_stronger", "email"): {
        "en": Copy(
            "Our best offer, just for you",
            """<h1>One more reason to come back</h1>
<p>We would really like to see you again{% if member.name %}, {{ member.name }}{% endif %}.</p>
{% if coupon %}<p>Here is <strong>{{ coupon.discount }} off</strong> your next order with code
<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}. It expires on {{ coupon.expires_on }}, so do not
wait too long{% endif %}.</p>{% endif %}
<p>If something did not go right last time, reply and tell us: we will make it right.</p>""",
        ),
        "zh-CN": Copy(
            "专属于您的回归礼",
            """<h1>再给我们一次机会</h1>
<p>{{ member.name or "亲爱的会员" }}，我们真的很希望再次见到您。</p>
{% if coupon %}<p>送您下单<strong>{{ coupon.discount_zh }}</strong>优惠，券码<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}，{{ coupon.expires_on }}到期，请尽早使用{% endif %}。</p>{% endif %}
<p>如果上次的购物体验有不满意的地方，请回复告诉我们，我们一定改进。</p>""",
        ),
    },
    ("tier_upgrade", "email"): {
        "en": Copy(
            "Congratulations: you are now {{ member.tier_name }}",
            """<h1>Welcome to {{ member.tier_name }}!</h1>
<p>Thank you for your loyalty{% if member.name %}, {{ member.name }}{% endif %}. Your purchases have moved
you up to <strong>{{ member.tier_name }}</strong>: you now earn points faster and enjoy the benefits that
come with it.</p>
{% if coupon %}<p>To celebrate, here is <strong>{{ coupon.discount }} off</strong> with code
<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %} (valid until {{ coupon.expires_on }}){% endif %}.</p>{% endif %}""",
        ),
        "zh-CN": Copy(
            "恭喜您升级为{{ member.tier_name }}",
            """<h1>欢迎成为{{ member.tier_name }}！</h1>
<p>{{ member.name or "亲爱的会员" }}，感谢您一直以来的支持。您已升级为<strong>{{ member.tier_name }}</strong>，积分累积更快，更多专属礼遇等您享受。</p>
{% if coupon %}<p>为庆祝升级，送您<strong>{{ coupon.discount_zh }}</strong>优惠券，券码<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}（{{ coupon.expires_on }}前有效）{% endif %}。</p>{% endif %}""",
        ),
    },
    ("tier_at_risk", "email"): {
        "en": Copy(
            "Keep your {{ tier_review.tier_name }} status",
            """<h1>Your {{ tier_review.tier_name }} status is up for review</h1>
<p>{% if member.name %}{{ member.name }}, y{% else %}Y{% endif %}our tier is reviewed on {{ tier_review.review_on }}.
To stay <strong>{{ tier_review.tier_name }}</strong>, you need <strong>{{ tier_review.amount_needed }}</strong> more
before then; otherwise you will move to {{ tier_review.would_become_name }}.</p>
<p>Thank you for being with {{ brand }}: we would love to keep you where you are.</p>""",
        ),
        "zh-CN": Copy(
            "保级提醒：保持您的{{ tier_review.tier_name }}等级",
            """<h1>您的{{ tier_review.tier_name }}等级即将复核</h1>
<p>{{ member.name or "亲爱的会员" }}，您的会员等级将于{{ tier_review.review_on }}复核。在此之前再累计<strong>{{ tier_review.amount_needed }}</strong>，即可保持<strong>{{ tier_review.tier_name }}</strong>；否则将调整为{{ tier_review.would_become_name }}。</p>
<p>感谢您对{{ brand }}的支持，期待您继续享受现有礼遇。</p>""",
        ),
    },
    ("birthday", "email"): {
        "en": Copy(
            "Happy birthday{% if member.name %}, {{ member.name }}{% endif %}!",
            """<h1>Happy birthday!</h1>
<p>Everyone at {{ brand }} wishes you a wonderful day{% if member.name %}, {{ member.name }}{% endif %}.</p>
{% if coupon %}<p>Our gift to you: <strong>{{ coupon.discount }} off</strong> with code
<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}, valid until {{ coupon.expires_on }}{% endif %}.
Treat yourself.</p>{% endif %}""",
        ),
        "zh-CN": Copy(
            "{{ member.name or '亲爱的会员' }}，生日快乐！",
            """<h1>生日快乐！</h1>
<p>{{ brand }}全体同仁祝{{ member.name or "您" }}生日快乐，天天开心！</p>
{% if coupon %}<p>送上生日礼物：<strong>{{ coupon.discount_zh }}</strong>优惠券，券码<strong>{{ coupon.code }}</strong>{% if coupon.expires_on %}，{{ coupon.expires_on }}前有效{% endif %}。好好犒劳一下自己吧！</p>{% endif %}""",
        ),
    },
    ("first_purchase_reminder", "sms"): {
        "en": Copy(
            None,
            "{{ brand }}: {{ member.name or 'Hi' }}, your welcome offer is still waiting. "
            "{% if coupon %}Code {{ coupon.code }}. {% endif %}Reply STOP to opt out.",
        ),
        "zh-CN": Copy(
            None,
            "【{{ brand }}】{{ member.name or '亲爱的会员' }}，您的新人礼还没有使用哦。"
            "{% if coupon %}券码{{ coupon.code }}。{% endif %}回复TD退订",
        ),
    },
    ("cart_reminder", "sms"): {
        "en": Copy(
            None,
            "{{ brand }}: you left something in your cart. "
            "{% if coupon %}Take {{ coupon.discount }} off with {{ coupon.code }}"
            "{% if coupon.expires_on %} until {{ coupon.expires_on }}{% endif %}. {% endif %}Reply STOP to opt out.",
        ),
        "zh-CN": Copy(
            None,
            "【{{ brand }}】您的购物车里还有心仪的商品。"
            "{% if coupon %}使用券码{{ coupon.code }}{{ coupon.discount_zh }}"
            "{% if coupon.expires_on %}，{{ coupon.expires_on }}前有效{% endif %}。{% endif %}回复TD退订",
        ),
    },
    # Transactional: redemptions. `data` carries reward_name, points, redemption_id (and reason, tracking).
    ("redemption_pending", "email"): {
        "en": Copy(
            "We received your redemption request",
            """<h1>Your request is being reviewed</h1>
<p>You asked to redeem <strong>{{ data.reward_name | default("a reward") }}</strong>
{% if data.points is defined %}for {{ data.points }} points{% endif %}. We have set these points aside while
our team reviews the request; you will hear from us within two days.</p>
{% if data.redemption_id is defined %}<p>Reference: {{ data.redemption_id }}</p>{% endif %}""",
        ),
        "zh-CN": Copy(
            "我们已收到您的兑换申请",
            """<h1>您的兑换申请正在审核中</h1>
<p>您申请兑换<strong>{{ data.reward_name | default("礼品") }}</strong>{% if data.points is defined %}（{{ data.points }}积分）{% endif %}。审核期间这部分积分将暂时冻结，我们会在两天内给您答复。</p>
{% if data.redemption_id is defined %}<p>申请编号：{{ data.redemption_id }}</p>{% endif %}""",
        ),
    },
    ("redemption_approved", "email"): {
        "en": Copy(
            "Your redemption is approved",
            """<h1>Good news: approved</h1>
<p>Your redemption of <strong>{{ data.reward_name | default("your reward") }}</strong> has been approved
{% if data.points is defined %}and {{ data.points }} points have been deducted{% endif %}. We are preparing it
now and will let you know when it ships.</p>
{% if data.redemption_id is defined %}<p>Reference: {{ data.redemption_id }}</p>{% endif %}""",
        ),
        "zh-CN": Copy(
            "您的兑换申请已通过",
            """<h1>好消息：审核通过</h1>
<p>您兑换<strong>{{ data.reward_name | default("礼品") }}</strong>的申请已通过审核{% if data.points is defined %}，已扣除{{ data.points }}积分{% endif %}。我们正在为您备货，发货后会第一时间通知您。</p>
{% if data.redemption_id is defined %}<p>申请编号：{{ data.redemption_id }}</p>{% endif %}""",
        ),
    },
    ("redemption_rejected", "email"): {
        "en": Copy(
            "About your redemption request",
            """<h1>We could not approve this request</h1>
<p>We are sorry: your redemption of <strong>{{ data.reward_name | default("a reward") }}</strong> was not
approved{% if data.reason is defined %} ({{ data.reason }}){% endif %}. The points we set aside are back in your
account, ready to use.</p>
<p>Questions? Reply to this email and we will explain.</p>""",
        ),
        "zh-CN": Copy(
            "关于您的兑换申请",
            """<h1>很抱歉，申请未通过</h1>
<p>您兑换<strong>{{ data.reward_name | default("礼品") }}</strong>的申请未能通过审核{% if data.reason is defined %}（{{ data.reason }}）{% endif %}。冻结的积分已全部退回您的账户，可随时使用。</p>
<p>如有疑问，请直接回复这封邮件。</p>""",
        ),
    },
    ("redemption_expired", "email"): {
        "en": Copy(
            "Your redemption request has expired",
            """<h1>Your request timed out</h1>
<p>We could not review your redemption of <strong>{{ data.reward_name | default("a reward") }}</strong> in
time, so the request has expired. Your points have been released and are available again; you are welcome to
ask again.</p>""",
        ),
        "zh-CN": Copy(
            "您的兑换申请已过期",
            """<h1>兑换申请已过期</h1>
<p>很抱歉，您兑换<strong>{{ data.reward_name | default("礼品") }}</strong>的申请未能及时处理，现已过期。冻结的积分已释放，您可以重新提交申请。</p>""",
        ),
    },
    ("redemption_shipped", "email"): {
        "en": Copy(
            "Your reward is on its way",
            """<h1>It has shipped!</h1>
<p><strong>{{ data.reward_name | default("Your reward") }}</strong> is on its way to you.
{% if data.tracking_number is defined %}Tracking number: <strong>{{ data.tracking_number }}</strong>.{% endif %}</p>
<p>Enjoy it, and thank you for being a member of {{ brand }}.</p>""",
        ),
        "zh-CN": Copy(
            "您兑换的礼品已发货",
            """<h1>礼品已发货！</h1>
<p>您兑换的<strong>{{ data.reward_name | default("礼品") }}</strong>已经发出。{% if data.tracking_number is defined %}运单号：<strong>{{ data.tracking_number }}</strong>。{% endif %}</p>
<p>感谢您对{{ brand }}的支持，祝您使用愉快！</p>""",
        ),
    },
    # Transactional: a service ticket opened. `data` carries ticket_ref, priority, first_response_hours and
    # resolution_hours (from the SLA of its priority); never the ticket's own text.
    ("ticket_confirmation", "email"): {
        "en": Copy(
            "We received your request (ref. {{ data.ticket_ref | default('') }})",
            """<h1>Thank you, we are on it</h1>
<p>We received your request{% if data.ticket_ref is defined %} and gave it the reference
<strong>{{ data.ticket_ref }}</strong>{% endif %}.{% if data.first_response_hours is defined %} A member of our
team will reply within {{ data.first_response_hours }} hours{% if data.resolution_hours is defined %}, and we
aim to resolve it within {{ data.resolution_hours }} hours{% endif %}.{% endif %}</p>
<p>Reply to this email if there is anything you would like to add.</p>""",
        ),
        "zh-CN": Copy(
            "我们已收到您的服务请求（编号 {{ data.ticket_ref | default('') }}）",
            """<h1>感谢您的反馈，我们正在处理</h1>
<p>我们已收到您的服务请求{% if data.ticket_ref is defined %}，编号为<strong>{{ data.ticket_ref }}</strong>{% endif %}。{% if data.first_response_hours is defined %}我们的客服将在{{ data.first_response_hours }}小时内回复您{% if data.resolution_hours is defined %}，并力争在{{ data.resolution_hours }}小时内为您解决{% endif %}。{% endif %}</p>
<p>如需补充信息，请直接回复这封邮件。</p>""",
        ),
    },
    # Transactional: a portal sign-in code (`sign_in_code`, derived by the send activity; masked in the log).
    ("portal_sign_in_code", "email"): {
        "en": Copy(
            "Your {{ brand }} sign-in code: {{ sign_in_code }}",
            """<h1>Your sign-in code</h1>
<p>Enter this code on the {{ brand }} member page to sign in:</p>
<p style="font-size:28px;letter-spacing:6px;"><strong>{{ sign_in_code }}</strong></p>
<p>It works once, for a few minutes. If you did not ask for it, you can ignore this email: nobody can sign in
without the code.</p>""",
        ),
        "zh-CN": Copy(
            "您的{{ brand }}登录验证码：{{ sign_in_code }}",
            """<h1>登录验证码</h1>
<p>请在{{ brand }}会员页面输入以下验证码登录：</p>
<p style="font-size:28px;letter-spacing:6px;"><strong>{{ sign_in_code }}</strong></p>
<p>验证码仅可使用一次，几分钟内有效。如果这不是您本人的操作，请忽略此邮件：没有验证码，任何人都无法登录。</p>""",
        ),
    },
    ("portal_sign_in_code", "sms"): {
        "en": Copy(
            None, "{{ brand }}: your sign-in code is {{ sign_in_code }}. It expires in a few minutes; never share it."
        ),
        "zh-CN": Copy(None, "【{{ brand }}】您的登录验证码为{{ sign_in_code }}，几分钟内有效，请勿告诉他人。"),
    },
    # Transactional, to approvers (staff): a redemption waits for a decision.
    ("approval_request", "email"): {
        "en": Copy(
            "Approval needed: {{ data.reward_name | default('a redemption') }}",
            """<h1>A redemption needs your decision</h1>
<p>A {{ member.tier_name }} member asked to redeem <strong>{{ data.reward_name | default("a reward") }}</strong>
{% if data.points is defined %}for {{ data.points }} points{% endif %}, above the approval threshold.</p>
<p>Approve or reject it in the approver inbox{% if data.deadline is defined %} before {{ data.deadline }}{% endif %};
without a decision it is escalated, then expires.</p>
{% if data.redemption_id is defined %}<p>Redemption: {{ data.redemption_id }}</p>{% endif %}""",
        ),
        "zh-CN": Copy(
            "待审批：{{ data.reward_name | default('积分兑换') }}",
            """<h1>有一笔兑换等待您审批</h1>
<p>一位{{ member.tier_name }}会员申请兑换<strong>{{ data.reward_name | default("礼品") }}</strong>{% if data.points is defined %}（{{ data.points }}积分）{% endif %}，超过了审批门槛。</p>
<p>请在审批收件箱中批准或驳回{% if data.deadline is defined %}（截止 {{ data.deadline }}）{% endif %}；逾期未处理将升级，随后自动过期。</p>
{% if data.redemption_id is defined %}<p>兑换编号：{{ data.redemption_id }}</p>{% endif %}""",
        ),
    },
    # Transactional: a survey invitation. `survey_link` is the send's signed answer page (derived by the send
    # activity from `data.survey_send_id`, an id); `survey_title` is the survey's title in the member's language.
    ("survey_invite", "email"): {
        "en": Copy(
            "{{ survey_title | default('How did we do?') }}",
            """<h1>{{ survey_title | default("How did we do?") }}</h1>
<p>We would like to hear how it went. It takes less than a minute:</p>
<p><a href="{{ survey_link }}" style="font-weight:bold;">Answer the survey</a></p>
<p>The link is yours alone and works once. Thank you for helping {{ brand }} get better.</p>""",
        ),
        "zh-CN": Copy(
            "{{ survey_title | default('请您评价我们的服务') }}",
            """<h1>{{ survey_title | default("请您评价我们的服务") }}</h1>
<p>我们很想知道您的体验如何，只需不到一分钟：</p>
<p><a href="{{ survey_link }}" style="font-weight:bold;">填写问卷</a></p>
<p>此链接仅供您本人使用，且只能提交一次。感谢您帮助{{ brand }}做得更好。</p>""",
        ),
    },
    ("survey_invite", "sms"): {
        "en": Copy(None, "{{ brand }}: how did we do? Tell us in a minute: {{ survey_link }}"),
        "zh-CN": Copy(None, "【{{ brand }}】请花一分钟评价我们的服务：{{ survey_link }}"),
    },
}
