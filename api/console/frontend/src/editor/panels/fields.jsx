// Form rows of the side panels: a label, the input (marked aria-invalid when validation names its path) and the
// problem's message under it, the same message POST /api/v1/journeys/validate gives.

export function Problem({ message }) {
  return message ? <p className="mf-problem" role="alert">{message}</p> : null;
}

// `render(invalid)` draws the input; `message` is the problem at this field's path, if any.
export function Row({ label, message, render, hint }) {
  return (
    <label className="mf-field">
      <span>{label}</span>
      {render(Boolean(message))}
      {hint && <span className="mf-muted mf-hint">{hint}</span>}
      <Problem message={message} />
    </label>
  );
}

export function TextInput({ value, onChange, invalid, name, placeholder, list }) {
  return (
    <input
      type="text"
      name={name}
      value={value ?? ""}
      placeholder={placeholder}
      list={list}
      aria-invalid={invalid || undefined}
      onChange={(event) => onChange(event.target.value)}
    />
  );
}

// A whole number, or undefined when left empty (so the key is left out of the definition).
export function NumberInput({ value, onChange, invalid, name, min = 0 }) {
  return (
    <input
      type="number"
      name={name}
      min={min}
      step="1"
      value={value ?? ""}
      aria-invalid={invalid || undefined}
      onChange={(event) => onChange(event.target.value === "" ? undefined : Number(event.target.value))}
    />
  );
}

export function Select({ value, onChange, invalid, name, options, empty }) {
  return (
    <select name={name} value={value ?? ""} aria-invalid={invalid || undefined} onChange={(event) => onChange(event.target.value || undefined)}>
      {(empty !== undefined || !options.some(([v]) => v === value)) && <option value="">{empty ?? "choose…"}</option>}
      {value && !options.some(([v]) => v === value) && <option value={value}>{value} (unknown)</option>}
      {options.map(([option, label]) => (
        <option key={option} value={option}>
          {label}
        </option>
      ))}
    </select>
  );
}

// A body with `key` set to `value`, or without the key when the value is empty.
export function withValue(body, key, value) {
  const next = { ...body };
  if (value === undefined || value === null || value === "" || (key !== "points" && value === 0 && DURATION.has(key))) delete next[key];
  else next[key] = value;
  return next;
}
const DURATION = new Set(["days", "hours", "minutes"]);

// Days, hours and minutes of a wait (or a wait_for's timeout).
export function DurationRows({ body, onChange, at, kind, label = "Wait" }) {
  return (
    <fieldset className="mf-duration">
      <legend>{label}</legend>
      {["days", "hours", "minutes"].map((unit) => (
        <Row
          key={unit}
          label={unit}
          message={at(`${kind}.${unit}`)}
          render={(invalid) => (
            <NumberInput name={unit} value={body[unit]} invalid={invalid} onChange={(v) => onChange(withValue(body, unit, v))} />
          )}
        />
      ))}
    </fieldset>
  );
}
