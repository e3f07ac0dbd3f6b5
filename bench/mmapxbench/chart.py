"""Bar charts as SVG files, written with the standard library only (no gnuplot,
no matplotlib), so every benchmark script draws its charts on any machine.

One shape covers every chart: groups along the x axis, one bar per series in
each group, an optional dashed reference line (1.0 for ratios), linear or
logarithmic y axis.
"""

import math
from xml.sax.saxutils import escape

PALETTE = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#000000"]


def _ticks(top, log, bottom):
    if log:
        first, last = math.floor(math.log10(bottom)), math.ceil(math.log10(top))
        return [10.0 ** e for e in range(first, last + 1)]
    step = 10 ** math.floor(math.log10(top)) if top > 0 else 1
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 6:
            step *= factor
            break
    return [i * step for i in range(int(top / step) + 2)]


def bar_chart(path, title, groups, series, values, ylabel="", log=False, reference=None,
              width=1000, height=520):
    """Writes an SVG grouped bar chart to `path`. values[g][s] is the bar of
    series s in group g (None: no bar)."""
    left, right, top, bottom = 70, 20, 50, 130
    plot_w, plot_h = width - left - right, height - top - bottom
    flat = [v for row in values for v in row if v is not None and (v > 0 or not log)]
    if reference is not None:
        flat.append(reference)
    if not flat:
        return False
    highest = max(flat) * 1.1
    lowest = min(flat) / 2 if log else 0.0
    ticks = _ticks(highest, log, lowest)
    y_top = ticks[-1] if log else max(highest, ticks[-1] if ticks[-1] < highest * 1.5 else highest)
    y_bottom = ticks[0] if log else 0.0

    def y(v):
        if log:
            v = max(v, y_bottom)
            fraction = (math.log10(v) - math.log10(y_bottom)) / (math.log10(y_top) - math.log10(y_bottom))
        else:
            fraction = v / y_top
        return top + plot_h * (1 - fraction)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
           f'<text transform="translate(16,{top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
           f'{escape(ylabel)}</text>']
    for t in ticks:
        if t > y_top or t < y_bottom:
            continue
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#dddddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    slot = plot_w / max(len(groups), 1)
    bar = slot * 0.8 / max(len(series), 1)
    for g, group in enumerate(groups):
        x0 = left + g * slot + slot * 0.1
        for s in range(len(series)):
            v = values[g][s] if s < len(values[g]) else None
            if v is None or (log and v <= 0):
                continue
            yv = y(v)
            out.append(f'<rect x="{x0 + s * bar:.1f}" y="{yv:.1f}" width="{bar * 0.92:.1f}" '
                       f'height="{top + plot_h - yv:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                       f'<title>{escape(series[s])}, {escape(group)}: {v:.4g}</title></rect>')
        cx = left + g * slot + slot / 2
        out.append(f'<text transform="translate({cx:.1f},{top + plot_h + 14}) rotate(30)" '
                   f'text-anchor="start">{escape(group)}</text>')
    if reference is not None and y_bottom <= reference <= y_top:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(reference):.1f}" y2="{y(reference):.1f}" '
                   f'stroke="black" stroke-dasharray="6,4"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="black"/>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="black"/>')
    if len(series) > 1:
        for s, name in enumerate(series):
            lx = left + 10 + (s % 4) * (plot_w / 4)
            ly = height - 38 + (s // 4) * 16
            out.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
            out.append(f'<text x="{lx + 14:.1f}" y="{ly}">{escape(name)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True
