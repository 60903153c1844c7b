"""Per-page cost, single process: lxml parsing, trafilatura alone, newscrawl's full path.

    .venv/bin/python benchmarks/bench_extract.py \
        ../shared/datasets/article-extraction-benchmark/html

Over a directory of saved pages (.html, .html.gz), each run times, page by page:

- `lxml`         lxml.html.fromstring(html): the floor any extractor pays;
- `trafilatura`  trafilatura.extract(html, url, with_metadata=True, output_format="json"),
                 what trafilatura's own tools do per page;
- `newscrawl`    the crawl's per-page path without Scrapy: pipelines.extract.extract_html,
                 article_from, then every cleaning stage registered in ITEM_PIPELINES, each
                 built from the project settings (state store in memory) and called with
                 process_item, as the crawl does.

An untimed warm-up pass comes first (rule packs are compiled once per crawl, not per
page). It prints the median of the runs for each, ratios within the same run, the cost of each
cleaning stage in microseconds per page and as a share of trafilatura's time, and then
each stage's time on one synthetic 5,000-paragraph article (quadratic passes show there).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from lxml import html as lxml_html  # noqa: E402
from scrapy.exceptions import DropItem  # noqa: E402
from scrapy.utils.misc import build_from_crawler, load_object  # noqa: E402
from scrapy.utils.reactor import install_reactor  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402

from newscrawl.items import Article, Page  # noqa: E402
from newscrawl.runner import project_settings  # noqa: E402
from newscrawl.spiders.files import find_pages, page_from_file  # noqa: E402
from pipelines.extract import ExtractPipeline, article_from, extract_html  # noqa: E402

DEFAULT_DIR = ROOT.parent / "shared" / "datasets" / "article-extraction-benchmark" / "html"
LONG_PAGE_PARAGRAPHS = 5000
# The budget: these stages together within this share of trafilatura's time
# (the cross-article `articles` stage and `article_from` are printed, not budgeted).
CLEANING_BUDGET = 0.10
BUDGET_STAGES = ("normalize", "duplicates", "widgets", "templates", "quality")


def load_pages(directory: str, limit: int | None) -> list[Page]:
    paths = list(find_pages([directory]))[:limit]
    return [page_from_file(path, order) for order, path in enumerate(paths)]


def cleaning_stages() -> list[tuple[str, Any]]:
    """The ITEM_PIPELINES after extract, in order, built fresh (their cross-page state empty)."""
    settings = project_settings({"NEWSCRAWL_STATE": "memory://", "FEEDS": {}})
    crawler = get_crawler(settings_dict=settings.copy_to_dict())
    stages = []
    for path, _ in sorted(settings.getdict("ITEM_PIPELINES").items(), key=lambda kv: kv[1]):
        cls = load_object(path)
        if issubclass(cls, ExtractPipeline):
            continue
        stage = build_from_crawler(cls, crawler)
        name = getattr(stage, "stage", None) or cls.__name__
        stages.append((name, stage))
    return stages


def call_stage(loop: asyncio.AbstractEventLoop, stage: Any, item: Any) -> Any:
    result = stage.process_item(item)
    if inspect.isawaitable(result):
        result = loop.run_until_complete(result)
    return result


def one_run(pages: list[Page], loop: asyncio.AbstractEventLoop) -> dict[str, float]:
    """Seconds spent by each variant and each stage over all pages."""
    spent: dict[str, float] = defaultdict(float)
    clock = time.perf_counter
    for page in pages:
        started = clock()
        lxml_html.fromstring(page.html)
        spent["lxml"] += clock() - started
    for page in pages:
        started = clock()
        trafilatura.extract(page.html, url=page.final_url, with_metadata=True, output_format="json")
        spent["trafilatura"] += clock() - started
    stages = cleaning_stages()
    for page in pages:
        started = clock()
        extracted = extract_html(page.html, page.final_url)
        spent["extract_html"] += clock() - started
        if extracted is None:
            continue
        started = clock()
        item: Any = article_from(page, extracted, False)
        spent["stage:article_from"] += clock() - started
        for name, stage in stages:
            started = clock()
            try:
                item = call_stage(loop, stage, item)
            except DropItem:
                spent[f"stage:{name}"] += clock() - started
                break
            spent[f"stage:{name}"] += clock() - started
    spent["cleaning"] = sum(v for k, v in spent.items() if k.startswith("stage:"))
    spent["newscrawl"] = spent["extract_html"] + spent["cleaning"]
    return spent


def long_article(pages: list[Page]) -> Article:
    """5,000 paragraphs: real extracted paragraphs cycled, some exact repeats, most unique."""
    pool: list[str] = []
    for page in pages[:50]:
        extracted = extract_html(page.html, page.final_url)
        if extracted:
            pool.extend(p for p in extracted["paragraphs"] if p.strip())
    paragraphs = []
    for n in range(LONG_PAGE_PARAGRAPHS):
        text = pool[n % len(pool)]
        paragraphs.append(text if n % 10 == 0 else f"{text} ({n})")
    page = pages[0]
    extracted = extract_html(page.html, page.final_url) or {}
    article = article_from(page, {**extracted, "paragraphs": paragraphs}, False)
    return article


def time_long_page(pages: list[Page], loop: asyncio.AbstractEventLoop, runs: int) -> None:
    results: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        stages = cleaning_stages()
        item: Any = long_article(pages)
        for name, stage in stages:
            started = time.perf_counter()
            try:
                item = call_stage(loop, stage, item)
            except DropItem as drop:
                results[name].append(time.perf_counter() - started)
                print(f"  ({name} dropped the long article: {drop})")
                break
            results[name].append(time.perf_counter() - started)
    print(f"\none article of {LONG_PAGE_PARAGRAPHS} paragraphs, median of {runs}:")
    for name, times in results.items():
        print(f"  {name:<14} {statistics.median(times) * 1000:9.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--runs", type=int, default=5, help="runs; medians are printed")
    parser.add_argument("--limit", type=int, default=None, help="use the first N pages only")
    args = parser.parse_args()
    pages = load_pages(args.directory, args.limit)
    if not pages:
        print(f"no saved pages in {args.directory}", file=sys.stderr)
        return 2
    # Stages are built the way Scrapy builds them, which wants the project's reactor
    # installed (it is never run); coroutine stages run on its asyncio loop.
    install_reactor(project_settings()["TWISTED_REACTOR"])
    loop = asyncio.get_event_loop()
    print(f"{len(pages)} pages from {args.directory}, {args.runs} runs, one process")
    # One untimed pass first: rule packs compile and caches fill once per crawl, not per page.
    one_run(pages, loop)
    runs = []
    for number in range(args.runs):
        spent = one_run(pages, loop)
        runs.append(spent)
        print(
            f"  run {number + 1}: trafilatura {spent['trafilatura']:.2f} s, "
            f"newscrawl {spent['newscrawl']:.2f} s, cleaning {spent['cleaning'] * 1000:.0f} ms",
            file=sys.stderr,
        )
    n = len(pages)

    def med(key: str) -> float:
        return statistics.median(run.get(key, 0.0) for run in runs)

    def ratio(key: str, base: str) -> float:
        return statistics.median(run.get(key, 0.0) / run[base] for run in runs)

    print(f"\n{'variant':<14} {'pages/s':>9} {'ms/page':>9} {'x trafilatura time':>19}")
    for key in ("lxml", "trafilatura", "extract_html", "newscrawl"):
        seconds = med(key)
        print(
            f"{key:<14} {n / seconds:9.1f} {seconds / n * 1000:9.2f} "
            f"{ratio(key, 'trafilatura'):19.3f}"
        )
    print(f"\n{'cleaning stage':<22} {'us/page':>9} {'% of trafilatura':>17}")
    for key in sorted(runs[0], key=lambda k: -runs[0][k]):
        if key.startswith("stage:"):
            print(f"{key[6:]:<22} {med(key) / n * 1e6:9.0f} {ratio(key, 'trafilatura'):16.2%}")
    for run in runs:
        run["budgeted"] = sum(run.get(f"stage:{name}", 0.0) for name in BUDGET_STAGES)
    share = ratio("budgeted", "trafilatura")
    verdict = "within" if share <= CLEANING_BUDGET else "OVER"
    print(
        f"{' + '.join(BUDGET_STAGES):<22} {med('budgeted') / n * 1e6:9.0f} {share:16.2%}  "
        f"({verdict} the {CLEANING_BUDGET:.0%} budget)"
    )
    print(
        f"{'all of the above':<22} {med('cleaning') / n * 1e6:9.0f} "
        f"{ratio('cleaning', 'trafilatura'):16.2%}"
    )
    time_long_page(pages, loop, max(1, min(args.runs, 3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
