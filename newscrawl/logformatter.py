"""Log lines that name an item by its URL instead of printing it whole.

Scrapy's LogFormatter puts the item's repr in the "Dropped" and "Error processing" lines,
and a dropped item here is the Page the spider yielded, with its whole HTML: 100-300 KB a
line on real news pages, gigabytes of log over a scheduled crawl that drops listing pages
and duplicates. The URL is what an operator needs; the item is in the output or the stats.
"""

from __future__ import annotations

from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


def item_url(item: Any, response: Any) -> str:
    """The URL an item came from: its final URL (Page, Article), else the response's."""
    url = getattr(item, "final_url", None) or getattr(response, "url", None)
    return str(url) if url else repr(type(item).__name__)


class UrlLogFormatter(LogFormatter):
    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        result["msg"] = "Dropped %(url)s: %(exception)s"
        # The text, not the exception: the exception's traceback holds Scrapy's frame that
        # holds this result, a cycle that kept the dropped page and its response (~0.5 MB
        # on news pages) alive until the garbage collector next ran (newscrawl/gctuning.py).
        result["args"] = {"url": item_url(item, response), "exception": str(exception)}
        return result

    def item_error(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        result = super().item_error(item, exception, response, spider)
        result["msg"] = "Error processing %(url)s"
        result["args"] = {"url": item_url(item, response)}
        return result

    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult:
        result = super().scraped(item, response, spider)
        result["msg"] = "Scraped %(url)s"
        result["args"] = {"url": item_url(item, response)}
        return result
