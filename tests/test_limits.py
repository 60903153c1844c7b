"""Crawl-limit arguments shared by the discovery spiders (newscrawl/limits.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newscrawl.limits import ArticleBudget, is_recent, parse_count, parse_date, parse_since
from newscrawl.spiders.base import ArgumentError

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2d", datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
        ("12h", datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
        ("30m", datetime(2026, 11, 24, 11, 30, tzinfo=UTC)),
        ("1w", datetime(2026, 11, 17, 12, 0, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T06:00+05:00", datetime(2026, 11, 1, 1, 0, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_since(value: str | None, expected: datetime | None) -> None:
    assert parse_since(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "2d ago", "-2d", "2026-13-01"])
def test_parse_since_rejects(value: str) -> None:
    with pytest.raises(ArgumentError, match="-a since"):
        parse_since(value, now=NOW)


def test_parse_date_formats() -> None:
    assert parse_date("2026-11-03") == datetime(2026, 11, 3, tzinfo=UTC)
    assert parse_date("2026-11-03T10:00:00Z") == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert parse_date("Tue, 03 Nov 2026 10:00:00 GMT") == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert parse_date("soon") is None
    assert parse_date("") is None


def test_is_recent_keeps_undated() -> None:
    since = datetime(2026, 11, 10, tzinfo=UTC)
    assert is_recent(None, since)
    assert is_recent(datetime(2026, 11, 10, tzinfo=UTC), since)
    assert not is_recent(datetime(2026, 11, 9, tzinfo=UTC), since)
    assert is_recent(datetime(2000, 1, 1, tzinfo=UTC), None)


def test_parse_count() -> None:
    assert parse_count("5", "max_articles") == 5
    assert parse_count(None, "max_articles") is None
    assert parse_count("0", "max_depth", minimum=0) == 0
    with pytest.raises(ArgumentError, match="-a max_pages='0': must be >= 1"):
        parse_count("0", "max_pages")
    with pytest.raises(ArgumentError, match="-a max_pages='ten'"):
        parse_count("ten", "max_pages")


def test_article_budget() -> None:
    budget = ArticleBudget(2)
    assert budget.take("a") and not budget.take("a")  # a repeat costs nothing
    assert budget.take("b")
    assert budget.exhausted and not budget.take("c")
    unlimited = ArticleBudget(None)
    assert all(unlimited.take(str(n)) for n in range(100))
