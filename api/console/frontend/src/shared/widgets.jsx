// Inputs typed by the field they set (a condition field spec from the catalog: number, money, days, date, tier,
// tags, select, multi_select, locale, boolean, text, last_wait), shared by the rule, segment and journey builders.
// Values are what the definition stores: numbers as numbers, dates as YYYY-MM-DD, lists for in / not_in.

export const LIST_OPS = new Set(["in", "not_in"]);

const OP_WORDS = {
  eq: "is",
  ne: "is not",
  gt: "more than",
  gte: "at least",
  lt: "less than",
  lte: "at most",
  in: "is one of",
  not_in: "is none of",
  contains: "contains",
  exists: "is set",
};
const DATE_WORDS = { gt: "after", gte: "on or after", lt: "before", lte: "on or before", eq: "on" };
const CONTAINS_WORDS = { tags: "has the tag", multi_select: "includes" };

export function opLabel(type, op) {
  if (type === "date" && DATE_WORDS[op]) return DATE_WORDS[op];
  if (op === "contains" && CONTAINS_WORDS[type]) return CONTAINS_WORDS[type];
  return OP_WORDS[op] ?? op;
}

// The choices a field offers, as [value, label] pairs, or null when it takes free input.
export function choicesOf(spec, catalog) {
  switch (spec?.type) {
    case "tier":
      return (catalog?.tiers ?? []).map((tier) => [tier.code, tier.name]);
    case "locale":
      return (catalog?.locales ?? []).map((locale) => [locale, locale]);
    case "boolean":
      return [
        [true, "yes"],
        [false, "no"],
      ];
    case "select":
    case "multi_select":
    case "last_wait":
      return (spec.options ?? []).map((option) => [option, option]);
    default:
      return null;
  }
}

// The value a fresh row starts with for an operator.
export function initialValue(spec, op) {
  if (op === "exists") return undefined;
  if (LIST_OPS.has(op)) return [];
  if (spec?.type === "boolean") return true;
  const choices = choicesOf(spec, null);
  return choices && choices.length ? choices[0][0] : null;
}

function numberOrNull(text) {
  if (text === "") return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

function Choices({ choices, value, onChange, id, name, invalid }) {
  const chosen = new Set(Array.isArray(value) ? value : []);
  const toggle = (option) => {
    const next = choices.map(([v]) => v).filter((v) => (v === option ? !chosen.has(v) : chosen.has(v)));
    onChange(next);
  };
  return (
    <span className="mf-choices" id={id} role="group" aria-invalid={invalid || undefined}>
      {choices.map(([option, label]) => (
        <label key={String(option)} className="mf-choice">
          <input type="checkbox" name={name} value={String(option)} checked={chosen.has(option)} onChange={() => toggle(option)} />
          {label}
        </label>
      ))}
    </span>
  );
}

// A list of free values (text or numbers), typed comma-separated.
function ListInput({ value, onChange, id, name, invalid, numeric }) {
  const text = Array.isArray(value) ? value.join(", ") : "";
  const parse = (raw) =>
    raw
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => (numeric ? numberOrNull(part) : part));
  return (
    <input
      type="text"
      id={id}
      name={name}
      defaultValue={text}
      placeholder="values, comma-separated"
      aria-invalid={invalid || undefined}
      onChange={(event) => onChange(parse(event.target.value))}
    />
  );
}

export function ValueInput({ spec, op, value, onChange, catalog, invalid, id, name = "value" }) {
  if (op === "exists") return <span className="mf-muted">—</span>;
  const type = spec?.type ?? "text";
  const choices = choicesOf(spec, catalog);
  const common = { id, name, "aria-invalid": invalid || undefined };
  if (LIST_OPS.has(op)) {
    if (choices) return <Choices choices={choices} value={value} onChange={onChange} id={id} name={name} invalid={invalid} />;
    return <ListInput value={value} onChange={onChange} id={id} name={name} invalid={invalid} numeric={["number", "money", "days"].includes(type)} />;
  }
  if (choices) {
    const index = choices.findIndex(([option]) => option === value);
    return (
      <select {...common} value={index < 0 ? "" : String(index)} onChange={(event) => onChange(choices[Number(event.target.value)]?.[0] ?? null)}>
        {index < 0 && <option value="">{value == null ? "choose…" : `${value} (not offered)`}</option>}
        {choices.map(([option, label], i) => (
          <option key={String(option)} value={String(i)}>
            {label}
          </option>
        ))}
      </select>
    );
  }
  switch (type) {
    case "number":
    case "days":
    case "money":
      return (
        <input
          {...common}
          type="number"
          step={type === "money" ? "0.01" : "1"}
          min={type === "days" ? "0" : undefined}
          value={value ?? ""}
          onChange={(event) => onChange(numberOrNull(event.target.value))}
        />
      );
    case "date":
      return <input {...common} type="date" value={value ?? ""} onChange={(event) => onChange(event.target.value || null)} />;
    case "tags": {
      const listId = `${id}-tags`;
      return (
        <>
          <input {...common} type="text" list={listId} value={value ?? ""} placeholder="tag" onChange={(event) => onChange(event.target.value)} />
          <datalist id={listId}>
            {(catalog?.tags ?? []).map((tag) => (
              <option key={tag} value={tag} />
            ))}
          </datalist>
        </>
      );
    }
    default:
      return <input {...common} type="text" value={value ?? ""} onChange={(event) => onChange(event.target.value)} />;
  }
}

// A field picker grouped by where the fields come from (Member, Custom fields, Event, Journey).
export function FieldSelect({ specs, value, onChange, id, name = "field", invalid }) {
  const groups = [];
  for (const spec of specs) {
    let group = groups.find((g) => g.name === spec.group);
    if (!group) groups.push((group = { name: spec.group, specs: [] }));
    group.specs.push(spec);
  }
  const known = specs.some((spec) => spec.field === value || (spec.prefix && value?.startsWith(spec.prefix)));
  const selected = specs.find((spec) => spec.prefix && value?.startsWith(spec.prefix))?.field ?? value ?? "";
  return (
    <select id={id} name={name} value={selected} aria-invalid={invalid || undefined} onChange={(event) => onChange(event.target.value)}>
      {!value && <option value="">choose a field…</option>}
      {value && !known && <option value={value}>{value} (unknown)</option>}
      {groups.map((group) => (
        <optgroup key={group.name} label={group.name}>
          {group.specs.map((spec) => (
            <option key={spec.field} value={spec.field}>
              {spec.label}
            </option>
          ))}
        </optgroup>
      ))}
    </select>
  );
}
