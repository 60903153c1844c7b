"""`newscrawl explain PAGE.html [--url URL] [--json]`: what happened to every paragraph.

The page goes through `newscrawl clean`'s machinery (the files spider and the crawl's
ITEM_PIPELINES); the Article remembers the paragraphs extraction produced (`extracted`) and
every removal with its `stage:rule` (`removed`). This command lines them up: each extracted
paragraph, in order, marked kept, removed (with the rule), or trimmed (a fragment removed
from its start or end, the rest kept).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from newscrawl.commands.eval import EVAL_SETTINGS, add_set_option, parse_settings
from newscrawl.evaluation import words
from newscrawl.items import Article, Removal

KEPT, REMOVED, TRIMMED = "kept", "removed", "trimmed"
CHANGED = "changed"  # a stage rewrote it beyond recognition (kept in another form)
ADDED = "added"  # in the final body but not among the extracted paragraphs


@dataclass
class Verdict:
    status: str  # KEPT, REMOVED, TRIMMED, CHANGED or ADDED
    text: str  # the paragraph as extracted (as kept, for ADDED)
    rules: list[str] = field(default_factory=list)  # "stage:rule" of each removal involved
    removed: list[str] = field(default_factory=list)  # fragments removed (TRIMMED)


def _key(text: str) -> str:
    """Compare paragraphs by their words only: normalization changes spacing, not words."""
    return " ".join(words(text))


def explain_paragraphs(
    extracted: list[str], kept: list[str], removed: list[Removal]
) -> list[Verdict]:
    """Line up extracted paragraphs with the final body and the recorded removals.

    Stages keep the order of paragraphs, so the kept ones are matched in sequence; a removal
    is matched to the first extracted paragraph with the same words, and a removed fragment
    to the paragraph that contains it.
    """
    kept_keys = [_key(k) for k in kept]
    removal_keys = [_key(r.text) for r in removed]
    used = [False] * len(removed)
    verdicts: list[Verdict] = []
    position = 0  # next kept paragraph to match

    def take_removal(match: Any) -> int | None:
        for index, key in enumerate(removal_keys):
            if not used[index] and match(key):
                used[index] = True
                return index
        return None

    for paragraph in extracted:
        key = _key(paragraph)
        if position < len(kept) and kept_keys[position] == key and key:
            verdicts.append(Verdict(KEPT, paragraph))
            position += 1
            continue
        whole = take_removal(lambda k, key=key: k == key)
        if whole is not None:
            rule = f"{removed[whole].stage}:{removed[whole].rule}"
            verdicts.append(Verdict(REMOVED, paragraph, [rule]))
            continue
        if position < len(kept) and kept_keys[position] and kept_keys[position] in key:
            verdict = Verdict(TRIMMED, paragraph)
            while True:
                part = take_removal(lambda k, key=key: bool(k) and k in key)
                if part is None:
                    break
                verdict.rules.append(f"{removed[part].stage}:{removed[part].rule}")
                verdict.removed.append(removed[part].text)
            if not verdict.rules:
                verdict.status = CHANGED
                verdict.removed.append(kept[position])
            verdicts.append(verdict)
            position += 1
            continue
        verdicts.append(Verdict(CHANGED, paragraph))
    verdicts += [Verdict(ADDED, text) for text in kept[position:]]
    for index, removal in enumerate(removed):
        if not used[index] and _key(removal.text):
            # Removed text we could not place (e.g. a stage that merged paragraphs).
            verdicts.append(Verdict(REMOVED, removal.text, [f"{removal.stage}:{removal.rule}"]))
    return verdicts


def render(path: Path, article: Article | None, reason: str | None) -> str:
    lines = [f"page: {path}"]
    if article is None:
        lines.append(f"dropped before extraction finished: {reason}")
        return "\n".join(lines)
    lines += [f"url: {article.url}", f"title: {article.title or '-'}"]
    verdicts = explain_paragraphs(article.extracted, article.paragraphs, article.removed)
    counts = Counter(v.status for v in verdicts)
    rules = Counter(rule for v in verdicts for rule in v.rules)
    statuses = (KEPT, REMOVED, TRIMMED, CHANGED, ADDED)
    summary = ", ".join(f"{counts[s]} {s}" for s in statuses if counts[s])
    if rules:
        summary += " (" + ", ".join(f"{r} {n}" for r, n in rules.most_common()) + ")"
    lines.append(f"extracted {len(article.extracted)} paragraphs: {summary}")
    if reason is not None:
        lines.append(f"DROPPED: {reason}")
    width = max([len(_label(v)) for v in verdicts] + [4])
    for number, verdict in enumerate(verdicts, 1):
        lines.append(f"{number:>4} {_label(verdict):<{width}} | {verdict.text.strip()}")
        for fragment in verdict.removed:
            lines.append(f"{'':>4} {'':<{width}} |   - {fragment}")
    return "\n".join(lines)


def _label(verdict: Verdict) -> str:
    return " ".join([verdict.status, *verdict.rules])


def as_json(path: Path, article: Article | None, reason: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"page": str(path), "dropped": reason}
    if article is not None:
        result["url"] = article.url
        result["title"] = article.title
        result["paragraphs"] = [
            {"status": v.status, "rules": v.rules, "text": v.text, "removed": v.removed}
            for v in explain_paragraphs(article.extracted, article.paragraphs, article.removed)
        ]
    return result


class Recorder:
    """A passive item pipeline placed right after extraction: it keeps a reference to each
    Article, so that a page a later stage drops can still be explained (Scrapy's
    item_dropped signal carries the spider's Page, not the Article). Stages clean the
    Article in place, so the reference shows everything done up to the drop."""

    seen: ClassVar[dict[int, Article]] = {}

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article) and item.order is not None:
            Recorder.seen[item.order] = item
        return item


def explain_overrides() -> dict[str, Any]:
    """The project's ITEM_PIPELINES plus the Recorder, and eval's settings: a fresh in-memory
    state store (explaining a page twice, or one an earlier crawl wrote, is no duplicate)
    and inline extraction (a worker pool only costs start-up time for one page)."""
    from newscrawl.runner import project_settings

    pipelines = dict(project_settings().getdict("ITEM_PIPELINES"))
    extract = [v for k, v in pipelines.items() if k.endswith("ExtractPipeline")]
    pipelines[f"{__name__}.Recorder"] = (extract[0] if extract else 0) + 1
    return {**EVAL_SETTINGS, "ITEM_PIPELINES": pipelines}


def run(args: argparse.Namespace) -> int:
    from newscrawl.commands.clean import clean_files

    path = Path(args.page)
    if not path.is_file():
        print(f"newscrawl explain: {path}: no such file", file=sys.stderr)
        return 2
    outcome: dict[str, Any] = {}

    def observe(order: int, article: Article | None, reason: str | None) -> None:
        outcome.update(article=article or Recorder.seen.get(order), reason=reason)

    try:
        overrides = {**explain_overrides(), **parse_settings(args.set)}
    except ValueError as error:
        print(f"newscrawl explain: {error}", file=sys.stderr)
        return 2
    clean_files([path], io.BytesIO(), url=args.url, overrides=overrides, observe=observe)
    if not outcome:
        print(f"newscrawl explain: {path}: the crawl reported nothing", file=sys.stderr)
        return 1
    article, reason = outcome["article"], outcome["reason"]
    if args.json:
        json.dump(as_json(path, article, reason), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print(render(path, article, reason))
    return 0 if reason is None else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show every extracted paragraph of a saved page, kept or removed and by which rule",
        description=(
            "Run the crawl's pipelines over one saved page and print each paragraph trafilatura"
            " extracted, in order, marked kept, removed (stage:rule) or trimmed."
        ),
    )
    parser.add_argument("page", metavar="PAGE.html")
    parser.add_argument("--url", help="the page's original address")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_set_option(parser)
    parser.set_defaults(func=run)
