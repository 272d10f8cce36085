// Edits a segment filter: groups ("all of" / "any of", optionally negated with "not", nested) of condition rows.
// A row first picks WHAT it tests (a member fact or a custom field), then shows the form that fits it. The tree
// is the filter's own JSON, so a row's path ("definition.all.2.any.0") is where the server reports its problems.
import { useId } from "react";
import { ConditionGroup, Problems } from "../shared/ConditionGroup.jsx";
import { under } from "../shared/problems.js";
import { AttributeForm } from "./AttributeForm.jsx";
import { FactForm } from "./forms.jsx";
import { groupsOf, isLeaf, whatOf } from "./kinds.js";

const MAX_DEPTH = 6;

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

export function SegmentConditions({ value, onChange, kinds, catalog, problems }) {
  return (
    <div className="mf-conditions">
      <ConditionGroup
        node={value}
        path="definition"
        problems={problems}
        onChange={onChange}
        depth={0}
        maxDepth={MAX_DEPTH}
        kind="segment"
        isLeaf={isLeaf}
        freshRow={() => kinds[0].fresh()}
        emptyText={(depth, negated) => (depth === 0 && !negated ? "No conditions: every member." : "No conditions yet.")}
        renderRow={(row) => <Row {...row} kinds={kinds} catalog={catalog} problems={problems} />}
      />
    </div>
  );
}
