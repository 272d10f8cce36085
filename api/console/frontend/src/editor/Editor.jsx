// The journey editor: palette, canvas and side panel. The marketer adds steps (drag or click), connects their
// outputs, fills each step's form; every change is validated (debounced) by the same checks as the HTTP API and
// the problems are marked on the nodes, in the panels and in a list above the canvas. Save draft keeps the work
// (with positions); Publish makes it a version (or, for a new journey, creates it).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Background, Controls, ReactFlow, useEdgesState, useNodesState, useReactFlow } from "@xyflow/react";
import { sendJSON } from "../shared/api.js";
import { NODE_HEIGHT, NODE_WIDTH } from "../layout.js";
import { DRAG_TYPE, Palette } from "./Palette.jsx";
import { CanvasView, nodeTypes } from "./StepNode.jsx";
import { JourneyPanel } from "./panels/JourneyPanel.jsx";
import { StepPanel } from "./panels/StepPanel.jsx";
import { defaultBody, edgeId, freshId, fromDefinition, outputsOf, toDefinition } from "./mapping.js";
import { flowEdge, flowNode, layoutOf, positionsFor, routesOfFlow } from "./flow.js";
import { EMPTY, arrange } from "./problems.js";
import { summary } from "./summary.js";

const VALIDATE_DELAY_MS = 400;
const withSummary = (step) => ({ ...step, summary: summary(step.kind, step.body) });

function initialGraph(definition, layout) {
  const { settings, nodes, edges, entry } = fromDefinition(definition);
  const positions = positionsFor(nodes.map((n) => n.id), edges, layout);
  return {
    settings,
    entry,
    nodes: nodes.map((step) => flowNode(withSummary(step), positions.get(step.id))),
    edges: edges.map((e) => flowEdge(e.source, e.label, e.target)),
  };
}

// Debounced validation of the definition as it stands: the server's problems plus the graph's own.
function useValidation(built) {
  const [shown, setShown] = useState({ ...EMPTY, definition: built.definition });
  const text = JSON.stringify(built.definition);
  const latest = useRef(text);
  latest.current = text;
  useEffect(() => {
    const timer = setTimeout(async () => {
      const answer = await sendJSON("POST", "/console/api/journeys/validate", { definition: built.definition });
      if (latest.current !== text) return;
      const server = answer.ok ? answer.data.problems : answer.error.details ?? [{ field: "body", message: answer.error.message }];
      setShown({ ...arrange(built.definition, [...server, ...built.problems]), definition: built.definition });
    }, VALIDATE_DELAY_MS);
    return () => clearTimeout(timer);
    // The definition's text is the dependency: moving a node changes nothing to validate.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);
  return [shown, setShown];
}

function ProblemList({ items, onPick }) {
  if (!items.length) return <p className="mf-valid" role="status">No problems: ready to publish.</p>;
  return (
    <div className="mf-problem-list" role="alert">
      <p>{items.length === 1 ? "1 problem" : `${items.length} problems`} to fix before publishing:</p>
      <ul id="editor-problems">
        {items.map((item) => (
          <li key={item.path}>
            <button type="button" className="mf-link" data-problem-path={item.path} onClick={() => onPick(item.stepId)}>
              {item.stepId ? <code>{item.stepId}</code> : <code>{item.path || "journey"}</code>} {item.message}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function Editor({ data, catalog, onCancel }) {
  const start = useMemo(() => {
    const source = data.draft ?? { definition: data.definition ?? { kind: "", name: "", steps: [] }, layout: data.layout };
    return initialGraph(source.definition, source.layout);
  }, [data]);
  const [settings, setSettings] = useState(start.settings);
  const [nodes, setNodes, onNodesChange] = useNodesState(start.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState(start.edges);
  const [entry, setEntry] = useState(start.entry);
  const [selected, setSelected] = useState(null);
  const [status, setStatus] = useState(data.draft ? `Editing the draft by ${data.draft.updated_by}, saved at ${data.draft.updated_at}.` : "");
  const [busy, setBusy] = useState(false);
  const flow = useReactFlow();
  const isNew = Boolean(data.new);

  const steps = useMemo(() => nodes.map((node) => node.data.step), [nodes]);
  const built = useMemo(() => toDefinition(settings, steps, routesOfFlow(edges), entry), [settings, steps, edges, entry]);
  const [validation, setValidation] = useValidation(built);
  const view = useMemo(() => ({ mode: "edit", entry, problems: validation.perStep, diff: new Map() }), [entry, validation]);
  const taken = useMemo(() => new Set(steps.map((s) => s.id)), [steps]);

  const addStep = useCallback(
    (kind, position) => {
      setNodes((current) => {
        const ids = new Set(current.map((n) => n.id));
        const id = freshId(kind, ids);
        const from = current.find((n) => n.id === selected);
        const lowest = current.reduce((y, n) => Math.max(y, n.position.y), -NODE_HEIGHT - 64);
        const spot = position ?? (from ? { x: from.position.x, y: from.position.y + NODE_HEIGHT + 64 } : { x: 0, y: lowest + NODE_HEIGHT + 64 });
        if (!position && from) {
          setEdges((es) => {
            const free = outputsOf(from.data.step.kind).find((label) => !es.some((e) => e.source === from.id && e.data.label === label));
            return free ? [...es, flowEdge(from.id, free, id)] : es;
          });
        }
        if (current.length === 0) setEntry(id);
        setSelected(id);
        return [...current, flowNode(withSummary({ id, kind, body: defaultBody(kind) }), spot)];
      });
    },
    [selected, setNodes, setEdges],
  );

  const onDrop = useCallback(
    (event) => {
      const kind = event.dataTransfer.getData(DRAG_TYPE);
      if (!kind) return;
      event.preventDefault();
      const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      addStep(kind, { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 });
    },
    [flow, addStep],
  );

  const onConnect = useCallback(
    ({ source, sourceHandle, target }) => {
      if (!sourceHandle || source === target) return;
      setEdges((es) => [...es.filter((e) => !(e.source === source && e.data.label === sourceHandle)), flowEdge(source, sourceHandle, target)]);
    },
    [setEdges],
  );

  const onBody = useCallback(
    (id, body) => setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { step: withSummary({ ...n.data.step, body }) } } : n))),
    [setNodes],
  );

  const onRename = useCallback(
    (from, to) => {
      setNodes((ns) => ns.map((n) => (n.id === from ? { ...n, id: to, data: { step: { ...n.data.step, id: to } } } : n)));
      const move = (id) => (id === from ? to : id);
      setEdges((es) => es.map((e) => ({ ...e, id: edgeId(move(e.source), e.data.label, move(e.target)), source: move(e.source), target: move(e.target) })));
      setEntry((current) => move(current));
      setSelected(to);
    },
    [setNodes, setEdges],
  );

  const onDelete = useCallback(
    (id) => {
      setNodes((ns) => ns.filter((n) => n.id !== id));
      setEdges((es) => es.filter((e) => e.source !== id && e.target !== id));
      setEntry((current) => (current === id ? null : current));
      setSelected(null);
    },
    [setNodes, setEdges],
  );

  const onNodesDelete = useCallback((deleted) => {
    const gone = new Set(deleted.map((n) => n.id));
    setEntry((current) => (gone.has(current) ? null : current));
    setSelected((current) => (gone.has(current) ? null : current));
  }, []);

  const showProblems = (details, definition) => setValidation({ ...arrange(definition, details), definition });
  const kindUrl = () => encodeURIComponent(settings.kind);

  const saveDraft = async () => {
    if (!settings.kind) return setStatus("Give the journey a kind before saving a draft.");
    setBusy(true);
    const answer = await sendJSON("PUT", `/console/api/journeys/${kindUrl()}/draft`, { definition: built.definition, layout: layoutOf(nodes) });
    setBusy(false);
    if (!answer.ok) {
      showProblems(answer.error.details ?? [], built.definition);
      return setStatus(`The draft was not saved: ${answer.error.message}`);
    }
    return setStatus(`Draft saved by ${answer.data.updated_by} at ${new Date(answer.data.updated_at).toLocaleString()}.`);
  };

  const publish = async () => {
    if (built.problems.length) return setStatus("Not published: connect every step first (see the problems above the canvas).");
    setBusy(true);
    const url = isNew ? "/console/api/journeys" : `/console/api/journeys/${kindUrl()}/versions`;
    const answer = await sendJSON("POST", url, { definition: built.definition, layout: layoutOf(nodes) });
    setBusy(false);
    if (!answer.ok) {
      showProblems(answer.error.details ?? [{ field: "body", message: answer.error.message }], built.definition);
      return setStatus(`Not published: ${answer.error.message}`);
    }
    setStatus(`Published version ${answer.data.version}.`);
    window.location.assign(`${answer.data.url}?published=${answer.data.version}`);
    return undefined;
  };

  const discard = async () => {
    const answer = await sendJSON("DELETE", `/console/api/journeys/${kindUrl()}/draft`, {});
    if (!answer.ok) return setStatus(`The draft was not discarded: ${answer.error.message}`);
    window.location.assign(isNew ? "/console/journeys" : `/console/journeys/${kindUrl()}`);
    return undefined;
  };

  const chosen = steps.find((s) => s.id === selected);
  const index = chosen ? validation.definition.steps?.findIndex((s) => s.id === chosen.id) ?? -1 : -1;
  return (
    <div className="mf-editor" data-mode="edit">
      <div className="mf-toolbar">
        <button type="button" onClick={saveDraft} disabled={busy}>Save draft</button>
        <button type="button" className="ok" onClick={publish} disabled={busy}>Publish</button>
        {data.draft && <button type="button" className="danger" onClick={discard}>Discard draft</button>}
        {onCancel && <button type="button" onClick={onCancel}>Stop editing</button>}
        <button type="button" onClick={() => setSelected(null)}>Journey settings</button>
        <span className="mf-status" role="status" id="editor-status">{status}</span>
      </div>
      <ProblemList items={validation.items} onPick={(id) => setSelected(id)} />
      <div className="mf-editor__body">
        <Palette onAdd={addStep} />
        <div className="journey-canvas" onDragOver={(e) => e.preventDefault()} onDrop={onDrop} role="figure" aria-label="The journey's steps as a flow">
          <CanvasView.Provider value={view}>
            <ReactFlow
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              onNodesDelete={onNodesDelete}
              onNodeClick={(_, node) => setSelected(node.id)}
              deleteKeyCode={["Backspace", "Delete"]}
              fitView={start.nodes.length > 0}
              fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
              minZoom={0.2}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={24} />
              <Controls showInteractive={false} />
            </ReactFlow>
          </CanvasView.Provider>
        </div>
        <aside className="mf-side">
          {chosen ? (
            <StepPanel
              key={chosen.id}
              step={chosen}
              index={index}
              problems={validation.paths}
              catalog={catalog}
              entry={entry}
              taken={taken}
              onBody={onBody}
              onRename={onRename}
              onEntry={setEntry}
              onDelete={onDelete}
            />
          ) : (
            <JourneyPanel settings={settings} onChange={setSettings} problems={validation.paths} catalog={catalog} isNew={isNew} stepIds={steps.map((step) => step.id)} />
          )}
        </aside>
      </div>
    </div>
  );
}
