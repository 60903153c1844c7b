"""Incremental crawling: article URLs written by an earlier run are not fetched again.

`IncrementalMiddleware` (a downloader middleware) asks the state store about every article
request: a URL already written to committed output is skipped (`newscrawl/skipped/seen`)
unless discovery says it changed since (a newer `request.meta["newscrawl_lastmod"]`) or
`NEWSCRAWL_REFETCH_AFTER` has passed since it was written. Discovery requests (sitemaps,
feeds, listing pages: `request.meta["newscrawl_discovery"] = True`) are always fetched.
`-a fresh=1` fetches everything (and still records what it writes); `-s
NEWSCRAWL_STATE=memory://` forgets everything.

Resuming a killed crawl (`JOBDIR`): Scrapy's persisted dupefilter would remember requests
that were queued or in flight when the process died, whose articles were never stored;
`RunDupeFilter` therefore never persists, and a resumed run re-fetches the discovery pages
and lets the state store (which holds only committed articles) decide. `recover_jobdir`
empties a queue left by a killed run, which may end in a half-written record.
"""

from __future__ import annotations

import logging
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.job import job_dir

from newscrawl.config import SettingError, get_bool
from newscrawl.state import RunState, Seen, url_key

logger = logging.getLogger(__name__)

DISCOVERY_META = "newscrawl_discovery"
LASTMOD_META = "newscrawl_lastmod"
REFETCH_SETTING = "NEWSCRAWL_REFETCH_AFTER"
# Present in JOBDIR while a crawl runs; found at start, it means the last run was killed.
RUNNING_MARKER = "newscrawl.running"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_OFF = {"", "0", "off", "never", "none", "false", "no"}


def parse_duration(value: Any, name: str = REFETCH_SETTING) -> float | None:
    """Seconds of `30m`, `12h`, `7d`, `2w` (or a bare number of seconds); None when off."""
    if value is None or str(value).strip().lower() in _OFF:
        return None
    text = str(value)
    match = _DURATION.match(text)
    if match:
        return float(match.group(1)) * _UNITS[match.group(2).lower()]
    try:
        seconds = float(text)
    except ValueError:
        raise SettingError(
            f"{name}={value!r}: expected a duration like 30m, 12h, 7d, 2w (or off)"
        ) from None
    return seconds if seconds > 0 else None


def parse_lastmod(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime as an aware UTC datetime (naive = UTC); None if unparsable."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def refetch_reason(
    seen: Seen, lastmod: str | None, now: float, refetch_after: float | None
) -> str | None:
    """Why a written article must be fetched again ("changed", "expired"), or None to skip.

    "changed": discovery's lastmod is later than the one known when it was written (or,
    when none was known then, later than the time it was written).
    """
    new = parse_lastmod(lastmod)
    if new is not None:
        old = parse_lastmod(seen.lastmod)
        if old is None and seen.lastmod is None:
            old = datetime.fromtimestamp(seen.written_at, UTC)
        if old is not None and new > old:
            return "changed"
    if refetch_after is not None and now - seen.written_at >= refetch_after:
        return "expired"
    return None


def recover_jobdir(jobdir: str | None) -> bool:
    """Start a JOBDIR run: if the last run there was killed, drop its request queue.

    Scrapy writes the queue's index only on a clean stop; after SIGKILL the files may end
    in a half-written record. Nothing is lost by dropping them: discovery pages are fetched
    again and every article not committed to the state store is found again through them.
    Returns True when a killed run was recovered from.
    """
    if not jobdir:
        return False
    root = Path(jobdir)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / RUNNING_MARKER
    killed = marker.exists()
    if killed:
        for name in ("requests.queue", "requests.seen"):
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        logger.warning(
            "JOBDIR %s: the previous run did not stop cleanly; its request queue was "
            "dropped, discovery starts again and committed articles are skipped",
            jobdir,
        )
    marker.write_text("running\n", encoding="utf-8")
    return killed


class IncrementalMiddleware:
    """Skips article requests whose URL is already in committed output (see module doc)."""

    def __init__(
        self, crawler: Crawler, state: RunState, refetch_after: float | None, jobdir: str | None
    ) -> None:
        self.crawler = crawler
        self.state = state
        self.refetch_after = refetch_after
        self.jobdir = jobdir
        self.fetched: set[str] = set()  # article url_keys let through in this run
        if jobdir:
            crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        refetch_after = parse_duration(crawler.settings.get(REFETCH_SETTING))
        jobdir = job_dir(crawler.settings)
        if recover_jobdir(jobdir) and crawler.stats is not None:
            crawler.stats.set_value("newscrawl/resumed-after-kill", 1)
        return cls(crawler, RunState.for_crawler(crawler), refetch_after, jobdir)

    def process_request(self, request: Request) -> None:
        if request.meta.get(DISCOVERY_META):
            return
        lastmod = request.meta.get(LASTMOD_META)
        key = url_key(request.url)
        self.state.note_lastmod(key, lastmod)
        if key in self.fetched and not request.dont_filter and "retry_times" not in request.meta:
            # e.g. a request restored from JOBDIR's queue and found again by discovery
            self._inc("newscrawl/skipped/seen-this-run")
            raise IgnoreRequest(f"already fetched in this run: {request.url}")
        if self.state.fresh:
            self.fetched.add(key)
            return
        seen = self.state.store.get_seen([key]).get(key)
        if seen is None:
            self.fetched.add(key)
            return
        reason = refetch_reason(seen, lastmod, datetime.now(UTC).timestamp(), self.refetch_after)
        if reason is not None:
            self._inc(f"newscrawl/refetched/{reason}")
            logger.debug("refetching %s (%s)", request.url, reason)
            self.fetched.add(key)
            return
        self._inc("newscrawl/skipped/seen")
        logger.debug("skipped %s: already written by an earlier run", request.url)
        raise IgnoreRequest(f"already written: {request.url}")

    def _spider_closed(self, reason: str, **_: Any) -> None:
        # A clean stop (finished, or shutdown after Ctrl-C) leaves a queue Scrapy can resume.
        marker = Path(self.jobdir or ".", RUNNING_MARKER)
        marker.unlink(missing_ok=True)

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)


class RunDupeFilter(RFPDupeFilter):
    """Scrapy's request dupefilter, kept for this run only, even with JOBDIR.

    A persisted filter remembers requests whose responses were lost when the process was
    killed; across runs the state store (committed articles only) does the filtering.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunDupeFilter:
        return cls(
            None,
            get_bool(crawler.settings, "DUPEFILTER_DEBUG"),
            fingerprinter=crawler.request_fingerprinter,
        )
