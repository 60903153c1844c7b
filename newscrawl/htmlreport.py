"""The run report as one self-contained HTML page with inline SVG charts.

No scripts, fonts or stylesheets from elsewhere: the page is mailed, archived and
opened offline. The charts are a few rectangles each, so they are written by hand
rather than pulling in a plotting library and its JavaScript.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from html import escape

from newscrawl.reporting import FileReport, Summary

BAR_WIDTH = 640  # px of a horizontal bar chart; fits a laptop screen next to the labels
COLUMN_WIDTH = 900  # px of a column chart: room for a few months of days
LABEL_WIDTH = 230  # px for rule / site names; longer names are shortened with "…"
ROW_HEIGHT = 22
MAX_ROWS = 25  # horizontal charts show the largest N; the rest is summed in one row
HISTOGRAM_BINS = 12
MAX_RUN_ROWS = 48  # two days of hourly runs; older ones are only counted
MAX_FILLED_DAYS = 400  # beyond about a year of empty days, list only the days that have articles
COLOURS = {"bar": "#3b6ea8", "alt": "#c26d2b", "grid": "#d9dde3", "text": "#1f2328"}


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def hbar_chart(counts: Counter[str], colour: str = COLOURS["bar"]) -> str:
    """Horizontal bars, largest first; empty data says so instead of drawing nothing."""
    if not counts:
        return '<p class="empty">nothing to show</p>'
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(rows) > MAX_ROWS:
        rest = sum(n for _, n in rows[MAX_ROWS - 1 :])
        rows = [*rows[: MAX_ROWS - 1], (f"({len(rows) - MAX_ROWS + 1} more)", rest)]
    top = max(n for _, n in rows) or 1
    span = BAR_WIDTH - LABEL_WIDTH - 60
    height = ROW_HEIGHT * len(rows) + 8
    parts = [
        f'<svg class="chart" width="{BAR_WIDTH}" height="{height}" '
        f'viewBox="0 0 {BAR_WIDTH} {height}" role="img">'
    ]
    for i, (label, n) in enumerate(rows):
        y = 4 + i * ROW_HEIGHT
        width = max(1.0, span * n / top)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{ROW_HEIGHT - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}">{n}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(points: list[tuple[str, int]], colour: str = COLOURS["bar"]) -> str:
    """Vertical bars in the given order (days, length bins), labels under every k-th bar."""
    if not points:
        return '<p class="empty">nothing to show</p>'
    # The left margin leaves room for the first rotated date label.
    height, bottom, left, top_pad = 260, 76, 76, 16
    plot_h = height - bottom - top_pad
    plot_w = COLUMN_WIDTH - left - 10
    step = plot_w / len(points)
    top = max(n for _, n in points) or 1
    every = max(1, math.ceil(len(points) / 16))  # at most ~16 labels: they stay readable
    parts = [
        f'<svg class="chart" width="{COLUMN_WIDTH}" height="{height}" '
        f'viewBox="0 0 {COLUMN_WIDTH} {height}" role="img">',
        f'<text x="{left - 6}" y="{top_pad + plot_h + 4}" text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
        f'y2="{top_pad + plot_h}" stroke="{COLOURS["grid"]}"/>',
    ]
    for tick in _ticks(top):
        y = top_pad + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{COLOURS["grid"]}" stroke-dasharray="3 3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    for i, (label, n) in enumerate(points):
        x = left + i * step
        bar_h = plot_h * n / top
        y = top_pad + plot_h - bar_h
        parts.append(
            f'<rect x="{x + step * 0.12:.1f}" y="{y:.1f}" width="{step * 0.76:.1f}" '
            f'height="{bar_h:.1f}" fill="{colour}"><title>{escape(label)}: {n}</title></rect>'
        )
        if i % every == 0:
            cx, cy = x + step / 2, top_pad + plot_h + 12
            parts.append(
                f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="end" '
                f'transform="rotate(-40 {cx:.1f} {cy:.1f})">{escape(_short(label, 14))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(top: int) -> list[int]:
    """At most five round gridline values (1, 2, 5 times a power of ten) up to `top`."""
    if top <= 1:
        return [top]
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, next(int(m * magnitude) for m in (1, 2, 5, 10) if m * magnitude >= raw))
    return list(range(step, top + 1, step))


def length_histogram(lengths: list[int], bins: int = HISTOGRAM_BINS) -> list[tuple[str, int]]:
    """Text lengths in `bins` equal, round-numbered character ranges."""
    if not lengths:
        return []
    top = max(lengths) or 1
    raw = top / bins
    magnitude = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    width = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    width = max(1, int(width))
    counts = Counter(min(length // width, bins - 1) for length in lengths)
    last = max(counts)
    return [(f"{i * width}–{(i + 1) * width}", counts.get(i, 0)) for i in range(last + 1)]


def fill_days(per_day: Counter[str]) -> list[tuple[str, int]]:
    """Days in order with the empty ones in between, so gaps in coverage show as gaps."""
    dated = {}
    for day, n in per_day.items():
        try:
            dated[date.fromisoformat(day)] = n
        except ValueError:
            continue
    if not dated or (max(dated) - min(dated)).days > MAX_FILLED_DAYS:
        return sorted(per_day.items())
    first, last = min(dated), max(dated)
    filled = [
        (str(first + timedelta(days=i)), dated.get(first + timedelta(days=i), 0))
        for i in range((last - first).days + 1)
    ]
    undated = sorted((k, n) for k, n in per_day.items() if k not in {d for d, _ in filled})
    return filled + undated


def summary_table(summary: Summary) -> str:
    rows = [
        ("pages fetched", summary.pages_fetched),
        ("articles written", summary.articles_written),
        ("skipped as seen", sum(summary.skipped.values())),
        ("dropped", sum(summary.dropped.values())),
        ("paragraphs removed", sum(summary.removed.values())),
        ("errors", sum(summary.errors.values())),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="numbers">{cells}</table>'


def runs_table(report: FileReport) -> str:
    """One row per run, newest first: which hourly run failed, and how it did."""
    if not report.runs:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in ("run", "spider", "finished", "files", "pages", "articles", "errors", "")
    )
    rows = []
    order = sorted(
        report.runs, key=lambda r: str(report.run_info.get(r, {}).get("finished_at")), reverse=True
    )
    for run_id in order[:MAX_RUN_ROWS]:
        run, info = report.runs[run_id], report.run_info.get(run_id, {})
        status = '<span class="status failed">failed</span>' if run.failed else ""
        cells = (
            escape(run_id),
            escape(str(info.get("spider") or "")),
            escape(str(info.get("finished_at") or "")),
            info.get("files", 0),
            run.pages_fetched,
            run.articles_written,
            sum(run.errors.values()),
            status,
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = len(order) - MAX_RUN_ROWS
    note = f'<p class="sub">and {more} older run(s)</p>' if more > 0 else ""
    return f"<h2>Runs</h2><table class='runs'><tr>{head}</tr>{''.join(rows)}</table>{note}"


def detail_table(title: str, counts: Counter[str]) -> str:
    if not counts:
        return ""
    body = "".join(
        f"<tr><td>{escape(k)}</td><td>{n}</td></tr>"
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return f"<h3>{escape(title)}</h3><table class='detail'>{body}</table>"


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;
margin:24px auto;max-width:980px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #d9dde3;padding-bottom:4px} h3{font-size:14px;margin:14px 0 4px}
.sub{color:#59636e;margin:0 0 16px} .status{display:inline-block;padding:1px 8px;
border-radius:10px;font-weight:600;font-size:12px}
.ok{background:#dafbe1;color:#1a7f37} .failed{background:#ffebe9;color:#cf222e}
table{border-collapse:collapse} td,th{padding:2px 12px 2px 0;text-align:left}
table.numbers td{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
table.detail td:last-child{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:8px 40px}
svg.chart text{font-size:12px;fill:#1f2328} .empty{color:#59636e;font-style:italic}
.problems{color:#cf222e}
table.runs td,table.runs th{padding:2px 14px 2px 0;font-variant-numeric:tabular-nums}
table.runs th{border-bottom:1px solid #d9dde3;color:#59636e;font-weight:600}
"""


def render_html(report: FileReport, title: str = "newscrawl report") -> str:
    summary = report.summary()
    status = (
        '<span class="status failed">failed</span>'
        if summary.failed and report.runs
        else '<span class="status ok">ok</span>'
    )
    source = (
        f"{len(report.runs)} run(s) from their manifests"
        if report.runs
        else "no manifests: numbers from the records only"
    )
    removed = summary.removed if report.runs else report.removed
    days = fill_days(report.per_day)
    problems = ""
    if report.unreadable:
        items = "".join(f"<li>{escape(p)}</li>" for p in report.unreadable)
        problems = f'<h2>Unreadable files</h2><ul class="problems">{items}</ul>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(title)} {status}</h1>
<p class="sub">{report.files} file(s), {report.records} record(s); {escape(source)}.</p>
<h2>Summary</h2>
<div class="grid"><div>{summary_table(summary)}</div>
<div>{detail_table("Skipped", summary.skipped)}{detail_table("Dropped", summary.dropped)}
{detail_table("Errors", summary.errors)}</div></div>
{runs_table(report)}
<h2>Articles per site</h2>{hbar_chart(report.per_site)}
<h2>Articles per day</h2>
<p class="sub">By publication date, else the day it was fetched.</p>
{column_chart(days)}
<h2>Paragraphs removed per rule</h2>{hbar_chart(removed, COLOURS["alt"])}
<h2>Text length</h2><p class="sub">Articles by characters of clean text.</p>
{column_chart(length_histogram(report.text_lengths))}
<h2>Languages</h2>{hbar_chart(report.languages)}
{problems}
</body></html>
"""
