// Bounds on one number (money, a count, days, an RFM score): the mode (at least, more than, at most, less than,
// exactly, between) and its one or two values, through the shared typed inputs. `optional` adds "any", which
// drops the bounds (an RFM score the condition does not test).
import { ValueInput } from "../shared/widgets.jsx";
import { DATE_MODES, RANGE_MODES, keysOf, modeOf, withMode } from "./ranges.js";

export function RangeInput({ value, onChange, type, id, bad, optional = false, label }) {
  const mode = modeOf(value);
  const keys = keysOf(mode, value);
  const modes = type === "date" ? DATE_MODES : RANGE_MODES;
  const spec = { type };
  const setValue = (key, next) => onChange({ ...value, [key]: next });
  return (
    <span className="mf-range">
      <select
        name="op"
        aria-label={label ? `${label}: how to compare` : "how to compare"}
        value={mode}
        onChange={(event) => onChange(event.target.value ? withMode(value, event.target.value) : null)}
      >
        {optional && <option value="">any</option>}
        {modes.map(([key, words]) => (
          <option key={key} value={key}>
            {words}
          </option>
        ))}
      </select>
      {keys.map((key, index) => (
        <span key={key} className="mf-range__bound">
          {index === 1 && <span className="mf-muted">and</span>}
          <ValueInput
            spec={spec}
            op={key}
            value={value?.[key]}
            onChange={(next) => setValue(key, next)}
            id={`${id}-${key}`}
            name={index === 0 ? "value" : "value_high"}
            invalid={bad(key)}
          />
        </span>
      ))}
    </span>
  );
}
