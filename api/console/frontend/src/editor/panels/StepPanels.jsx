// The forms of the other step kinds: send_survey, wait, wait_for, branch (the shared condition builder over the catalog's
// journey fields), points, coupon, task, tag, flag and exit. Each edits the step's body and reports the problem
// at each field's path.
import { ConditionBuilder } from "../../shared/ConditionBuilder.jsx";
import { DurationRows, NumberInput, Row, Select, TextInput, withValue } from "./fields.jsx";
import { SendPanel } from "./SendPanel.jsx";

const CHANNELS = [["email", "Email"], ["sms", "SMS"]];
const ROLES = ["marketer", "ops", "approver", "admin", "account_manager"].map((r) => [r, r]);
const events = (catalog) => (catalog?.journey_events ?? []).map((e) => [e, e]);
const list = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

function WaitPanel({ body, onChange, at }) {
  return (
    <>
      <DurationRows body={body} onChange={onChange} at={at} kind="wait" label="Wait for a duration" />
      <Row
        label="Until local time (HH:MM)"
        hint="then until this time of day in the member's time zone"
        message={at("wait.until_local_time")}
        render={(invalid) => (
          <input type="time" name="until_local_time" value={body.until_local_time ?? ""} aria-invalid={invalid || undefined} onChange={(e) => onChange(withValue(body, "until_local_time", e.target.value))} />
        )}
      />
    </>
  );
}

function WaitForPanel({ body, onChange, at, catalog }) {
  return (
    <>
      <Row label="Event" message={at("wait_for.event")} render={(invalid) => <Select name="event" value={body.event} invalid={invalid} options={events(catalog)} onChange={(v) => onChange(withValue(body, "event", v))} />} />
      <DurationRows body={body} onChange={onChange} at={at} kind="wait_for" label="Timeout" />
    </>
  );
}

function BranchPanel({ body, onChange, catalog, problems, base }) {
  return (
    <div className="mf-field">
      <span>Condition (then when it holds, else otherwise)</span>
      <ConditionBuilder
        value={body.if ?? null}
        onChange={(tree) => onChange(withValue(body, "if", tree))}
        specs={catalog?.condition_fields?.journey ?? []}
        catalog={catalog}
        problems={problems}
        path={`${base}.branch.if`}
      />
    </div>
  );
}

function PointsPanel({ body, onChange, at }) {
  return (
    <>
      <Row label="Points" message={at("grant_points.points")} render={(invalid) => <NumberInput name="points" min={1} value={body.points} invalid={invalid} onChange={(v) => onChange(withValue(body, "points", v))} />} />
      <Row label="Reason" message={at("grant_points.reason")} render={(invalid) => <TextInput name="reason" value={body.reason} invalid={invalid} onChange={(v) => onChange({ ...body, reason: v })} />} />
    </>
  );
}

function SurveyPanel({ body, onChange, at, catalog }) {
  const surveys = (catalog?.surveys ?? []).map((s) => [s.key, `${s.key} · ${s.kind.toUpperCase()} · ${s.title}`]);
  return (
    <>
      <Row label="Survey" message={at("send_survey.survey")} render={(invalid) => <Select name="survey" value={body.survey} invalid={invalid} options={surveys} onChange={(v) => onChange(withValue(body, "survey", v))} />} />
      <Row label="Channel" message={at("send_survey.channel")} render={(invalid) => <Select name="channel" value={body.channel ?? "email"} invalid={invalid} options={CHANNELS} onChange={(v) => onChange(withValue(body, "channel", v))} />} />
    </>
  );
}

function CouponPanel({ body, onChange, at, catalog }) {
  const coupons = (catalog?.coupon_templates ?? []).map((c) => [c.code, `${c.code} · ${c.name}`]);
  return <Row label="Coupon template" message={at("issue_coupon.template")} render={(invalid) => <Select name="coupon_template" value={body.template} invalid={invalid} options={coupons} onChange={(v) => onChange(withValue(body, "template", v))} />} />;
}

function TaskPanel({ body, onChange, at }) {
  return (
    <>
      <Row label="Title" message={at("create_task.title")} render={(invalid) => <TextInput name="title" value={body.title} invalid={invalid} onChange={(v) => onChange({ ...body, title: v })} />} />
      <Row label="Assignee role" message={at("create_task.assignee_role")} render={(invalid) => <Select name="assignee_role" value={body.assignee_role ?? "marketer"} invalid={invalid} options={ROLES} onChange={(v) => onChange(withValue(body, "assignee_role", v))} />} />
      <Row label="Due in days" message={at("create_task.due_days")} render={(invalid) => <NumberInput name="due_days" value={body.due_days} invalid={invalid} onChange={(v) => onChange(withValue(body, "due_days", v))} />} />
    </>
  );
}

function TagPanel({ body, onChange, at, catalog }) {
  const listId = "mf-tag-suggestions";
  const tagRow = (key, label) => (
    <Row
      label={label}
      hint="comma-separated"
      message={at(`tag.${key}`)}
      render={(invalid) => (
        <input type="text" name={key} list={listId} defaultValue={(body[key] ?? []).join(", ")} aria-invalid={invalid || undefined} onChange={(e) => onChange({ ...body, [key]: list(e.target.value) })} />
      )}
    />
  );
  return (
    <>
      {tagRow("add", "Add tags")}
      {tagRow("remove", "Remove tags")}
      <datalist id={listId}>
        {(catalog?.tags ?? []).map((tag) => (
          <option key={tag} value={tag} />
        ))}
      </datalist>
    </>
  );
}

function FlagPanel({ body, onChange, at }) {
  return (
    <>
      <Row label="Set flag" message={at("flag.set")} render={(invalid) => <TextInput name="set" value={body.set} invalid={invalid} onChange={(v) => onChange(withValue(body, "set", v))} />} />
      <Row label="Clear flag" message={at("flag.clear")} render={(invalid) => <TextInput name="clear" value={body.clear} invalid={invalid} onChange={(v) => onChange(withValue(body, "clear", v))} />} />
    </>
  );
}

function ExitPanel() {
  return <p className="mf-muted">The journey ends here.</p>;
}

export const PANELS = {
  send: SendPanel,
  send_survey: SurveyPanel,
  wait: WaitPanel,
  wait_for: WaitForPanel,
  branch: BranchPanel,
  grant_points: PointsPanel,
  issue_coupon: CouponPanel,
  create_task: TaskPanel,
  tag: TagPanel,
  flag: FlagPanel,
  exit: ExitPanel,
};

// The paths these forms show a problem under, per kind; the step panel lists the others at its top.
export const FIELD_PATHS = {
  send: ["send.channel", "send.template", "send.coupon", "send.category"],
  send_survey: ["send_survey.survey", "send_survey.channel"],
  wait: ["wait.days", "wait.hours", "wait.minutes", "wait.until_local_time"],
  wait_for: ["wait_for.event", "wait_for.days", "wait_for.hours", "wait_for.minutes"],
  branch: [],
  grant_points: ["grant_points.points", "grant_points.reason"],
  issue_coupon: ["issue_coupon.template"],
  create_task: ["create_task.title", "create_task.assignee_role", "create_task.due_days"],
  tag: ["tag.add", "tag.remove"],
  flag: ["flag.set", "flag.clear"],
  exit: [],
};
