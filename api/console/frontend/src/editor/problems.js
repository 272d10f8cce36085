// The validator's problems as the canvas shows them: per step id (the paths say steps.<index>, counted in the
// definition that was validated), and as a list where each item knows the step it belongs to, if any.
import { byPath } from "../shared/problems.js";

export function arrange(definition, details) {
  const paths = byPath(details);
  const perStep = new Map();
  const items = [];
  for (const [path, message] of paths) {
    const found = /^steps\.(\d+)(\.|$)/.exec(path);
    const stepId = found ? definition?.steps?.[Number(found[1])]?.id ?? null : null;
    if (stepId) perStep.set(stepId, [...(perStep.get(stepId) ?? []), message]);
    items.push({ path, message, stepId });
  }
  return { paths, perStep, items };
}

export const EMPTY = { paths: new Map(), perStep: new Map(), items: [] };
