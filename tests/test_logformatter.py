"""Log lines of dropped items: the URL and the reason, and nothing that keeps the page alive."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from newscrawl.items import Page
from newscrawl.logformatter import UrlLogFormatter


def test_a_dropped_page_is_freed_as_soon_as_scrapy_lets_go_of_it() -> None:
    # Scrapy keeps the formatter's result in the frame that caught the DropItem; an
    # exception object in it would close a cycle (exception, traceback, frame, result)
    # holding the page until the garbage collector runs.
    url = "https://news.example/2026/a.html"
    page = Page(url, url, 200, "<html>" + "x" * 100_000, "2026-01-02T00:00:00Z", "s", "urls")
    alive = weakref.ref(page)
    spider = SimpleNamespace(crawler=get_crawler())
    gc.disable()
    try:

        def scrapy_like(item: Page) -> dict[str, object]:
            try:
                raise DropItem("too short: 3 words")
            except DropItem as error:
                logkws = UrlLogFormatter().dropped(item, error, None, spider)
                return {"msg": logkws["msg"] % logkws["args"]}

        line = scrapy_like(page)
        del page
        assert alive() is None
    finally:
        gc.enable()
    assert line["msg"] == f"Dropped {url}: too short: 3 words"
