// The canvas island of a journey's page (and of the new-journey page): the version shown, read-only with its
// live counts; Edit (or the saved draft, which reopens in the editor) switches to the editor; "Compare with"
// shows what changed between two versions.
import { useEffect, useMemo, useState } from "react";
import { Background, Controls, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import "../shared/builder.css";
import "../canvas.css";
import "./editor.css";
import { loadCatalog } from "../shared/catalog.js";
import { DiffView } from "./DiffView.jsx";
import { Editor } from "./Editor.jsx";
import { CanvasView, nodeTypes } from "./StepNode.jsx";
import { drawnEdges, flowNode, positionsFor } from "./flow.js";

const VIEW = { mode: "view", entry: null, problems: new Map(), diff: new Map() };

function LiveCanvas({ data }) {
  const { nodes, edges } = useMemo(() => {
    const ids = data.nodes.map((step) => step.id);
    const positions = positionsFor(ids, data.edges, data.layout);
    return {
      nodes: data.nodes.map((step) => flowNode(step, positions.get(step.id), { draggable: false })),
      edges: drawnEdges(ids, data.edges),
    };
  }, [data]);
  return (
    <div className="journey-canvas" role="figure" aria-label="The journey's steps as a flow">
      <CanvasView.Provider value={VIEW}>
        <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} nodesConnectable={false} nodesDraggable={false} elementsSelectable={false} fitView fitViewOptions={{ padding: 0.15 }} minZoom={0.2} proOptions={{ hideAttribution: true }}>
          <Background gap={24} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </CanvasView.Provider>
    </div>
  );
}

export function JourneyPage({ data }) {
  const current = data.new || data.version === data.current_version;
  const [mode, setMode] = useState(data.new || (data.draft && current) ? "edit" : "view");
  const [compare, setCompare] = useState(data.compare ?? null);
  const [catalog, setCatalog] = useState(null);
  useEffect(() => {
    loadCatalog().then(setCatalog, () => setCatalog({}));
  }, []);
  if (mode === "edit") {
    return (
      <ReactFlowProvider>
        <Editor data={data} catalog={catalog} onCancel={data.new ? null : () => setMode("view")} />
      </ReactFlowProvider>
    );
  }
  const others = (data.versions ?? []).filter((v) => v !== data.version);
  return (
    <div className="mf-journey-view">
      <div className="mf-toolbar">
        {current && <button type="button" onClick={() => setMode("edit")}>{data.draft ? "Edit the draft" : "Edit on the canvas"}</button>}
        {!current && <span className="mf-muted">Version {data.version}, read-only.</span>}
        {others.length > 0 && (
          <label className="mf-compare">
            Compare with{" "}
            <select name="compare" value={compare ?? ""} onChange={(e) => setCompare(e.target.value ? Number(e.target.value) : null)}>
              <option value="">no comparison</option>
              {others.map((v) => (
                <option key={v} value={v}>
                  v{v}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <ReactFlowProvider>
        {compare ? <DiffView kind={data.kind} from={Math.min(compare, data.version)} to={Math.max(compare, data.version)} catalog={catalog} /> : <LiveCanvas data={data} />}
      </ReactFlowProvider>
    </div>
  );
}
