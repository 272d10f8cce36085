// The rule draft as the builder holds it, and the small pure helpers around it: what to send (empty inputs
// left out, so the server says "Field required" rather than "String too short"), which condition fields a
// trigger offers, how a problem path is claimed by a part of the form, and the dry run's words.

import { specFor } from "../shared/catalog.js";
import { opLabel } from "../shared/widgets.jsx";

export const ACTION_KINDS = [
  ["grant_points", "Grant points"],
  ["issue_coupon", "Issue a coupon"],
  ["send_message", "Send a message"],
  ["start_journey", "Start a journey"],
  ["create_task", "Create a staff task"],
  ["tag", "Add or remove tags"],
  ["flag", "Set or clear a flag"],
];

export const LIMIT_WORDS = {
  none: "Every matching event",
  once: "Once per member, ever",
  once_per_day: "Once per member per day (their time zone)",
  once_per_week: "Once per member per week",
  once_per_month: "Once per member per month",
  once_per_value: "Once per value of an event property",
};

export const TRIGGER_PARAM_WORDS = {
  days: "Days since the last purchase",
  days_before: "Days before the birthday",
};

// Leaves out undefined, null and "" (recursively in objects; lists keep their items but lose empty ones).
export function clean(value) {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined && v !== null && v !== "").map(clean);
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, v] of Object.entries(value)) {
      if (v === undefined || v === null || v === "") continue;
      out[key] = clean(v);
    }
    return out;
  }
  return value;
}

// The definition to validate, save or dry-run. Conditions stay as the condition builder gave them.
export function toDefinition(draft) {
  const { conditions, ...rest } = draft;
  const out = clean(rest);
  if (conditions) out.conditions = conditions;
  if (out.limit !== "once_per_value") delete out.limit_by;
  return out;
}

// A number input's value: a number when it is one, undefined when empty, else the text (the server names it).
export function numberOrText(raw) {
  if (raw === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;
}

// The condition fields a trigger offers: member and custom fields, and the event fields (event properties
// among them) whose spec lists the trigger.
export function fieldsFor(specs, trigger) {
  return (specs || []).filter((spec) => !spec.triggers || spec.triggers.includes(trigger));
}

// The first action of a kind, filled with what exists so it is valid as soon as it is added where it can be.
export function newAction(kind, catalog, journeys) {
  switch (kind) {
    case "grant_points":
      return { grant_points: { points: 10 } };
    case "issue_coupon":
      return { issue_coupon: { template: catalog.coupon_templates[0]?.code ?? "" } };
    case "send_message": {
      const email = catalog.templates.find((t) => t.channel === "email");
      return { send_message: { channel: "email", template: email?.name ?? "", category: "marketing" } };
    }
    case "start_journey":
      return { start_journey: { kind: journeys[0]?.kind ?? "" } };
    case "create_task":
      return { create_task: { title: "", assignee_role: "marketer", due_days: 2 } };
    case "tag":
      return { tag: { add: [], remove: [] } };
    default:
      return { flag: { set: "" } };
  }
}

export function actionKind(action) {
  return ACTION_KINDS.map(([kind]) => kind).find((kind) => action && action[kind] !== undefined) ?? "unknown";
}

// Parts of the form that show problems themselves; anything else goes to the list at the top.
const OWN_PATHS = /^(name|description|trigger|priority|limit|limit_by|stop_processing|enabled|conditions|actions\.\d+)(\.|$)/;

export function unclaimed(problems) {
  return [...problems.entries()].filter(([path]) => !OWN_PATHS.test(path));
}

export const STATUS_WORDS = {
  would_fire: "Would fire",
  fired: "Would fire",
  condition_false: "Does not fire: a condition is false",
  limit_reached: "Does not fire: its limit is reached for this member",
  already_fired: "Does not fire: this event already fired it",
  disabled: "Does not fire: the rule is disabled",
  stopped: "Does not fire: an earlier rule stops processing",
};

export function describeAction(result) {
  switch (result.action) {
    case "grant_points":
      return `grant ${Number(result.points ?? 0).toLocaleString("en")} points`;
    case "issue_coupon":
      return `issue coupon ${result.template}`;
    case "start_journey":
      return `start the ${result.kind} journey`;
    case "send_message":
      return `send ${result.channel ?? ""} ${result.template ?? ""}`.replace(/\s+/g, " ").trim();
    case "create_task":
      return `create the task “${result.title ?? ""}”`;
    case "tag":
      return `tags ${[...(result.add || []).map((t) => `+${t}`), ...(result.remove || []).map((t) => `−${t}`)].join(" ")}`;
    case "flag":
      return result.set ? `set flag ${result.set}` : `clear flag ${result.clear}`;
    default:
      return result.action;
  }
}

// The engine's reason for a false condition ("conditions.all.0: tier in ['gold'] is false (it is 'silver')") in
// the words the condition rows use ("Tier is one of ['gold'] does not hold: it is 'silver'"); other reasons
// already read as sentences.
const FAILED = /^(conditions(?:\.\w+)*): (\S+) (\w+) (.*) is false \(it is (.*)\)$/s;

export function plainReason(reason, specs) {
  const found = FAILED.exec(reason || "");
  if (!found) return reason;
  const [, , field, op, expected, actual] = found;
  const spec = specFor(specs || [], field);
  const label = !spec ? field : spec.prefix ? `event property ${field.slice(spec.prefix.length)}` : spec.label;
  const is = actual === "None" ? "it is not set" : `it is ${actual}`;
  return `${label} ${opLabel(spec?.type, op)} ${expected} does not hold: ${is}`;
}

// A property typed in the dry run: numbers and true/false as such (the shop sends JSON), the rest as text.
export function propertyValue(text) {
  const trimmed = text.trim();
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  return text;
}
