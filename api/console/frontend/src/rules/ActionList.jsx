// The THEN part of a rule: its actions in order, each with the form of its kind (services/rules/definition.py
// RuleAction), to add, remove and move up or down. Pickers offer only what exists: coupon and message
// templates and tags from the catalog, journeys from the page.
import { useState } from "react";
import { ACTION_KINDS, actionKind, newAction, numberOrText } from "./draft.js";
import { CheckField, Field, Leftovers, Select, TagListInput, invalidProps } from "./fields.jsx";

const ROLES = ["marketer", "ops", "approver", "admin", "account_manager"];

export function ActionList({ actions, onChange, catalog, journeys, trigger, problems }) {
  const [adding, setAdding] = useState("grant_points");
  const replace = (index, action) => onChange(actions.map((a, i) => (i === index ? action : a)));
  const move = (index, by) => {
    const next = [...actions];
    const [moved] = next.splice(index, 1);
    next.splice(index + by, 0, moved);
    onChange(next);
  };
  return (
    <div className="rule-actions">
      <ol className="plain">
        {actions.map((action, index) => (
          <ActionRow
            key={index}
            index={index}
            count={actions.length}
            action={action}
            onChange={(a) => replace(index, a)}
            onMove={(by) => move(index, by)}
            onRemove={() => onChange(actions.filter((_, i) => i !== index))}
            catalog={catalog}
            journeys={journeys}
            trigger={trigger}
            problems={problems}
          />
        ))}
      </ol>
      {problems.get("actions") && <p className="mf-problem" role="alert">{problems.get("actions")}</p>}
      <div className="mf-inline">
        <label htmlFor="add-action-kind">New action</label>
        <select id="add-action-kind" value={adding} onChange={(e) => setAdding(e.target.value)}>
          {ACTION_KINDS.map(([kind, label]) => (
            <option key={kind} value={kind}>
              {label}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => onChange([...actions, newAction(adding, catalog, journeys)])}>
          Add action
        </button>
      </div>
    </div>
  );
}

function ActionRow({ index, count, action, onChange, onMove, onRemove, catalog, journeys, trigger, problems }) {
  const kind = actionKind(action);
  const label = ACTION_KINDS.find(([k]) => k === kind)?.[1] ?? kind;
  const base = `actions.${index}.${kind}`;
  const args = action[kind] || {};
  const set = (key, value) => onChange({ [kind]: { ...args, [key]: value } });
  const ctx = { id: `action-${index}`, base, args, set, problems, catalog, journeys, trigger, onChange, kind };
  const Form = FORMS[kind];
  return (
    <li className="mf-panel rule-action" data-action-row={index} data-kind={kind}>
      <div className="rule-action__head">
        <b>
          {index + 1}. {label}
        </b>
        <span className="rule-action__tools">
          <button type="button" className="mf-link" disabled={index === 0} onClick={() => onMove(-1)} aria-label={`Move action ${index + 1} up`}>
            ↑
          </button>
          <button type="button" className="mf-link" disabled={index === count - 1} onClick={() => onMove(1)} aria-label={`Move action ${index + 1} down`}>
            ↓
          </button>
          <button type="button" className="mf-link rb-danger" onClick={onRemove} aria-label={`Remove action ${index + 1}`}>
            Remove
          </button>
        </span>
      </div>
      {Form ? <Form {...ctx} /> : <p className="muted">This action is edited in the Advanced (JSON) tab.</p>}
      <Leftovers problems={problems} prefix={`actions.${index}`} shown={shownPaths(base)} />
    </li>
  );
}

// The paths the action forms show on a field; a problem elsewhere under the action shows at the row's foot.
const FIELD_KEYS = ["points", "per_currency_unit", "reason", "template", "kind", "channel", "coupon", "category",
  "title", "assignee_role", "due_days", "add", "remove", "set", "clear", "unless_ordered",
  "delay.days", "delay.hours", "delay.minutes"];

function shownPaths(base) {
  return FIELD_KEYS.map((key) => `${base}.${key}`);
}

function GrantPoints({ id, base, args, set, problems, onChange, trigger }) {
  const rate = args.per_currency_unit !== undefined;
  const switchMode = (mode) =>
    onChange({
      grant_points: mode === "rate" ? { per_currency_unit: "1", reason: args.reason } : { points: 10, reason: args.reason },
    });
  return (
    <div className="mf-form mf-form--row">
      <Field id={`${id}-mode`} label="Amount">
        <select id={`${id}-mode`} value={rate ? "rate" : "fixed"} onChange={(e) => switchMode(e.target.value)}>
          <option value="fixed">Fixed points</option>
          <option value="rate">Points per currency unit of the order</option>
        </select>
      </Field>
      {rate ? (
        <Field
          id={`${id}-rate`}
          label="Points per currency unit"
          problem={problems.get(`${base}.per_currency_unit`)}
          hint={trigger === "order_completed" ? "129.90 at 1 gives 129 points" : "needs the order_completed trigger"}
        >
          <input id={`${id}-rate`} type="text" inputMode="decimal" value={args.per_currency_unit ?? ""}
            onChange={(e) => set("per_currency_unit", e.target.value)} {...invalidProps(`${id}-rate`, problems.get(`${base}.per_currency_unit`))} />
        </Field>
      ) : (
        <Field id={`${id}-points`} label="Points" problem={problems.get(`${base}.points`)}>
          <input id={`${id}-points`} type="number" step="1" value={args.points ?? ""}
            onChange={(e) => set("points", numberOrText(e.target.value))} {...invalidProps(`${id}-points`, problems.get(`${base}.points`))} />
        </Field>
      )}
      <TextField id={`${id}-reason`} label="Reason in the ledger (optional)" path={`${base}.reason`} args={args} name="reason" set={set} problems={problems} />
    </div>
  );
}

function TextField({ id, label, path, args, name, set, problems, hint }) {
  const problem = problems.get(path);
  return (
    <Field id={id} label={label} problem={problem} hint={hint}>
      <input id={id} type="text" value={args[name] ?? ""} onChange={(e) => set(name, e.target.value)} {...invalidProps(id, problem)} />
    </Field>
  );
}

function couponOptions(catalog) {
  return catalog.coupon_templates.map((c) => [c.code, `${c.name} (${c.code})`]);
}

function IssueCoupon({ id, base, args, set, problems, catalog }) {
  const problem = problems.get(`${base}.template`);
  return (
    <Field id={`${id}-coupon`} label="Coupon template" problem={problem}>
      <Select id={`${id}-coupon`} value={args.template} options={couponOptions(catalog)} onChange={(v) => set("template", v)} problem={problem} blank="Choose a coupon template" />
    </Field>
  );
}

function StartJourney({ id, base, args, set, problems, journeys }) {
  const problem = problems.get(`${base}.kind`);
  return (
    <Field id={`${id}-journey`} label="Journey" problem={problem}>
      <Select id={`${id}-journey`} value={args.kind} options={journeys.map((j) => [j.kind, `${j.name} (${j.kind})`])} onChange={(v) => set("kind", v)} problem={problem} blank="Choose a journey" />
    </Field>
  );
}

function SendMessage({ id, base, args, set, problems, catalog, onChange }) {
  const templates = catalog.templates.filter((t) => t.channel === (args.channel || "email")).map((t) => [t.name, t.name]);
  const delay = args.delay || {};
  const setDelay = (key, raw) => set("delay", { ...delay, [key]: numberOrText(raw) });
  return (
    <div className="mf-form mf-form--row">
      <Field id={`${id}-channel`} label="Channel" problem={problems.get(`${base}.channel`)}>
        <select id={`${id}-channel`} value={args.channel || "email"} onChange={(e) => onChange({ send_message: { ...args, channel: e.target.value, template: "" } })}>
          <option value="email">Email</option>
          <option value="sms">SMS</option>
        </select>
      </Field>
      <Field id={`${id}-template`} label="Template" problem={problems.get(`${base}.template`)}>
        <Select id={`${id}-template`} value={args.template} options={templates} onChange={(v) => set("template", v)} problem={problems.get(`${base}.template`)} blank="Choose a template" />
      </Field>
      <Field id={`${id}-msg-coupon`} label="With a coupon (optional)" problem={problems.get(`${base}.coupon`)}>
        <Select id={`${id}-msg-coupon`} value={args.coupon ?? ""} options={couponOptions(catalog)} onChange={(v) => set("coupon", v)} problem={problems.get(`${base}.coupon`)} blank="No coupon" />
      </Field>
      <Field id={`${id}-category`} label="Category">
        <select id={`${id}-category`} value={args.category || "marketing"} onChange={(e) => set("category", e.target.value)}>
          <option value="marketing">Marketing (needs consent)</option>
          <option value="transactional">Transactional</option>
        </select>
      </Field>
      {["days", "hours", "minutes"].map((unit) => (
        <Field key={unit} id={`${id}-delay-${unit}`} label={`Delay ${unit}`} problem={problems.get(`${base}.delay.${unit}`)}>
          <input id={`${id}-delay-${unit}`} type="number" min="0" value={delay[unit] ?? ""} onChange={(e) => setDelay(unit, e.target.value)} />
        </Field>
      ))}
      <CheckField id={`${id}-unless`} label="Not if the member ordered meanwhile" checked={Boolean(args.unless_ordered)}
        onChange={(on) => set("unless_ordered", on)} problem={problems.get(`${base}.unless_ordered`)} />
    </div>
  );
}

function CreateTask({ id, base, args, set, problems }) {
  return (
    <div className="mf-form mf-form--row">
      <TextField id={`${id}-title`} label="Task title" path={`${base}.title`} args={args} name="title" set={set} problems={problems} />
      <Field id={`${id}-role`} label="For" problem={problems.get(`${base}.assignee_role`)}>
        <select id={`${id}-role`} value={args.assignee_role || "marketer"} onChange={(e) => set("assignee_role", e.target.value)}>
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role.replace("_", " ")}
            </option>
          ))}
        </select>
      </Field>
      <Field id={`${id}-due`} label="Due in days" problem={problems.get(`${base}.due_days`)}>
        <input id={`${id}-due`} type="number" min="0" max="90" value={args.due_days ?? ""} onChange={(e) => set("due_days", numberOrText(e.target.value))} {...invalidProps(`${id}-due`, problems.get(`${base}.due_days`))} />
      </Field>
    </div>
  );
}

function Tag({ id, base, args, set, problems, catalog }) {
  return (
    <div className="mf-form mf-form--row">
      {[["add", "Add tags"], ["remove", "Remove tags"]].map(([key, label]) => (
        <Field key={key} id={`${id}-${key}`} label={label} problem={firstUnder(problems, `${base}.${key}`)}>
          <TagListInput id={`${id}-${key}`} value={args[key]} onChange={(v) => set(key, v)} tags={catalog.tags} problem={firstUnder(problems, `${base}.${key}`)} />
        </Field>
      ))}
    </div>
  );
}

function Flag({ id, base, args, problems, catalog, onChange }) {
  const mode = args.clear !== undefined && args.set === undefined ? "clear" : "set";
  const problem = problems.get(`${base}.${mode}`);
  return (
    <div className="mf-form mf-form--row">
      <Field id={`${id}-flag-mode`} label="Flag">
        <select id={`${id}-flag-mode`} value={mode} onChange={(e) => onChange({ flag: { [e.target.value]: args[mode] ?? "" } })}>
          <option value="set">Set</option>
          <option value="clear">Clear</option>
        </select>
      </Field>
      <Field id={`${id}-flag`} label="Flag name" problem={problem}>
        <input id={`${id}-flag`} type="text" list={`${id}-flag-tags`} value={args[mode] ?? ""} onChange={(e) => onChange({ flag: { [mode]: e.target.value } })} {...invalidProps(`${id}-flag`, problem)} />
        <datalist id={`${id}-flag-tags`}>
          {catalog.tags.map((tag) => (
            <option key={tag} value={tag} />
          ))}
        </datalist>
      </Field>
    </div>
  );
}

// A list field's problem may name an item (`tag.add.1`): shown on the list's input.
function firstUnder(problems, path) {
  for (const [key, message] of problems) if (key === path || key.startsWith(`${path}.`)) return message;
  return undefined;
}

const FORMS = {
  grant_points: GrantPoints,
  issue_coupon: IssueCoupon,
  start_journey: StartJourney,
  send_message: SendMessage,
  create_task: CreateTask,
  tag: Tag,
  flag: Flag,
};
