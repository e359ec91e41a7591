"""Inline SVG charts for self-contained reports (no scripts, no external requests).

>>> svg = line_chart_svg("accuracy", [0, 60, 120], [0.97, 0.96, 0.94], threshold=0.95)
>>> svg.startswith("<svg") and 'class="threshold"' in svg and "0.94" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 22, 22


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M")


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float]:
    """Affine map [lo, hi] -> [a, b] as (scale, offset); a flat range maps to the middle."""
    if hi == lo:
        return 0.0, (a + b) / 2
    k = (b - a) / (hi - lo)
    return k, a - lo * k


def line_chart_svg(
    title: str,
    t: Sequence[float],
    y: Sequence[float],
    *,
    threshold: float | None = None,
    width: int = 560,
    height: int = 160,
    unit: str = "",
) -> str:
    """A line chart of ``y`` over epoch-second times ``t`` with an optional dashed threshold line."""
    pts = [(a, b) for a, b in zip(t, y, strict=True) if math.isfinite(b)]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">'
        f'<text x="{PAD_L}" y="14" class="title">{escape(title)}{escape(" (" + unit + ")" if unit else "")}</text>'
    )
    if not pts:
        return head + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text></svg>'
    values = [b for _, b in pts] + ([threshold] if threshold is not None else [])
    lo, hi = min(values), max(values)
    kx, ox = _scale(pts[0][0], pts[-1][0], PAD_L, width - PAD_R)
    ky, oy = _scale(lo, hi, height - PAD_B, PAD_T)
    line = " ".join(f"{a * kx + ox:.1f},{b * ky + oy:.1f}" for a, b in pts)
    parts = [
        head,
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{width - PAD_L - PAD_R}" height="{height - PAD_T - PAD_B}" '
        'fill="none" stroke="#ccc"/>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end" class="axis">{_fmt(hi)}</text>',
        f'<text x="{PAD_L - 4}" y="{height - PAD_B}" text-anchor="end" class="axis">{_fmt(lo)}</text>',
        f'<text x="{PAD_L}" y="{height - 6}" class="axis">{_time(pts[0][0])}</text>',
        f'<text x="{width - PAD_R}" y="{height - 6}" text-anchor="end" class="axis">{_time(pts[-1][0])}</text>',
        f'<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="{line}"/>',
    ]
    if threshold is not None:
        ty = threshold * ky + oy
        parts.append(
            f'<line class="threshold" x1="{PAD_L}" x2="{width - PAD_R}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="#dc2626" stroke-dasharray="4 3"><title>threshold {_fmt(threshold)}</title></line>'
        )
    return "".join(parts) + "</svg>"


def bar_chart_svg(title: str, labels: Sequence[str], values: Sequence[float], *, width: int = 360) -> str:
    """Horizontal bars, one per label, with the value printed."""
    row, height = 20, PAD_T + 20 * len(labels) + 6
    top = max([*values, 1e-12])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f'<text x="4" y="14" class="title">{escape(title)}</text>',
    ]
    span = width - 110 - 40
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = PAD_T + i * row
        w = span * value / top
        parts.append(f'<text x="4" y="{y + 13}" class="axis">{escape(label)}</text>')
        parts.append(f'<rect x="110" y="{y + 2}" width="{w:.1f}" height="14" fill="#64748b"/>')
        parts.append(f'<text x="{110 + w + 4:.1f}" y="{y + 13}" class="axis">{_fmt(value)}</text>')
    return "".join(parts) + "</svg>"
