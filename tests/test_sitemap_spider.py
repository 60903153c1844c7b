"""The sitemap spider: robots.txt -> index -> nested index -> gzip and news sitemaps."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from newscrawl.fixtures import site_root
from newscrawl.limits import parse_since
from newscrawl.localserver import serve_directory
from newscrawl.spiders.base import ArgumentError
from newscrawl.spiders.sitemap import SitemapSpider, newest_first, parse_sitemap
from tests.conftest import scrapy_crawl
from tests.discovery_helpers import (
    SETTINGS,
    all_articles,
    allowed,
    crawl,
    news_expected,
    unique_paths,
)
from tests.golden import demo_article_paths

NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://news.example/a.html</loc><lastmod>2026-11-02</lastmod></url>
<url><loc>/b.html</loc>
  <news:news>
    <news:publication><news:name>Ledger</news:name><news:language>ru-RU</news:language></news:publication>
    <news:publication_date>2026-11-05T08:00:00+03:00</news:publication_date>
    <news:title>Мост открыт</news:title>
  </news:news>
</url>
<url><lastmod>2026-11-09</lastmod></url>
</urlset>""".encode()


def test_parse_news_sitemap_keeps_nested_fields() -> None:
    sitemap = parse_sitemap(NEWS_SITEMAP, "https://news.example/sitemaps/news.xml")
    assert sitemap.kind == "urlset"
    assert [e.loc for e in sitemap.entries] == [
        "https://news.example/a.html",
        "https://news.example/b.html",  # relative loc resolved; the entry without loc dropped
    ]
    plain, news = sitemap.entries
    assert plain.hints() == {}
    assert news.hints() == {
        "title": "Мост открыт",
        "published": "2026-11-05T05:00:00Z",
        "language": "ru",
    }
    assert next(e.loc for e in newest_first(sitemap.entries)) == "https://news.example/b.html"


def test_parse_index_and_garbage() -> None:
    index = b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>'
    index += b"<loc>https://n.example/s1.xml.gz</loc><lastmod>2026-11-01</lastmod></sitemap>"
    index += b"</sitemapindex>"
    sitemap = parse_sitemap(index)
    assert sitemap.kind == "sitemapindex"
    assert sitemap.entries[0].lastmod is not None
    assert parse_sitemap(b"<html><body>not a sitemap</body></html>").kind == ""
    assert parse_sitemap(gzip.compress(index)).kind == ""  # the spider gunzips first


def test_site_finds_every_allowed_article(news_server: str, tmp_path: Path) -> None:
    """robots.txt -> sitemap index -> news sitemap + nested index -> gzip sitemap."""
    records, log = crawl("sitemap", tmp_path / "out.jsonl", f"site={news_server}/")
    assert unique_paths(records, news_server) == allowed(all_articles())
    assert {r["source"] for r in records} == {"sitemap"}
    assert "robotstxt/forbidden" in log  # the disallowed article was refused, not missed


def test_robots_disallow_is_what_excludes_the_premium_article(
    news_server: str, tmp_path: Path
) -> None:
    records, _ = crawl(
        "sitemap",
        tmp_path / "out.jsonl",
        f"sitemap={news_server}/sitemap_index.xml",
        settings={"ROBOTSTXT_OBEY": "False"},
    )
    assert unique_paths(records, news_server) == all_articles()


def test_since_skips_older_entries(news_server: str, tmp_path: Path) -> None:
    since = "2026-11-15"
    records, _ = crawl("sitemap", tmp_path / "out.jsonl", f"site={news_server}/", f"since={since}")
    expected = {a["path"] for a in news_expected()["articles"] if a["date"] >= since}
    assert unique_paths(records, news_server) == allowed(expected)
    assert len(expected) < len(all_articles())


def test_max_articles(news_server: str, tmp_path: Path) -> None:
    records, _ = crawl(
        "sitemap",
        tmp_path / "out.jsonl",
        f"sitemap={news_server}/sitemaps/news.xml",
        "max_articles=4",
    )
    # One news sitemap, newest entries first: the four newest (the premium one is refused).
    newest = news_expected()["news_sitemap"][:4]
    assert unique_paths(records, news_server) == allowed(newest)


@pytest.fixture(scope="module")
def news_sitemap_records(news_server: str, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """One crawl of the Google News sitemap alone, shared by the tests below."""
    out = tmp_path_factory.mktemp("news-sitemap") / "out.jsonl"
    records, _ = crawl("sitemap", out, f"sitemap={news_server}/sitemaps/news.xml")
    return records


def hinted_record(records: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(expected, record) of the article whose page has no title, date, author or lang."""
    hinted = next(a for a in news_expected()["articles"] if a["hint_only"])
    return hinted, next(r for r in records if r["url"].endswith(hinted["path"]))


def test_news_sitemap_hints_fill_the_record(
    news_server: str, news_sitemap_records: list[dict[str, Any]]
) -> None:
    paths = unique_paths(news_sitemap_records, news_server)
    assert paths == allowed(news_expected()["news_sitemap"])
    hinted, record = hinted_record(news_sitemap_records)
    assert record["language"] == hinted["language"]  # the page has no lang: news:language


def test_news_sitemap_publication_date_fills_the_record(
    news_sitemap_records: list[dict[str, Any]],
) -> None:
    hinted, record = hinted_record(news_sitemap_records)
    assert (record["published"] or "").startswith(hinted["date"])


def test_without_robots_txt_the_usual_locations_are_tried(site_server: str, tmp_path: Path) -> None:
    """Served as a sub-folder, the site has no /robots.txt: sitemap_index.xml is found anyway
    (and nothing is disallowed)."""
    base = f"{site_server}/news"
    records, _ = crawl("sitemap", tmp_path / "out.jsonl", f"site={base}/")
    assert unique_paths(records, base) == all_articles()


def test_a_sitemap_on_another_host_is_read_and_its_offsite_articles_are_not(
    tmp_path: Path,
) -> None:
    """robots.txt names a sitemap on another host (a CDN, the bare domain): it is fetched;
    the articles it lists on that other host are not (off-site)."""
    root = tmp_path / "site"
    shutil.copytree(site_root("demo"), root)
    paths = demo_article_paths()
    with serve_directory(root) as base:
        other = base.replace("127.0.0.1", "localhost")
        urls = [f"{base}{path}" for path in paths[:3]] + [f"{other}{paths[3]}"]
        (root / "maps").mkdir()
        (root / "maps" / "sitemap.xml").write_text(
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{url}</loc></url>" for url in urls)
            + "</urlset>",
            encoding="utf-8",
        )
        (root / "robots.txt").write_text(f"Sitemap: {other}/maps/sitemap.xml\n")
        records, _ = crawl("sitemap", tmp_path / "out.jsonl", f"site={base}/")
    assert sorted(r["url"] for r in records) == sorted(urls[:3])


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({}, "-a site"),
        ({"site": "news.example"}, "-a site"),
        ({"sitemap": "ftp://news.example/s.xml"}, "-a sitemap"),
        ({"site": "https://news.example/", "since": "last week"}, "-a since"),
        ({"site": "https://news.example/", "max_articles": "0"}, "-a max_articles"),
        ({"site": "https://news.example/", "max_articles": "many"}, "-a max_articles"),
        ({"site": "https://news.example/", "max_article": "5"}, "-a max_article: not an"),
    ],
)
def test_bad_arguments_name_the_argument(arguments: dict[str, str], named: str) -> None:
    with pytest.raises(ArgumentError, match=named):
        SitemapSpider(**arguments)


def test_bad_argument_fails_the_crawl_at_start(tmp_path: Path) -> None:
    result = scrapy_crawl(
        "sitemap",
        tmp_path / "out.jsonl",
        *("-a", "site=https://news.example/", "-a", "since=last week"),
        settings=SETTINGS,
    )
    assert result.returncode == 1
    # The last line of the output names the argument, and no traceback comes before it.
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot start the crawl: -a since='last week': expected a date" in last
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists() or not (tmp_path / "out.jsonl").read_text()


def _spider_response(body: bytes, url: str = "https://news.example/s.xml.gz") -> tuple[Any, Any]:
    crawler = get_crawler(SitemapSpider)
    spider = SitemapSpider(sitemap="https://news.example/s.xml.gz")
    spider.crawler = crawler
    crawler.stats.open_spider()  # type: ignore[union-attr]
    return spider, Response(url, body=body, headers={"Content-Type": "application/gzip"})


def test_gzip_sitemap_and_since_in_the_callback() -> None:
    spider, response = _spider_response(gzip.compress(NEWS_SITEMAP))
    spider.since = parse_since("2026-11-03")
    requests = list(spider.parse_sitemap(response))
    assert [r.url for r in requests] == ["https://news.example/b.html"]
    assert requests[0].meta["newscrawl_lastmod"] == "2026-11-05T05:00:00Z"
    assert requests[0].meta["newscrawl_hints"]["title"] == "Мост открыт"
    assert spider.crawler.stats.get_value("newscrawl/skipped/sitemap:older-than-since") == 1


def test_corrupt_gzip_and_non_sitemaps_are_counted_not_raised() -> None:
    spider, response = _spider_response(gzip.compress(NEWS_SITEMAP)[:40])
    assert list(spider.parse_sitemap(response)) == []
    assert spider.crawler.stats.get_value("newscrawl/errors/sitemap:gzip") == 1
    spider, response = _spider_response(b"<html><body>Moved</body></html>")
    assert list(spider.parse_sitemap(response)) == []
    assert spider.crawler.stats.get_value("newscrawl/errors/sitemap:not-a-sitemap") == 1
