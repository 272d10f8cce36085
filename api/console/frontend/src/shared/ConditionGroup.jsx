// The group both condition editors draw: "all of" / "any of" its items, optionally negated ("not"), with rows
// and nested groups, and buttons to add either. What a row is differs (a journey/rule test, a segment test), so
// the caller renders rows (`renderRow`) and makes fresh ones (`freshRow`). Paths follow the tree's JSON, so a
// problem the server reports at "…any.1" finds its item.

import { Fragment } from "react";

// A node as a group: {negated, mode, items, itemsPath}; a lone item (or a negated one) shows as a group of one.
export function asGroup(node, path) {
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

export function Problems({ messages }) {
  if (!messages.size) return null;
  return (
    <ul className="mf-problem" role="alert">
      {[...messages.values()].map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

// `kind` names the data attribute (data-condition-group, data-segment-group). `removeEmpty`: a group left
// with no items goes away (emits null) rather than staying as an empty group.
export function ConditionGroup(props) {
  const { node, path, problems, onChange, onRemove, depth, maxDepth, isLeaf, renderRow, freshRow, kind, emptyText, removeEmpty } = props;
  const group = asGroup(node, path);
  const itemPath = (index) => (group.itemsPath ? `${group.itemsPath}.${index}` : group.lonePath);
  const emit = (change) => onChange(fromGroup({ ...group, ...change }));
  const setItem = (index, item) => emit({ items: group.items.map((old, i) => (i === index ? item : old)) });
  const removeItem = (index) => {
    const items = group.items.filter((_, i) => i !== index);
    if (removeEmpty && items.length === 0 && !group.negated) onChange(null);
    else emit({ items });
  };
  // The group's own problems (an empty "any", too deep): at its path or its list's, not at a row inside it.
  const own = new Map([...problems].filter(([p]) => p === path || p === group.itemsPath || p === `${path}.not`));
  const text = emptyText?.(depth, group.negated);
  return (
    <div className="mf-group" {...{ [`data-${kind}-group`]: path }} data-depth={depth} aria-invalid={own.size > 0 || undefined}>
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
      {group.items.length === 0 && text && <p className="mf-muted mf-empty">{text}</p>}
      <ul className="mf-rows">
        {group.items.map((item, index) =>
          isLeaf(item) ? (
            <Fragment key={index}>
              {renderRow({
                node: item,
                path: itemPath(index),
                onChange: (next) => setItem(index, next),
                onRemove: () => removeItem(index),
              })}
            </Fragment>
          ) : (
            <li key={index}>
              <ConditionGroup
                {...props}
                node={item}
                path={itemPath(index)}
                depth={depth + 1}
                onChange={(next) => (next === null ? removeItem(index) : setItem(index, next))}
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
        {depth < maxDepth && (
          <button type="button" name="add-group" onClick={() => emit({ items: [...group.items, { any: [freshRow()] }] })}>
            + group
          </button>
        )}
      </div>
    </div>
  );
}
