"""Bar charts as plain SVG, drawn on the server: no chart library, nothing to run in the browser,
and each one an image with a text alternative (`role="img"`, a title and a description that says
every number). The table beside each chart holds the same figures."""

from __future__ import annotations

import html

# Colours with at least 4.5:1 contrast against white, told apart by more than hue (the legend
# names them, and the description reads every figure).
COLOURS = ("#1d70b8", "#b58800", "#d4351c", "#00703c")
WIDTH = 720


def grouped_bars(title: str, rows: list[dict], key: str, series: list[tuple[str, str]], chart_id: str) -> str:
    """Vertical bars, one group per row (a week), one bar per series: [(field, label), ...]."""
    if not rows:
        return _empty(title)
    height, top, bottom, left = 260, 30, 50, 40
    ticks = _ticks(max([1] + [int(r[f]) for r in rows for f, _ in series]))
    peak = ticks[-1]  # the axis ends on a round tick, at or above the largest bar
    plot_w, plot_h = WIDTH - left - 10, height - top - bottom
    group_w = plot_w / len(rows)
    bar_w = max(2.0, (group_w - 6) / len(series))
    parts = []
    for tick in ticks:
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#b1b4b6" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#0b0c0c">{tick}</text>')
    for i, row in enumerate(rows):
        x0 = left + i * group_w + 3
        for j, (field, _label) in enumerate(series):
            value = int(row[field])
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{COLOURS[j]}"/>'
            )
        if len(rows) <= 12 or i % 2 == 0:
            parts.append(
                f'<text x="{x0 + group_w / 2 - 3:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" fill="#0b0c0c">{html.escape(str(row[key])[5:])}</text>'
            )
    legend = "".join(
        f'<rect x="{left + k * 150}" y="{height - 18}" width="12" height="12" fill="{COLOURS[k]}"/>'
        f'<text x="{left + k * 150 + 18}" y="{height - 8}" font-size="13" fill="#0b0c0c">{html.escape(label)}</text>'
        for k, (_f, label) in enumerate(series)
    )
    description = "; ".join(
        f"week of {row[key]}: " + ", ".join(f"{label} {row[field]}" for field, label in series) for row in rows
    )
    return _svg(title, description, height, "".join(parts) + legend, chart_id)


def horizontal_bars(title: str, items: list[tuple[str, int]], chart_id: str) -> str:
    """One bar per item (a topic), longest first, its label above it."""
    if not items:
        return _empty(title)
    row_h, top = 40, 10
    height = top + row_h * len(items) + 10
    peak = max(n for _, n in items) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        w = (WIDTH - 60) * value / peak
        parts.append(f'<text x="0" y="{y + 13}" font-size="13" fill="#0b0c0c">{html.escape(label)}</text>')
        parts.append(f'<rect x="0" y="{y + 18}" width="{max(w, 2):.1f}" height="14" fill="{COLOURS[0]}"/>')
        parts.append(f'<text x="{max(w, 2) + 6:.1f}" y="{y + 30}" font-size="13" fill="#0b0c0c">{value}</text>')
    description = "; ".join(f"{label}: {value}" for label, value in items)
    return _svg(title, description, height, "".join(parts), chart_id)


def _svg(title: str, description: str, height: int, body: str, chart_id: str) -> str:
    t, d = f"{chart_id}-title", f"{chart_id}-desc"
    return (
        f'<figure class="console-chart" id="{chart_id}"><figcaption><strong>{html.escape(title)}</strong></figcaption>'
        f'<svg role="img" aria-labelledby="{t} {d}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'style="max-width:{WIDTH}px;background:#fff" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{t}">{html.escape(title)}</title><desc id="{d}">{html.escape(description)}</desc>{body}</svg></figure>'
    )


def _empty(title: str) -> str:
    return f'<figure class="console-chart"><figcaption><strong>{html.escape(title)}</strong></figcaption><p>Nothing yet.</p></figure>'


def _ticks(peak: int) -> list[int]:
    """Round ticks from 0 to at least `peak`, at most about five: steps of 1, 2 or 5 times a power
    of ten (0/50/100/150/200, not 0/49/98/147/196)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 5 >= peak:
                step *= factor
                return list(range(0, -(-peak // step) * step + 1, step))
        step *= 10
