"""The personal-data inventory: every column of every table, declared personal (with what erasure does to it)
or not personal (with why, for free text and JSON). Erasure and export (services.privacy) are built from it,
and tests/members/test_personal_data.py fails when a column of the live schema is missing here, or when this
names a column that no longer exists, so a new column cannot ship without a decision.

A table's `member` is the SQL condition that selects one member's rows (`:member_id` is the member's id);
tables whose rows are about no one member have none. The SQL below is fixed text written here, never input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Treatment(StrEnum):
    NULL = "null"  # set to NULL
    PSEUDONYMISE = "pseudonymise"  # replaced by a value derived from the member id alone
    REDACT = "redact"  # free text replaced by REDACTED, JSON emptied, flags reset
    DELETE = "delete"  # the member's rows are deleted
    RECORDS = "records"  # uploaded import records: the member's own records are cut out (services.privacy)


REDACTED = "[erased]"


@dataclass(frozen=True)
class Personal:
    treatment: Treatment
    why: str
    # The value erasure writes, as SQL, when not NULL / REDACTED (e.g. `false`, `'{}'`).
    value: str | None = None
    # Only rows matching this SQL condition are treated (besides the table's member condition).
    only: str | None = None


@dataclass(frozen=True)
class Table:
    member: str | None
    personal: Mapping[str, Personal] = field(default_factory=dict)
    # Not personal, with the reason where the column is free text or JSON (or could be mistaken for personal).
    explained: Mapping[str, str] = field(default_factory=dict)
    # Not personal and self-evidently so: ids, amounts, statuses, timestamps, flags.
    plain: tuple[str, ...] = ()

    @property
    def columns(self) -> set[str]:
        return {*self.personal, *self.explained, *self.plain}


def _plain(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_MEMBER = "member_id = :member_id"
_ACCOUNT = "account_id IN (SELECT id FROM ledger_accounts WHERE member_id = :member_id)"
_TRANSACTION = "transaction_id IN (SELECT id FROM ledger_transactions WHERE member_id = :member_id)"
_DEFINITION = "a definition written by staff for many members; conditions name values, not a person"
_STAFF = "names a staff API key, not a member"
_STAFF_PERSON = "names a member of staff (an assignee, a queue's lead), not a member"
_ERROR = "a system error message; workflow and provider errors carry ids only"
# Behaviour events whose properties the shop fills freely (services.intake.events.EventType); the events the
# system records itself (orders, tiers) hold ids and amounts only.
SHOP_EVENT_TYPES = ("signed_up", "checked_in", "profile_completed", "review_posted", "shared", "cart_abandoned")

INVENTORY: dict[str, Table] = {
    "members": Table(
        member="id = :member_id",
        personal={
            "external_id": Personal(
                Treatment.PSEUDONYMISE, "the brand's customer id links back to the person", "'erased:' || id::text"
            ),
            "name": Personal(Treatment.NULL, "identifies the person"),
            "email": Personal(Treatment.NULL, "identifies the person"),
            "phone": Personal(Treatment.NULL, "identifies the person"),
            "birthday": Personal(Treatment.NULL, "describes the person"),
            "tags": Personal(Treatment.REDACT, "flags set about the person", "'{}'"),
            "attributes": Personal(
                Treatment.REDACT,
                "custom field values; the ones whose field is personal (or no longer defined) go",
                "(SELECT coalesce(jsonb_object_agg(a.key, a.value), '{}'::jsonb) FROM jsonb_each(attributes) a "
                "WHERE a.key = ANY(CAST(:kept_fields AS text[])))",
            ),
            "consent_email": Personal(Treatment.REDACT, "withdrawn with the person", "false"),
            "consent_sms": Personal(Treatment.REDACT, "withdrawn with the person", "false"),
            "consent_email_source": Personal(Treatment.REDACT, "where consent came from", "'erasure'"),
            "consent_sms_source": Personal(Treatment.REDACT, "where consent came from", "'erasure'"),
            "consent_email_at": Personal(Treatment.REDACT, "when consent changed", "now()"),
            "consent_sms_at": Personal(Treatment.REDACT, "when consent changed", "now()"),
        },
        explained={
            "timezone": "a coarse zone shared by millions, kept for time-of-day KPIs",
            "locale": "a language tag, kept for KPIs",
            "erased_at": "the erasure marker itself",
            "source": "the channel or store code of the registration link the member signed up from (shared by "
            "everyone who used it), kept for KPIs and segments",
        },
        plain=_plain(
            "id tier tier_since lifetime_spend order_count last_purchase_at challenges_until created_at updated_at"
        ),
    ),
    "member_events": Table(
        member=_MEMBER,
        personal={
            "properties": Personal(
                Treatment.REDACT,
                "what the shop sent with a behaviour event (review text, device, ...)",
                "'{}'::jsonb",
                only="type = ANY(CAST(:shop_event_types AS text[]))",
            ),
        },
        explained={"idempotency_key": "the shop's event id or our order id"},
        plain=_plain("id member_id type occurred_at created_at"),
    ),
    "messages": Table(
        member=_MEMBER,
        personal={
            "subject": Personal(Treatment.REDACT, "rendered with the member's name and details"),
            "body": Personal(Treatment.REDACT, "rendered with the member's name and details"),
            "reason": Personal(Treatment.REDACT, "a provider's refusal may quote the address"),
        },
        explained={
            "message_key": "workflow id, run id and step id",
            "provider_message_id": "the provider's opaque id",
            "claimed_by": "the send attempt's workflow run, activity id and attempt",
        },
        plain=_plain(
            "id member_id channel template locale category journey_kind campaign_id status provider "
            "created_at sent_at updated_at"
        ),
    ),
    "staff_tasks": Table(
        member=_MEMBER,
        personal={"title": Personal(Treatment.REDACT, "a note for staff about the person")},
        explained={"done_by": _STAFF, "assignee": _STAFF_PERSON, "source_key": "the step or ticket that made it"},
        plain=_plain("id member_id assignee_role status due_at created_at done_at"),
    ),
    "approvals": Table(
        member=_MEMBER,
        personal={"reason": Personal(Treatment.REDACT, "an approver's free text about the request")},
        explained={"requested_by": _STAFF, "decided_by": _STAFF},
        plain=_plain(
            "id redemption_id member_id points status escalated requested_by_key decided_at escalate_at "
            "expires_at created_at"
        ),
    ),
    "redemptions": Table(
        member=_MEMBER,
        personal={
            "reason": Personal(Treatment.REDACT, "free text about the request"),
            "tracking_number": Personal(Treatment.NULL, "the parcel leads to the person's address"),
        },
        explained={"requested_by": _STAFF},
        plain=_plain(
            "id member_id reward_id points status hold_id ledger_transaction_id requested_by_key "
            "created_at updated_at completed_at"
        ),
    ),
    # Service tickets: what the member wrote and what staff replied is free text about the person.
    "tickets": Table(
        member=_MEMBER,
        personal={
            "subject": Personal(Treatment.REDACT, "free text about the person's request"),
            "description": Personal(Treatment.REDACT, "free text about the person's request"),
        },
        explained={
            "category": "a category code from the helpdesk",
            "breach": "which SLA was missed",
            "assignee": _STAFF_PERSON,
            "opened_by": _STAFF,
        },
        plain=_plain(
            "id member_id channel priority status queue_id first_response_due_at resolution_due_at "
            "first_response_at breached_at opened_at closed_at reopened_at closings updated_at"
        ),
    ),
    "ticket_events": Table(
        member="ticket_id IN (SELECT id FROM tickets WHERE member_id = :member_id)",
        personal={"body": Personal(Treatment.REDACT, "a reply from or to the person: free text about them")},
        explained={
            "author": "a staff key's name (also when it relays the member's reply) or memberflow",
            "assignee": _STAFF_PERSON,
            "event_key": "built from ids",
        },
        plain=_plain("id ticket_id kind author_type from_status to_status created_at"),
    ),
    "ticket_surveys_due": Table(
        member=_MEMBER,
        plain=_plain("ticket_id closing member_id due_at picked_up_at survey_send_id skipped created_at"),
    ),
    "idempotency_records": Table(
        # The stored answer to creating this member repeats the profile; other answers hold ids and amounts.
        member="response_body ->> 'id' = CAST(:member_id AS text)",
        personal={"response_body": Personal(Treatment.DELETE, "the stored answer of creating the member")},
        explained={"path": "an API path", "key": "the caller's Idempotency-Key"},
        plain=_plain("id api_key_id method request_hash response_status created_at"),
    ),
    "audit_log": Table(
        member="target_type = 'member' AND target_id = CAST(:member_id AS text)",
        personal={
            "details": Personal(
                Treatment.REDACT,
                "a person's reason for an action on the member (an adjustment, the erasure) is free text",
                "details - 'reason'",
                only="action <> 'member.erase'",  # the erasure's own entry keeps its reason
            )
        },
        explained={"actor": _STAFF, "target_id": "an id"},
        plain=_plain("id actor_key_id action target_type created_at"),
    ),
    "import_chunks": Table(
        member=None,  # records name members by external id: services.privacy finds the member's own records
        personal={"body": Personal(Treatment.RECORDS, "uploaded rows: the member's profile as the brand sent it")},
        explained={"errors": "line numbers, fields and validation messages of rejected rows, which made no member"},
        plain=_plain("id import_id file_id stage rows done_at imported skipped failed"),
    ),
    # Financial records: kept as they are, under the (now pseudonymous) member id.
    "orders": Table(
        member=_MEMBER,
        explained={
            "items": "products, quantities and prices (the order schema has no address or note field)",
            "external_id": "the shop's order number",
        },
        plain=_plain(
            "id source member_id amount currency status points_earned refunded_amount points_clawed_back "
            "placed_at created_at"
        ),
    ),
    "order_refunds": Table(
        member="order_id IN (SELECT id FROM orders WHERE member_id = :member_id)",
        explained={"reason": "the shop's refund reason code", "external_id": "the shop's refund number"},
        plain=_plain("id order_id amount points_clawed_back points_shortfall points_returned refunded_at created_at"),
    ),
    "checkouts": Table(
        member=_MEMBER,
        explained={"external_id": "the shop's checkout number"},
        plain=_plain(
            "id member_id order_amount currency points value status hold_id order_id points_refunded expires_at "
            "created_at resolved_at"
        ),
    ),
    "ledger_accounts": Table(
        member=_MEMBER,
        explained={"code": "an account code built from the member id"},
        plain=_plain("id kind member_id posted held debt created_at"),
    ),
    "ledger_transactions": Table(
        member=_MEMBER,
        personal={
            # Amounts and every other column stay: the ledger is a financial record and its check stays exact.
            "reason": Personal(
                Treatment.REDACT,
                "what a person typed for a manual adjustment; the system's reasons (orders, rules) are kept",
                f"'Adjustment: {REDACTED}'",
                only="kind = 'adjust'",
            ),
        },
        explained={
            "reference_id": "an order, rule or redemption id, or the adjusting staff key's name",
            "idempotency_key": "built from ids",
            "details": "debt and hold facts: numbers and ids",
        },
        plain=_plain("id request_hash kind reference_type member_id created_at"),
    ),
    "ledger_entries": Table(
        member=_ACCOUNT,
        plain=_plain("id transaction_id account_id amount pending balance_after available_after created_at"),
    ),
    "ledger_lots": Table(
        member=_ACCOUNT, plain=_plain("id account_id transaction_id amount remaining expires_at created_at")
    ),
    "ledger_lot_moves": Table(member=_TRANSACTION, plain=_plain("id lot_id transaction_id amount")),
    "ledger_holds": Table(
        member=_MEMBER,
        plain=_plain(
            "id account_id member_id amount status expires_at hold_transaction_id resolution_transaction_id "
            "created_at resolved_at"
        ),
    ),
    "coupons": Table(
        member=_MEMBER,
        explained={
            "code": "a random code",
            "redeemed_order_ref": "the shop's order number",
            "issue_key": "built from ids",
        },
        plain=_plain("id template_id member_id status issued_at expires_at redeemed_at created_at"),
    ),
    # What the member took part in: ids, steps and statuses only.
    "journey_runs": Table(
        member=_MEMBER,
        explained={"steps": "step ids, statuses and times", "workflow_id": "built from ids"},
        plain=_plain("run_id member_id kind version campaign_id status current_step started_at updated_at ended_at"),
    ),
    "campaign_members": Table(
        member=_MEMBER,
        explained={"error": _ERROR, "workflow_id": "built from ids"},
        plain=_plain("campaign_id member_id held_out status skip_reason added_at enrolled_at"),
    ),
    "rule_firings": Table(
        member=_MEMBER,
        explained={
            "results": "what each action did: points, transaction and coupon ids",
            "event_key": "built from ids",
            "limit_key": "built from ids and dates",
        },
        plain=_plain("id rule_id version member_id trigger fired_at"),
    ),
    "member_challenges": Table(
        member=_MEMBER,
        explained={"progress": "counts and amounts per goal of a challenge, from the member's orders and events"},
        plain=_plain(
            "id challenge_id member_id window_start deadline status enrolled_at ended_at reward_transaction_id "
            "coupon_id"
        ),
    ),
    "member_badges": Table(
        member=_MEMBER,
        explained={
            "name_en": "a badge's name, written by staff",
            "name_zh_cn": "a badge's name, written by staff",
        },
        plain=_plain("member_id code icon member_challenge_id earned_at"),
    ),
    # About no one member: configuration, definitions and plumbing.
    "api_keys": Table(
        member=None,
        explained={"name": _STAFF, "key_hash": "a hash of a secret"},
        plain=_plain("id role prefix source personal_data created_at revoked_at expires_at last_used_at"),
    ),
    "auth_failures": Table(
        member=None,
        explained={"source": "the network address failed sign-ins came from, kept for the rate-limit window"},
        plain=_plain("window_start failures"),
    ),
    "care_queues": Table(
        member=None,
        explained={"name": "a team's name", "lead": _STAFF_PERSON},
        plain=_plain("id code role created_at"),
    ),
    "member_fields": Table(
        member=None,
        explained={"options": "the values a select offers", "created_by": _STAFF},
        plain=_plain("id key label_en label_zh_cn type required personal_data created_at updated_at"),
    ),
    "message_templates": Table(
        member=None,
        explained={"subject": "a template, before rendering", "body": "a template, before rendering"},
        plain=_plain("key channel locale updated_at updated_by"),
    ),
    "coupon_templates": Table(
        member=None, plain=_plain("id code name kind value min_spend validity_days per_member_limit active created_at")
    ),
    "rewards": Table(
        member=None,
        explained={"description": "the catalog's text"},
        plain=_plain("id name points_cost stock active approval_threshold created_at updated_at"),
    ),
    "checkout_settings": Table(
        member=None,
        explained={"updated_by": _STAFF},
        plain=_plain("id enabled currency points_per_unit unit_value max_percent min_points hold_minutes updated_at"),
    ),
    "points_settings": Table(
        member=None,
        explained={"updated_by": _STAFF, "expiry_reminder_days": "the programme's reminder lead days (numbers)"},
        plain=_plain("id updated_at"),
    ),
    "tiers": Table(
        member=None,
        explained={"benefits": "the tier's benefits"},
        plain=_plain("code name rank min_spend_exclusive earn_multiplier created_at"),
    ),
    "tier_policy": Table(
        member=None,
        explained={"updated_by": _STAFF},
        plain=_plain(
            "id basis window_months review_rule review_month review_day max_drop_per_review grace_days"
            " at_risk_days updated_at"
        ),
    ),
    "tier_changes": Table(
        member=_MEMBER,
        explained={
            "reason": "built by the system from tier names, the basis and amounts",
            "reference_id": "an order id or a review date",
            "idempotency_key": "built from ids and the review date",
        },
        plain=_plain("id member_id old_tier new_tier direction reference_type review_on occurred_at created_at"),
    ),
    "rules": Table(
        member=None, plain=_plain("id name trigger priority current_version enabled builtin created_at updated_at")
    ),
    "rule_versions": Table(
        member=None,
        explained={"definition": _DEFINITION, "created_by": _STAFF},
        plain=_plain("rule_id version created_at"),
    ),
    "segments": Table(
        member=None,
        explained={"definition": _DEFINITION, "description": "a marketer's note on the segment", "created_by": _STAFF},
        plain=_plain("id name created_at updated_at"),
    ),
    "journeys": Table(member=None, plain=_plain("kind name current_version enabled builtin created_at updated_at")),
    "journey_versions": Table(
        member=None,
        explained={"definition": _DEFINITION, "layout": "canvas positions", "created_by": _STAFF},
        plain=_plain("kind version created_at"),
    ),
    "journey_drafts": Table(
        member=None,
        explained={"definition": _DEFINITION, "layout": "canvas positions", "updated_by": _STAFF},
        plain=_plain("kind base_version updated_at"),
    ),
    "campaigns": Table(
        member=None,
        explained={
            "segment_definition": _DEFINITION,
            "recurrence": "a schedule",
            "counters": "progress counts",
            "last_error": _ERROR,
            "created_by": _STAFF,
        },
        plain=_plain(
            "id name segment_id journey_kind journey_version start_at holdout_percent send_cap attribution_days "
            "status runs cancel_journeys snapshot_at started_at finished_at created_at updated_at"
        ),
    ),
    "imports": Table(
        member=None,
        explained={"created_by": _STAFF, "error": _ERROR},
        plain=_plain("id state chunk_rows lots_expired created_at started_at finished_at"),
    ),
    "import_files": Table(
        member=None,
        explained={"name": "the uploaded file's name", "header": "the CSV's column names"},
        plain=_plain("id import_id kind format rows created_at"),
    ),
    # The portal's sign-in: erasure deletes the member's code requests and sessions, which signs them out.
    "portal_sign_in_codes": Table(
        member=_MEMBER,
        personal={
            "address_hash": Personal(Treatment.DELETE, "a keyed hash of the member's email address or phone"),
            "source_hash": Personal(Treatment.DELETE, "a keyed hash of the IP address the request came from"),
        },
        explained={"code_hash": "a keyed hash of a one-time code, bound to its request"},
        plain=_plain("id member_id channel attempts expires_at used_at created_at"),
    ),
    "portal_sessions": Table(
        member=_MEMBER,
        personal={"token_hash": Personal(Treatment.DELETE, "the hash of the member's sign-in cookie")},
        plain=_plain("id member_id method expires_at revoked_at created_at"),
    ),
    "portal_sources": Table(
        member=None,
        explained={
            "code": "a channel or store code staff chose for a registration link",
            "label": "the staff-written name of the channel or store",
            "created_by": _STAFF,
        },
        plain=_plain("id kind created_at"),
    ),
    "plans": Table(
        member=None,
        explained={
            "name_en": "a plan's name, written by staff",
            "name_zh_cn": "a plan's name, written by staff",
            "sku": "the shop's product code of the plan",
        },
        plain=_plain(
            "id code price currency term_months earn_multiplier monthly_coupon free_shipping refund_on_cancel "
            "active created_at updated_at"
        ),
    ),
    "memberships": Table(
        member=_MEMBER,
        plain=_plain(
            "id member_id plan_id status started_at ends_at ended_at renewals renewed_from_id refund_amount created_at"
        ),
    ),
    "membership_periods": Table(
        member="membership_id IN (SELECT id FROM memberships WHERE member_id = :member_id)",
        plain=_plain("id membership_id order_id kind starts_at ends_at amount created_at"),
    ),
    "challenges": Table(
        member=None,
        explained={
            "title_en": "a challenge's title, written by staff",
            "title_zh_cn": "a challenge's title, written by staff",
            "definition": _DEFINITION,
            "created_by": _STAFF,
        },
        plain=_plain("id code enrolment active builtin created_at updated_at"),
    ),
    # Surveys: the definitions are staff's text; a send says which survey went to whom; an answer's comment and
    # answers are the member's own words (erasure blanks them, keeping the score for the NPS figures).
    "surveys": Table(
        member=None,
        explained={
            "title_en": "a survey's title, written by staff",
            "title_zh_cn": "a survey's title, written by staff",
            "prompt_en": "a survey's question, written by staff",
            "prompt_zh_cn": "a survey's question, written by staff",
            "questions": "the custom questions' definitions, written by staff",
            "created_by": _STAFF,
        },
        plain=_plain("id key kind comment_required active created_at updated_at"),
    ),
    "survey_sends": Table(
        member=_MEMBER,
        explained={"source_id": "a journey step key, a campaign id or a ticket id"},
        plain=_plain("id survey_id member_id source channel sent_at answered_at"),
    ),
    "survey_answers": Table(
        member=_MEMBER,
        personal={
            "comment": Personal(Treatment.REDACT, "the member's own words about their experience"),
            "answers": Personal(Treatment.REDACT, "the member's answers to custom questions", "'{}'::jsonb"),
        },
        explained={"score": "a number on the survey's scale (0-10, 1-5), kept for the NPS and CSAT figures"},
        plain=_plain("send_id survey_id member_id answered_at"),
    ),
    # Referrals: a member's code is theirs (erasure deletes it, so the link stops working); a referral keeps the
    # two members' ids and what was paid, and of the referee only keyed hashes of the email and phone they signed
    # up with, which erasure clears (the address may then be used by a new referee).
    "referral_programme": Table(
        member=None,
        explained={
            "referrer_coupon": "a coupon template's code staff chose",
            "referee_coupon": "a coupon template's code staff chose",
            "updated_by": _STAFF,
        },
        plain=_plain(
            "id active return_window_days monthly_limit referrer_reward referrer_points referee_reward "
            "referee_points updated_at"
        ),
    ),
    "referral_codes": Table(
        member=_MEMBER,
        personal={"referral_code": Personal(Treatment.DELETE, "the member's own code, shared on their invitations")},
        plain=_plain("member_id created_at"),
    ),
    "referrals": Table(
        member="referee_id = :member_id",
        personal={
            "email_digest": Personal(Treatment.NULL, "a keyed hash of the referee's email address"),
            "phone_digest": Personal(Treatment.NULL, "a keyed hash of the referee's phone number"),
        },
        explained={
            "code": "the referrer's code the referee signed up with; the row names the referrer by id anyway",
            "cancel_reason": "a fixed reason code (order_refunded)",
        },
        plain=_plain(
            "id referrer_id referee_id status order_id qualified_at decided_at referrer_points referee_points "
            "referrer_coupon_id referee_coupon_id created_at"
        ),
    ),
    "temporal_outbox": Table(
        member=None,
        explained={
            "payload": "workflow inputs, which carry ids only (tests/platform/test_history_privacy.py)",
            "search_attributes": "member id, ticket id, journey kind, campaign id, step",
            "last_error": _ERROR,
        },
        plain=_plain(
            "id action workflow_type workflow_id task_queue signal_name created_at dispatched_at attempts "
            "next_attempt_at parked_at"
        ),
    ),
}


def personal_columns() -> list[tuple[str, str, Personal]]:
    """(table, column, decision) for every personal column, in inventory order."""
    return [(name, column, p) for name, table in INVENTORY.items() for column, p in table.personal.items()]


def member_tables() -> dict[str, Table]:
    """The tables that hold rows about one member: what export reads and erasure walks."""
    return {name: table for name, table in INVENTORY.items() if table.member is not None}
