// Small form parts the rule builder's sections share: a labelled field that shows its problem under it, a
// select that keeps a value the catalog no longer has (so the problem about it stays visible), and a tag list.
import { useEffect, useState } from "react";

export function invalidProps(id, problem) {
  return problem ? { "aria-invalid": "true", "aria-describedby": `${id}-problem` } : {};
}

export function Field({ id, label, problem, hint, children }) {
  return (
    <div className={`rb-field${problem ? " rb-field--invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && !problem && <small className="muted">{hint}</small>}
      {problem && (
        <p className="mf-problem" id={`${id}-problem`} role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

// A yes/no setting: the box before its words, as a sentence.
export function CheckField({ id, label, checked, onChange, problem }) {
  return (
    <div className={`rb-check${problem ? " rb-field--invalid" : ""}`}>
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} {...invalidProps(id, problem)} />
      <label htmlFor={id}>{label}</label>
      {problem && (
        <p className="mf-problem" id={`${id}-problem`} role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

export function Select({ id, value, options, onChange, problem, blank }) {
  const known = options.some(([v]) => v === value);
  return (
    <select id={id} value={value ?? ""} onChange={(e) => onChange(e.target.value)} {...invalidProps(id, problem)}>
      {blank !== undefined && <option value="">{blank}</option>}
      {!known && value && <option value={value}>{value} (not found)</option>}
      {options.map(([v, text]) => (
        <option key={v} value={v}>
          {text}
        </option>
      ))}
    </select>
  );
}

// Tags typed as "vip, new_member"; the catalog's tags in use are offered as suggestions.
export function TagListInput({ id, value, onChange, tags, problem }) {
  const [text, setText] = useState((value || []).join(", "));
  useEffect(() => {
    const shown = split(text);
    if (shown.join(",") !== (value || []).join(",")) setText((value || []).join(", "));
    // Only when the value changes from outside (a reset from the JSON tab), not while typing.
  }, [value]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <>
      <input
        id={id}
        type="text"
        list={`${id}-tags`}
        value={text}
        placeholder="tag, another_tag"
        onChange={(e) => {
          setText(e.target.value);
          onChange(split(e.target.value));
        }}
        {...invalidProps(id, problem)}
      />
      <datalist id={`${id}-tags`}>
        {(tags || []).map((tag) => (
          <option key={tag} value={tag} />
        ))}
      </datalist>
    </>
  );
}

function split(text) {
  return text
    .split(/[,\s]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

const within = (path, prefix) => path === prefix || path.startsWith(`${prefix}.`);

// Problems under `prefix` that no field of the part shows (`shown`: the paths its fields show, each with what
// lies under it): listed at the part's foot, so no problem goes unseen.
export function Leftovers({ problems, prefix, shown }) {
  const rest = [...problems.entries()].filter(
    ([path]) => within(path, prefix) && !shown.some((field) => within(path, field)),
  );
  if (!rest.length) return null;
  return (
    <ul className="mf-problem" role="alert">
      {rest.map(([path, message]) => (
        <li key={path}>{message}</li>
      ))}
    </ul>
  );
}
