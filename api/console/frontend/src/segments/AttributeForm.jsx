// The form of a custom-field test ({attribute: {key, eq | in | exists | gt/gte/lt/lte}}), by the field's type:
// numbers and dates take bounds, selects their options (one, or any of several), booleans yes/no, text a value
// or a list; every type can ask whether the member has a value at all.
import { ValueInput } from "../shared/widgets.jsx";
import { DATE_MODES, RANGE_MODES, keysOf, modeOf } from "./ranges.js";

const SPEC_TYPES = { single_select: "select", multi_select: "multi_select", number: "number", date: "date", boolean: "boolean", text: "text" };
const PRESENCE = [
  ["exists", "is set"],
  ["missing", "is not set"],
];

function opsFor(type) {
  switch (type) {
    case "number":
      return [...RANGE_MODES.filter(([mode]) => mode !== "eq"), ["eq", "is"], ...PRESENCE];
    case "date":
      return [...DATE_MODES, ...PRESENCE];
    case "boolean":
      return [["eq", "is"], ...PRESENCE];
    case "multi_select":
      return [["in", "includes any of"], ...PRESENCE];
    case "single_select":
      return [["eq", "is"], ["in", "is one of"], ...PRESENCE];
    default:
      return [["eq", "is"], ["in", "is one of"], ...PRESENCE];
  }
}

// The op a stored test shows as.
function opOf(test) {
  if ("exists" in test) return test.exists === false ? "missing" : "exists";
  if ("in" in test) return "in";
  return modeOf(test) || "exists";
}

function fresh(op, type, options) {
  if (op === "exists") return { exists: true };
  if (op === "missing") return { exists: false };
  if (op === "in") return { in: [] };
  if (op === "eq") {
    if (type === "boolean") return { eq: true };
    if (type === "single_select" && options?.length) return { eq: options[0] };
    return { eq: type === "number" ? null : "" };
  }
  return Object.fromEntries(keysOf(op, {}).map((key) => [key, null]));
}

export function AttributeForm({ field, value, onChange, catalog, id, bad }) {
  const type = field?.type ?? "text";
  const ops = opsFor(type);
  const op = opOf(value ?? {});
  const spec = { type: SPEC_TYPES[type] ?? "text", options: field?.options ?? null };
  const set = (test) => onChange({ key: value.key, ...test });
  const keys = ["exists", "missing"].includes(op) ? [] : op === "in" ? ["in"] : keysOf(op, value);
  return (
    <>
      <select name="op" aria-label="how to compare" value={op} onChange={(event) => set(fresh(event.target.value, type, field?.options))}>
        {ops.map(([key, words]) => (
          <option key={key} value={key}>
            {words}
          </option>
        ))}
        {!ops.some(([key]) => key === op) && <option value={op}>{op}</option>}
      </select>
      {keys.map((key, index) => (
        <span key={key} className="mf-range__bound">
          {index === 1 && <span className="mf-muted">and</span>}
          <ValueInput
            spec={spec}
            op={key}
            value={value[key]}
            catalog={catalog}
            onChange={(next) => set({ ...Object.fromEntries(keys.map((k) => [k, value[k] ?? null])), [key]: next })}
            id={`${id}-${key}`}
            name={index === 0 ? "value" : "value_high"}
            invalid={bad(key)}
          />
        </span>
      ))}
    </>
  );
}
