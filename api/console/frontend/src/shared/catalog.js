// What the builders' pickers offer (GET /console/api/catalog): fetched once per page, shared by every builder.
import { getJSON } from "./api.js";

let pending = null;

export function loadCatalog() {
  pending ??= getJSON("/console/api/catalog").then((answer) => {
    if (!answer.ok) {
      pending = null;
      throw new Error(answer.error.message);
    }
    return answer.data;
  });
  return pending;
}

// The condition field specs of a context ("journey" or "rule"), by field name.
export function specsByField(specs) {
  return new Map(specs.map((spec) => [spec.field, spec]));
}

// The spec a field name belongs to: its own, or one whose prefix it starts with (event.properties.<key>).
export function specFor(specs, field) {
  if (!field) return null;
  return specs.find((spec) => spec.field === field) ?? specs.find((spec) => spec.prefix && field.startsWith(spec.prefix)) ?? null;
}
