// The journey canvas (read-only): one node per step with its kind's look, a one-line summary and the live
// counts (a non-zero one links to the runs it counts), edges labelled by what they mean, laid out top to bottom.
import { useMemo } from "react";
import { Background, Controls, Handle, MarkerType, Position, ReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import "./canvas.css";
import { NODE_HEIGHT, NODE_WIDTH, layers, layout } from "./layout.js";

const KIND_LABELS = {
  send: "Send",
  wait: "Wait",
  wait_for: "Wait for",
  branch: "Branch",
  grant_points: "Points",
  issue_coupon: "Coupon",
  create_task: "Task",
  tag: "Tag",
  flag: "Flag",
  exit: "Exit",
};
const KIND_ICONS = {
  send: "✉",
  wait: "◔",
  wait_for: "◎",
  branch: "◇",
  grant_points: "★",
  issue_coupon: "%",
  create_task: "✔",
  tag: "#",
  flag: "⚑",
  exit: "■",
};

// A non-zero count links to the console's list of those runs (each with its member and its Temporal run).
function Count({ value, label, name, href }) {
  const text = `${value.toLocaleString("en")} ${label}`;
  const title = { now: "members at this step now", passed: "runs that passed through this step", ended: "runs that ended here" }[name];
  if (href && value > 0) {
    return (
      <a className="mf-count nodrag nopan" data-count={name} href={href} title={`${title}: list them`}>
        {text}
      </a>
    );
  }
  return (
    <span className="mf-count" data-count={name} title={title}>
      {text}
    </span>
  );
}

function StepNode({ data }) {
  const { step } = data;
  return (
    <div className={`mf-node mf-node--${step.kind}`} data-step={step.id} data-kind={step.kind}>
      <Handle id="in" type="target" position={Position.Top} isConnectable={false} />
      <Handle id="side-in" type="target" position={Position.Right} isConnectable={false} />
      <div className="mf-node__head">
        <span className="mf-node__icon" aria-hidden="true">{KIND_ICONS[step.kind] ?? "•"}</span>
        <span className="mf-node__kind">{KIND_LABELS[step.kind] ?? step.kind}</span>
        <code className="mf-node__id">{step.id}</code>
      </div>
      <div className="mf-node__summary" title={step.summary}>{step.summary}</div>
      <div className="mf-node__counts">
        <Count value={step.counts.now} label="now" name="now" href={step.count_urls?.now} />
        <Count value={step.counts.passed} label="passed" name="passed" href={step.count_urls?.passed} />
        <Count value={step.counts.ended} label="ended" name="ended" href={step.count_urls?.ended} />
      </div>
      <Handle id="out" type="source" position={Position.Bottom} isConnectable={false} />
      <Handle id="side-out" type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const nodeTypes = { step: StepNode };

export function JourneyCanvas({ graph }) {
  const { nodes, edges } = useMemo(() => {
    const ids = graph.nodes.map((step) => step.id);
    const positions = layout(ids, graph.edges);
    const layer = layers(ids, graph.edges);
    // An edge that skips layers would run behind the steps between: it leaves and enters on the right instead.
    const skips = (edge) => layer.get(edge.target) - layer.get(edge.source) > 1;
    return {
      nodes: graph.nodes.map((step) => ({
        id: step.id,
        type: "step",
        position: positions.get(step.id),
        data: { step },
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        draggable: false,
        connectable: false,
      })),
      edges: graph.edges.map((edge) => ({
        id: `${edge.source}-${edge.label}-${edge.target}`,
        source: edge.source,
        target: edge.target,
        sourceHandle: skips(edge) ? "side-out" : "out",
        targetHandle: skips(edge) ? "side-in" : "in",
        label: edge.label,
        type: "smoothstep",
        className: `mf-edge mf-edge--${edge.label}`,
        markerEnd: { type: MarkerType.ArrowClosed },
        data: { label: edge.label },
      })),
    };
  }, [graph]);
  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      nodesConnectable={false}
      nodesDraggable={false}
      elementsSelectable={false}
      fitView
      fitViewOptions={{ padding: 0.15 }}
      minZoom={0.2}
      proOptions={{ hideAttribution: true }}
    >
      <Background gap={24} />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}
