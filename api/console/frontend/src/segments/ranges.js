// Bounds as the segment filter writes them ({gte: 200}, {gt: 1, lte: 5}, {eq: 3}) seen as one "mode" a marketer
// picks from a list (at least, more than, at most, less than, exactly, between) and the values it takes.

export const BOUND_KEYS = ["eq", "gt", "gte", "lt", "lte"];

const has = (value, key) => value != null && Object.prototype.hasOwnProperty.call(value, key);

// The mode of a bounds object; "" when it has no bound at all.
export function modeOf(value) {
  if (has(value, "eq")) return "eq";
  const low = has(value, "gte") ? "gte" : has(value, "gt") ? "gt" : null;
  const high = has(value, "lte") ? "lte" : has(value, "lt") ? "lt" : null;
  if (low && high) return "between";
  return low ?? high ?? "";
}

// The keys a mode writes: between keeps the strictness the value already has (gt/lt from the JSON tab).
export function keysOf(mode, value) {
  if (mode !== "between") return mode ? [mode] : [];
  return [has(value, "gt") ? "gt" : "gte", has(value, "lt") ? "lt" : "lte"];
}

// `value` with its bounds replaced by the ones `mode` takes, carrying the first number over; other keys (an
// attribute's key, include_never_purchased) stay.
export function withMode(value, mode) {
  const rest = Object.fromEntries(Object.entries(value ?? {}).filter(([key]) => !BOUND_KEYS.includes(key)));
  const carried = keysOf(modeOf(value), value).map((key) => value[key])[0] ?? null;
  const keys = keysOf(mode, {});
  return { ...rest, ...Object.fromEntries(keys.map((key, i) => [key, i === 0 ? carried : null])) };
}

export const RANGE_MODES = [
  ["gte", "at least"],
  ["gt", "more than"],
  ["lte", "at most"],
  ["lt", "less than"],
  ["eq", "exactly"],
  ["between", "between"],
];

export const DATE_MODES = [
  ["eq", "on"],
  ["gte", "on or after"],
  ["gt", "after"],
  ["lte", "on or before"],
  ["lt", "before"],
  ["between", "between"],
];
