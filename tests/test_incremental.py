"""Incremental crawling: written articles are not fetched again unless they changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.test import get_crawler

from newscrawl.config import SettingError
from newscrawl.fixtures import SITES
from newscrawl.incremental import (
    DISCOVERY_META,
    LASTMOD_META,
    RUNNING_MARKER,
    IncrementalMiddleware,
    parse_duration,
    recover_jobdir,
    refetch_reason,
)
from newscrawl.localserver import serve_directory
from newscrawl.state import Seen, url_key
from tests.conftest import read_jsonl, scrapy_crawl
from tests.test_state import redis_url  # noqa: F401 - a fixture

SITE_PATHS = sorted(
    f"/incremental/news/{p.name}" for p in (SITES / "incremental" / "news").glob("*.html")
)
DAY = 86400.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("", None), ("off", None), ("0", None), ("90", 90.0), ("30m", 1800.0), ("12h", 43200.0),
     ("7d", 7 * DAY), ("2w", 14 * DAY), (" 1.5D ", 1.5 * DAY)],
)  # fmt: skip
def test_parse_duration(value: str, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


def test_bad_duration_names_the_setting() -> None:
    with pytest.raises(SettingError, match="NEWSCRAWL_REFETCH_AFTER"):
        parse_duration("a week")


WRITTEN = 1_000_000.0  # 1970-01-12T13:46:40Z


@pytest.mark.parametrize(
    ("seen_lastmod", "lastmod", "now", "after", "reason"),
    [
        ("2026-11-01T10:00:00+00:00", "2026-11-01T10:00:00+00:00", WRITTEN + 10, None, None),
        ("2026-11-01T10:00:00+00:00", "2026-11-01T12:00:00+02:00", WRITTEN + 10, None, None),
        ("2026-11-01T10:00:00+00:00", "2026-11-01T10:00:01Z", WRITTEN + 10, None, "changed"),
        ("2026-11-01", "2026-11-02", WRITTEN + 10, None, "changed"),
        ("2026-11-01T10:00:00+00:00", "2026-10-01", WRITTEN + 10, None, None),  # older
        ("2026-11-01T10:00:00+00:00", "not a date", WRITTEN + 10, None, None),
        ("2026-11-01T10:00:00+00:00", None, WRITTEN + 10, None, None),
        # no lastmod known when written: compared with the time it was written
        (None, "1970-01-01", WRITTEN + 10, None, None),
        (None, "2026-11-01", WRITTEN + 10, None, "changed"),
        ("2026-11-01", None, WRITTEN + 7 * DAY - 1, 7 * DAY, None),
        ("2026-11-01", None, WRITTEN + 7 * DAY, 7 * DAY, "expired"),
    ],
)
def test_refetch_reason(
    seen_lastmod: str | None, lastmod: str | None, now: float, after: float | None, reason: str
) -> None:
    seen = Seen("http://a.example/x", WRITTEN, seen_lastmod)
    assert refetch_reason(seen, lastmod, now, after) == reason


def middleware(tmp_path: Path, **settings: Any) -> IncrementalMiddleware:
    crawler = get_crawler(
        settings_dict={"NEWSCRAWL_STATE": f"sqlite:///{tmp_path}/state.db", **settings}
    )
    crawler.spider = SimpleNamespace(name="t", **settings.pop("spider_args", {}))  # type: ignore[assignment]
    crawler.stats.open_spider()  # type: ignore[union-attr]
    return IncrementalMiddleware.from_crawler(crawler)


def written(mw: IncrementalMiddleware, url: str, lastmod: str | None = None) -> None:
    mw.state.store.mark_seen([Seen(url_key(url), 1_700_000_000.0, lastmod)])


def stat(mw: IncrementalMiddleware, key: str) -> Any:
    assert mw.crawler.stats is not None
    return mw.crawler.stats.get_value(key)


def test_middleware_skips_written_articles_only(tmp_path: Path) -> None:
    mw = middleware(tmp_path)
    written(mw, "http://news.example/a?x=1&y=2", "2026-11-01T00:00:00Z")
    with pytest.raises(IgnoreRequest):
        mw.process_request(Request("http://news.example/a?y=2&x=1"))  # same canonical URL
    assert stat(mw, "newscrawl/skipped/seen") == 1
    assert mw.process_request(Request("http://news.example/new")) is None
    # discovery pages are always fetched, even at a written URL
    discovery = Request("http://news.example/a?x=1&y=2", meta={DISCOVERY_META: True})
    assert mw.process_request(discovery) is None
    # the sitemap says it changed
    changed = Request("http://news.example/a?x=1&y=2", meta={LASTMOD_META: "2026-11-05"})
    assert mw.process_request(changed) is None
    assert stat(mw, "newscrawl/refetched/changed") == 1
    assert mw.state.lastmods[url_key(changed.url)] == "2026-11-05"  # recorded when written


def test_an_article_is_fetched_once_per_run(tmp_path: Path) -> None:
    mw = middleware(tmp_path)
    assert mw.process_request(Request("http://news.example/a?x=1&y=2")) is None
    with pytest.raises(IgnoreRequest):  # e.g. restored from JOBDIR and found again
        mw.process_request(Request("http://news.example/a?y=2&x=1"))
    assert stat(mw, "newscrawl/skipped/seen-this-run") == 1
    retry = Request("http://news.example/a?x=1&y=2", meta={"retry_times": 1}, dont_filter=True)
    assert mw.process_request(retry) is None


def test_refetch_after_and_fresh(tmp_path: Path) -> None:
    mw = middleware(tmp_path / "a", NEWSCRAWL_REFETCH_AFTER="1h")
    written(mw, "http://news.example/a")  # in 2023: long ago
    assert mw.process_request(Request("http://news.example/a")) is None
    assert stat(mw, "newscrawl/refetched/expired") == 1
    fresh = middleware(tmp_path / "b", spider_args={"fresh": "1"})
    written(fresh, "http://news.example/a")
    assert fresh.process_request(Request("http://news.example/a")) is None


def test_recover_jobdir(tmp_path: Path) -> None:
    jobdir = tmp_path / "job"
    assert recover_jobdir(str(jobdir)) is False  # first run
    (jobdir / "requests.queue").mkdir()
    (jobdir / "requests.queue" / "p0").write_bytes(b"half a reco")
    (jobdir / "requests.seen").write_bytes(b"\x00\x20")
    assert recover_jobdir(str(jobdir)) is True  # marker still there: the last run was killed
    assert not (jobdir / "requests.queue").exists()
    assert not (jobdir / "requests.seen").exists()
    (jobdir / RUNNING_MARKER).unlink()  # what a clean stop does
    (jobdir / "requests.queue").mkdir()
    assert recover_jobdir(str(jobdir)) is False
    assert (jobdir / "requests.queue").exists()  # a cleanly stopped queue is resumed


# --- real crawls ------------------------------------------------------------------------------


def crawl(
    spider: str, out: Path, state: Path | str, *args: str, **settings: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    stats_file = out.with_suffix(".stats.json")
    result = scrapy_crawl(
        spider,
        out,
        *args,
        settings={
            "NEWSCRAWL_STATE": state if isinstance(state, str) else f"sqlite:///{state}",
            "NEWSCRAWL_STATS_FILE": str(stats_file),
            "NEWSCRAWL_EXTRACT_WORKERS": "0",
            **settings,
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]  # an unchanged site is a success
    assert stats_file.exists(), result.stderr[-3000:]
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    stats = stats.get("stats", stats)
    records = read_jsonl(out) if out.exists() else []
    return records, stats


def test_second_run_fetches_no_known_article(site_server: str, tmp_path: Path) -> None:
    urls = ",".join(site_server + path for path in SITE_PATHS)
    state = tmp_path / "state.db"
    first, stats = crawl("articles", tmp_path / "1.jsonl", state, "-a", f"urls={urls}")
    assert sorted(r["url"] for r in first) == sorted(site_server + p for p in SITE_PATHS)
    assert stats.get("newscrawl/skipped/seen", 0) == 0

    second, stats = crawl("articles", tmp_path / "2.jsonl", state, "-a", f"urls={urls}")
    assert second == []
    assert stats["newscrawl/skipped/seen"] == len(SITE_PATHS)
    fetched = stats.get("downloader/response_count", 0) - stats.get(
        "downloader/response_status_count/404", 0
    )
    assert fetched <= 1  # robots.txt at most: no article page

    # a one-off full run fetches and writes them all again
    args = ("-a", f"urls={urls}", "-a", "fresh=1")
    third, stats = crawl("articles", tmp_path / "3.jsonl", state, *args)
    assert len(third) == len(SITE_PATHS)
    assert stats.get("newscrawl/skipped/seen", 0) == 0


@pytest.mark.integration
def test_second_run_with_the_redis_store(
    site_server: str,
    tmp_path: Path,
    redis_url: str,  # noqa: F811 - the fixture imported above
) -> None:
    urls = ",".join(site_server + path for path in SITE_PATHS)
    state = f"{redis_url}?prefix=incremental"
    first, _ = crawl("articles", tmp_path / "1.jsonl", state, "-a", f"urls={urls}")
    assert len(first) == len(SITE_PATHS)
    second, stats = crawl("articles", tmp_path / "2.jsonl", state, "-a", f"urls={urls}")
    assert second == []
    assert stats["newscrawl/skipped/seen"] == len(SITE_PATHS)


def test_changed_lastmod_is_refetched(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITES / "incremental", site / "incremental")
    sitemap = site / "incremental" / "sitemap.xml"
    state = tmp_path / "state.db"
    with serve_directory(site) as base:
        args = ("-a", f"sitemap={base}/incremental/sitemap.xml")
        first, _ = crawl("sitemap", tmp_path / "1.jsonl", state, *args)
        assert len(first) == len(SITE_PATHS)
        second, stats = crawl("sitemap", tmp_path / "2.jsonl", state, *args)
        assert second == []
        assert stats["newscrawl/skipped/seen"] == len(SITE_PATHS)

        # one article changes: its page and its sitemap lastmod
        page = site / "incremental" / "news" / "library-roof.html"
        page.write_text(
            page.read_text(encoding="utf-8").replace(
                "The reading room reopens on Saturday",
                "The reading room now reopens on Monday, two days later than planned,",
            ),
            encoding="utf-8",
        )
        text = sitemap.read_text(encoding="utf-8")
        sitemap.write_text(
            text.replace("2026-11-03T10:30:00+00:00", "2026-11-24T09:00:00+00:00"),
            encoding="utf-8",
        )
        third, stats = crawl("sitemap", tmp_path / "3.jsonl", state, *args)
    assert [r["url"] for r in third] == [f"{base}/incremental/news/library-roof.html"]
    assert "reopens on Monday" in third[0]["text"]
    assert stats["newscrawl/refetched/changed"] == 1
    assert stats["newscrawl/skipped/seen"] == len(SITE_PATHS) - 1
