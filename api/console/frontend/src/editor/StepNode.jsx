// A step on the canvas, memoised: React Flow re-renders it only when its own data changes, or when the editor's
// shared view (problems, counts, diff) does. Its outputs are one handle per route the step kind has.
import { createContext, memo, useContext } from "react";
import { Handle, Position } from "@xyflow/react";
import { KIND_ICONS, KIND_LABELS } from "./kinds.js";
import { outputsOf } from "./mapping.js";

// What every node reads besides its own data: {mode, entry, problems: Map id → messages, diff: Map id → status}.
export const CanvasView = createContext({ mode: "view", entry: null, problems: new Map(), diff: new Map() });

const COUNT_TITLES = { now: "members at this step now", passed: "runs that passed through this step", ended: "runs that ended here" };

// A non-zero count links to the console's list of those runs (each with its member and its Temporal run).
function Count({ value, name, href }) {
  const text = `${value.toLocaleString("en")} ${name}`;
  if (href && value > 0) {
    return (
      <a className="mf-count nodrag nopan" data-count={name} href={href} title={`${COUNT_TITLES[name]}: list them`}>
        {text}
      </a>
    );
  }
  return (
    <span className="mf-count" data-count={name} title={COUNT_TITLES[name]}>
      {text}
    </span>
  );
}

function Outputs({ kind, editable }) {
  const outputs = outputsOf(kind);
  return outputs.map((route, i) => (
    <Handle
      key={route}
      id={route}
      type="source"
      position={Position.Bottom}
      isConnectable={editable}
      className={`mf-handle mf-handle--${route}`}
      style={{ left: `${((i + 1) * 100) / (outputs.length + 1)}%` }}
      title={route}
    >
      {editable && outputs.length > 1 && <span className="mf-handle__label">{route}</span>}
    </Handle>
  ));
}

function StepNodeView({ data, selected }) {
  const { step } = data;
  const view = useContext(CanvasView);
  const editable = view.mode === "edit";
  const problems = view.problems.get(step.id) ?? [];
  const status = view.diff.get(step.id);
  const classes = ["mf-node", `mf-node--${step.kind}`];
  if (problems.length) classes.push("mf-node--invalid");
  if (status) classes.push(`mf-node--${status}`);
  if (selected) classes.push("mf-node--selected");
  return (
    <div
      className={classes.join(" ")}
      data-step={step.id}
      data-kind={step.kind}
      data-diff={status}
      aria-invalid={problems.length ? true : undefined}
      title={problems.join("\n") || undefined}
    >
      <Handle id="in" type="target" position={Position.Top} isConnectable={editable} />
      <Handle id="side-in" type="target" position={Position.Right} isConnectable={false} className="mf-handle--side" />
      <div className="mf-node__head">
        <span className="mf-node__icon" aria-hidden="true">{KIND_ICONS[step.kind] ?? "•"}</span>
        <span className="mf-node__kind">{KIND_LABELS[step.kind] ?? step.kind}</span>
        {view.entry === step.id && editable && <span className="mf-node__entry">start</span>}
        {problems.length > 0 && (
          <span className="mf-node__problems" data-problems={problems.length}>
            {problems.length} {problems.length === 1 ? "problem" : "problems"}
          </span>
        )}
        <code className="mf-node__id">{step.id}</code>
      </div>
      <div className="mf-node__summary" title={step.summary}>{step.summary}</div>
      {step.counts && !editable && (
        <div className="mf-node__counts">
          {["now", "passed", "ended"].map((name) => (
            <Count key={name} name={name} value={step.counts[name]} href={step.count_urls?.[name]} />
          ))}
        </div>
      )}
      <Outputs kind={step.kind} editable={editable} />
      <Handle id="side-out" type="source" position={Position.Right} isConnectable={false} className="mf-handle--side" />
    </div>
  );
}

export const StepNode = memo(StepNodeView);
export const nodeTypes = { step: StepNode };
