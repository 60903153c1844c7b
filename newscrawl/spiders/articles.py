"""`scrapy crawl articles -a urls=U1,U2` / `-a url_file=PATH`: fetch the given article URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from scrapy import Request

from newscrawl.spiders.base import ArgumentError, NewsSpider, check_http_url, url_list


def read_url_file(path: str) -> list[str]:
    """URLs of a file, one per line; blank lines and `#` comments ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ArgumentError(f"-a url_file={path}: cannot read it ({error})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class ArticlesSpider(NewsSpider):
    name = "articles"
    source = "urls"

    def __init__(self, urls: str | None = None, url_file: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        checked = url_list(urls, "urls")
        if url_file:
            checked += [check_http_url(u, "url_file") for u in read_url_file(url_file)]
        if not checked:
            raise ArgumentError(
                "no URLs: give -a urls=URL1,URL2 or -a url_file=PATH (one URL a line)"
            )
        self.start_urls = list(dict.fromkeys(checked))

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_urls:
            yield Request(url, callback=self.parse_article)
