"""Fewer garbage-collector passes in the crawling process while a spider runs.

CPython starts a collection after every 700 new container objects, and a crawl makes
hundreds per page (requests, responses, Deferreds, each page's result from the
extraction workers): in a 2,000-page crawl of the demo site the reactor thread spent
0.68 s in 524 collections, up to 0.1 s at a time, while the extraction workers waited
for their next page (benchmarks/README.md). Almost nothing it found was garbage: pages
are freed by reference counting. While a spider runs, `CrawlGarbageCollector` starts a
young-generation collection only every NEWSCRAWL_GC_THRESHOLD allocations, and freezes
the objects made during start-up (Scrapy's, Twisted's, the modules') so that the rare
full collections no longer walk them. Both are undone when the spider closes.
"""

from __future__ import annotations

import gc
import logging

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newscrawl.config import get_int

logger = logging.getLogger(__name__)


class CrawlGarbageCollector:
    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.previous: tuple[int, int, int] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlGarbageCollector:
        threshold = get_int(crawler.settings, "NEWSCRAWL_GC_THRESHOLD", 0, minimum=0)
        if not threshold:
            raise NotConfigured("NEWSCRAWL_GC_THRESHOLD is 0: Python's own thresholds")
        extension = cls(threshold)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        if self.previous is not None:
            return
        self.previous = gc.get_threshold()
        gc.collect()  # only what is alive is frozen: garbage is not kept for good
        gc.freeze()
        gc.set_threshold(max(self.threshold, self.previous[0]), *self.previous[1:])
        logger.debug(
            "garbage collector: threshold %s, %d objects frozen",
            gc.get_threshold(),
            gc.get_freeze_count(),
        )

    def spider_closed(self) -> None:
        """Back to Python's collector: a process may go on after the crawl (tests, eval)."""
        if self.previous is None:
            return
        gc.set_threshold(*self.previous)
        gc.unfreeze()
        self.previous = None
