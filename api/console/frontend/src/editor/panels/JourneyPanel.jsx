// The journey's own settings: kind (for a new journey), name, description, trigger (event, days, and a condition
// with the shared condition builder), re-entry, the events that end a run and the step from which they do (so an
// order right after sign-up never cancels the welcome message itself).
import { ConditionBuilder } from "../../shared/ConditionBuilder.jsx";
import { NumberInput, Problem, Row, Select, TextInput } from "./fields.jsx";

export function JourneyPanel({ settings, onChange, problems, catalog, isNew, readOnly, stepIds = [] }) {
  const at = (path) => problems.get(path) ?? null;
  const set = (key) => (value) => onChange({ ...settings, [key]: value });
  const trigger = settings.trigger ?? {};
  const setTrigger = (next) => onChange({ ...settings, trigger: next.event ? next : null });
  const events = catalog?.journey_events ?? [];
  const exitOn = new Set(settings.exit_on);
  return (
    <section className="mf-panel mf-journey-panel" data-panel-for="journey" aria-label="Journey settings">
      <h3>Journey settings</h3>
      <fieldset className="mf-form" disabled={readOnly}>
        <Problem message={at("") ?? at("steps")} />
        {isNew ? (
          <Row label="Kind" hint="the journey's id: lower-case letters, digits and _" message={at("kind")} render={(invalid) => <TextInput name="kind" value={settings.kind} invalid={invalid} onChange={set("kind")} />} />
        ) : (
          <p>
            Kind <code>{settings.kind}</code>
          </p>
        )}
        <Row label="Name" message={at("name")} render={(invalid) => <TextInput name="name" value={settings.name} invalid={invalid} onChange={set("name")} />} />
        <Row
          label="Description"
          message={at("description")}
          render={(invalid) => <textarea name="description" rows={2} value={settings.description} aria-invalid={invalid || undefined} onChange={(e) => set("description")(e.target.value)} />}
        />
        <Row
          label="Trigger event"
          message={at("trigger.event") ?? at("trigger")}
          render={(invalid) => <Select name="trigger_event" value={trigger.event} invalid={invalid} empty="none (started by campaigns only)" options={events.map((e) => [e, e])} onChange={(v) => setTrigger({ ...trigger, event: v })} />}
        />
        {(trigger.event === "inactive" || trigger.event === "birthday") && (
          <Row
            label={trigger.event === "inactive" ? "Days without a purchase" : "Days before the birthday"}
            message={at("trigger.days")}
            render={(invalid) => <NumberInput name="trigger_days" value={trigger.days} invalid={invalid} onChange={(v) => setTrigger({ ...trigger, days: v })} />}
          />
        )}
        {trigger.event && (
          <div className="mf-field">
            <span>Only members for whom this holds</span>
            <ConditionBuilder
              value={trigger.condition ?? null}
              onChange={(tree) => setTrigger({ ...trigger, condition: tree ?? undefined })}
              specs={catalog?.condition_fields?.journey ?? []}
              catalog={catalog}
              problems={problems}
              path="trigger.condition"
            />
          </div>
        )}
        <Row
          label="Re-entry"
          message={at("reentry")}
          render={(invalid) => <Select name="reentry" value={settings.reentry} invalid={invalid} options={[["never", "never: once per member"], ["after_exit", "after exit: again once a run ended"]]} onChange={set("reentry")} />}
        />
        <fieldset className="mf-choices" aria-label="Exit on">
          <legend>Exit when the member…</legend>
          {events.map((event) => (
            <label key={event} className="mf-choice">
              <input
                type="checkbox"
                name="exit_on"
                value={event}
                checked={exitOn.has(event)}
                onChange={() => set("exit_on")(events.filter((e) => (e === event ? !exitOn.has(e) : exitOn.has(e))))}
              />
              {event}
            </label>
          ))}
          <Problem message={at("exit_on")} />
        </fieldset>
        {settings.exit_on.length > 0 && (
          <Row
            label="Exit events apply from step"
            hint="before it, the run goes on even if one happened (it still ends at that step)"
            message={at("exit_from")}
            render={(invalid) => (
              <Select
                name="exit_from"
                value={settings.exit_from ?? undefined}
                invalid={invalid}
                empty="the start (the first step)"
                options={stepIds.map((id) => [id, id])}
                onChange={(v) => set("exit_from")(v ?? null)}
              />
            )}
          />
        )}
      </fieldset>
    </section>
  );
}
