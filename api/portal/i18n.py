"""The portal's words in English and Simplified Chinese, and which of the two a request gets: the language the
member switched to (a cookie), else the member's locale, else the browser's Accept-Language, else English."""

from __future__ import annotations

from fastapi import Request

LANG_COOKIE = "mf_portal_lang"
LOCALES = ("en", "zh-CN")

# ruff: noqa: E501
STRINGS: dict[str, tuple[str, str]] = {
    "home": ("Home", "首页"),
    "points": ("Points", "积分"),
    "wallet": ("Wallet", "卡券"),
    "preferences": ("Preferences", "偏好设置"),
    "sign_in": ("Sign in", "登录"),
    "sign_out": ("Sign out", "退出登录"),
    "sign_in_title": ("Sign in to your membership", "登录会员中心"),
    "sign_in_intro": (
        "Enter the email address or mobile number you gave us. We will send you a 6-digit code.",
        "请输入您注册时使用的邮箱或手机号，我们会向您发送6位验证码。",
    ),
    "address_label": ("Email or mobile number", "邮箱或手机号"),
    "send_code": ("Send code", "发送验证码"),
    "code_title": ("Enter your code", "输入验证码"),
    "code_sent": (
        "If this address belongs to a member, we have sent a 6-digit code to it. It is valid for {minutes} minutes.",
        "如果该地址属于会员，我们已向其发送6位验证码，{minutes}分钟内有效。",
    ),
    "code_label": ("6-digit code", "6位验证码"),
    "verify": ("Sign in", "登录"),
    "new_code": ("Ask for a new code", "重新获取验证码"),
    "invalid_address": ("Enter your email address or your mobile number.", "请输入邮箱或手机号。"),
    "invalid_code": ("Enter the 6-digit code from the message.", "请输入消息中的6位验证码。"),
    "code_wrong": ("That code is not right. {left} tries left.", "验证码不正确，还可尝试{left}次。"),
    "code_expired": ("This code has expired. Ask for a new one.", "验证码已过期，请重新获取。"),
    "code_used": ("This code was already used. Ask for a new one.", "验证码已使用，请重新获取。"),
    "code_attempts_exhausted": ("Too many wrong codes. Ask for a new one.", "错误次数过多，请重新获取验证码。"),
    "too_many_code_requests": (
        "Too many codes were asked for. Wait {minutes} minutes and try again.",
        "获取验证码过于频繁，请{minutes}分钟后再试。",
    ),
    "not_configured": (
        "Sign-in is not available yet: the service has no signing key.",
        "暂时无法登录：服务尚未配置签名密钥。",
    ),
    "invalid_link": (
        "This link is not valid. Open the whole link from the message, or sign in with a code.",
        "链接无效。请打开消息中的完整链接，或使用验证码登录。",
    ),
    "link_expired": ("This link has expired. Sign in with a code instead.", "链接已过期，请使用验证码登录。"),
    "link_title": ("This link does not work", "链接无法使用"),
    "not_found": ("There is nothing here.", "页面不存在。"),
    "signed_out": ("You are signed out.", "您已退出登录。"),
    "hello": ("Hello, {name}", "{name}，您好"),
    "hello_anon": ("Hello", "您好"),
    "tier": ("Tier", "会员等级"),
    "to_next": ("Spend more than {amount} to reach {tier}", "再消费超过{amount}即可升级为{tier}"),
    "top_tier": ("You are at the top tier. Thank you!", "您已是最高等级会员，感谢支持！"),
    "available_points": ("Available points", "可用积分"),
    "expires_next": ("{points} points expire on {date}", "{points}积分将于{date}过期"),
    "no_expiry": ("No points are due to expire.", "暂无即将过期的积分。"),
    "expiries_title": ("When your points expire", "积分过期时间"),
    "expiries_total": ("{points} points in all", "共{points}积分"),
    "expiries_more": ("and {dates} more dates: {points} points", "另有{dates}个日期：{points}积分"),
    "expiries_all": ("Every expiry date", "查看全部过期日期"),
    "expires_on": ("Expires on", "过期日期"),
    "points_column": ("Points", "积分"),
    "recent_activity": ("Recent activity", "最近动态"),
    "no_activity": ("Nothing yet: your points will show here.", "暂无记录，积分变动会显示在这里。"),
    "all_points": ("All points history", "查看全部积分记录"),
    "history_title": ("Points history", "积分记录"),
    "older": ("Older", "更早"),
    "newest": ("Newest", "最新"),
    "pending": ("pending", "处理中"),
    "kind_earn": ("Points earned", "获得积分"),
    "kind_spend": ("Points spent", "使用积分"),
    "kind_refund": ("Returned with a refund", "退款扣回"),
    "kind_expire": ("Points expired", "积分过期"),
    "kind_adjust": ("Adjustment", "积分调整"),
    "kind_hold": ("Reserved for a redemption", "兑换冻结"),
    "kind_post": ("Redeemed", "兑换完成"),
    "kind_void": ("Reservation released", "冻结释放"),
    "wallet_title": ("Coupon wallet", "我的卡券"),
    "no_coupons": ("No coupons yet.", "暂无卡券。"),
    "off": ("{discount} off", "{discount}优惠"),
    "valid_until": ("Valid until {date}", "有效期至{date}"),
    "status_issued": ("Ready to use", "可使用"),
    "status_redeemed": ("Used", "已使用"),
    "status_expired": ("Expired", "已过期"),
    "show_at_till": ("Show this code at the till", "结账时出示此码"),
    "back_to_wallet": ("Back to the wallet", "返回卡券"),
    "preferences_title": ("Messages we may send you", "消息偏好"),
    "consent_email": ("Offers and news by email", "通过邮件接收优惠和资讯"),
    "consent_sms": ("Offers and news by text message", "通过短信接收优惠和资讯"),
    "service_note": (
        "Service messages about your account (sign-in codes, redemptions) are sent whatever you choose here.",
        "账户服务消息（如登录验证码、兑换通知）不受此设置影响。",
    ),
    "save": ("Save", "保存"),
    "saved": ("Your preferences are saved.", "偏好已保存。"),
    "unsubscribe_centre": ("Unsubscribe from all marketing email", "退订所有营销邮件"),
    "form_expired": (
        "This form expired: go back, reload the page and try again.",
        "表单已过期，请返回并刷新页面后重试。",
    ),
    # Survey answer pages (/portal/s/{token}, api/portal/surveys.py).
    "survey_not_likely": ("Not likely", "不太可能"),
    "survey_very_likely": ("Very likely", "非常可能"),
    "survey_unsatisfied": ("Very unsatisfied", "非常不满意"),
    "survey_satisfied": ("Very satisfied", "非常满意"),
    "survey_comment": ("What is the main reason for your score?", "您给出这个评分的主要原因是什么？"),
    "survey_required": ("required", "必填"),
    "survey_optional": ("optional", "选填"),
    "survey_yes": ("Yes", "是"),
    "survey_no": ("No", "否"),
    "survey_send": ("Send my answer", "提交"),
    "survey_fix": ("Please check the answers marked below.", "请检查下方标出的回答。"),
    "survey_thanks_title": ("Thank you!", "感谢您的反馈！"),
    "survey_thanks": ("Your answer is saved. It helps us get better.", "您的回答已保存，这将帮助我们做得更好。"),
    "survey_answered_title": ("Already answered", "已提交过"),
    "survey_answered": (
        "This survey was already answered, and the first answer is kept. Thank you!",
        "此问卷已提交过，我们保留了第一次的回答。谢谢！",
    ),
    "survey_link_title": ("This survey link does not work", "问卷链接无法使用"),
    "survey_invalid_link": (
        "This link is not valid. Open the whole link from the message we sent you.",
        "链接无效。请打开我们发给您的消息中的完整链接。",
    ),
    "survey_link_expired": (
        "This survey has closed: its link has expired. Thank you all the same.",
        "问卷已截止：链接已过期。仍然感谢您的支持。",
    ),
    "survey_closed": ("This survey is no longer open. Thank you all the same.", "此问卷已停止收集。仍然感谢您的支持。"),
    "problem_required": ("Please answer this question.", "请回答此问题。"),
    "problem_score_required": ("Choose a score from {min} to {max}.", "请选择{min}到{max}之间的评分。"),
    "problem_score_range": ("The score is a whole number from {min} to {max}.", "评分须为{min}到{max}之间的整数。"),
    "problem_too_long": ("Please keep it under {max} characters.", "请控制在{max}个字符以内。"),
    "problem_text": ("Please write your answer as text.", "请输入文字回答。"),
    "problem_number": ("Enter a number, such as 3 or 4.5.", "请输入数字，例如3或4.5。"),
    "problem_date": ("Enter a date as YYYY-MM-DD.", "请按 年-月-日（YYYY-MM-DD）格式输入日期。"),
    "problem_boolean": ("Choose yes or no.", "请选择是或否。"),
    "problem_option": ("Choose from the options given.", "请从给出的选项中选择。"),
    "language": ("中文", "English"),
    "rewards": ("Rewards", "兑换"),
    "catalog_title": ("Reward catalog", "积分商城"),
    "you_have": ("You have {points} points to spend", "您有{points}积分可用"),
    "cost": ("{points} points", "{points}积分"),
    "missing": ("{points} more points needed", "还差{points}积分"),
    "redeem": ("Redeem", "立即兑换"),
    "needs_review": ("Reviewed before it is sent", "兑换需审核"),
    "sold_out": ("Out of stock", "已兑完"),
    "no_rewards": ("No rewards yet.", "暂无可兑换的奖励。"),
    "my_redemptions": ("Your redemptions", "我的兑换"),
    "redemption_title": ("Your redemption", "兑换详情"),
    "r_completed": ("Redeemed: {points} points spent.", "兑换成功：已使用{points}积分。"),
    "r_pending": (
        "Under review: {points} points are reserved until it is decided.",
        "审核中：{points}积分已冻结，审核后处理。",
    ),
    "r_cancelled": ("Withdrawn: your {points} points are available again.", "已撤回：{points}积分已退回。"),
    "rstatus_completed": ("Redeemed", "已兑换"),
    "rstatus_pending_approval": ("Under review", "审核中"),
    "rstatus_approved": ("Approved", "已批准"),
    "rstatus_fulfilling": ("Approved, on its way", "已批准，配送中"),
    "rstatus_fulfilled": ("Sent", "已发货"),
    "rstatus_rejected": ("Not approved", "未通过"),
    "rstatus_expired": ("Expired", "已过期"),
    "rstatus_cancelled": ("Withdrawn", "已撤回"),
    "withdraw": ("Withdraw", "撤回兑换"),
    "insufficient_points": ("You do not have enough points for this reward.", "积分不足，无法兑换此奖励。"),
    "reward_gone": ("This reward is no longer available.", "该奖励已下架。"),
    "reward_sold_out": ("This reward is out of stock.", "该奖励已兑完。"),
    "form_used": ("This form was already sent for another reward: reload the page.", "此表单已提交过，请刷新页面。"),
    "already_decided": ("This redemption was already decided.", "该兑换已处理，无法撤回。"),
    "check_in": ("Check in", "签到"),
    "check_in_title": ("Daily check-in", "每日签到"),
    "streak": ("{days}-day streak", "已连续签到{days}天"),
    "check_in_rules": (
        "Check in every day for {points} points; every {every} days in a row earn {bonus} more.",
        "每日签到得{points}积分，每连续签到{every}天再奖励{bonus}积分。",
    ),
    "days_to_bonus": ("{days} more check-ins to the streak bonus.", "再签到{days}天可获得连续签到奖励。"),
    "checked_in": ("Checked in: +{points} points.", "签到成功：+{points}积分。"),
    "streak_bonus": ("Streak bonus: +{points} points!", "连续签到奖励：+{points}积分！"),
    "already_checked_in": ("You have already checked in today. Come back tomorrow!", "今天已签到，明天再来吧！"),
    "checked_in_today": ("You have checked in today.", "今天已签到。"),
    "challenges": ("Challenges", "挑战"),
    "challenges_title": ("Challenges and badges", "挑战与徽章"),
    "challenges_current": ("In progress", "进行中"),
    "challenges_done": ("Finished", "已结束"),
    "challenges_none": ("No challenge in progress.", "暂无进行中的挑战。"),
    "challenges_join_title": ("Join a challenge", "参加挑战"),
    "challenge_join": ("Join", "参加"),
    "challenge_closed": ("This challenge cannot be joined now.", "该挑战现在无法参加。"),
    "challenge_until": ("until {date}", "截止{date}"),
    "challenge_reward": ("Reward: {points} points", "奖励：{points}积分"),
    "challenge_completed": ("Completed", "已完成"),
    "challenge_failed": ("Not completed in time", "未按时完成"),
    "badges": ("Your badges", "我的徽章"),
    "badges_none": ("Complete a challenge to earn your first badge.", "完成挑战即可获得第一枚徽章。"),
    "goal_profile_completed": ("Complete your profile", "完善个人资料"),
    "goal_order_count": ("Orders: {value} of {target}", "订单：{value}/{target}"),
    "goal_spend": ("Spent: {value} of {target}", "消费：{value}/{target}"),
    "goal_checkin_days": ("Check-in days: {value} of {target}", "签到天数：{value}/{target}"),
    "goal_checkin_streak": ("Days in a row: {value} of {target}", "连续签到：{value}/{target}天"),
    "profile": ("Profile", "资料"),
    "profile_title": ("Your profile", "个人资料"),
    "profile_intro": (
        "Fill in every required field to earn {points} points (once).",
        "填写所有必填项即可获得{points}积分（仅一次）。",
    ),
    "required": ("required", "必填"),
    "optional": ("optional", "选填"),
    "yes": ("Yes", "是"),
    "no": ("No", "否"),
    "choose": ("Choose…", "请选择…"),
    "profile_saved": ("Your profile is saved.", "资料已保存。"),
    "profile_points": ("Profile complete: +{points} points.", "资料已完善：+{points}积分。"),
    "profile_complete": ("Your profile is complete.", "您的资料已完善。"),
    "fix_fields": ("Some fields need a look: see below.", "部分内容需要修改，请查看下方提示。"),
    "field_required": ("This field is required.", "此项为必填。"),
    "bad_name": ("Enter your name (up to 200 characters).", "请输入姓名（最多200个字符）。"),
    "bad_birthday": ("Enter your birthday: a past date after 1900.", "请输入生日（1900年以后的过去日期）。"),
    "bad_email": ("Enter an email address such as lin@example.com.", "请输入有效的邮箱地址，例如 lin@example.com。"),
    "bad_phone": (
        "Enter a mobile number with its country code, such as +8613800138000.",
        "请输入带国家区号的手机号，例如 +8613800138000。",
    ),
    "bad_text": ("Enter some text (up to 1,000 characters).", "请输入文字（最多1000个字符）。"),
    "bad_number": ("Enter a number, such as 2 or 2.5.", "请输入数字，例如 2 或 2.5。"),
    "bad_date": ("Enter a date.", "请输入日期。"),
    "bad_boolean": ("Choose yes or no.", "请选择是或否。"),
    "bad_single_select": ("Choose one of the options.", "请从选项中选择一项。"),
    "bad_multi_select": ("Choose options from the list.", "请从列表中选择。"),
    "complete_profile": ("Complete your profile", "完善个人资料"),
    "join_title": ("Become a member", "注册会员"),
    "join_intro": (
        "Sign up with your email address. We will send you a code to sign in.",
        "使用邮箱注册，我们会发送验证码供您登录。",
    ),
    "email_label": ("Email address", "邮箱"),
    "name_label": ("Name (optional)", "姓名（选填）"),
    "phone_label": ("Mobile number (optional)", "手机号（选填）"),
    "join_button": ("Sign up", "注册"),
    "joining_with_code": ("You were invited by a friend (code {code}).", "您由好友邀请注册（邀请码 {code}）。"),
    "referral_code_unknown": (
        "You are signed up, but the invitation code was not recognised, so it was not applied.",
        "注册成功，但邀请码无效，未能使用。",
    ),
    "referral_self": (
        "You are signed up, but an invitation from your own account does not count.",
        "注册成功，但不能使用自己的邀请码。",
    ),
    "referral_contact_used": (
        "You are signed up, but this email or phone was already invited once, so the invitation was not applied.",
        "注册成功，但该邮箱或手机号已被邀请过，邀请未生效。",
    ),
    "referral_limit_reached": (
        "You are signed up, but your friend has invited the most people allowed this month.",
        "注册成功，但您的好友本月邀请人数已达上限。",
    ),
    "referral_programme_inactive": (
        "You are signed up; invitations are not being taken at the moment.",
        "注册成功，目前暂不接受邀请。",
    ),
    "invite_title": ("Invite friends", "邀请好友"),
    "invite_intro": (
        "Share your link or let a friend scan the code. When they join and their first order is kept, you both get a reward.",
        "分享您的链接或让好友扫码。好友注册且首单未退货后，您和好友都将获得奖励。",
    ),
    "invite_code": ("Your code: {code}", "您的邀请码：{code}"),
    "invite_count": ("Friends rewarded: {count}", "已获奖励的好友：{count}"),
    "have_account": ("Already a member? Sign in", "已是会员？登录"),
    "paid_plan": ("Your plan", "我的付费会员"),
    "plan_ends": ("Ends on {date}", "{date}到期"),
    "plan_points": ("×{n} points on every order", "每笔订单积分×{n}"),
    "plan_coupon": ("A coupon every month", "每月一张优惠券"),
    "plan_free_shipping": ("Free shipping", "免运费"),
}


def language_of(locale: str | None) -> str | None:
    """Our locale for a member's or a browser's tag: any Chinese reads zh-CN, any English en."""
    if not locale:
        return None
    lang = locale.strip().split("-", 1)[0].split("_", 1)[0].lower()
    return {"zh": "zh-CN", "en": "en"}.get(lang)


def _accepted(header: str) -> str | None:
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        found = language_of(tag)
        if found and quality > 0:
            weighted.append((-quality, index, found))
    return sorted(weighted)[0][2] if weighted else None


def choose(request: Request, member_locale: str | None = None) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    return language_of(member_locale) or _accepted(request.headers.get("accept-language", "")) or "en"


def translator(locale: str) -> Translate:
    return Translate(1 if locale == "zh-CN" else 0)


class Translate:
    """`t("key", name=...)` in templates: the locale's text, formatted."""

    def __init__(self, index: int) -> None:
        self._index = index

    def __call__(self, key: str, **values: object) -> str:
        text = STRINGS[key][self._index]
        return text.format(**values) if values else text
