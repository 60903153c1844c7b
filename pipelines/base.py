"""The thin Scrapy glue every cleaning stage shares.

A stage is a pure function `paragraphs -> (kept, removed)`; this class calls it on an
Article, records what was removed under `stage:rule` and counts it in the crawl stats.
A stage that raises costs that page only: it is logged with its URL, counted under
`newscrawl/errors/<stage>` and dropped, because passing it on uncleaned would let noise out.

A stage marked `per_page` needs nothing but the article (no crawler, no settings, no state
across pages). The run of such stages right after extraction in ITEM_PIPELINES is applied
in the extraction worker, next to trafilatura, so that its CPU is spread over every core
instead of the reactor's one (pipelines/extract.py, `extract_page`); the stage in the
reactor then finds its name in `Article.precleaned` and only counts what it removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from newscrawl.items import Article

if TYPE_CHECKING:  # scrapy stays out of the workers' fork server: see `drop_item`
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

Removed = list[tuple[str, str]]  # (rule, text) pairs


def drop_item(message: str, log_level: str) -> Exception:
    """Scrapy's DropItem, imported only when an item is dropped (in the reactor).

    The workers' fork server imports the stage modules; importing scrapy there (its package
    import loads Twisted, parsel and every Request/Response class) cost 0.25-0.5 s of the
    time before the first worker can start."""
    from scrapy.exceptions import DropItem

    return DropItem(message, log_level=log_level)


class CleaningStage:
    stage = "stage"
    per_page = False  # True: `clean` reads only the article, so a worker may run it

    def __init__(self, crawler: Crawler | None = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningStage:
        return cls(crawler)

    @classmethod
    def warm_up(cls) -> None:
        """Build what `clean` would build lazily on its first pages (compiled rules); the
        workers' fork server calls it on per-page stages, so every worker starts warm."""

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        raise NotImplementedError

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.stage in item.precleaned:  # applied in the extraction worker already
            self._count(item.removals(self.stage))
            return item
        try:
            kept, removed = self.clean(item)
        except Exception as error:
            self._inc(f"newscrawl/errors/{self.stage}")
            logger.exception("%s stage failed for %s", self.stage, item.final_url)
            raise drop_item(f"{self.stage}: error ({error!r})", "WARNING") from None
        item.apply_cleaning(self.stage, kept, removed)
        self._count(rule for rule, _ in removed)
        return item

    def _count(self, rules: Iterable[str]) -> None:
        for rule in rules:
            self._inc(f"newscrawl/removed/{self.stage}:{rule}")

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)
