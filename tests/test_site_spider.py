"""The site spider: follows in-domain links, emits articles only (never listings)."""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from newscrawl.fixtures import SITES
from newscrawl.spiders.base import ArgumentError
from newscrawl.spiders.site import SiteSpider
from tests.discovery_helpers import all_articles, allowed, crawl, news_expected, unique_paths


def test_crawl_emits_exactly_the_articles(news_server: str, tmp_path: Path) -> None:
    records, log = crawl("site", tmp_path / "out.jsonl", f"start={news_server}/")
    found = unique_paths(records, news_server)
    assert found == allowed(all_articles())
    # Listings were fetched and followed, but none is in the output; the listing with an
    # article-like URL was recognised by its page.
    assert news_expected()["disguised_listing"] not in found
    assert "'newscrawl/followed/site:listing-markup': 1" in log
    assert "robotstxt/forbidden" in log
    assert {r["source"] for r in records} == {"site"}


def test_max_depth_one_stops_at_the_home_page_links(news_server: str, tmp_path: Path) -> None:
    records, _ = crawl("site", tmp_path / "out.jsonl", f"start={news_server}/", "max_depth=1")
    expected = news_expected()
    home = (SITES / "news" / "index.html").read_text(encoding="utf-8")
    linked = set(re.findall(r'href="([^"#:]+)"', home))
    redirect = expected["redirect"]
    reachable = (linked & all_articles()) | (
        {redirect["to"]} if redirect["from"] in linked else set()
    )
    assert unique_paths(records, news_server) == allowed(reachable)
    # Reached through its old URL: the record keeps both.
    (moved,) = [r for r in records if r["final_url"].endswith(redirect["to"])]
    assert moved["url"].endswith(redirect["from"])


def test_max_pages(news_server: str, tmp_path: Path) -> None:
    records, log = crawl("site", tmp_path / "out.jsonl", f"start={news_server}/", "max_pages=6")
    assert 0 < len(records) <= 5  # the home page is one of the six
    assert "newscrawl/skipped/site:max-pages" in log
    assert unique_paths(records, news_server) <= all_articles()


def test_article_depth_follows_links_on_articles(news_server: str, tmp_path: Path) -> None:
    """Started on an article with max_depth=1: alone by default, its related links with
    article_depth=1."""
    article = news_expected()["articles"][5]["path"]
    start = f"start={news_server}/{article}"
    alone, _ = crawl("site", tmp_path / "alone.jsonl", start, "max_depth=1")
    assert unique_paths(alone, news_server) == {article}
    related, _ = crawl("site", tmp_path / "rel.jsonl", start, "max_depth=1", "article_depth=1")
    page = (SITES / "news" / article).read_text(encoding="utf-8")
    page_url = f"{news_server}/{article}"
    links = {
        urljoin(page_url, href).removeprefix(f"{news_server}/")
        for href in re.findall(r'href="([^"#:]+\.html)"', page)
    }
    assert unique_paths(related, news_server) == {article} | (allowed(links) & all_articles())


def test_fixture_server_routes(news_server: str) -> None:
    """The redirect and the missing page the spiders meet are real HTTP answers."""
    redirect = news_expected()["redirect"]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as moved:
        opener.open(f"{news_server}/{redirect['from']}")
    assert moved.value.code == 301
    assert moved.value.headers["Location"] == f"{news_server}/{redirect['to']}"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{news_server}/{news_expected()['not_found']}")
    assert missing.value.code == 404
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{news_server}/_server.json")  # never served


def test_fixture_server_keeps_the_connection_alive(news_server: str) -> None:
    """Pages, redirects and special routes share one connection, as on a news site: each
    answer says its length, so the client can read the next one."""
    connection = http.client.HTTPConnection(urlsplit(news_server).netloc, timeout=10)
    paths = ["/", news_expected()["redirect"]["from"], "/robots.txt", "/"]
    try:
        connection.connect()
        sock = connection.sock
        for path in paths:
            connection.request("GET", "/" + path.lstrip("/"))
            response = connection.getresponse()
            assert response.status in (200, 301), path
            response.read()
            assert connection.sock is sock, f"the server closed the connection after {path}"
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({}, "-a start"),
        ({"start": "news.example"}, "-a start"),
        ({"start": "https://n.example/", "max_depth": "-1"}, "-a max_depth"),
        ({"start": "https://n.example/", "max_pages": "0"}, "-a max_pages"),
        ({"start": "https://n.example/", "article_depth": "x"}, "-a article_depth"),
        ({"start": "https://n.example/", "depth": "2"}, "-a depth: not an argument"),
    ],
)
def test_bad_arguments_name_the_argument(arguments: dict[str, str], named: str) -> None:
    with pytest.raises(ArgumentError, match=named):
        SiteSpider(**arguments)


def test_scheduler_and_common_arguments_are_accepted() -> None:
    spider = SiteSpider(start="https://n.example/", fresh="1", _job="20261124-abc")
    assert spider.start_url == "https://n.example/"
