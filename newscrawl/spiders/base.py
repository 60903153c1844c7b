"""What every newscrawl spider shares: turning a response into a `Page`, URL argument checks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse

from newscrawl.charset import response_html
from newscrawl.incremental import DISCOVERY_META, LASTMOD_META
from newscrawl.items import Page

logger = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml")


class ArgumentError(ValueError):
    """A spider argument (-a NAME=VALUE) is wrong; the message names the argument."""


def check_http_url(url: str, argument: str) -> str:
    """Return the URL stripped, or raise naming the argument it came from."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArgumentError(f"-a {argument}: {url!r} is not an http(s) URL")
    return url


def url_list(value: str | None, argument: str) -> list[str]:
    """A comma-separated `-a` list of http(s) URLs (blank items ignored)."""
    return [check_http_url(u, argument) for u in (value or "").split(",") if u.strip()]


def site_domain(url: str) -> str:
    """The host to allow (without "www.", so the bare domain and its subdomains pass)."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def in_domain(url: str, domain: str) -> bool:
    """True when the URL's host is `domain` or one of its subdomains."""
    host = (urlsplit(url).hostname or "").lower()
    return host == domain or host.endswith("." + domain)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def content_type_of(response: Response) -> str:
    return (response.headers.get(b"Content-Type") or b"").decode("latin-1")


def is_html_response(response: Response) -> bool:
    """HTML by Content-Type, or untyped text that looks like HTML."""
    content_type = content_type_of(response).lower()
    if any(kind in content_type for kind in _HTML_TYPES):
        return True
    if content_type:
        return False
    return isinstance(response, TextResponse) and b"<html" in response.body[:2048].lower()


# Spider arguments any spider may be given, read by components rather than the spider
# (`fresh`: the incremental middleware). Names starting with "_" come from schedulers
# (scrapyd's `_job`).
COMMON_ARGUMENTS = frozenset({"fresh"})


def check_arguments(spider: str, given: dict[str, Any], accepted: tuple[str, ...]) -> None:
    """Fail on a misspelt `-a` argument, which Scrapy would silently keep as an attribute."""
    unknown = sorted(k for k in given if not k.startswith("_") and k not in COMMON_ARGUMENTS)
    if unknown:
        raise ArgumentError(
            f"-a {unknown[0]}: not an argument of the {spider} spider "
            f"(it takes {', '.join(accepted + tuple(sorted(COMMON_ARGUMENTS)))})"
        )


HINTS_META = "newscrawl_hints"  # discovery's fallback metadata for the page (Page.hints)


def discovery_request(url: str, callback: Any, **kwargs: Any) -> Request:
    """A request for a sitemap, feed, robots.txt or listing page: never skipped as seen
    by the incremental middleware, because it is how new articles are found."""
    meta = {**kwargs.pop("meta", {}), DISCOVERY_META: True}
    return Request(url, callback=callback, meta=meta, **kwargs)


def article_request(
    url: str,
    callback: Any,
    hints: dict[str, Any] | None = None,
    lastmod: str | None = None,
    **kwargs: Any,
) -> Request:
    """A request for a candidate article, carrying discovery hints and its lastmod (ISO),
    which the incremental middleware compares with the last run's."""
    meta = dict(kwargs.pop("meta", {}))
    if hints:
        meta[HINTS_META] = hints
    if lastmod:
        meta[LASTMOD_META] = lastmod
    return Request(url, callback=callback, meta=meta, **kwargs)


class NewsSpider(Spider):
    """Base of the newscrawl spiders."""

    source = "urls"

    def count(self, key: str) -> None:
        """Increment the stat `newscrawl/<key>` (key is `<outcome>/<stage>:<rule>`)."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newscrawl/{key}")

    def parse_article(self, response: Response, **kwargs: Any) -> Any:
        """Callback of article requests: the page with the request's discovery hints."""
        page = self.page_from_response(response, hints=response.meta.get(HINTS_META))
        if page is not None:
            yield page

    def page_from_response(
        self, response: Response, hints: dict[str, Any] | None = None
    ) -> Page | None:
        """A `Page` for an HTML response; None (counted, logged once) for anything else."""
        if not isinstance(response, TextResponse) or not is_html_response(response):
            content_type = content_type_of(response)
            self.count("skipped/not-html")
            logger.info("skipped %s: not HTML (%s)", response.url, content_type or "no type")
            return None
        requested = (
            response.request.meta.get("redirect_urls", [response.url])[0]
            if response.request
            else response.url
        )
        return Page(
            url=requested,
            final_url=response.url,
            status=response.status,
            html=response_html(response),  # Scrapy's decoding + undeclared Cyrillic
            fetched_at=utc_now_iso(),
            spider=self.name,
            source=self.source,
            hints=dict(hints or {}),
        )
