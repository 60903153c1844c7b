"""Parsing and applying the crawl-limit arguments the discovery spiders share.

`since=` (absolute date or a relative age like `2d`) and `max_articles=` / `max_pages=` /
`max_depth=` are spider arguments; these pure helpers parse them with messages that name
the argument, and `ArticleBudget` counts the article requests a spider has scheduled.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from newscrawl.spiders.base import ArgumentError

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_date(value: str | None) -> datetime | None:
    """An aware datetime from ISO 8601 (date or date-time) or RFC 822 text; None if unreadable.

    Dates without a zone are taken as UTC: sitemaps often give a bare date.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """`-a since=`: an ISO date/date-time, or an age such as 30m, 12h, 2d, 1w."""
    if value is None or not value.strip():
        return None
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ArgumentError(
            f"-a since={value!r}: expected a date (2026-11-01, 2026-11-01T06:00) "
            "or an age (30m, 12h, 2d, 1w)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_count(value: str | int | None, argument: str, minimum: int = 1) -> int | None:
    """A whole-number spider argument (None when not given)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"-a {argument}={value!r}: expected a whole number") from None
    if number < minimum:
        raise ArgumentError(f"-a {argument}={value!r}: must be >= {minimum}")
    return number


def is_recent(date: datetime | None, since: datetime | None) -> bool:
    """Keep an entry unless it has a date older than `since` (undated entries are kept:
    dropping them would lose articles from sitemaps that give no lastmod)."""
    return since is None or date is None or date >= since


class ArticleBudget:
    """Counts distinct article URLs scheduled, up to `max_articles` (None: no limit)."""

    def __init__(self, max_articles: int | None) -> None:
        self.max_articles = max_articles
        self.seen: set[str] = set()

    @property
    def exhausted(self) -> bool:
        return self.max_articles is not None and len(self.seen) >= self.max_articles

    def take(self, url: str) -> bool:
        """True when `url` is new and within budget (and counts it)."""
        if url in self.seen or self.exhausted:
            return False
        self.seen.add(url)
        return True
