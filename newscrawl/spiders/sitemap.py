"""`scrapy crawl sitemap -a site=HOME` / `-a sitemap=URL`: articles listed in XML sitemaps.

robots.txt `Sitemap:` lines (else the usual locations under the home URL) lead to sitemap
indexes (followed to any depth), plain or gzip urlsets and Google News sitemaps. Scrapy's
own sitemap parser keeps only the top-level fields of an entry, so the news fields
(`news:publication_date`, `news:title`, `news:language`) are read here with lxml and
travel with the request as hints, used where the page itself lacks them.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.python.failure import Failure

from newscrawl.limits import is_recent, iso, parse_date
from newscrawl.spiders.base import (
    check_arguments,
    discovery_request,
    url_list,
)
from newscrawl.spiders.discovery import DiscoverySpider
from newscrawl.xmlutil import child_text, children, local, parse_xml

logger = logging.getLogger(__name__)

# Where sitemaps usually are when robots.txt names none, tried relative to the home URL.
USUAL_LOCATIONS = ("sitemap_index.xml", "sitemap.xml", "sitemap-news.xml", "news-sitemap.xml")
_GZIP_MAGIC = b"\x1f\x8b"
# The sitemaps protocol allows 50 MB (uncompressed) per file, more than DOWNLOAD_MAXSIZE
# allows an article page; sitemap requests get this limit instead.
SITEMAP_MAXSIZE = 50 * 1024 * 1024 + 1024 * 1024


@dataclass
class SitemapEntry:
    """One `<url>` (or `<sitemap>`) of a sitemap, with its Google News fields if any."""

    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str | None = None
    language: str | None = None

    @property
    def date(self) -> datetime | None:
        """The newest of lastmod and publication date: what `since=` compares."""
        dates = [d for d in (self.lastmod, self.published) if d is not None]
        return max(dates) if dates else None

    def hints(self) -> dict[str, Any]:
        hints: dict[str, Any] = {}
        if self.title:
            hints["title"] = self.title
        if self.published:
            hints["published"] = iso(self.published)
        if self.language:
            hints["language"] = self.language.split("-")[0].lower()
        return hints


@dataclass
class Sitemap:
    kind: str  # "sitemapindex", "urlset", or "" when the document is not a sitemap
    entries: list[SitemapEntry] = field(default_factory=list)


def parse_sitemap(body: bytes, base_url: str = "") -> Sitemap:
    """Entries of a sitemap index or urlset (gunzipped already); relative locs are resolved."""
    root = parse_xml(body)
    if root is None or local(root) not in ("sitemapindex", "urlset"):
        return Sitemap("")
    kind = local(root)
    entries = []
    for node in root:
        if local(node) not in ("sitemap", "url"):
            continue
        loc = child_text(node, "loc")
        if not loc:
            continue
        news = children(node, "news")
        lastmod = parse_date(child_text(node, "lastmod"))
        entry = SitemapEntry(urljoin(base_url, loc), lastmod=lastmod)
        if news:
            entry.published = parse_date(child_text(news[0], "publication_date"))
            entry.title = child_text(news[0], "title")
            entry.language = child_text(news[0], "publication", "language")
        entries.append(entry)
    return Sitemap(kind, entries)


def newest_first(entries: list[SitemapEntry]) -> list[SitemapEntry]:
    """Dated entries newest first, then undated ones in document order (stable sort)."""
    return sorted(entries, key=lambda e: (e.date is None, -(e.date.timestamp() if e.date else 0)))


class SitemapSpider(DiscoverySpider):
    name = "sitemap"
    source = "sitemap"

    def __init__(
        self,
        site: str | None = None,
        sitemap: str | None = None,
        since: str | None = None,
        max_articles: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments(self.name, kwargs, ("site", "sitemap", "since", "max_articles"))
        super().__init__(**kwargs)
        self.sitemap_urls = url_list(sitemap, "sitemap")
        self.setup_discovery(
            self.sitemap_urls,
            site,
            since,
            max_articles,
            "give -a site=HOME_URL (robots.txt -> sitemaps) or -a sitemap=URL",
        )

    async def start(self) -> AsyncIterator[Any]:
        for url in self.sitemap_urls:
            yield self.sitemap_request(url)
        if not self.sitemap_urls and self.site:
            yield discovery_request(
                urljoin(self.site, "/robots.txt"),
                self.parse_robots,
                errback=self.robots_failed,
                dont_filter=True,
            )

    def sitemap_request(self, url: str, named_by_site: bool = True) -> Request:
        """A sitemap the site names (robots.txt, -a sitemap=, an index on the same host) may
        live on another host, a CDN or the bare domain; the articles it lists are still
        held to allowed_domains."""
        meta = {"download_maxsize": SITEMAP_MAXSIZE, "allow_offsite": named_by_site}
        return discovery_request(url, self.parse_sitemap, meta=meta)

    def usual_sitemaps(self) -> Iterator[Request]:
        assert self.site
        logger.info("no Sitemap: line in robots.txt of %s; trying the usual locations", self.site)
        for name in USUAL_LOCATIONS:
            yield self.sitemap_request(urljoin(self.site, name))

    def parse_robots(self, response: Response) -> Iterator[Request]:
        urls = list(sitemap_urls_from_robots(response.body, base_url=response.url))
        if not urls:
            yield from self.usual_sitemaps()
        for url in urls:
            yield self.sitemap_request(url)

    def robots_failed(self, failure: Failure) -> Iterator[Request]:
        yield from self.usual_sitemaps()

    def sitemap_body(self, response: Response) -> bytes | None:
        body = response.body
        if body[:2] == _GZIP_MAGIC:
            try:
                body = gunzip(body, max_size=SITEMAP_MAXSIZE)
            except (OSError, EOFError, ValueError, struct.error) as error:  # corrupt or too big
                self.count("errors/sitemap:gzip")
                logger.warning("cannot gunzip sitemap %s: %s", response.url, error)
                return None
        return body

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        body = self.sitemap_body(response)
        sitemap = parse_sitemap(body, response.url) if body is not None else Sitemap("")
        if not sitemap.kind:
            if body is not None:
                self.count("errors/sitemap:not-a-sitemap")
                logger.warning("not a sitemap: %s", response.url)
            return
        if sitemap.kind == "sitemapindex":
            for entry in sitemap.entries:
                # A sitemap unchanged since `since` lists nothing newer.
                if not is_recent(entry.lastmod, self.since):
                    self.count("skipped/sitemap:older-than-since")
                elif not self.budget.exhausted:
                    same_host = urlsplit(entry.loc).hostname == urlsplit(response.url).hostname
                    yield self.sitemap_request(entry.loc, named_by_site=same_host)
            return
        for entry in newest_first(sitemap.entries):
            request = self.article_for(entry.loc, entry.date, entry.hints(), "sitemap")
            if request is not None:
                yield request
