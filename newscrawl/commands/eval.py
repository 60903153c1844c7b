"""`newscrawl eval DATASET_DIR [--expected EXPECTED_DIR] [--json]`: how clean is our text?

Two kinds of dataset:
- a benchmark folder with `ground-truth.json` ({id: {articleBody, url}}) and `html/<id>.html.gz`
  (the article-extraction benchmark);
- a folder of saved pages plus `--expected EXPECTED_DIR` holding, for each page, its clean
  text at the same relative path with `.txt` (our fixtures, the tengrinews sample).

newscrawl's text comes from the real code path: `clean_files`, i.e. the files spider and the
crawl's ITEM_PIPELINES, run once for all pages (the Twisted reactor runs once per process).
Plain `trafilatura.extract` (default settings, deduplicate=False) is scored in the same run
for comparison. A page newscrawl drops scores 0 on every measure.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newscrawl.evaluation import (
    ACCURATE_F1,
    SHINGLE_SIZE,
    Score,
    Summary,
    line_diff,
    score,
    summarize,
)
from newscrawl.items import Article
from newscrawl.runner import Progress
from newscrawl.spiders.files import PAGE_SUFFIXES, find_pages, read_page_bytes

# Settings of the evaluation run on top of clean_files' own (which already gives it a
# fresh memory:// state store); `-s NAME=VALUE` overrides them and any other setting:
EVAL_SETTINGS = {
    # Extract inline: the same extract_html as in worker processes, without the pool's
    # start-up and hand-off cost, which is all a batch of saved pages would get from it.
    "NEWSCRAWL_EXTRACT_WORKERS": "0",
}
WORST_SHOWN = 10  # pages listed as "where newscrawl does worst"
LINES_SHOWN = 3  # leftover / lost lines shown per worst page
LINE_WIDTH = 110  # a shown line is cut to this many characters


class DatasetError(Exception):
    """The dataset cannot be read; the message names the file at fault."""


@dataclass
class Case:
    """One page of the dataset and everything measured on it."""

    name: str  # benchmark id or page path relative to the dataset folder
    path: Path
    url: str | None
    reference: str | None  # None: no expected text (e.g. a listing page)
    text: str | None = None  # newscrawl's clean text; None when dropped
    article_url: str | None = None  # the address the pipelines saw (from --url map or page)
    dropped: str | None = None  # drop reason
    baseline: str | None = None  # plain trafilatura's text
    baseline_error: str | None = None
    score: Score | None = None
    baseline_score: Score | None = None
    leftover: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def load_benchmark(root: Path) -> list[Case]:
    truth_path = root / "ground-truth.json"
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{truth_path}: cannot read ground truth ({error})") from None
    if not isinstance(truth, dict):
        raise DatasetError(f"{truth_path}: expected an object {{id: {{articleBody, url}}}}")
    cases = []
    for key in sorted(truth):
        entry = truth[key]
        if not isinstance(entry, dict) or not isinstance(entry.get("articleBody"), str):
            raise DatasetError(f"{truth_path}: entry {key!r} has no articleBody string")
        path = root / "html" / f"{key}.html.gz"
        if not path.is_file():
            plain = root / "html" / f"{key}.html"
            if not plain.is_file():
                raise DatasetError(f"{path}: page of ground-truth entry {key!r} is missing")
            path = plain
        url = entry.get("url") if isinstance(entry.get("url"), str) else None
        cases.append(Case(key, path, url, entry["articleBody"]))
    return cases


def expected_path(page: Path, pages_root: Path, expected_root: Path) -> Path:
    """fixtures/sites/x/a/b.html -> EXPECTED/a/b.txt (also for .htm, .html.gz)."""
    relative = page.relative_to(pages_root)
    name = relative.name
    for suffix in sorted(PAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return expected_root / relative.parent / f"{name}.txt"


def load_pages(root: Path, expected_root: Path) -> list[Case]:
    if not expected_root.is_dir():
        raise DatasetError(f"{expected_root}: no such directory of expected texts")
    cases = []
    for page in find_pages([str(root)]):
        target = expected_path(page, root, expected_root)
        reference = None
        if target.is_file():
            try:
                reference = target.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise DatasetError(f"{target}: cannot read expected text ({error})") from None
        cases.append(Case(str(page.relative_to(root)), page, None, reference))
    if not cases:
        raise DatasetError(f"{root}: no saved pages (.html, .html.gz)")
    return cases


def run_baseline(cases: list[Case]) -> None:
    """Plain trafilatura, default settings (deduplicate=False), for comparison."""
    import trafilatura

    progress = Progress("trafilatura", len(cases))
    for case in cases:
        try:
            case.baseline = trafilatura.extract(
                read_page_bytes(case.path), url=case.url, deduplicate=False
            )
        except Exception as error:  # a crash in the baseline scores that page 0, like a drop
            case.baseline_error = repr(error)
        progress.step()
    progress.close()


def run_newscrawl(cases: list[Case], settings: dict[str, str] | None = None) -> dict[str, Any]:
    """newscrawl's clean text of every page, through `newscrawl clean`'s machinery."""
    from newscrawl.commands.clean import clean_files

    def observe(order: int, article: Article | None, reason: str | None) -> None:
        case = cases[order]
        if reason is None and article is not None:
            case.text = article.text
            case.article_url = article.url
        else:
            case.dropped = reason or "dropped"

    paths = [case.path for case in cases]
    urls = {str(case.path): case.url for case in cases if case.url}
    overrides = {**EVAL_SETTINGS, **(settings or {})}
    _, _, stats = clean_files(paths, io.BytesIO(), urls=urls, overrides=overrides, observe=observe)
    for case in cases:
        if case.text is None and case.dropped is None:
            case.dropped = "no outcome reported by the crawl"
    return stats


def measure(cases: list[Case]) -> None:
    for case in cases:
        if case.reference is None:
            continue
        case.score = score(case.text, case.reference)
        case.baseline_score = score(case.baseline, case.reference)
        diff = line_diff(case.text, case.reference)
        case.leftover, case.lost = diff.leftover, diff.lost


def _cut(line: str) -> str:
    return line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"


def _row(label: str, summary: Summary) -> str:
    return (
        f"  {label:<13} {summary.precision:>9.4f} {summary.recall:>7.4f} {summary.f1:>7.4f}"
        f" {summary.mean_f1:>11.4f} {summary.accuracy:>9.4f}"
    )


def _scored(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.score is not None]


def report(cases: list[Case], label: str, per_page: bool) -> str:
    scored = _scored(cases)
    ours = summarize(c.score for c in scored if c.score)
    theirs = summarize(c.baseline_score for c in scored if c.baseline_score)
    out = [
        f"{label}: {len(scored)} pages with expected text"
        + (f", {len(cases) - len(scored)} without" if len(cases) > len(scored) else ""),
        f"word {SHINGLE_SIZE}-gram shingles; precision and recall averaged over pages, F1 of"
        f" those averages; accuracy = share of pages with F1 >= {ACCURATE_F1}",
        f"  {'':<13} {'precision':>9} {'recall':>7} {'F1':>7} {'mean pageF1':>11} {'accuracy':>9}",
        _row("newscrawl", ours),
        _row("trafilatura", theirs),
    ]
    dropped = [c for c in scored if c.dropped is not None]
    if dropped:
        out.append(f"dropped by newscrawl (each counted as F1 0): {len(dropped)}")
        out += [f"  {c.name}: {c.dropped}" for c in dropped]
    failed = [c for c in scored if c.baseline_error]
    if failed:
        out.append(f"plain trafilatura failed (counted as F1 0): {len(failed)}")
        out += [f"  {c.name}: {c.baseline_error}" for c in failed]
    unexpected = [c for c in cases if c.reference is None]
    if unexpected:
        out.append(f"no expected text (not scored): {len(unexpected)}")
        for case in unexpected:
            fate = f"dropped: {case.dropped}" if case.dropped else "kept by newscrawl"
            out.append(f"  {case.name}: {fate}")
    if per_page:
        out.append("per page (+ leftover line, - lost line):")
        for case in scored:
            out += _page_lines(case, limit=None)
    worst = sorted(scored, key=lambda c: (c.score.f1 if c.score else 0.0, c.name))
    worst = [c for c in worst[:WORST_SHOWN] if c.score and c.score.f1 < 1.0]
    if worst:
        out.append(f"where newscrawl does worst ({len(worst)}; + leftover, - lost):")
        for case in worst:
            out += _page_lines(case, limit=LINES_SHOWN)
    return "\n".join(out)


def _page_lines(case: Case, limit: int | None) -> list[str]:
    assert case.score is not None and case.baseline_score is not None
    s, b = case.score, case.baseline_score
    head = (
        f"  {case.name}  F1 {s.f1:.3f} (P {s.precision:.3f} R {s.recall:.3f});"
        f" trafilatura F1 {b.f1:.3f}"
    )
    if case.url:
        head += f"  {case.url}"
    lines = [head]
    if case.dropped:
        lines.append(f"    dropped: {case.dropped}")
    for sign, items in (("+", case.leftover), ("-", case.lost)):
        shown = items if limit is None else items[:limit]
        lines += [f"    {sign} {_cut(line)}" for line in shown]
        if len(items) > len(shown):
            lines.append(f"    {sign} … {len(items) - len(shown)} more")
    return lines


def as_json(cases: list[Case], label: str) -> dict[str, Any]:
    scored = _scored(cases)

    def page(case: Case) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": case.name,
            "file": str(case.path),
            "url": case.url,
            "article_url": case.article_url,
            "expected": case.reference is not None,
            "dropped": case.dropped,
        }
        if case.score is not None and case.baseline_score is not None:
            item["newscrawl"] = vars(case.score)
            item["trafilatura"] = vars(case.baseline_score)
            item["leftover"] = case.leftover
            item["lost"] = case.lost
        return item

    worst = sorted(scored, key=lambda c: (c.score.f1 if c.score else 0.0, c.name))
    return {
        "dataset": label,
        "shingle_size": SHINGLE_SIZE,
        "accurate_f1": ACCURATE_F1,
        "newscrawl": summarize(c.score for c in scored if c.score).as_dict(),
        "trafilatura": summarize(c.baseline_score for c in scored if c.baseline_score).as_dict(),
        "worst": [c.name for c in worst[:WORST_SHOWN]],
        "pages": [page(c) for c in cases],
    }


def run(args: argparse.Namespace) -> int:
    root = Path(args.dataset)
    try:
        if not root.is_dir():
            raise DatasetError(f"{root}: no such directory")
        if args.expected:
            cases = load_pages(root, Path(args.expected))
        elif (root / "ground-truth.json").is_file():
            cases = load_benchmark(root)
        else:
            raise DatasetError(
                f"{root}: no ground-truth.json; for a folder of pages give --expected EXPECTED_DIR"
            )
    except DatasetError as error:
        print(f"newscrawl eval: {error}", file=sys.stderr)
        return 2
    try:
        settings = parse_settings(args.set)
    except ValueError as error:
        print(f"newscrawl eval: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    run_baseline(cases)
    seconds = {"trafilatura": time.perf_counter() - started}
    started = time.perf_counter()
    run_newscrawl(cases, settings)
    seconds["newscrawl"] = time.perf_counter() - started
    measure(cases)
    label = str(root)
    if args.json:
        result = as_json(cases, label)
        result["seconds"] = seconds
        json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print(report(cases, label, per_page=bool(args.expected)))
        print(timing(len(cases), seconds))
    return 0


def timing(pages: int, seconds: dict[str, float]) -> str:
    """Wall time of both runs; newscrawl's includes starting Scrapy and every stage."""

    def rate(name: str) -> str:
        spent = seconds[name]
        return f"{spent:.1f} s ({pages / spent:.1f} pages/s)" if spent > 0 else "-"

    return (
        f"time: newscrawl {rate('newscrawl')} (its pipelines, Scrapy start-up included);"
        f" plain trafilatura {rate('trafilatura')}"
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score newscrawl's clean text (and plain trafilatura's) against expected texts",
        description=(
            "Precision/recall/F1 over word 4-gram shingles, averaged over pages, for newscrawl"
            " (the crawl's own pipelines) and plain trafilatura, on a benchmark folder"
            " (ground-truth.json + html/) or on saved pages with --expected texts."
        ),
    )
    parser.add_argument("dataset", metavar="DATASET_DIR")
    parser.add_argument(
        "--expected",
        metavar="EXPECTED_DIR",
        help="clean texts: same relative path as each page, with .txt",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_set_option(parser)
    parser.set_defaults(func=run)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this run, e.g. -s NEWSCRAWL_EXTRACT_MODE=recall (repeatable)",
    )


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"-s {pair!r}: expected NAME=VALUE")
        settings[name.strip()] = value
    return settings
