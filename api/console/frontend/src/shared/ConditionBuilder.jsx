// Edits a journey or rule condition tree: {field, op, value}, {all: [...]}, {any: [...]} or {not: {...}}. The
// tree shows as groups ("all of" / "any of", optionally negated) of rows (field, operator, value); rows and
// groups whose path has a problem show it beside them. `path` is where the tree sits in the definition
// (e.g. "steps.3.branch.if"), so the server's problem paths find their row. Emptying the tree emits null.
import { useId } from "react";
import { specFor } from "./catalog.js";
import { under } from "./problems.js";
import { FieldSelect, ValueInput, initialValue, opLabel } from "./widgets.jsx";

const isLeaf = (node) => node && typeof node === "object" && "field" in node;

// A node as a group: {negated, mode, items, itemsPath}. A lone row (or a negated one) shows as a group of one.
function asGroup(node, path) {
  let negated = false;
  let inner = node;
  let innerPath = path;
  if (node && node.not !== undefined) {
    negated = true;
    inner = node.not;
    innerPath = `${path}.not`;
  }
  if (inner && Array.isArray(inner.any)) return { negated, mode: "any", items: inner.any, itemsPath: `${innerPath}.any` };
  if (inner && Array.isArray(inner.all)) return { negated, mode: "all", items: inner.all, itemsPath: `${innerPath}.all` };
  return { negated, mode: "all", items: inner ? [inner] : [], itemsPath: null, lonePath: innerPath };
}

function fromGroup({ negated, mode, items }) {
  const inner = { [mode]: items };
  return negated ? { not: inner } : inner;
}

function Problems({ messages }) {
  if (!messages.size) return null;
  return (
    <ul className="mf-problem" role="alert">
      {[...messages.values()].map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

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

function Group({ node, path, specs, catalog, problems, onChange, onRemove, depth }) {
  const group = asGroup(node, path);
  const itemPath = (index) => (group.itemsPath ? `${group.itemsPath}.${index}` : group.lonePath);
  const emit = (change) => onChange(fromGroup({ ...group, ...change }));
  const setItem = (index, item) => emit({ items: group.items.map((old, i) => (i === index ? item : old)) });
  const removeItem = (index) => {
    const items = group.items.filter((_, i) => i !== index);
    if (items.length === 0 && !group.negated) onChange(null);
    else emit({ items });
  };
  const firstField = specs[0]?.field ?? "";
  const firstOp = specs[0]?.ops[0] ?? "eq";
  const freshRow = () => {
    const value = initialValue(specs[0], firstOp);
    return value === undefined ? { field: firstField, op: firstOp } : { field: firstField, op: firstOp, value };
  };
  const own = new Map([...problems].filter(([p]) => p === path || p === group.itemsPath));
  return (
    <div className="mf-group" data-condition-group={path} data-depth={depth}>
      <div className="mf-group__head">
        <label>
          <input type="checkbox" name="negate" checked={group.negated} onChange={(event) => emit({ negated: event.target.checked })} /> not
        </label>
        <select name="mode" aria-label="match" value={group.mode} onChange={(event) => emit({ mode: event.target.value })}>
          <option value="all">all of these hold</option>
          <option value="any">any of these holds</option>
        </select>
        {onRemove && (
          <button type="button" className="mf-link" onClick={onRemove} aria-label="remove group">
            remove group
          </button>
        )}
      </div>
      <Problems messages={own} />
      <ul className="mf-rows">
        {group.items.map((item, index) =>
          isLeaf(item) ? (
            <Row
              key={index}
              node={item}
              path={itemPath(index)}
              specs={specs}
              catalog={catalog}
              problems={problems}
              onChange={(next) => setItem(index, next)}
              onRemove={() => removeItem(index)}
            />
          ) : (
            <li key={index}>
              <Group
                node={item}
                path={itemPath(index)}
                specs={specs}
                catalog={catalog}
                problems={problems}
                depth={depth + 1}
                onChange={(next) => (next === null ? removeItem(index) : setItem(index, next))}
                onRemove={() => removeItem(index)}
              />
            </li>
          ),
        )}
      </ul>
      <div className="mf-group__add">
        <button type="button" onClick={() => emit({ items: [...group.items, freshRow()] })}>
          + condition
        </button>
        {depth < 4 && (
          <button type="button" onClick={() => emit({ items: [...group.items, { any: [freshRow()] }] })}>
            + group
          </button>
        )}
      </div>
    </div>
  );
}

export function ConditionBuilder({ value, onChange, specs, catalog, problems = new Map(), path }) {
  if (!value) {
    return (
      <div className="mf-conditions mf-conditions--empty" data-condition-group={path}>
        <span className="mf-muted">No conditions: always holds.</span>{" "}
        <button
          type="button"
          onClick={() => {
            const op = specs[0]?.ops[0] ?? "eq";
            const initial = initialValue(specs[0], op);
            const row = initial === undefined ? { field: specs[0]?.field ?? "", op } : { field: specs[0]?.field ?? "", op, value: initial };
            onChange({ all: [row] });
          }}
        >
          + condition
        </button>
      </div>
    );
  }
  return (
    <div className="mf-conditions">
      <Group node={value} path={path} specs={specs} catalog={catalog} problems={problems} onChange={onChange} depth={0} />
    </div>
  );
}
