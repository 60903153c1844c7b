"""End-of-crawl run report, outright-failure flag and run identity, as a Scrapy extension.

Schedulers (cron, scrapyd) only look at logs and exit codes, so every crawl ends with one
summary block in the log, a `newscrawl/run/failed` stat the `crawl` command turns into
a non-zero exit status, and optionally a JSON stats file (NEWSCRAWL_STATS_FILE).
The feed storage (newscrawl.feeds) reads the run id and the final summary from here to
write them into each output file's manifest.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from newscrawl.atomic import atomic_open
from newscrawl.reporting import FAILED, PAGES_FETCHED, Summary, format_summary, summary_from_stats

logger = logging.getLogger(__name__)

# Responses at or above this status are errors for the report; 3xx are redirects whose
# target is counted when it arrives.
HTTP_ERROR_STATUS = 400
HTTP_REDIRECT_STATUS = 300


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    """Sortable and unique enough for one crawler fleet: UTC time plus 24 random bits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunReport:
    """Counts fetched pages and HTTP errors, then logs the run summary when the spider closes.

    Registered with a priority below FeedExporter's so its spider_closed handler runs
    first: by the time the feeds are stored, `final_summary` is set and the last manifest
    carries the same numbers as the log.
    """

    def __init__(self, crawler: Crawler, stats_file: str | None, run_id: str | None) -> None:
        self.crawler = crawler
        self.stats_file = Path(stats_file) if stats_file else None
        self.run_id = run_id or new_run_id()
        self.started_at = utc_now()
        self.final_summary: Summary | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        settings = crawler.settings
        extension = cls(
            crawler,
            stats_file=settings.get("NEWSCRAWL_STATS_FILE") or None,
            run_id=settings.get("NEWSCRAWL_RUN_ID") or None,
        )
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    @property
    def closing(self) -> bool:
        return self.final_summary is not None

    def spider_opened(self, spider: Spider) -> None:
        # scrapyd passes its job id as the `_job` spider argument: use it as the run id so
        # a manifest points back to the scrapyd job and its log.
        job = getattr(spider, "_job", None)
        if job and not self.crawler.settings.get("NEWSCRAWL_RUN_ID"):
            self.run_id = str(job)
        self.started_at = utc_now()
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("newscrawl/run_id", self.run_id)
        self.crawler.stats.set_value(PAGES_FETCHED, 0)
        from newscrawl.feeds import sweep_feed_folders  # feeds imports this module

        # Before the first request: records salvaged from a killed run count as written.
        sweep_feed_folders(self.crawler, spider)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if urlsplit(response.url).path == "/robots.txt":
            return
        stats = self.crawler.stats
        assert stats is not None
        if response.status >= HTTP_ERROR_STATUS:
            stats.inc_value(f"newscrawl/errors/http:{response.status}")
        elif response.status < HTTP_REDIRECT_STATUS or not response.headers.get("Location"):
            stats.inc_value(PAGES_FETCHED)

    def summary(self) -> Summary:
        """The final summary once the spider closed, a snapshot before (rotated batches)."""
        if self.final_summary is not None:
            return self.final_summary
        assert self.crawler.stats is not None
        return summary_from_stats(self.crawler.stats.get_stats())

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        summary = summary_from_stats(stats.get_stats())
        summary.finish_reason = reason
        self.final_summary = summary
        stats.set_value(FAILED, int(summary.failed))
        text = format_summary(summary, f"newscrawl run report ({spider.name}, run {self.run_id})")
        logger.log(logging.ERROR if summary.failed else logging.INFO, "%s", text)

    def engine_stopped(self) -> None:
        """Write the stats (all of them, after the feeds were stored) for scripts and tests."""
        if self.stats_file is None or self.crawler.stats is None:
            return
        stats = dict(self.crawler.stats.get_stats())
        stats["newscrawl/run/summary"] = self.summary().to_dict()
        text = json.dumps(stats, default=_jsonable, indent=1, sort_keys=True)
        with atomic_open(self.stats_file) as handle:
            handle.write(text.encode("utf-8"))


def _jsonable(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def run_report(crawler: Crawler) -> RunReport | None:
    """The crawler's RunReport extension, if it is enabled."""
    return crawler.get_extension(RunReport)
