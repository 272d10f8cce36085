// Problems as the API reports them ({field, message}, fields like "body.steps.2.send.template") keyed by path
// without the "body." prefix, so a builder can mark the node, row or input at fault.

export function byPath(details) {
  const map = new Map();
  for (const problem of details ?? []) {
    const path = String(problem.field ?? "").replace(/^body\./, "");
    map.set(path, map.has(path) ? `${map.get(path)}; ${problem.message}` : problem.message);
  }
  return map;
}

// The problems at `prefix` or below it.
export function under(map, prefix) {
  const found = new Map();
  for (const [path, message] of map ?? []) {
    if (path === prefix || path.startsWith(`${prefix}.`)) found.set(path, message);
  }
  return found;
}

// The message for exactly this path, if any.
export function at(map, path) {
  return map?.get(path) ?? null;
}
