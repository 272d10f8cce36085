// The rule builder: IF a trigger (with its parameters) AND conditions THEN actions, with priority, limit, stop
// processing and enabled, checked by the server as the marketer edits (the same problems as the API, shown
// on the field at fault) and saved as a new rule or a new version. The dry-run panel sits beside the form.
import { useEffect, useRef, useState } from "react";
import { sendJSON } from "../shared/api.js";
import { ConditionBuilder } from "../shared/ConditionBuilder.jsx";
import { byPath } from "../shared/problems.js";
import { ActionList } from "./ActionList.jsx";
import { DryRunPanel } from "./DryRunPanel.jsx";
import { LIMIT_WORDS, TRIGGER_PARAM_WORDS, fieldsFor, numberOrText, toDefinition, unclaimed } from "./draft.js";
import { CheckField, Field, Leftovers, invalidProps } from "./fields.jsx";

const CHECK_AFTER_MS = 400;
const PARAM_DEFAULTS = { days: 30, days_before: 0 };

export function RuleBuilder({ ruleId, initial, catalog, onDraftChange }) {
  const [draft, setDraft] = useState(initial);
  const [problems, setProblems] = useState(new Map());
  const [checking, setChecking] = useState("idle");
  const [saveError, setSaveError] = useState(null);
  const [saving, setSaving] = useState(false);
  const asked = useRef(0);

  const update = (changes) => setDraft((d) => ({ ...d, ...changes }));
  useEffect(() => {
    onDraftChange?.(draft);
    const ticket = ++asked.current;
    setChecking("waiting");
    const timer = setTimeout(async () => {
      const answer = await sendJSON("POST", "/console/api/rules/validate", toDefinition(draft));
      if (ticket !== asked.current) return; // a newer draft is being checked
      if (answer.ok) {
        setProblems(byPath(answer.data.problems));
        setChecking(answer.data.valid ? "valid" : "invalid");
      } else {
        setChecking("failed");
        setSaveError(answer.error);
      }
    }, CHECK_AFTER_MS);
    return () => clearTimeout(timer);
  }, [draft]); // eslint-disable-line react-hooks/exhaustive-deps

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    const answer = await sendJSON(ruleId ? "PUT" : "POST", ruleId ? `/console/api/rules/${ruleId}` : "/console/api/rules", toDefinition(draft));
    if (answer.ok) {
      window.location.assign(answer.data.url);
      return;
    }
    setSaving(false);
    setSaveError(answer.error);
    setProblems(byPath(answer.error?.details || []));
  };

  const trigger = draft.trigger?.event ?? "";
  const specs = fieldsFor(catalog.condition_fields?.rule, trigger);
  const definition = toDefinition(draft);
  return (
    <div className="rule-builder__layout">
      <div className="mf-form rule-form">
        <Summary problems={problems} saveError={saveError} />
        <section className="mf-panel" aria-labelledby="rule-if">
          <h3 id="rule-if">IF</h3>
          <NameFields draft={draft} update={update} problems={problems} editing={Boolean(ruleId)} />
          <TriggerFields draft={draft} update={update} problems={problems} catalog={catalog} />
        </section>
        <section className="mf-panel" aria-labelledby="rule-and">
          <h3 id="rule-and">AND {!draft.conditions && <small className="muted">(no conditions: every {trigger.replaceAll("_", " ")} event)</small>}</h3>
          <ConditionBuilder value={draft.conditions ?? null} onChange={(tree) => update({ conditions: tree })}
            specs={specs} catalog={catalog} problems={problems} path="conditions" />
        </section>
        <section className="mf-panel" aria-labelledby="rule-then">
          <h3 id="rule-then">THEN</h3>
          <ActionList actions={draft.actions || []} onChange={(actions) => update({ actions })} catalog={catalog}
            journeys={catalog.journeys ?? []} trigger={trigger} problems={problems} />
        </section>
        <section className="mf-panel" aria-labelledby="rule-settings">
          <h3 id="rule-settings">Settings</h3>
          <SettingsFields draft={draft} update={update} problems={problems} catalog={catalog} />
        </section>
        <div className="mf-inline rule-form__save">
          <button type="button" onClick={save} disabled={saving}>{ruleId ? "Publish new version" : "Create rule"}</button>
          <span className="muted small" role="status" data-check={checking}>{CHECK_WORDS[checking]}</span>
        </div>
      </div>
      <DryRunPanel definition={definition} catalog={catalog} />
    </div>
  );
}

const CHECK_WORDS = {
  idle: "",
  waiting: "Checking…",
  valid: "No problems found.",
  invalid: "Fix the marked fields before saving.",
  failed: "Could not check the rule.",
};

function Summary({ problems, saveError }) {
  const rest = unclaimed(problems);
  if (!saveError && !rest.length) return null;
  return (
    <div className="error" role="alert" id="rule-problems">
      {saveError && <p>{saveError.message}</p>}
      {rest.length > 0 && (
        <ul>
          {rest.map(([path, message]) => (
            <li key={path}>{path && path !== "body" ? <code>{path}</code> : null} {message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function NameFields({ draft, update, problems, editing }) {
  return (
    <>
      <Field id="rule-name" label="Name" problem={problems.get("name")} hint={editing ? "A rule keeps its name." : "lower case, digits and _, e.g. gold_big_spenders"}>
        <input id="rule-name" type="text" value={draft.name ?? ""} readOnly={editing} onChange={(e) => update({ name: e.target.value })} {...invalidProps("rule-name", problems.get("name"))} />
      </Field>
      <Field id="rule-description" label="Description (optional)" problem={problems.get("description")}>
        <textarea id="rule-description" rows={2} value={draft.description ?? ""} onChange={(e) => update({ description: e.target.value })} {...invalidProps("rule-description", problems.get("description"))} />
      </Field>
    </>
  );
}

function TriggerFields({ draft, update, problems, catalog }) {
  const event = draft.trigger?.event ?? "";
  const offered = catalog.rule_triggers.find((t) => t.event === event);
  const choose = (next) => {
    const params = catalog.rule_triggers.find((t) => t.event === next)?.params ?? [];
    const trigger = { event: next };
    for (const param of params) trigger[param] = draft.trigger?.[param] ?? PARAM_DEFAULTS[param];
    update({ trigger });
  };
  return (
    <div className="mf-form mf-form--row">
      <Field id="rule-trigger" label="Trigger" problem={problems.get("trigger.event")}>
        <select id="rule-trigger" value={event} onChange={(e) => choose(e.target.value)} {...invalidProps("rule-trigger", problems.get("trigger.event"))}>
          {catalog.rule_triggers.map((t) => (
            <option key={t.event} value={t.event}>{t.event.replaceAll("_", " ")}</option>
          ))}
        </select>
      </Field>
      {(offered?.params ?? []).map((param) => (
        <Field key={param} id={`rule-trigger-${param}`} label={TRIGGER_PARAM_WORDS[param] ?? param} problem={problems.get(`trigger.${param}`)}>
          <input id={`rule-trigger-${param}`} type="number" min="0" value={draft.trigger?.[param] ?? ""}
            onChange={(e) => update({ trigger: { ...draft.trigger, [param]: numberOrText(e.target.value) } })}
            {...invalidProps(`rule-trigger-${param}`, problems.get(`trigger.${param}`))} />
        </Field>
      ))}
      <Leftovers problems={problems} prefix="trigger" shown={["trigger.event", "trigger.days", "trigger.days_before"]} />
    </div>
  );
}

function SettingsFields({ draft, update, problems, catalog }) {
  const limit = draft.limit ?? "none";
  return (
    <div className="mf-form mf-form--row">
      <Field id="rule-priority" label="Priority (lower runs first)" problem={problems.get("priority")}>
        <input id="rule-priority" type="number" min="0" max="10000" value={draft.priority ?? ""} onChange={(e) => update({ priority: numberOrText(e.target.value) })} {...invalidProps("rule-priority", problems.get("priority"))} />
      </Field>
      <Field id="rule-limit" label="Fires" problem={problems.get("limit")}>
        <select id="rule-limit" value={limit} onChange={(e) => update({ limit: e.target.value })} {...invalidProps("rule-limit", problems.get("limit"))}>
          {catalog.rule_limits.map((l) => (
            <option key={l} value={l}>{LIMIT_WORDS[l] ?? l}</option>
          ))}
        </select>
      </Field>
      {limit === "once_per_value" && (
        <Field id="rule-limit-by" label="Event property to limit by" problem={problems.get("limit_by")} hint="e.g. review_id">
          <input id="rule-limit-by" type="text" value={draft.limit_by ?? ""} onChange={(e) => update({ limit_by: e.target.value })} {...invalidProps("rule-limit-by", problems.get("limit_by"))} />
        </Field>
      )}
      <CheckField id="rule-stop" label="Stop processing: later rules skip the event when this one fires" checked={Boolean(draft.stop_processing)}
        onChange={(on) => update({ stop_processing: on })} problem={problems.get("stop_processing")} />
      <CheckField id="rule-enabled" label="Enabled: evaluated for new events" checked={draft.enabled !== false}
        onChange={(on) => update({ enabled: on })} problem={problems.get("enabled")} />
    </div>
  );
}
