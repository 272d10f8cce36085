// React Flow's nodes and edges from the editor's steps and routes: positions from the stored layout where a step
// has one, the layered auto-layout (../layout.js) for the others; edges named `<source>-<route>-<target>`.
import { MarkerType } from "@xyflow/react";
import { NODE_HEIGHT, NODE_WIDTH, layers, layout } from "../layout.js";
import { edgeId } from "./mapping.js";

export function positionsFor(ids, edges, stored) {
  const auto = layout(ids, edges);
  return new Map(ids.map((id) => [id, stored?.[id] ? { x: stored[id].x, y: stored[id].y } : auto.get(id)]));
}

export function flowNode(step, position, { draggable = true } = {}) {
  return { id: step.id, type: "step", position, data: { step }, width: NODE_WIDTH, height: NODE_HEIGHT, draggable, connectable: draggable };
}

export function flowEdge(source, label, target, { side = false, status } = {}) {
  const classes = ["mf-edge", `mf-edge--${label}`];
  if (status) classes.push(`mf-edge--${status}`);
  return {
    id: edgeId(source, label, target),
    source,
    target,
    sourceHandle: side ? "side-out" : label,
    targetHandle: side ? "side-in" : "in",
    label,
    type: "smoothstep",
    className: classes.join(" "),
    markerEnd: { type: MarkerType.ArrowClosed },
    data: { label, status },
  };
}

// For drawing a definition that is not being edited: an edge that skips layers would run behind the steps
// between, so it leaves and enters on the right instead.
export function drawnEdges(ids, edges, status = () => undefined) {
  const layer = layers(ids, edges);
  return edges.map((edge) =>
    flowEdge(edge.source, edge.label, edge.target, { side: layer.get(edge.target) - layer.get(edge.source) > 1, status: status(edge) }),
  );
}

export const layoutOf = (nodes) =>
  Object.fromEntries(nodes.map((node) => [node.id, { x: Math.round(node.position.x), y: Math.round(node.position.y) }]));

export const routesOfFlow = (edges) => edges.map((edge) => ({ source: edge.source, label: edge.data.label, target: edge.target }));
