"""`scrapy crawl feed -a feed=URL` / `-a site=HOME`: articles listed in RSS and Atom feeds.

With `site=`, the feeds are the home page's `<link rel="alternate"
type="application/rss+xml|application/atom+xml">` (else the usual locations). Each
entry's title, date and author travel with the request as hints for the record.
Feeds are parsed with lxml (RSS 0.9x/1.0/2.0 and Atom 1.0 by local tag names): a
general feed library would add a dependency for the four fields we read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from courlan import normalize_url
from lxml import html as lxml_html
from scrapy import Request
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from newscrawl.limits import iso, parse_date
from newscrawl.spiders.base import (
    check_arguments,
    discovery_request,
    url_list,
)
from newscrawl.spiders.discovery import DiscoverySpider
from newscrawl.xmlutil import child_text, children, local, parse_xml

logger = logging.getLogger(__name__)

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
# Tried relative to the home URL when it advertises no feed.
USUAL_LOCATIONS = ("feed", "rss.xml", "atom.xml", "feed.xml", "rss")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass
class FeedEntry:
    link: str
    title: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None

    @property
    def date(self) -> datetime | None:
        dates = [d for d in (self.updated, self.published) if d is not None]
        return max(dates) if dates else None

    def hints(self) -> dict[str, Any]:
        hints: dict[str, Any] = {}
        if self.title:
            hints["title"] = self.title
        if self.published or self.updated:
            hints["published"] = iso(self.published or self.updated)  # type: ignore[arg-type]
        if self.authors:
            hints["authors"] = list(self.authors)
        if self.language:
            hints["language"] = self.language.split("-")[0].lower()
        return hints


def _atom_link(entry: Any) -> str | None:
    for link in children(entry, "link"):
        if (link.get("rel") or "alternate") == "alternate" and link.get("href"):
            return str(link.get("href")).strip()
    return None


def _rss_link(item: Any) -> str | None:
    link = child_text(item, "link")
    if link:
        return link
    guids = children(item, "guid")
    if guids and (guids[0].get("isPermaLink") or "true").lower() == "true":
        return child_text(item, "guid")
    return None


def entry_url(link: str, base_url: str) -> str:
    """Absolute URL of an entry, without the tracking parameters feeds like to add
    (`utm_source=rss`), so the same article from RSS and Atom is one request."""
    url = urljoin(base_url, link.strip())
    try:
        return str(normalize_url(url))
    except ValueError:
        return url


def parse_feed(body: bytes, base_url: str = "") -> list[FeedEntry] | None:
    """Entries of an RSS or Atom feed (links resolved against `base_url`); None if not a feed."""
    root = parse_xml(body)
    if root is None:
        return None
    kind = local(root)
    entries: list[FeedEntry] = []
    if kind == "feed":  # Atom
        language = root.get(_XML_LANG)
        for node in children(root, "entry"):
            link = _atom_link(node)
            if not link:
                continue
            authors = tuple(
                name for a in children(node, "author") if (name := child_text(a, "name"))
            )
            entries.append(
                FeedEntry(
                    entry_url(link, base_url),
                    title=child_text(node, "title"),
                    published=parse_date(child_text(node, "published")),
                    updated=parse_date(child_text(node, "updated")),
                    authors=authors,
                    language=node.get(_XML_LANG) or language,
                )
            )
        return entries
    if kind not in ("rss", "rdf"):
        return None
    channels = children(root, "channel")
    language = child_text(channels[0], "language") if channels else None
    items = children(root, "item") + [i for c in channels for i in children(c, "item")]
    for node in items:
        link = _rss_link(node)
        if not link:
            continue
        names = [child_text(node, "creator"), child_text(node, "author")]
        entries.append(
            FeedEntry(
                entry_url(link, base_url),
                title=child_text(node, "title"),
                published=parse_date(child_text(node, "pubdate") or child_text(node, "date")),
                authors=tuple(name for name in names if name),
                language=language,
            )
        )
    return entries


def feed_links(html: str, base_url: str) -> list[str]:
    """Feeds a page advertises with `<link rel="alternate" type="application/rss+xml">`."""
    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    links = []
    for link in tree.iterfind(".//link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_TYPES and link.get("href"):
            links.append(urljoin(base_url, link.get("href").strip()))
    return list(dict.fromkeys(links))


class FeedSpider(DiscoverySpider):
    name = "feed"
    source = "feed"

    def __init__(
        self,
        feed: str | None = None,
        site: str | None = None,
        since: str | None = None,
        max_articles: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments(self.name, kwargs, ("feed", "site", "since", "max_articles"))
        super().__init__(**kwargs)
        self.feed_urls = url_list(feed, "feed")
        self.setup_discovery(
            self.feed_urls,
            site,
            since,
            max_articles,
            "give -a feed=FEED_URL or -a site=HOME_URL (feed discovery)",
        )

    async def start(self) -> AsyncIterator[Any]:
        for url in self.feed_urls:
            yield discovery_request(url, self.parse_feed)
        if not self.feed_urls and self.site:
            yield discovery_request(self.site, self.parse_home, errback=self.home_failed)

    def usual_feeds(self) -> Iterator[Request]:
        assert self.site
        logger.info("%s advertises no feed; trying the usual locations", self.site)
        for name in USUAL_LOCATIONS:
            yield discovery_request(urljoin(self.site, name), self.parse_feed)

    def parse_home(self, response: Response) -> Iterator[Request]:
        links = (
            feed_links(response.text, response.url) if isinstance(response, TextResponse) else []
        )
        if not links:
            yield from self.usual_feeds()
        for url in links:
            yield discovery_request(url, self.parse_feed)

    def home_failed(self, failure: Failure) -> Iterator[Request]:
        logger.warning("cannot fetch the home page %s: %s", self.site, failure.value)
        yield from self.usual_feeds()

    def parse_feed(self, response: Response) -> Iterator[Request]:
        entries = parse_feed(response.body, response.url)
        if entries is None:
            self.count("errors/feed:not-a-feed")
            logger.warning("not an RSS or Atom feed: %s", response.url)
            return
        for entry in sorted(entries, key=lambda e: e.date is None):  # keeps feed order
            request = self.article_for(entry.link, entry.date, entry.hints(), "feed")
            if request is not None:
                yield request
