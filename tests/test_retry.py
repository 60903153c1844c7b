"""Retries back off (newscrawl/retry.py): Scrapy's own retry re-sends at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newscrawl.retry import backoff_delay, retry_after_seconds
from tests.conftest import scrapy_crawl
from tests.discovery_helpers import SETTINGS, news_expected


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 1.0),
        (2, None, 2.0),
        (3, None, 4.0),
        (7, None, 60.0),
        (1, 30.0, 30.0),
        (1, 999, 60),
    ],
)
def test_backoff_delay(attempt: int, retry_after: float | None, expected: float) -> None:
    assert backoff_delay(attempt, base=1.0, maximum=60.0, retry_after=retry_after) == expected


def test_retry_after_header() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Tue, 24 Nov 2026 12:00:30 GMT", now=now) == 30
    assert retry_after_seconds("Tue, 24 Nov 2026 11:00:00 GMT", now=now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_crawl_waits_before_retrying(news_server: str, tmp_path: Path) -> None:
    """A page that always answers 503 with Retry-After: 1 is retried twice, waiting
    0.5 s (raised to 1 s by the header) and 1 s: the crawl takes at least 2 s."""
    result = scrapy_crawl(
        "articles",
        tmp_path / "out.jsonl",
        "-a",
        f"urls={news_server}/{news_expected()['busy']}",
        settings={**SETTINGS, "RETRY_TIMES": "2", "NEWSCRAWL_RETRY_BACKOFF": "0.5"},
    )
    assert "Gave up retrying" in result.stderr
    assert "'newscrawl/retried/backoff': 2" in result.stderr
    assert "'retry/count': 2" in result.stderr
    elapsed = float(re.search(r"'elapsed_time_seconds': ([\d.]+)", result.stderr).group(1))
    assert elapsed >= 2.0
