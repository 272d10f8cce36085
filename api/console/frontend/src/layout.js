// A layered top-to-bottom layout for definitions without stored positions: each step sits one layer below the
// deepest step that leads to it (longest path; definitions have no loops), and within a layer steps are ordered
// by where their predecessors sit, then by their place in the definition.

export const NODE_WIDTH = 260;
export const NODE_HEIGHT = 96;
const GAP_X = 48;
const GAP_Y = 64;

export function layers(nodeIds, edges) {
  const incoming = new Map(nodeIds.map((id) => [id, 0]));
  const outgoing = new Map(nodeIds.map((id) => [id, []]));
  for (const edge of edges) {
    if (!incoming.has(edge.target) || !outgoing.has(edge.source)) continue;
    incoming.set(edge.target, incoming.get(edge.target) + 1);
    outgoing.get(edge.source).push(edge.target);
  }
  const layer = new Map(nodeIds.map((id) => [id, 0]));
  const ready = nodeIds.filter((id) => incoming.get(id) === 0);
  const placed = new Set();
  while (ready.length > 0) {
    const id = ready.shift();
    placed.add(id);
    for (const target of outgoing.get(id)) {
      layer.set(target, Math.max(layer.get(target), layer.get(id) + 1));
      incoming.set(target, incoming.get(target) - 1);
      if (incoming.get(target) === 0) ready.push(target);
    }
  }
  // A loop (which validation refuses) must not hide steps: whatever was not placed goes below the rest.
  const bottom = Math.max(0, ...layer.values()) + 1;
  for (const id of nodeIds) if (!placed.has(id)) layer.set(id, bottom);
  return layer;
}

export function layout(nodeIds, edges) {
  const layer = layers(nodeIds, edges);
  const rows = [];
  nodeIds.forEach((id) => {
    const row = layer.get(id);
    (rows[row] ??= []).push(id);
  });
  const column = new Map();
  const predecessors = new Map(nodeIds.map((id) => [id, []]));
  for (const edge of edges) predecessors.get(edge.target)?.push(edge.source);
  const order = new Map(nodeIds.map((id, index) => [id, index]));
  const positions = new Map();
  rows.forEach((row = [], depth) => {
    const weight = (id) => {
      const seen = predecessors.get(id).filter((p) => column.has(p));
      return seen.length ? seen.reduce((sum, p) => sum + column.get(p), 0) / seen.length : order.get(id);
    };
    row.sort((a, b) => weight(a) - weight(b) || order.get(a) - order.get(b));
    row.forEach((id, index) => {
      column.set(id, index - (row.length - 1) / 2);
      positions.set(id, {
        x: column.get(id) * (NODE_WIDTH + GAP_X),
        y: depth * (NODE_HEIGHT + GAP_Y),
      });
    });
  });
  return positions;
}
