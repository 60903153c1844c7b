"""Running a crawl inside the `newscrawl` command, with the project's settings.

`newscrawl demo`, `clean` and `eval` all go through `run_crawl`, so they use the same
spiders, ITEM_PIPELINES and exporter as `scrapy crawl`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from newscrawl.items import Article
from newscrawl.shutdown import quick_exit_after_crawl
from pipelines.extract import prestart_workers


def project_settings(overrides: dict[str, Any] | None = None) -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawl.settings")
    settings = get_project_settings()
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


@dataclass
class CrawlResult:
    stats: dict[str, Any] = field(default_factory=dict)
    bootstrap_failed: bool = False


def run_crawl(
    spider: str,
    overrides: dict[str, Any] | None = None,
    on_article: Callable[[Article], None] | None = None,
    on_drop: Callable[[Any, str], None] | None = None,
    extra_signals: dict[Any, Callable[..., None]] | None = None,
    **spider_args: Any,
) -> CrawlResult:
    """Run one spider to the end in this process; callbacks see every article and drop."""
    settings = project_settings(overrides)
    prestart_workers(settings)  # the workers' imports overlap the crawler's set-up
    quick_exit_after_crawl()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)
    if on_article is not None:

        def scraped(item: Any, **_: Any) -> None:
            if isinstance(item, Article):
                on_article(item)

        crawler.signals.connect(scraped, signal=signals.item_scraped, weak=False)
    if on_drop is not None:

        def dropped(item: Any, exception: BaseException, **_: Any) -> None:
            on_drop(item, str(exception))

        crawler.signals.connect(dropped, signal=signals.item_dropped, weak=False)
        crawler.signals.connect(
            lambda item, failure, **_: on_drop(item, f"error: {failure.getErrorMessage()}"),
            signal=signals.item_error,
            weak=False,
        )
    for signal, handler in (extra_signals or {}).items():
        crawler.signals.connect(handler, signal=signal, weak=False)
    process.crawl(crawler, **spider_args)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    return CrawlResult(stats=dict(stats), bootstrap_failed=process.bootstrap_failed)


class Progress:
    """A one-line counter on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label: str, total: int | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty()

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            of = f"/{self.total}" if self.total else ""
            print(f"\r{self.label} {self.done}{of}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.done:
            print(file=sys.stderr)
