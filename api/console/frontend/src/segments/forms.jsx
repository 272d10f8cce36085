// The form of one segment condition, by what it tests: tier and RFM-segment checkboxes, tags any/all/none with
// the tag picker, consent per channel, bounds on spend, orders, days and RFM scores, sign-up dates, birthday
// months. Each takes the condition's value (what sits under its key) and emits the new one; `bad(part)` says
// whether the server reported a problem at that part of it.
import { useState } from "react";
import { ValueInput } from "../shared/widgets.jsx";
import { MONTHS } from "./kinds.js";
import { RangeInput } from "./RangeInput.jsx";

function Checkboxes({ options, value, onChange, name, invalid }) {
  const chosen = new Set(value ?? []);
  const toggle = (option) => onChange(options.map(([v]) => v).filter((v) => (v === option ? !chosen.has(v) : chosen.has(v))));
  return (
    <span className="mf-choices" role="group" aria-invalid={invalid || undefined}>
      {options.map(([option, label]) => (
        <label key={String(option)} className="mf-choice">
          <input type="checkbox" name={name} value={String(option)} checked={chosen.has(option)} onChange={() => toggle(option)} />
          {label}
        </label>
      ))}
    </span>
  );
}

const TAG_MODES = [
  ["any", "has any of"],
  ["all", "has all of"],
  ["none", "has none of"],
];

// Tags typed (with the tags members carry as suggestions) and added with Enter or the button, shown as chips.
function TagPicker({ tags, onChange, catalog, id, invalid }) {
  const [typed, setTyped] = useState("");
  const add = () => {
    const tag = typed.trim();
    if (tag && !tags.includes(tag)) onChange([...tags, tag]);
    setTyped("");
  };
  const onKeyDown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  };
  return (
    <span className="mf-tags" onKeyDown={onKeyDown}>
      {tags.map((tag) => (
        <span key={tag} className="mf-chip" data-tag={tag}>
          {tag}
          <button type="button" className="mf-link" aria-label={`remove tag ${tag}`} onClick={() => onChange(tags.filter((t) => t !== tag))}>
            ×
          </button>
        </span>
      ))}
      <ValueInput spec={{ type: "tags" }} op="contains" value={typed} onChange={setTyped} catalog={catalog} id={id} name="tag" invalid={invalid} />
      <button type="button" onClick={add} disabled={!typed.trim()}>
        add tag
      </button>
    </span>
  );
}

function TagsForm({ value, onChange, catalog, id, bad }) {
  const mode = TAG_MODES.find(([key]) => value && key in value)?.[0] ?? "any";
  const tags = value?.[mode] ?? [];
  return (
    <>
      <select name="op" aria-label="which tags" value={mode} onChange={(event) => onChange({ [event.target.value]: tags })}>
        {TAG_MODES.map(([key, words]) => (
          <option key={key} value={key}>
            {words}
          </option>
        ))}
      </select>
      <TagPicker tags={tags} onChange={(next) => onChange({ [mode]: next })} catalog={catalog} id={id} invalid={bad(mode)} />
    </>
  );
}

const CONSENT = [
  ["", "any"],
  ["true", "given"],
  ["false", "not given"],
];

function ConsentForm({ value, onChange, bad }) {
  const set = (channel, raw) => {
    const next = { ...value };
    if (raw === "") delete next[channel];
    else next[channel] = raw === "true";
    onChange(next);
  };
  return ["email", "sms"].map((channel) => (
    <label key={channel} className="mf-inline">
      {channel === "email" ? "Email" : "SMS"}
      <select name={channel} value={value?.[channel] === undefined ? "" : String(value[channel])} aria-invalid={bad(channel) || undefined} onChange={(event) => set(channel, event.target.value)}>
        {CONSENT.map(([raw, words]) => (
          <option key={raw} value={raw}>
            {words}
          </option>
        ))}
      </select>
    </label>
  ));
}

function SignupForm({ value, onChange, id, bad }) {
  const set = (key, day) => {
    const next = { ...value };
    if (day) next[key] = day;
    else delete next[key];
    onChange(next);
  };
  return (
    <>
      <span className="mf-muted">on or after</span>
      <ValueInput spec={{ type: "date" }} op="gte" value={value?.on_or_after} onChange={(day) => set("on_or_after", day)} id={`${id}-after`} name="on_or_after" invalid={bad("on_or_after")} />
      <span className="mf-muted">and before</span>
      <ValueInput spec={{ type: "date" }} op="lt" value={value?.before} onChange={(day) => set("before", day)} id={`${id}-before`} name="before" invalid={bad("before")} />
    </>
  );
}

function RecencyForm({ value, onChange, id, bad }) {
  return (
    <>
      <RangeInput value={value} onChange={onChange} type="days" id={id} bad={bad} />
      <label className="mf-inline">
        <input
          type="checkbox"
          name="include_never_purchased"
          checked={Boolean(value?.include_never_purchased)}
          onChange={(event) => {
            const next = { ...value };
            if (event.target.checked) next.include_never_purchased = true;
            else delete next.include_never_purchased;
            onChange(next);
          }}
        />
        count members who never purchased
      </label>
    </>
  );
}

const SCORES = [
  ["recency", "Recency"],
  ["frequency", "Frequency"],
  ["monetary", "Monetary"],
];

function RfmForm({ value, onChange, id, bad }) {
  const set = (score, bounds) => {
    const next = { ...value };
    if (bounds) next[score] = bounds;
    else delete next[score];
    onChange(next);
  };
  return SCORES.map(([score, label]) => (
    <span key={score} className="mf-inline" data-score={score}>
      {label}
      <RangeInput
        value={value?.[score] ?? null}
        onChange={(bounds) => set(score, bounds)}
        type="number"
        id={`${id}-${score}`}
        bad={(part) => bad(`${score}.${part}`) || bad(score)}
        optional
        label={label}
      />
    </span>
  ));
}

// The form for a member fact `what`; attributes have their own (AttributeForm).
export function FactForm({ what, value, onChange, catalog, id, bad }) {
  const tierChoices = (catalog?.tiers ?? []).map((tier) => [tier.code, tier.name]);
  switch (what) {
    case "tier":
      return <Checkboxes options={tierChoices} value={value} onChange={onChange} name="value" invalid={bad("")} />;
    case "rfm_segment":
      return (
        <Checkboxes options={(catalog?.rfm_segments ?? []).map((s) => [s, s.replaceAll("_", " ")])} value={value} onChange={onChange} name="value" invalid={bad("")} />
      );
    case "birthday_month":
      return <Checkboxes options={MONTHS.map((month, i) => [i + 1, month])} value={value} onChange={onChange} name="value" invalid={bad("")} />;
    case "tags":
      return <TagsForm value={value} onChange={onChange} catalog={catalog} id={id} bad={bad} />;
    case "consent":
      return <ConsentForm value={value} onChange={onChange} bad={bad} />;
    case "has_purchased":
      return <ValueInput spec={{ type: "boolean" }} op="eq" value={value} onChange={onChange} id={id} invalid={bad("")} />;
    case "lifetime_spend":
      return <RangeInput value={value} onChange={onChange} type="money" id={id} bad={bad} />;
    case "order_count":
      return <RangeInput value={value} onChange={onChange} type="number" id={id} bad={bad} />;
    case "days_since_signup":
      return <RangeInput value={value} onChange={onChange} type="days" id={id} bad={bad} />;
    case "days_since_last_purchase":
      return <RecencyForm value={value} onChange={onChange} id={id} bad={bad} />;
    case "signed_up":
      return <SignupForm value={value} onChange={onChange} id={id} bad={bad} />;
    case "rfm":
      return <RfmForm value={value} onChange={onChange} id={id} bad={bad} />;
    default:
      return <code className="mf-muted">{JSON.stringify(value)}</code>;
  }
}
