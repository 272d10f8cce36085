// Two versions compared on the canvas, read-only: the newer version's steps, plus the steps it dropped (greyed,
// dashed); added steps green, changed ones amber (their panel lists the fields that changed), edges added or
// removed marked the same way. The comparison itself is computed by the server (services.journeys.diff).
import { useEffect, useMemo, useState } from "react";
import { Background, Controls, ReactFlow } from "@xyflow/react";
import { getJSON } from "../shared/api.js";
import { CanvasView, nodeTypes } from "./StepNode.jsx";
import { StepPanel } from "./panels/StepPanel.jsx";
import { drawnEdges, flowNode, positionsFor } from "./flow.js";
import { fromDefinition } from "./mapping.js";
import { summary } from "./summary.js";

function diffGraph(changes) {
  const after = fromDefinition(changes.to.definition);
  const before = fromDefinition(changes.from.definition);
  const removed = before.nodes.filter((step) => !after.nodes.some((s) => s.id === step.id));
  const steps = [...after.nodes, ...removed];
  const edges = changes.edges.map((e) => ({ source: e.source, label: e.label, target: e.target, status: e.status }));
  const ids = steps.map((s) => s.id);
  const positions = positionsFor(ids, edges, { ...changes.from.layout, ...changes.to.layout });
  const status = new Map(changes.steps.map((s) => [s.id, s.status === "same" ? undefined : s.status]));
  return {
    steps,
    status,
    changed: new Map(changes.steps.map((s) => [s.id, s.changed])),
    nodes: steps.map((step) => flowNode({ ...step, summary: summary(step.kind, step.body) }, positions.get(step.id), { draggable: false })),
    edges: drawnEdges(ids, edges, (edge) => (edge.status === "same" ? undefined : edge.status)),
  };
}

export function DiffView({ kind, from, to, catalog }) {
  const [changes, setChanges] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    let live = true;
    getJSON(`/console/api/journeys/${encodeURIComponent(kind)}/diff?from=${from}&to=${to}`).then((answer) => {
      if (!live) return;
      if (answer.ok) setChanges(answer.data);
      else setError(answer.error.message);
    });
    return () => {
      live = false;
    };
  }, [kind, from, to]);
  const graph = useMemo(() => (changes ? diffGraph(changes) : null), [changes]);
  const view = useMemo(() => ({ mode: "diff", entry: null, problems: new Map(), diff: graph?.status ?? new Map() }), [graph]);
  if (error) return <p className="mf-problem" role="alert">{error}</p>;
  if (!graph) return <p className="mf-muted">Comparing v{from} with v{to}…</p>;
  const chosen = graph.steps.find((s) => s.id === selected);
  const counts = { added: 0, removed: 0, changed: 0 };
  for (const status of graph.status.values()) if (status) counts[status] += 1;
  return (
    <div className="mf-editor" data-mode="diff">
      <p className="mf-diff-legend" id="diff-summary">
        v{from} → v{to}: <span className="mf-diff--added">{counts.added} added</span> · <span className="mf-diff--changed">{counts.changed} changed</span> ·{" "}
        <span className="mf-diff--removed">{counts.removed} removed</span>
        {changes.settings.length > 0 && <> · settings changed: {changes.settings.map((p) => <code key={p}>{p} </code>)}</>}
      </p>
      <div className="mf-editor__body mf-editor__body--diff">
        <div className="journey-canvas" role="figure" aria-label="What changed between the two versions">
          <CanvasView.Provider value={view}>
            <ReactFlow nodes={graph.nodes} edges={graph.edges} nodeTypes={nodeTypes} nodesConnectable={false} nodesDraggable={false} onNodeClick={(_, node) => setSelected(node.id)} fitView fitViewOptions={{ padding: 0.15 }} minZoom={0.2} proOptions={{ hideAttribution: true }}>
              <Background gap={24} />
              <Controls showInteractive={false} />
            </ReactFlow>
          </CanvasView.Provider>
        </div>
        <aside className="mf-side">
          {chosen ? (
            <StepPanel key={chosen.id} step={chosen} index={-1} problems={new Map()} catalog={catalog} entry={null} taken={new Set()} onBody={() => {}} onRename={() => {}} onEntry={() => {}} onDelete={() => {}} readOnly changed={graph.status.get(chosen.id) === "changed" ? graph.changed.get(chosen.id) : null} />
          ) : (
            <p className="mf-muted">Click a step to see what changed in it.</p>
          )}
        </aside>
      </div>
    </div>
  );
}
