// Between a journey definition (what runs) and the editor's graph (what the marketer sees): steps become nodes,
// the routes the workflow follows become edges, and back. Back, every edge is written out explicitly (`next`,
// `on_event`/`on_timeout`, `then`/`else`), so the order of the steps never changes what a journey does; the order
// is stable: the first step (the entry), then the others in topological order, ties broken by when they were added.

export const KINDS = ["send", "send_survey", "wait", "wait_for", "branch", "grant_points", "issue_coupon", "create_task", "tag", "flag", "exit"];
const OUTPUTS = { wait_for: ["on_event", "on_timeout"], branch: ["then", "else"], exit: [] };

export const outputsOf = (kind) => OUTPUTS[kind] ?? ["next"];
export const edgeId = (source, label, target) => `${source}-${label}-${target}`;

export function kindOf(step) {
  return KINDS.find((kind) => step?.[kind] !== undefined && step?.[kind] !== null) ?? null;
}

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

// The routes of each step as the workflow follows them (services.journeys.definition.successors): an absent
// `next` (or on_event/on_timeout) continues with the following step in the list.
export function routesOf(steps) {
  const routes = [];
  steps.forEach((step, index) => {
    const following = steps[index + 1]?.id;
    const kind = kindOf(step);
    const add = (label, target) => target && routes.push({ source: step.id, label, target });
    if (kind === "exit") return;
    if (kind === "branch") {
      add("then", step.branch?.then);
      add("else", step.branch?.else);
    } else if (kind === "wait_for") {
      add("on_event", step.on_event ?? step.next ?? following);
      add("on_timeout", step.on_timeout ?? step.next ?? following);
    } else {
      add("next", step.next ?? following);
    }
  });
  return routes;
}

export function settingsOf(definition) {
  const { kind = "", name = "", description, trigger, reentry = "never", exit_on = [], exit_from } = definition ?? {};
  return { kind, name, description: description ?? "", trigger: clone(trigger) ?? null, reentry, exit_on: [...exit_on], exit_from: exit_from ?? null };
}

// A definition (possibly a draft that does not validate) as steps {id, kind, body}, edges and the entry.
export function fromDefinition(definition) {
  const raw = Array.isArray(definition?.steps) ? definition.steps : [];
  const steps = raw.filter((step) => typeof step?.id === "string" && kindOf(step));
  const ids = new Set(steps.map((step) => step.id));
  const nodes = steps.map((step) => {
    const kind = kindOf(step);
    const body = clone(step[kind]) ?? {};
    if (kind === "branch") {
      delete body.then;
      delete body.else;
    }
    return { id: step.id, kind, body };
  });
  const edges = routesOf(steps).filter((edge) => ids.has(edge.target));
  return { settings: settingsOf(definition), nodes, edges, entry: nodes[0]?.id ?? null };
}

// Entry first, then each step once all steps leading to it are placed; steps on a loop (refused by validation)
// or cut off keep their place at the end, so nothing the marketer drew is dropped.
export function orderSteps(nodes, edges, entry) {
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const incoming = new Map(nodes.map((node) => [node.id, 0]));
  const outgoing = new Map(nodes.map((node) => [node.id, []]));
  for (const edge of edges) {
    if (!index.has(edge.source) || !index.has(edge.target)) continue;
    incoming.set(edge.target, incoming.get(edge.target) + 1);
    outgoing.get(edge.source).push(edge.target);
  }
  const order = [];
  const placed = new Set();
  const ready = nodes.filter((node) => incoming.get(node.id) === 0).map((node) => node.id);
  const rank = (id) => (id === entry ? -1 : index.get(id));
  while (ready.length) {
    ready.sort((a, b) => rank(a) - rank(b));
    const id = ready.shift();
    order.push(id);
    placed.add(id);
    for (const target of outgoing.get(id)) {
      incoming.set(target, incoming.get(target) - 1);
      if (incoming.get(target) === 0) ready.push(target);
    }
  }
  for (const node of nodes) if (!placed.has(node.id)) order.push(node.id);
  if (entry && order[0] !== entry && index.has(entry)) {
    order.splice(order.indexOf(entry), 1);
    order.unshift(entry);
  }
  return order;
}

const ROUTE_WORDS = {
  next: "connect this step to the step that follows, or end the journey with an exit step",
  on_event: "connect on_event: the step that follows when the event happens",
  on_timeout: "connect on_timeout: the step that follows when the wait times out",
};

// The definition the graph stands for, and the problems only the graph can see (a step with an output left
// unconnected would otherwise fall through to whatever step happens to follow it in the list).
export function toDefinition(settings, nodes, edges, entry) {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const target = new Map(edges.map((edge) => [`${edge.source}/${edge.label}`, edge.target]));
  const order = orderSteps(nodes, edges, entry);
  const problems = [];
  const steps = order.map((id, i) => {
    const { kind, body } = byId.get(id);
    const route = (label) => target.get(`${id}/${label}`);
    if (kind === "branch") {
      const branch = { ...clone(body) };
      if (route("then")) branch.then = route("then");
      if (route("else")) branch.else = route("else");
      return { id, branch };
    }
    const step = { id, [kind]: clone(body) ?? {} };
    for (const label of outputsOf(kind)) {
      if (route(label)) step[label] = route(label);
      else problems.push({ field: `body.steps.${i}.${label}`, message: ROUTE_WORDS[label] });
    }
    return step;
  });
  const definition = { kind: settings.kind, name: settings.name };
  if (settings.description) definition.description = settings.description;
  if (settings.trigger?.event) definition.trigger = clone(settings.trigger);
  definition.reentry = settings.reentry;
  definition.exit_on = [...settings.exit_on];
  if (settings.exit_from && settings.exit_on.length) definition.exit_from = settings.exit_from;
  definition.steps = steps;
  if (!entry && nodes.length) problems.push({ field: "body.steps", message: "choose the first step (Make first step in its panel)" });
  return { definition, problems };
}

// A fresh step id for a kind: send_1, send_2, … (ids are lower-case, digits and _).
export function freshId(kind, taken) {
  for (let n = 1; ; n += 1) {
    const id = `${kind}_${n}`;
    if (!taken.has(id)) return id;
  }
}

// What a new step of each kind starts with: the least a marketer must fill in is left out, so validation asks.
export function defaultBody(kind) {
  switch (kind) {
    case "send":
      return { channel: "email", category: "marketing" };
    case "send_survey":
      return { channel: "email" };
    case "wait":
      return { hours: 1 };
    case "wait_for":
      return { event: "order_completed" };
    case "grant_points":
      return { points: 100, reason: "" };
    case "create_task":
      return { title: "", assignee_role: "marketer", due_days: 2 };
    case "tag":
      return { add: [], remove: [] };
    default:
      return {};
  }
}
