"""The feed spider: RSS 2.0 and Atom, feed discovery from the home page, entry hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from newscrawl.spiders.base import ArgumentError
from newscrawl.spiders.feed import FeedSpider, feed_links, parse_feed
from tests.discovery_helpers import allowed, crawl, news_expected, unique_paths

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>T</title><language>de-DE</language>
<item><title>Erste</title><link>https://n.example/a.html</link>
  <pubDate>Tue, 03 Nov 2026 09:30:00 +0100</pubDate><dc:creator>Anna Brandt</dc:creator></item>
<item><title>Zweite</title><guid>https://n.example/b.html?utm_source=rss&amp;utm_medium=feed</guid></item>
<item><title>No link</title><guid isPermaLink="false">id-17</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<entry><title>One</title>
  <link rel="enclosure" href="/one.mp3"/><link href="/one.html"/>
  <published>2026-11-03T09:30:00Z</published><updated>2026-11-04T10:00:00Z</updated>
  <author><name>Jane Roe</name></author><author><name>John Doe</name></author></entry>
</feed>"""


def test_parse_rss() -> None:
    entries = parse_feed(RSS, "https://n.example/rss.xml")
    assert entries is not None
    assert [e.link for e in entries] == ["https://n.example/a.html", "https://n.example/b.html"]
    assert entries[0].hints() == {
        "title": "Erste",
        "published": "2026-11-03T08:30:00Z",
        "authors": ["Anna Brandt"],
        "language": "de",
    }
    assert entries[1].date is None


def test_parse_atom() -> None:
    entries = parse_feed(ATOM, "https://n.example/feeds/atom.xml")
    assert entries is not None
    (entry,) = entries
    assert entry.link == "https://n.example/one.html"
    assert entry.hints()["authors"] == ["Jane Roe", "John Doe"]
    assert entry.hints()["published"] == "2026-11-03T09:30:00Z"
    assert entry.date is not None and entry.date.day == 4  # since= compares the update
    assert entry.language == "en"


def test_not_a_feed() -> None:
    assert parse_feed(b"<html><body>hello</body></html>") is None
    assert parse_feed(b"") is None


def test_feed_links() -> None:
    html = """<html><head>
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="Alternate home" type="application/atom+xml; charset=utf-8" href="atom.xml">
    <link rel="alternate" type="text/html" hreflang="de" href="/de/">
    <link rel="stylesheet" href="/s.css"></head></html>"""
    assert feed_links(html, "https://n.example/news/") == [
        "https://n.example/rss.xml",
        "https://n.example/news/atom.xml",
    ]


def test_site_discovers_rss_and_atom(news_server: str, tmp_path: Path) -> None:
    records, _ = crawl("feed", tmp_path / "out.jsonl", f"site={news_server}/")
    expected = news_expected()
    assert unique_paths(records, news_server) == allowed(expected["rss"] + expected["atom"])
    assert {r["source"] for r in records} == {"feed"}
    # The page of this article names no author; the feed entry does.
    hinted = next(a for a in expected["articles"] if a["hint_only"])
    record = next(r for r in records if r["url"].endswith(hinted["path"]))
    assert record["authors"] == [hinted["author"]]


def test_atom_feed(news_server: str, tmp_path: Path) -> None:
    records, _ = crawl("feed", tmp_path / "out.jsonl", f"feed={news_server}/atom.xml")
    assert unique_paths(records, news_server) == allowed(news_expected()["atom"])


def test_since_and_max_articles(news_server: str, tmp_path: Path) -> None:
    rss = f"feed={news_server}/rss.xml"
    since = "2026-11-18"
    records, _ = crawl("feed", tmp_path / "since.jsonl", rss, f"since={since}")
    dates = {a["path"]: a["date"] for a in news_expected()["articles"]}
    expected = [p for p in news_expected()["rss"] if dates[p] >= since]
    assert unique_paths(records, news_server) == allowed(expected)
    assert len(expected) < len(news_expected()["rss"])
    records, _ = crawl("feed", tmp_path / "max.jsonl", rss, "max_articles=3")
    assert unique_paths(records, news_server) == allowed(news_expected()["rss"][:3])


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({}, "-a feed"),
        ({"feed": "rss.xml"}, "-a feed"),
        ({"site": "//n.example"}, "-a site"),
        ({"feed": "https://n.example/rss.xml", "since": "yesterday"}, "-a since"),
        ({"feed": "https://n.example/rss.xml", "max_articles": "-1"}, "-a max_articles"),
        ({"feed": "https://n.example/rss.xml", "sice": "2d"}, "-a sice: not an argument"),
    ],
)
def test_bad_arguments_name_the_argument(arguments: dict[str, str], named: str) -> None:
    with pytest.raises(ArgumentError, match=named):
        FeedSpider(**arguments)
