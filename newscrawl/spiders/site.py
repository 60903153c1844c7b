"""`scrapy crawl site -a start=URL`: follow in-domain links from a home or section page.

The spider is a thin router over `newscrawl.urlrules`: each link is classified by its
URL before fetching (files, feeds and login pages are never fetched), each fetched page
by its content after. Navigation pages (home, sections, tags, pagination, listings with
article-like URLs) are followed up to `max_depth` and never emitted; articles are
emitted, and their own links are followed only while their depth is below
`article_depth` (default 0: not at all, the sections already list the articles).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urldefrag

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from newscrawl.items import Page
from newscrawl.limits import parse_count
from newscrawl.spiders.base import (
    ArgumentError,
    NewsSpider,
    article_request,
    check_arguments,
    check_http_url,
    discovery_request,
    in_domain,
    site_domain,
)
from newscrawl.urlrules import (
    PageEvidence,
    UrlKind,
    Verdict,
    classify_url,
    judge_page,
    page_evidence,
)

logger = logging.getLogger(__name__)

# Home -> section -> pagination -> article is 3 hops; one more for tag or archive pages.
DEFAULT_MAX_DEPTH = 4
URL_VERDICT_META = "newscrawl_url_verdict"


class SiteSpider(NewsSpider):
    name = "site"
    source = "site"

    def __init__(
        self,
        start: str | None = None,
        max_depth: str | None = None,
        max_pages: str | None = None,
        article_depth: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments(self.name, kwargs, ("start", "max_depth", "max_pages", "article_depth"))
        super().__init__(**kwargs)
        if not start:
            raise ArgumentError("give -a start=URL (a home or section page of the site)")
        self.start_url = check_http_url(start, "start")
        depth = parse_count(max_depth, "max_depth", minimum=0)
        self.max_depth = DEFAULT_MAX_DEPTH if depth is None else depth
        self.max_pages = parse_count(max_pages, "max_pages")
        self.article_depth = parse_count(article_depth, "article_depth", minimum=0) or 0
        self.allowed_domains = [site_domain(self.start_url)]
        # Domain filtering is ours: LinkExtractor(allow_domains=) rejects IP-address hosts.
        self.link_extractor = LinkExtractor(unique=True)
        self.requested: set[str] = set()

    def budget_allows(self, url: str) -> bool:
        """Counts a new page request against max_pages; False when over it or seen."""
        if url in self.requested:
            return False
        if self.max_pages is not None and len(self.requested) >= self.max_pages:
            self.count("skipped/site:max-pages")
            return False
        self.requested.add(url)
        return True

    async def start(self) -> AsyncIterator[Any]:
        verdict = classify_url(self.start_url)
        if verdict.kind is UrlKind.OTHER:
            verdict = Verdict(UrlKind.NAVIGATION, "start")
        self.requested.add(self.start_url)
        yield self.request_for(self.start_url, verdict)

    def request_for(self, url: str, verdict: Verdict) -> Request:
        meta = {URL_VERDICT_META: (verdict.kind.value, verdict.reason)}
        if verdict.kind is UrlKind.NAVIGATION:
            return discovery_request(url, self.parse_page, meta=meta)
        return article_request(url, self.parse_page, meta=meta)

    def parse_page(self, response: Response) -> Iterator[Page | Request]:
        kind, reason = response.meta.get(URL_VERDICT_META, ("unknown", "unknown"))
        url_verdict = Verdict(UrlKind(kind), reason)
        depth = int(response.meta.get("depth", 0))
        page = self.page_from_response(response)  # None (counted, logged) for non-HTML
        if page is None:
            return
        # A navigation URL is followed whatever the page says: no need to parse it for evidence.
        navigation = url_verdict.kind is UrlKind.NAVIGATION
        evidence = PageEvidence() if navigation else page_evidence(page.html)
        verdict = judge_page(url_verdict, evidence)
        if verdict.kind is UrlKind.ARTICLE:
            self.count(f"emitted/site:{verdict.reason}")
            yield page
            follow = depth < min(self.article_depth, self.max_depth)
        else:
            self.count(f"followed/site:{verdict.reason}")
            logger.debug("navigation page %s (%s)", response.url, verdict.reason)
            follow = depth < self.max_depth
        if follow:
            assert isinstance(response, TextResponse)  # page_from_response checked it
            yield from self.follow_links(response)

    def follow_links(self, response: TextResponse) -> Iterator[Request]:
        for link in self.link_extractor.extract_links(response):
            url = urldefrag(link.url).url  # `page#comments` is the page itself
            if not in_domain(url, self.allowed_domains[0]):
                self.count("skipped/site:other-domain")
                continue
            verdict = classify_url(url)
            if verdict.kind is UrlKind.OTHER:
                self.count(f"skipped/site:{verdict.reason}")
                continue
            if self.budget_allows(url):
                yield self.request_for(url, verdict)
