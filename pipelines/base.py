"""The thin Scrapy glue every cleaning stage shares.

A stage is a pure function `paragraphs -> (kept, removed)`; this class calls it on an
Article, records what was removed under `stage:rule` and counts it in the crawl stats.
A stage that raises costs that page only: it is logged with its URL, counted under
`newscrawl/errors/<stage>` and dropped, because passing it on uncleaned would let noise out.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from newscrawl.items import Article

logger = logging.getLogger(__name__)

Removed = list[tuple[str, str]]  # (rule, text) pairs


class CleaningStage:
    stage = "stage"

    def __init__(self, crawler: Crawler | None = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningStage:
        return cls(crawler)

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        raise NotImplementedError

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        try:
            kept, removed = self.clean(item)
        except Exception as error:
            self._inc(f"newscrawl/errors/{self.stage}")
            logger.exception("%s stage failed for %s", self.stage, item.final_url)
            raise DropItem(f"{self.stage}: error ({error!r})", log_level="WARNING") from None
        item.apply_cleaning(self.stage, kept, removed)
        for rule, _ in removed:
            self._inc(f"newscrawl/removed/{self.stage}:{rule}")
        return item

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)
