"""URL classification and page evidence of the site spider (newscrawl/urlrules.py)."""

from __future__ import annotations

import json

import pytest

from newscrawl.urlrules import (
    MIN_UNMARKED_WORDS,
    UrlKind,
    Verdict,
    classify_url,
    judge_page,
    page_evidence,
)

A, N, U, X = UrlKind.ARTICLE, UrlKind.NAVIGATION, UrlKind.UNKNOWN, UrlKind.OTHER


@pytest.mark.parametrize(
    ("url", "kind", "reason"),
    [
        ("https://news.example/", N, "home"),
        ("https://news.example/section/world/", N, "navigation-segment"),
        ("https://news.example/rubrika/ekonomika/", N, "navigation-segment"),
        ("https://news.example/world/page/2/", N, "courlan-navigation"),
        ("https://news.example/tag/climate/", N, "courlan-navigation"),
        ("https://news.example/category/sport", N, "courlan-navigation"),
        ("https://news.example/author/jane-doe/", N, "courlan-navigation"),
        ("https://news.example/world?page=3", N, "courlan-navigation"),
        ("https://news.example/world/europe/", N, "short-path"),
        ("https://news.example/about.html", N, "short-path"),
        ("https://news.example/2026/11/03/bridge-opens.html", A, "date-path"),
        ("https://news.example/world/2026/11/bridge-opens", A, "date-path"),
        ("https://news.example/news/2026-11-03-bridge", A, "date-path"),
        ("https://news.example/world/new-bridge-opens-after-four-years", A, "slug"),
        ("https://news.example/ru/novosti/most-otkryli-posle-remonta.html", A, "slug"),
        ("https://news.example/news/1234567", A, "numeric-id"),
        ("https://news.example/culture/last-projectionist.html", U, "unknown"),
        ("https://news.example/media/report-2025.pdf", X, "file"),
        ("https://news.example/media/photo.JPG", X, "file"),
        ("https://news.example/rss.xml", X, "file"),
        ("https://news.example/sitemaps/news.xml.gz", X, "file"),
        ("https://news.example/feed/", X, "not-crawlable"),
        ("https://news.example/login", X, "not-crawlable"),
        ("https://news.example/contact", X, "not-crawlable"),
        ("mailto:desk@news.example", X, "not-http"),
        ("javascript:void(0)", X, "not-http"),
    ],
)
def test_classify_url(url: str, kind: UrlKind, reason: str) -> None:
    assert classify_url(url) == Verdict(kind, reason)


def _page(head: str = "", paragraphs: int = 0, words: int = 20, links: int = 0) -> str:
    prose = " ".join(["word"] * words)
    body = "".join(f"<p>{prose}</p>" for _ in range(paragraphs))
    body += "".join(
        f'<li><a href="/s{i}">A teaser headline number {i}</a></li>' for i in range(links)
    )
    return f"<html><head>{head}</head><body><main>{body}</main></body></html>"


OG_ARTICLE = '<meta property="og:type" content="article">'
OG_WEBSITE = '<meta property="og:type" content="website">'
LD_NEWS = (
    '<script type="application/ld+json">'
    + json.dumps({"@context": "https://schema.org", "@graph": [{"@type": ["NewsArticle"]}]})
    + "</script>"
)
ARTICLE_URL = Verdict(A, "date-path")
UNKNOWN_URL = Verdict(U, "unknown")


def test_page_evidence_reads_markup_and_prose() -> None:
    evidence = page_evidence(_page(OG_ARTICLE + LD_NEWS, paragraphs=3, words=20))
    assert evidence.og_type == "article"
    assert "newsarticle" in evidence.ld_types
    assert evidence.body_words == 60
    assert evidence.link_share == 0


def test_short_paragraphs_and_boilerplate_are_not_prose() -> None:
    html = "<html><body><nav><p>" + "menu " * 30 + "</p></nav><p>Read more here</p></body></html>"
    assert page_evidence(html).body_words == 0


@pytest.mark.parametrize(
    ("url_verdict", "html", "kind", "reason"),
    [
        (ARTICLE_URL, _page(OG_ARTICLE, paragraphs=3), A, "article-markup"),
        (UNKNOWN_URL, _page(LD_NEWS, paragraphs=3), A, "article-markup"),
        (ARTICLE_URL, _page(paragraphs=MIN_UNMARKED_WORDS // 20 + 1), A, "long-body"),
        # Long prose behind an unknown URL and without markup: not enough evidence.
        (UNKNOWN_URL, _page(paragraphs=10), N, "short-body"),
        # A listing with an article-like URL: teasers, many links, og:type=website.
        (ARTICLE_URL, _page(OG_WEBSITE, links=12), N, "listing-markup"),
        (ARTICLE_URL, _page(links=12), N, "short-body"),
        # Article markup but hardly any text (a video page, a gallery).
        (ARTICLE_URL, _page(OG_ARTICLE, paragraphs=1, words=10), N, "short-body"),
        # Navigation URLs are never emitted, whatever the page says.
        (
            Verdict(N, "courlan-navigation"),
            _page(OG_ARTICLE, paragraphs=10),
            N,
            "courlan-navigation",
        ),
    ],
)
def test_judge_page(url_verdict: Verdict, html: str, kind: UrlKind, reason: str) -> None:
    assert judge_page(url_verdict, page_evidence(html)) == Verdict(kind, reason)


def test_link_heavy_long_page_is_a_listing() -> None:
    html = _page(paragraphs=MIN_UNMARKED_WORDS // 20 + 1, links=200)
    evidence = page_evidence(html)
    assert evidence.link_share > 0.5
    assert judge_page(ARTICLE_URL, evidence).kind is N
