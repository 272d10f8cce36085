// Edits a segment filter: groups ("all of" / "any of", optionally negated with "not", nested) of condition rows.
// A row first picks WHAT it tests (a member fact or a custom field), then shows the form that fits it. The tree
// is the filter's own JSON, so a row's path ("definition.all.2.any.0") is where the server reports its problems.
import { useId } from "react";
import { under } from "../shared/problems.js";
import { AttributeForm } from "./AttributeForm.jsx";
import { FactForm } from "./forms.jsx";
import { groupsOf, isLeaf, whatOf } from "./kinds.js";

const MAX_DEPTH = 6;

// A node as a group: a lone condition (or a negated one) shows as a group of one.
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

function WhatSelect({ kinds, what, onChange, id, invalid }) {
  const known = kinds.some((kind) => kind.what === what);
  return (
    <select id={id} name="what" aria-label="what to test" value={what} aria-invalid={invalid || undefined} onChange={(event) => onChange(event.target.value)}>
      {!known && <option value={what}>{what.replace(/^attribute:/, "")} (unknown field)</option>}
      {groupsOf(kinds).map((group) => (
        <optgroup key={group.name} label={group.name}>
          {group.kinds.map((kind) => (
            <option key={kind.what} value={kind.what}>
              {kind.label}
            </option>
          ))}
        </optgroup>
      ))}
    </select>
  );
}

function Row({ node, path, kinds, catalog, problems, onChange, onRemove }) {
  const id = useId();
  const what = whatOf(node);
  const [key] = Object.keys(node);
  const mine = under(problems, path);
  const base = `${path}.${key}`;
  const bad = (part) => (part ? mine.has(`${base}.${part}`) : mine.has(base) || mine.has(path)) || undefined;
  const kind = kinds.find((k) => k.what === what);
  const pick = (next) => onChange(kinds.find((k) => k.what === next).fresh());
  const set = (value) => onChange({ [key]: value });
  return (
    <li className="mf-row mf-segment-row" data-segment-row={path} data-what={what} aria-invalid={mine.size > 0 || undefined}>
      <WhatSelect kinds={kinds} what={what} onChange={pick} id={`${id}-what`} invalid={mine.has(path)} />
      {key === "attribute" ? (
        <AttributeForm field={kind?.field} value={node.attribute} onChange={set} catalog={catalog} id={id} bad={bad} />
      ) : (
        <FactForm what={what} value={node[key]} onChange={set} catalog={catalog} id={id} bad={bad} />
      )}
      <button type="button" className="mf-link" onClick={onRemove} aria-label="remove condition">
        ✕
      </button>
      <Problems messages={mine} />
    </li>
  );
}

function Group({ node, path, kinds, catalog, problems, onChange, onRemove, depth }) {
  const group = asGroup(node, path);
  const itemPath = (index) => (group.itemsPath ? `${group.itemsPath}.${index}` : group.lonePath);
  const emit = (change) => onChange(fromGroup({ ...group, ...change }));
  const setItem = (index, item) => emit({ items: group.items.map((old, i) => (i === index ? item : old)) });
  const removeItem = (index) => emit({ items: group.items.filter((_, i) => i !== index) });
  const freshRow = () => kinds[0].fresh();
  // The group's own problems (an empty "any", too deep): at its path or its list's, not at a row inside it.
  const own = new Map([...problems].filter(([p]) => p === path || p === group.itemsPath || p === `${path}.not`));
  const empty = group.items.length === 0;
  return (
    <div className="mf-group" data-segment-group={path} data-depth={depth} aria-invalid={own.size > 0 || undefined}>
      <div className="mf-group__head">
        <label className="mf-inline">
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
      {empty && <p className="mf-muted mf-empty">{depth === 0 && !group.negated ? "No conditions: every member." : "No conditions yet."}</p>}
      <ul className="mf-rows">
        {group.items.map((item, index) =>
          isLeaf(item) ? (
            <Row
              key={index}
              node={item}
              path={itemPath(index)}
              kinds={kinds}
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
                kinds={kinds}
                catalog={catalog}
                problems={problems}
                depth={depth + 1}
                onChange={(next) => setItem(index, next)}
                onRemove={() => removeItem(index)}
              />
            </li>
          ),
        )}
      </ul>
      <div className="mf-group__add">
        <button type="button" name="add-condition" onClick={() => emit({ items: [...group.items, freshRow()] })}>
          + condition
        </button>
        {depth < MAX_DEPTH && (
          <button type="button" name="add-group" onClick={() => emit({ items: [...group.items, { any: [freshRow()] }] })}>
            + group
          </button>
        )}
      </div>
    </div>
  );
}

export function SegmentConditions({ value, onChange, kinds, catalog, problems }) {
  return (
    <div className="mf-conditions">
      <Group node={value} path="definition" kinds={kinds} catalog={catalog} problems={problems} onChange={onChange} depth={0} />
    </div>
  );
}
