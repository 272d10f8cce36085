// The eleven step kinds, to drag onto the canvas (dropped where the pointer is) or click to add (placed below the
// selected step and connected from it when it has a free output).
import { memo } from "react";
import { KIND_ICONS, KIND_LABELS } from "./kinds.js";
import { KINDS } from "./mapping.js";

export const DRAG_TYPE = "application/x-memberflow-step";

function PaletteView({ onAdd }) {
  return (
    <nav className="mf-palette" aria-label="Steps to add">
      <p className="mf-muted">Drag a step onto the canvas, or click to add it.</p>
      {KINDS.map((kind) => (
        <button
          key={kind}
          type="button"
          className={`mf-palette__item mf-node--${kind}`}
          data-palette={kind}
          draggable
          onDragStart={(event) => {
            event.dataTransfer.setData(DRAG_TYPE, kind);
            event.dataTransfer.effectAllowed = "move";
          }}
          onClick={() => onAdd(kind, null)}
        >
          <span className="mf-node__icon" aria-hidden="true">{KIND_ICONS[kind]}</span> {KIND_LABELS[kind]}
        </button>
      ))}
    </nav>
  );
}

export const Palette = memo(PaletteView);
