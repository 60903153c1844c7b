"""`newscrawl clean`'s source: saved pages read from disk, yielded as Pages in input order.

Not meant for `scrapy crawl`; it exists so that saved pages go through the very same
ITEM_PIPELINES and exporter as crawled ones.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.http import HtmlResponse

from newscrawl.charset import response_html
from newscrawl.items import Page
from newscrawl.spiders.base import NewsSpider, utc_now_iso
from newscrawl.workers import wait_for_item_room

logger = logging.getLogger(__name__)

PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")


def find_pages(paths: Iterable[str]) -> Iterator[Path]:
    """Saved pages named by `paths` (files, or directories searched recursively, sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(PAGE_SUFFIXES)
            )
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{raw}: no such file or directory")


def read_page_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def page_address(response: HtmlResponse) -> str | None:
    """The page's own address: <link rel=canonical>, else og:url, if absolute http(s)."""
    for query in ('link[rel="canonical"]::attr(href)', 'meta[property="og:url"]::attr(content)'):
        href = (response.css(query).get() or "").strip()
        if href and urlsplit(href).scheme in ("http", "https"):
            return href
    return None


def page_from_file(path: Path, order: int, url: str | None = None) -> Page:
    """A Page for a saved file, decoded the way Scrapy decodes a fetched page."""
    file_uri = path.resolve().as_uri()
    response = HtmlResponse(url=file_uri, body=read_page_bytes(path))
    address = url or page_address(response) or file_uri
    if address != file_uri:
        response = response.replace(url=urljoin(file_uri, address))
    return Page(
        url=response.url,
        final_url=response.url,
        status=200,
        html=response_html(response),  # the crawl's decoding, Cyrillic fallback included
        fetched_at=utc_now_iso(),
        spider="files",
        source="file",
        source_file=str(path),
        order=order,
    )


class FilesSpider(NewsSpider):
    """Yields one Page per saved page; unreadable files are logged and counted, not fatal."""

    name = "files"
    source = "file"

    def __init__(
        self,
        files: list[str] | None = None,
        url: str | None = None,
        urls: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.files = [Path(f) for f in (files or [])]
        self.url = url
        # Per-file addresses (file path as given -> URL), for `newscrawl eval` over a dataset
        # that knows each page's URL; `url` (one page) wins when both are given.
        self.urls = {str(k): v for k, v in (urls or {}).items()}

    async def start(self) -> AsyncIterator[Any]:
        # Items from start() get no back-pressure from Scrapy: wait while the pipelines are
        # full, so a directory of 100,000 pages is not read into memory ahead of them.
        room = 2 * max(1, self.crawler.settings.getint("CONCURRENT_ITEMS"))
        for order, path in enumerate(self.files):
            await wait_for_item_room(self.crawler, room)
            try:
                yield page_from_file(path, order, self.url or self.urls.get(str(path)))
            except (OSError, EOFError, zlib.error, ValueError) as error:  # BadGzipFile: OSError
                self.count("errors/read")
                logger.error("cannot read %s: %s", path, error)
                self.crawler.signals.send_catch_log(
                    signal=unreadable_file, order=order, path=str(path), reason=str(error)
                )


unreadable_file = object()  # signal: a saved page could not be read (order, path, reason)
