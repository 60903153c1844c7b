"""What the sitemap and feed spiders share: start URLs or a home page, and the
`since=` / `max_articles=` limits applied to every listed article."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scrapy import Request

from newscrawl.limits import ArticleBudget, is_recent, iso, parse_count, parse_since
from newscrawl.spiders.base import (
    ArgumentError,
    NewsSpider,
    article_request,
    check_http_url,
    site_domain,
)


class DiscoverySpider(NewsSpider):
    def setup_discovery(
        self,
        starts: list[str],
        site: str | None,
        since: str | None,
        max_articles: str | None,
        missing: str,
    ) -> None:
        """Check the arguments shared by discovery spiders; `missing` says what to give."""
        self.site = check_http_url(site, "site") if site else None
        if not starts and not self.site:
            raise ArgumentError(missing)
        self.since = parse_since(since)
        self.budget = ArticleBudget(parse_count(max_articles, "max_articles"))
        self.allowed_domains = sorted({site_domain(u) for u in starts or [self.site or ""]})

    def article_for(
        self, url: str, date: datetime | None, hints: dict[str, Any], stage: str
    ) -> Request | None:
        """The request for a listed article, or None (counted) when since=/max_articles= rule
        it out or it was listed before."""
        if not is_recent(date, self.since):
            self.count(f"skipped/{stage}:older-than-since")
            return None
        if url in self.budget.seen:
            return None
        if not self.budget.take(url):
            self.count(f"skipped/{stage}:max-articles")
            return None
        self.count(f"discovered/{stage}:article")
        lastmod = iso(date) if date is not None else None
        return article_request(url, self.parse_article, hints, lastmod)
