// The dry-run panel beside the rule form: a sample member (found by name or email, or an id pasted in) and the
// values of the event, run with the draft being edited and the saved rules of its trigger. It shows which
// rules would fire, with what they would do, and in plain words why the others would not. Nothing is written.
import { useState } from "react";
import { getJSON, sendJSON } from "../shared/api.js";
import { byPath } from "../shared/problems.js";
import { STATUS_WORDS, describeAction, plainReason, propertyValue } from "./draft.js";
import { Field, invalidProps } from "./fields.jsx";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Triggers whose sample values have inputs of their own below (or come from the draft's trigger); every other
// trigger's event fields (points expiring, a tier at risk, a survey's score...) get one input each from the catalog.
const OWN_INPUTS = new Set(["order_completed", "tier_changed", "inactive_days", "birthday"]);

export function DryRunPanel({ definition, catalog }) {
  const trigger = definition.trigger?.event;
  const carriesProperties = Boolean(catalog.rule_triggers.find((t) => t.event === trigger)?.properties);
  const [member, setMember] = useState(null);
  const [values, setValues] = useState({ amount: "100.00", currency: "", first_purchase: "", old_tier: "", new_tier: "" });
  const [properties, setProperties] = useState([]);
  const [outcome, setOutcome] = useState(null);
  const [running, setRunning] = useState(false);
  const [facts, setFacts] = useState({});
  const set = (key) => (e) => setValues({ ...values, [key]: e.target.value });
  const eventFields = OWN_INPUTS.has(trigger)
    ? []
    : (catalog.condition_fields?.rule || []).filter((f) => f.group === "Event" && f.triggers?.includes(trigger));

  const run = async () => {
    setRunning(true);
    const event = { trigger, member_id: member?.id ?? "" };
    if (trigger === "order_completed") {
      Object.assign(event, { amount: values.amount || undefined, currency: values.currency || undefined });
      if (values.first_purchase) event.first_purchase = values.first_purchase === "yes";
    }
    if (trigger === "tier_changed") Object.assign(event, { old_tier: values.old_tier || undefined, new_tier: values.new_tier || undefined });
    if (trigger === "inactive_days") event.days = definition.trigger.days;
    if (trigger === "birthday") event.days_before = definition.trigger.days_before ?? 0;
    for (const f of eventFields) {
      const value = (facts[f.field] ?? "").trim();
      if (value) event[f.field.slice("event.".length)] = value;
    }
    if (carriesProperties) {
      event.properties = Object.fromEntries(properties.filter((p) => p.key.trim()).map((p) => [p.key.trim(), propertyValue(p.value)]));
    }
    const answer = await sendJSON("POST", "/console/api/rules/dry-run", { event, rule: definition });
    setOutcome(answer);
    setRunning(false);
  };

  const problems = outcome && !outcome.ok ? byPath(outcome.error?.details || []) : new Map();
  return (
    <aside className="mf-panel rule-dry-run" aria-labelledby="dry-run-title">
      <h2 id="dry-run-title">Dry run</h2>
      <p className="muted small">Runs this draft and the other <code>{trigger}</code> rules for a sample member. Nothing is saved or sent.</p>
      <MemberPicker member={member} onPick={setMember} problem={problems.get("event.member_id")} />
      {trigger === "order_completed" && (
        <div className="mf-form mf-form--row">
          <Field id="dry-amount" label="Order amount" problem={problems.get("event.amount")}>
            <input id="dry-amount" type="text" inputMode="decimal" value={values.amount} onChange={set("amount")} {...invalidProps("dry-amount", problems.get("event.amount"))} />
          </Field>
          <Field id="dry-currency" label="Currency" problem={problems.get("event.currency")}>
            <input id="dry-currency" type="text" maxLength={3} placeholder="CNY" value={values.currency} onChange={set("currency")} {...invalidProps("dry-currency", problems.get("event.currency"))} />
          </Field>
          <Field id="dry-first" label="First purchase">
            <select id="dry-first" value={values.first_purchase} onChange={set("first_purchase")}>
              <option value="">As the member's orders say</option>
              <option value="yes">Yes</option>
              <option value="no">No</option>
            </select>
          </Field>
        </div>
      )}
      {trigger === "tier_changed" && (
        <div className="mf-form mf-form--row">
          {[["old_tier", "From tier"], ["new_tier", "To tier"]].map(([key, label]) => (
            <Field key={key} id={`dry-${key}`} label={label} problem={problems.get(`event.${key}`)}>
              <select id={`dry-${key}`} value={values[key]} onChange={set(key)}>
                <option value="">The member's tier</option>
                {catalog.tiers.map((t) => (
                  <option key={t.code} value={t.code}>
                    {t.name}
                  </option>
                ))}
              </select>
            </Field>
          ))}
        </div>
      )}
      {eventFields.length > 0 && (
        <EventFieldInputs fields={eventFields} values={facts} onChange={setFacts} tiers={catalog.tiers} problems={problems} />
      )}
      {carriesProperties && <PropertyRows rows={properties} onChange={setProperties} />}
      <button type="button" onClick={run} disabled={running || !member}>
        {running ? "Running…" : "Run dry run"}
      </button>
      {outcome && !outcome.ok && <DryRunError error={outcome.error} />}
      {outcome?.ok && <Verdicts verdicts={outcome.data.verdicts} specs={catalog.condition_fields?.rule} />}
    </aside>
  );
}

// One input per field the trigger's event carries, typed as the catalog says; an empty one takes the server's
// default for the sample (the member's tier, nothing needed, today).
function EventFieldInputs({ fields, values, onChange, tiers, problems }) {
  const set = (field) => (e) => onChange({ ...values, [field]: e.target.value });
  return (
    <div className="mf-form mf-form--row" aria-label="Event values">
      {fields.map((f) => {
        const id = `dry-${f.field.replace(/\./g, "-")}`;
        const problem = problems.get(`event.${f.field.slice("event.".length)}`);
        const choices = f.type === "tier" ? tiers.map((t) => [t.code, t.name]) : (f.options || []).map((o) => [o, o]);
        return (
          <Field key={f.field} id={id} label={f.label} problem={problem}>
            {choices.length > 0 ? (
              <select id={id} value={values[f.field] ?? ""} onChange={set(f.field)}>
                <option value="">The sample's default</option>
                {choices.map(([value, label]) => (
                  <option key={value} value={value}>{label}</option>
                ))}
              </select>
            ) : (
              <input id={id} type={f.type === "date" ? "date" : "text"} inputMode={f.type === "date" || f.type === "text" ? undefined : "decimal"}
                value={values[f.field] ?? ""} onChange={set(f.field)} {...invalidProps(id, problem)} />
            )}
          </Field>
        );
      })}
    </div>
  );
}

function MemberPicker({ member, onPick, problem }) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const search = async () => {
    const text = query.trim();
    if (!text) return;
    if (UUID.test(text)) {
      onPick({ id: text, name: text });
      setFound(null);
      return;
    }
    const answer = await getJSON(`/console/api/rules/members?q=${encodeURIComponent(text)}`);
    setFound(answer.ok ? answer.data.members : []);
  };
  return (
    <div className="rule-member-picker">
      <Field id="dry-member" label="Sample member (name, email or id)" problem={problem}>
        <span className="mf-inline">
          <input id="dry-member" type="search" value={query} onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); search(); } }} {...invalidProps("dry-member", problem)} />
          <button type="button" onClick={search}>Find</button>
        </span>
      </Field>
      {found && (
        <ul className="plain rule-member-results" aria-label="Members found">
          {found.length === 0 && <li className="muted">No member matches.</li>}
          {found.map((m) => (
            <li key={m.id}>
              <button type="button" className="mf-link" onClick={() => { onPick(m); setFound(null); }}>
                {m.name || "(erased)"}
              </button>{" "}
              <span className="muted small">{m.email} · {m.tier} · spent {m.lifetime_spend}</span>
            </li>
          ))}
        </ul>
      )}
      {member && (
        <p className="small" data-sample-member={member.id}>
          Sample member: <b>{member.name}</b>
          {member.tier && <span className="muted"> · {member.tier}{member.tags?.length ? ` · tags ${member.tags.join(", ")}` : ""}</span>}
        </p>
      )}
    </div>
  );
}

function PropertyRows({ rows, onChange }) {
  const edit = (index, key, value) => onChange(rows.map((r, i) => (i === index ? { ...r, [key]: value } : r)));
  return (
    <fieldset className="rule-properties">
      <legend>Event properties</legend>
      {rows.map((row, index) => (
        <div className="mf-inline" key={index}>
          <input aria-label={`Property ${index + 1} name`} placeholder="name" value={row.key} onChange={(e) => edit(index, "key", e.target.value)} />
          <input aria-label={`Property ${index + 1} value`} placeholder="value" value={row.value} onChange={(e) => edit(index, "value", e.target.value)} />
          <button type="button" className="mf-link rb-danger" onClick={() => onChange(rows.filter((_, i) => i !== index))}>Remove</button>
        </div>
      ))}
      <button type="button" className="mf-link" onClick={() => onChange([...rows, { key: "", value: "" }])}>Add property</button>
    </fieldset>
  );
}

function DryRunError({ error }) {
  const details = error?.details || [];
  const ofRule = details.some((d) => String(d.field || "").startsWith("body.rule"));
  return (
    <div className="error" role="alert" data-dry-run-error>
      <p>{ofRule ? "Fix the rule's problems first; the dry run runs the draft as it is." : error?.message}</p>
      {details.length > 0 && (
        <ul>
          {details.map((d, i) => (
            <li key={i}><code>{String(d.field || "").replace(/^body\./, "")}</code>: {d.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Verdicts({ verdicts, specs }) {
  if (!verdicts.length) return <p className="muted">No rule reacts to this trigger.</p>;
  return (
    <ol className="plain rule-verdicts" aria-label="Dry run results">
      {verdicts.map((v) => {
        const fires = v.status === "would_fire" || v.status === "fired";
        return (
          <li key={`${v.draft}-${v.name}`} className={`rule-verdict rule-verdict--${fires ? "fires" : "not"}`} data-verdict={v.name} data-status={v.status}>
            <div>
              <b>{v.name}</b>
              {v.draft && <span className="tag">this draft</span>}
              <span className="muted small"> · priority {v.priority}{v.version ? ` · v${v.version}` : ""}</span>
            </div>
            <div className="rule-verdict__status">{STATUS_WORDS[v.status] ?? v.status}</div>
            {v.reason && <div className="small rule-verdict__reason" title={v.reason}>{plainReason(v.reason, specs)}</div>}
            {fires && v.actions.length > 0 && (
              <ul className="small rule-verdict__actions">
                {v.actions.map((a, i) => (
                  <li key={i}>{describeAction(a)}</li>
                ))}
              </ul>
            )}
          </li>
        );
      })}
    </ol>
  );
}
