// The side panel of the selected step: its id (renamed on Enter or leaving the field, if the new id is valid and
// free), its kind's form, the first-step and delete buttons, and the step's problems no form field shows.
import { memo, useEffect, useState } from "react";
import { KIND_LABELS } from "../kinds.js";
import { FIELD_PATHS, PANELS } from "./StepPanels.jsx";
import { Problem } from "./fields.jsx";

const STEP_ID = /^[a-z][a-z0-9_]{0,63}$/;

function IdField({ id, taken, onRename, message }) {
  const [text, setText] = useState(id);
  const [local, setLocal] = useState(null);
  useEffect(() => setText(id), [id]);
  const apply = () => {
    if (text === id) return setLocal(null);
    if (!STEP_ID.test(text)) return setLocal("a step id is lower-case letters, digits and _, starting with a letter (at most 64)");
    if (taken.has(text)) return setLocal(`another step has the id ${text}`);
    setLocal(null);
    return onRename(id, text);
  };
  return (
    <label className="mf-field">
      <span>Step id</span>
      <input
        type="text"
        name="step_id"
        value={text}
        aria-invalid={local || message ? true : undefined}
        onChange={(event) => setText(event.target.value)}
        onBlur={apply}
        onKeyDown={(event) => event.key === "Enter" && apply()}
      />
      <Problem message={local ?? message} />
    </label>
  );
}

function StepPanelView({ step, index, problems, catalog, entry, taken, onBody, onRename, onEntry, onDelete, readOnly, changed }) {
  const base = index >= 0 ? `steps.${index}` : null;
  const at = (path) => (base ? problems.get(`${base}.${path}`) ?? null : null);
  const Form = PANELS[step.kind];
  const placed = new Set(FIELD_PATHS[step.kind].map((path) => `${base}.${path}`));
  const others = base
    ? [...problems].filter(([path]) => (path === base || path.startsWith(`${base}.`)) && !placed.has(path) && path !== `${base}.id` && !path.startsWith(`${base}.branch.if`))
    : [];
  return (
    <section className="mf-panel mf-step-panel" data-panel-for={step.id} aria-label={`Step ${step.id}`}>
      <h3>
        {KIND_LABELS[step.kind]} <code>{step.id}</code>
      </h3>
      {changed && (
        <div className="mf-changed" data-changed-fields>
          <p>Changed in this version:</p>
          <ul>{changed.map((path) => <li key={path}><code>{path}</code></li>)}</ul>
        </div>
      )}
      <fieldset className="mf-form" disabled={readOnly}>
        {others.length > 0 && (
          <ul className="mf-problems" aria-label="Problems of this step">
            {others.map(([path, message]) => (
              <li key={path} className="mf-problem" data-problem-path={path}>{message}</li>
            ))}
          </ul>
        )}
        <IdField id={step.id} taken={taken} onRename={onRename} message={at("id")} />
        <Form body={step.body} onChange={(body) => onBody(step.id, body)} at={at} catalog={catalog} problems={problems} base={base ?? "steps.x"} />
        {!readOnly && (
          <div className="mf-actions">
            {entry !== step.id ? (
              <button type="button" onClick={() => onEntry(step.id)}>Make first step</button>
            ) : (
              <span className="mf-muted">The journey starts here.</span>
            )}
            <button type="button" className="danger" onClick={() => onDelete(step.id)}>Delete step</button>
          </div>
        )}
      </fieldset>
    </section>
  );
}

export const StepPanel = memo(StepPanelView);
