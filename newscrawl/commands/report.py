"""`newscrawl report FILE_OR_DIR... [--html report.html]`: the run report from output files.

The numbers that are not in the records (pages fetched, skipped, dropped, errors) come
from the manifests, which carry the crawl's own stats summary; per-site, per-day and
text-length figures come from the records themselves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from newscrawl.atomic import atomic_open
from newscrawl.htmlreport import render_html
from newscrawl.reporting import FileReport, find_data_files, format_summary, read_outputs


def format_report(report: FileReport) -> str:
    """The log's summary block, then what only the files can tell."""
    summary = report.summary()
    source = f"{len(report.runs)} run(s)" if report.runs else "records only, no manifests"
    lines = [format_summary(summary, f"newscrawl report ({report.files} files, {source})")]
    lines.append(f"  records in files     {report.records}")
    for label, counts in (("per site", report.per_site), ("per day", report.per_day)):
        lines.append(f"  {label}")
        ordered = sorted(counts.items()) if label == "per day" else counts.most_common()
        width = max((len(k) for k in counts), default=0)
        lines += [f"    {key:<{width}}  {n}" for key, n in ordered]
    lines += [f"  unreadable: {problem}" for problem in report.unreadable]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        paths = list(find_data_files(args.paths))
    except FileNotFoundError as error:
        print(f"newscrawl report: {error}", file=sys.stderr)
        return 2
    if not paths:
        print(f"newscrawl report: no JSONL files in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    report = read_outputs(paths)
    print(format_report(report))
    if args.html:
        with atomic_open(args.html) as handle:
            handle.write(render_html(report).encode("utf-8"))
        print(f"newscrawl report: wrote {args.html}", file=sys.stderr)
    return 1 if report.unreadable else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="summarise output files (and their manifests): text, or an HTML page with charts",
        description=(
            "Print the run report of output files: pages fetched, articles written, skipped, "
            "dropped, paragraphs removed per stage:rule, errors; per site and per day."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="FILE_OR_DIR", help=".jsonl / .jsonl.gz files or folders"
    )
    parser.add_argument(
        "--html", type=Path, metavar="REPORT.html", help="also write a self-contained HTML page"
    )
    parser.set_defaults(func=run)
