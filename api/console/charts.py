"""Charts as inline SVG drawn on the server: no JavaScript, readable offline, escaped like any other text."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = ("#2f6fdf", "#15a37f", "#e0a526", "#d1495b", "#7b5cd6", "#3aa3c9", "#8c8c8c", "#c76a2f", "#5b8c2a")
Number = int | float | Decimal


def _fmt(value: Number) -> str:
    if isinstance(value, Decimal | float) and value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    # role=img + aria-label: screen readers get the chart's title; the data tables beside carry the figures.
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, content: object, *, anchor: str = "start", size: int = 12, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{klass}>{escape(str(content))}</text>'
    )


def empty(label: str, message: str = "No data for this period yet") -> Markup:
    return _svg(480, 60, [_text(240, 35, message, anchor="middle", cls="muted")], label)


def bars(items: Sequence[tuple[str, Number]], *, label: str, width: int = 380) -> Markup:
    """Horizontal bars, one per item, with the value at the end of each bar."""
    if not items or not any(value for _, value in items):
        return empty(label)
    row, left, right = 26, 120, 60
    top = max(float(value) for _, value in items) or 1.0
    body = []
    for i, (name, value) in enumerate(items):
        y = 8 + i * row
        length = (width - left - right) * float(value) / top
        color = PALETTE[i % len(PALETTE)]
        body.append(_text(left - 8, y + 14, name, anchor="end"))
        body.append(f'<rect x="{left}" y="{y + 2}" width="{max(length, 1):.1f}" height="16" rx="3" fill="{color}"/>')
        body.append(_text(left + length + 6, y + 14, _fmt(value)))
    return _svg(width, 16 + len(items) * row, body, label)


def line(points: Sequence[tuple[str, Number]], *, label: str, unit: str = "", width: int = 380) -> Markup:
    """A line over months (or any ordered labels) with the first, middle and last labels on the x axis."""
    if not points:
        return empty(label)
    height, left, right, top_pad, bottom = 180, 56, 16, 16, 28
    top = max(float(v) for _, v in points) or 1.0
    inner_w, inner_h = width - left - right, height - top_pad - bottom
    step = inner_w / max(len(points) - 1, 1)
    coords = [(left + i * step, top_pad + inner_h * (1 - float(v) / top)) for i, (_, v) in enumerate(points)]
    body = [
        f'<line x1="{left}" y1="{top_pad + inner_h}" x2="{width - right}" y2="{top_pad + inner_h}" class="axis"/>',
        _text(left - 6, top_pad + 4, _fmt(top), anchor="end", size=11, cls="muted"),
        _text(left - 6, top_pad + inner_h, "0", anchor="end", size=11, cls="muted"),
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    area = f"{path} L{coords[-1][0]:.1f},{top_pad + inner_h} L{coords[0][0]:.1f},{top_pad + inner_h} Z"
    body.append(f'<path d="{area}" fill="{PALETTE[0]}" opacity="0.12"/>')
    body.append(f'<path d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for (x, y), (name, value) in zip(coords, points, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}">'
            f"<title>{escape(name)}: {escape(_fmt(value))}{escape(unit)}</title></circle>"
        )
    for i in sorted({0, len(points) // 2, len(points) - 1}):
        anchor = "start" if i == 0 else "end" if i == len(points) - 1 else "middle"
        body.append(_text(coords[i][0], height - 8, points[i][0], anchor=anchor, size=11, cls="muted"))
    return _svg(width, height, body, label)


def heatmap(rows: Sequence[tuple[str, int, Sequence[Decimal]]], *, label: str, width: int = 720) -> Markup:
    """Cohort retention: one row per cohort (label, size, share per month since joining), darker is higher."""
    if not rows:
        return empty(label)
    columns = max(len(shares) for _, _, shares in rows)
    left, top, cell_h = 110, 22, 22
    cell_w = min(44, (width - left - 8) / max(columns, 1))
    width = int(left + columns * cell_w + 8)
    body = [
        _text(left + i * cell_w + cell_w / 2, 15, f"M{i}", anchor="middle", size=10, cls="muted")
        for i in range(columns)
    ]
    for r, (name, size, shares) in enumerate(rows):
        y = top + r * cell_h
        body.append(_text(left - 6, y + 15, f"{name} ({size:,})", anchor="end", size=11))
        for c, share in enumerate(shares):
            x = left + c * cell_w
            level = float(share)
            fill = f"rgba(47,111,223,{0.08 + 0.92 * level:.2f})"
            ink = "#fff" if level > 0.5 else "#1d2433"
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" fill="{fill}">'
                f"<title>{escape(name)} month {c}: {level:.0%}</title></rect>"
            )
            body.append(
                f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + 14}" font-size="9" text-anchor="middle" '
                f'fill="{ink}">{level * 100:.0f}</text>'
            )
    return _svg(width, top + len(rows) * cell_h + 6, body, label)


def tiles(items: Sequence[tuple[str, int, Decimal, Decimal]], *, label: str, columns: int = 3) -> Markup:
    """The RFM grid: a tile per segment (name, members, member share, revenue share), shaded by revenue share."""
    if not items:
        return empty(label)
    tile_w, tile_h, gap = 130, 64, 5
    body = []
    for i, (name, members, member_share, revenue_share) in enumerate(items):
        x, y = (i % columns) * (tile_w + gap), (i // columns) * (tile_h + gap)
        body.append(
            f'<rect x="{x}" y="{y}" width="{tile_w}" height="{tile_h}" rx="4" '
            f'fill="rgba(21,163,127,{0.1 + 0.9 * float(revenue_share):.2f})" stroke="#cfd6e3"/>'
        )
        body.append(_text(x + 8, y + 18, name.replace("_", " "), size=12, cls="strong"))
        body.append(_text(x + 8, y + 36, f"{members:,} members ({float(member_share):.0%})", size=11))
        body.append(_text(x + 8, y + 53, f"{float(revenue_share):.0%} of revenue", size=11))
    rows = (len(items) + columns - 1) // columns
    return _svg(columns * (tile_w + gap), rows * (tile_h + gap), body, label)


def _signed_fill(value: Number) -> str:
    return PALETTE[1] if value >= 0 else PALETTE[3]


def signed_columns(
    points: Sequence[tuple[str, Number | None]], *, label: str, bound: int = 100, width: int = 380
) -> Markup:
    """Columns up or down from a zero line on a fixed scale of ±`bound` (NPS runs from -100 to 100, so weeks and
    periods compare at a glance); a point without a value (a week without answers) leaves its slot empty."""
    if not any(value is not None for _, value in points):
        return empty(label)
    height, left, right, top_pad, bottom = 180, 44, 12, 12, 24
    inner_w, half = width - left - right, (height - top_pad - bottom) / 2
    zero, slot = top_pad + half, inner_w / len(points)
    body = [
        f'<line x1="{left}" y1="{zero:.1f}" x2="{width - right}" y2="{zero:.1f}" class="axis"/>',
        _text(left - 6, top_pad + 4, f"+{bound}", anchor="end", size=11, cls="muted"),
        _text(left - 6, zero + 4, "0", anchor="end", size=11, cls="muted"),
        _text(left - 6, top_pad + 2 * half, f"-{bound}", anchor="end", size=11, cls="muted"),
    ]
    for i, (name, value) in enumerate(points):
        if value is None:
            continue
        length = max(half * abs(float(value)) / bound, 1)
        y = zero - length if value >= 0 else zero
        body.append(
            f'<rect x="{left + i * slot + slot * 0.15:.1f}" y="{y:.1f}" width="{max(slot * 0.7, 1):.1f}" '
            f'height="{length:.1f}" fill="{_signed_fill(value)}"><title>{escape(name)}: {escape(_fmt(value))}'
            "</title></rect>"
        )
    for i in sorted({0, len(points) // 2, len(points) - 1}):
        anchor = "start" if i == 0 else "end" if i == len(points) - 1 else "middle"
        x = left + i * slot + (0 if i == 0 else slot if i == len(points) - 1 else slot / 2)
        body.append(_text(x, height - 6, points[i][0], anchor=anchor, size=11, cls="muted"))
    return _svg(width, height, body, label)


def signed_bars(
    items: Sequence[tuple[str, Number | None]], *, label: str, bound: int = 100, width: int = 380
) -> Markup:
    """Horizontal bars left or right of a centre line on a fixed scale of ±`bound`, each value in a column on the
    right; an item without a value (no answers) shows "–" there and no bar."""
    if not any(value is not None for _, value in items):
        return empty(label)
    row, left, right = 26, 120, 56
    half = (width - left - right) / 2
    centre = left + half
    body = [f'<line x1="{centre:.1f}" y1="4" x2="{centre:.1f}" y2="{12 + len(items) * row}" class="axis"/>']
    for i, (name, value) in enumerate(items):
        y = 8 + i * row
        body.append(_text(left - 8, y + 14, name, anchor="end"))
        if value is None:
            body.append(_text(width - 4, y + 14, "–", anchor="end", cls="muted"))
            continue
        length = max(half * abs(float(value)) / bound, 1)
        x = centre if value >= 0 else centre - length
        body.append(
            f'<rect x="{x:.1f}" y="{y + 2}" width="{length:.1f}" height="16" rx="3" fill="{_signed_fill(value)}"/>'
        )
        body.append(_text(width - 4, y + 14, _fmt(value), anchor="end"))
    return _svg(width, 16 + len(items) * row, body, label)


def stacked(
    rows: Sequence[tuple[str, Sequence[Number]]], *, parts: Sequence[tuple[str, str]], label: str, width: int = 420
) -> Markup:
    """One horizontal bar per row split into its parts (name and colour each, in order) on a shared scale, the
    row's total at its end and a legend on top; each part's figure is in its tooltip (the table beside carries
    them all)."""
    totals = [sum(float(v) for v in values) for _, values in rows]
    if not rows or not any(totals):
        return empty(label)
    row, left, right, top_pad = 26, 120, 60, 24
    scale = (width - left - right) / max(totals)
    body = []
    for i, (name, color) in enumerate(parts):
        body.append(f'<rect x="{left + i * 80}" y="4" width="10" height="10" fill="{color}"/>')
        body.append(_text(left + i * 80 + 14, 13, name, size=11))
    for r, ((name, values), total) in enumerate(zip(rows, totals, strict=True)):
        y, x = top_pad + r * row, float(left)
        body.append(_text(left - 8, y + 14, name, anchor="end"))
        for (part, color), value in zip(parts, values, strict=True):
            length = float(value) * scale
            if length:
                body.append(
                    f'<rect x="{x:.1f}" y="{y + 2}" width="{length:.1f}" height="16" fill="{color}">'
                    f"<title>{escape(name)} {escape(part)}: {escape(_fmt(value))}</title></rect>"
                )
            x += length
        body.append(_text(x + 6, y + 14, _fmt(total)))
    return _svg(width, top_pad + 8 + len(rows) * row, body, label)
