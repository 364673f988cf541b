"""Inline SVG charts for the HTML report: plain markup, no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 720
PALETTE = ("#1f5f8b", "#d9822b", "#6b8e23", "#8e44ad", "#c0392b", "#7f8c8d")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def horizontal_bars(rows: Sequence[tuple[str, float]], *, title: str, highlight: Sequence[str] = (),
                    note: str = "") -> str:
    """One bar per (label, value); labels in ``highlight`` are drawn in the second colour."""
    bar, gap, left, top = 22, 6, 170, 34
    height = top + len(rows) * (bar + gap) + (24 if note else 8)
    biggest = max((v for _, v in rows), default=0) or 1
    span = WIDTH - left - 90
    parts = [f'<text x="0" y="18" class="chart-title">{escape(title)}</text>']
    for k, (label, value) in enumerate(rows):
        y = top + k * (bar + gap)
        w = span * value / biggest
        colour = PALETTE[1] if label in highlight else PALETTE[0]
        parts.append(
            f'<text x="{left - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + bar * 0.7:.1f}">{_number(value)}</text>'
        )
    if note:
        parts.append(f'<text x="0" y="{height - 6}" class="chart-note">{escape(note)}</text>')
    return _svg(height, title, parts)


def stacked_columns(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str) -> str:
    """Columns per label, each stacked from the series (in order), with a legend."""
    left, top, bottom, plot_h = 56, 48, 46, 220
    height = top + plot_h + bottom
    count = max(len(labels), 1)
    step = (WIDTH - left - 10) / count
    width = max(step * 0.7, 1.0)
    totals = [sum(values[k] for values in series.values()) for k in range(len(labels))]
    biggest = max(totals, default=0) or 1
    parts = [f'<text x="0" y="18" class="chart-title">{escape(title)}</text>']
    for n, name in enumerate(series):
        key_x = left + n * 140
        parts.append(f'<rect x="{key_x}" y="28" width="12" height="12" fill="{PALETTE[n % len(PALETTE)]}"/>'
                     f'<text x="{key_x + 18}" y="38">{escape(name)}</text>')
    for tick in range(5):
        value = biggest * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(round(value))}</text>')
    every = max(1, round(count / 12))  # at most about twelve labels under the axis
    for k, label in enumerate(labels):
        x = left + k * step + (step - width) / 2
        y = float(top + plot_h)
        for n, (name, values) in enumerate(series.items()):
            h = plot_h * values[k] / biggest
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: '
                         f"{_number(values[k])}</title></rect>")
        if k % every == 0:
            parts.append(f'<text x="{x + width / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                         f"{escape(label)}</text>")
    return _svg(height, title, parts)


def _svg(height: float, title: str, parts: list[str]) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
            f'height="{height:.0f}" role="img" aria-label="{escape(title)}">' + "".join(parts) + "</svg>")
