// Edits a journey or rule condition tree: {field, op, value}, {all: [...]}, {any: [...]} or {not: {...}}. The
// tree shows as groups ("all of" / "any of", optionally negated) of rows (field, operator, value); rows and
// groups whose path has a problem show it beside them. `path` is where the tree sits in the definition
// (e.g. "steps.3.branch.if"), so the server's problem paths find their row. Emptying the tree emits null.
import { useId } from "react";
import { specFor } from "./catalog.js";
import { under } from "./problems.js";
import { ConditionGroup, Problems } from "./ConditionGroup.jsx";
import { FieldSelect, ValueInput, initialValue, opLabel } from "./widgets.jsx";

const isLeaf = (node) => node && typeof node === "object" && "field" in node;

function Row({ node, path, specs, catalog, problems, onChange, onRemove }) {
  const id = useId();
  const spec = specFor(specs, node.field);
  const mine = under(problems, path);
  const bad = (part) => mine.has(`${path}.${part}`) || undefined;
  const setField = (field) => {
    const next = specFor(specs, field);
    const op = next?.ops[0] ?? "eq";
    const value = initialValue(next, op);
    onChange(value === undefined ? { field, op } : { field, op, value });
  };
  const setOp = (op) => {
    const keep = node.op === op || (!["in", "not_in", "exists"].includes(op) && !["in", "not_in", "exists"].includes(node.op));
    const value = keep ? node.value : initialValue(spec, op);
    onChange(value === undefined ? { field: node.field, op } : { field: node.field, op, value });
  };
  const key = spec?.prefix ? node.field.slice(spec.prefix.length) : null;
  return (
    <li className="mf-row" data-condition-row={path} aria-invalid={mine.size > 0 || undefined}>
      <FieldSelect specs={specs} value={node.field} onChange={setField} id={`${id}-field`} invalid={bad("field")} />
      {spec?.prefix && (
        <input
          type="text"
          name="key"
          aria-label="property name"
          placeholder="property"
          value={key}
          onChange={(event) => onChange({ ...node, field: spec.prefix + event.target.value })}
        />
      )}
      <select name="op" aria-label="operator" value={node.op ?? ""} aria-invalid={bad("op")} onChange={(event) => setOp(event.target.value)}>
        {(spec?.ops ?? [node.op]).map((op) => (
          <option key={op} value={op}>
            {opLabel(spec?.type, op)}
          </option>
        ))}
      </select>
      <ValueInput
        spec={spec}
        op={node.op}
        value={node.value}
        catalog={catalog}
        id={`${id}-value`}
        invalid={bad("value")}
        onChange={(value) => onChange({ ...node, value })}
      />
      <button type="button" className="mf-link" onClick={onRemove} aria-label="remove condition">
        ✕
      </button>
      <Problems messages={mine} />
    </li>
  );
}

// A fresh row: the first field offered, with its first operator.
function freshRow(specs) {
  const op = specs[0]?.ops[0] ?? "eq";
  const value = initialValue(specs[0], op);
  const field = specs[0]?.field ?? "";
  return value === undefined ? { field, op } : { field, op, value };
}

export function ConditionBuilder({ value, onChange, specs, catalog, problems = new Map(), path }) {
  if (!value) {
    return (
      <div className="mf-conditions mf-conditions--empty" data-condition-group={path}>
        <span className="mf-muted">No conditions: always holds.</span>{" "}
        <button type="button" onClick={() => onChange({ all: [freshRow(specs)] })}>
          + condition
        </button>
      </div>
    );
  }
  return (
    <div className="mf-conditions">
      <ConditionGroup
        node={value}
        path={path}
        problems={problems}
        onChange={onChange}
        depth={0}
        maxDepth={4}
        kind="condition"
        removeEmpty
        isLeaf={isLeaf}
        freshRow={() => freshRow(specs)}
        renderRow={(row) => <Row {...row} specs={specs} catalog={catalog} problems={problems} />}
      />
    </div>
  );
}
