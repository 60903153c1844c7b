"""Retries that back off: Scrapy's RetryMiddleware re-sends a failed request at once.

A server answering 429 or 503 is asking us to slow down; retrying immediately three times
is the opposite. This subclass waits before each retry: `NEWSCRAWL_RETRY_BACKOFF` seconds
doubled per attempt, at least what a `Retry-After` header asks, at most
`NEWSCRAWL_RETRY_BACKOFF_MAX`. Other requests keep flowing meanwhile (AutoThrottle paces
the site as a whole); only the failed request waits.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import sleep

from newscrawl.config import get_float

logger = logging.getLogger(__name__)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or None."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(
    attempt: int, base: float, maximum: float, retry_after: float | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): base * 2^(attempt-1),
    raised to `retry_after` if the server asked for more, capped at `maximum`."""
    delay = base * 2 ** max(0, attempt - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, maximum)


class BackoffRetryMiddleware(RetryMiddleware):
    """RetryMiddleware that sleeps (without blocking the crawl) before each retry."""

    def __init__(self, settings: BaseSettings, base: float = 1.0, maximum: float = 60.0):
        super().__init__(settings)
        self.base = base
        self.maximum = maximum

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        settings = crawler.settings
        middleware = cls(
            settings,
            get_float(settings, "NEWSCRAWL_RETRY_BACKOFF", 1.0),
            get_float(settings, "NEWSCRAWL_RETRY_BACKOFF_MAX", 60.0),
        )
        middleware.crawler = crawler
        return middleware

    async def _wait(self, retry: Request, response: Response | None) -> None:
        header = response.headers.get(b"Retry-After") if response is not None else None
        retry_after = retry_after_seconds(header.decode("latin-1") if header else None)
        delay = backoff_delay(
            int(retry.meta.get("retry_times", 1)), self.base, self.maximum, retry_after
        )
        if delay > 0:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("newscrawl/retried/backoff")
            logger.debug("waiting %.1fs before retrying %s", delay, retry.url)
            await sleep(delay)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result, response)
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result, None)
        return result
