"""Is a URL an article, a navigation page (section, tag, pagination) or something else?

Pure functions used by the `site` spider, tested with tables of URLs (tests/test_urlrules.py).
Two steps, because a URL alone can be misleading:

1. `classify_url` (before fetching): courlan's filters (files, login/contact pages,
   tag/category/pagination patterns) plus URL features news sites share: a date in the
   path (`/2026/11/03/...`), a slug of several words, a long numeric id. Files and
   feeds are never fetched; navigation URLs are fetched only to follow their links.
2. `judge_page` (after fetching): page evidence decides. `og:type=article` or a JSON-LD
   article type with some body text makes an article; without that markup only an
   article-like URL with a long body of real paragraphs (few links) does. Anything else
   is a listing — even behind an article-like URL — and is followed, never emitted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from courlan.filters import extension_filter, is_navigation_page, is_not_crawlable, type_filter
from lxml import html as lxml_html


class UrlKind(StrEnum):
    ARTICLE = "article"  # looks like an article: fetch, emit if the page agrees
    NAVIGATION = "navigation"  # home, section, tag, pagination: fetch, follow, never emit
    UNKNOWN = "unknown"  # fetch; emitted only with article markup
    OTHER = "other"  # files, feeds, login pages, non-http: never fetched


@dataclass(frozen=True)
class Verdict:
    kind: UrlKind
    reason: str  # short rule name, used in stats (`newscrawl/<outcome>/site:<reason>`)


# Path segments that name listing pages in most CMSs (courlan covers tag/category/page...).
NAV_SEGMENTS = frozenset(
    [
        "section",
        "sections",
        "rubric",
        "rubrics",
        "rubrika",
        "topic",
        "topics",
        "tag",
        "tags",
        "category",
        "categories",
        "archive",
        "archives",
        "author",
        "authors",
        "search",
        "latest",
        "index",
        "page",
        "pages",
        "news-list",
    ]
)
# Files that are not HTML even where courlan lets the extension through.
NON_HTML_SUFFIXES = (".xml", ".rss", ".atom", ".json", ".txt", ".gz", ".csv", ".ics")
FEED_SEGMENTS = frozenset({"feed", "rss", "atom", "feeds"})
# A slug of at least this many words reads as a headline ("budget-vote-passes").
MIN_SLUG_WORDS = 3
# Numeric ids with at least this many digits name articles in many CMSs (/news/123456).
MIN_ID_DIGITS = 5

_DATE_PATH = re.compile(
    r"/(19|20)\d\d/(0?[1-9]|1[0-2])(/(0?[1-9]|[12]\d|3[01]))?/|/(19|20)\d\d-\d\d-\d\d"
)
_SLUG_WORD = re.compile(r"[^\W\d_]{2,}")
_NUMERIC_ID = re.compile(rf"(?<!\d)\d{{{MIN_ID_DIGITS},}}(?!\d)")
_PAGE_PARAMS = ("page", "p", "paged", "pg", "start", "offset")


def _strip_extension(segment: str) -> str:
    return re.sub(r"\.(s?html?|php|aspx?)$", "", segment, flags=re.IGNORECASE)


def _last_segment(path: str) -> str:
    segments = [s for s in path.split("/") if s]
    return _strip_extension(segments[-1]) if segments else ""


def slug_words(segment: str) -> int:
    """Words of a slug such as `budget-vote-passes` (hyphens or underscores)."""
    return len(_SLUG_WORD.findall(segment.replace("_", "-")))


def classify_url(url: str) -> Verdict:
    """What a URL probably is, before fetching it (see module doc)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Verdict(UrlKind.OTHER, "not-http")
    path = unquote(parts.path) or "/"
    lowered = path.lower()
    segments = [s for s in lowered.split("/") if s]
    if lowered.endswith(NON_HTML_SUFFIXES) or not extension_filter(url.lower()):
        return Verdict(UrlKind.OTHER, "file")
    if (segments and segments[-1] in FEED_SEGMENTS) or is_not_crawlable(url):
        return Verdict(UrlKind.OTHER, "not-crawlable")
    if not segments:
        return Verdict(UrlKind.NAVIGATION, "home")
    query = parse_qs(parts.query)
    if is_navigation_page(url) or any(p in query for p in _PAGE_PARAMS):
        return Verdict(UrlKind.NAVIGATION, "courlan-navigation")
    if any(segment in NAV_SEGMENTS for segment in segments) or not type_filter(url):
        return Verdict(UrlKind.NAVIGATION, "navigation-segment")
    last = _last_segment(lowered)
    if _DATE_PATH.search(lowered + "/") and slug_words(last) >= 1:
        return Verdict(UrlKind.ARTICLE, "date-path")
    if slug_words(last) >= MIN_SLUG_WORDS:
        return Verdict(UrlKind.ARTICLE, "slug")
    if _NUMERIC_ID.search(last):
        return Verdict(UrlKind.ARTICLE, "numeric-id")
    words = [_strip_extension(s) for s in segments]
    if len(words) <= 2 and all(
        slug_words(w) <= 1 and not any(c.isdigit() for c in w) for w in words
    ):
        return Verdict(UrlKind.NAVIGATION, "short-path")
    return Verdict(UrlKind.UNKNOWN, "unknown")


# --- page evidence ------------------------------------------------------------------------

ARTICLE_LD_TYPES = frozenset(
    [
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "report",
        "scholarlyarticle",
        "techarticle",
    ]
)
LISTING_LD_TYPES = frozenset(["collectionpage", "itemlist", "website", "searchresultspage"])
# A paragraph of fewer words is a teaser, caption or button, not article prose.
MIN_PARAGRAPH_WORDS = 8
# With article markup, this much prose is enough (the quality stage judges length later).
MIN_MARKED_WORDS = 40
# Without markup, an article-like URL needs a body this long: listing pages with teasers
# rarely reach it, short news items without markup are lost (they would fail the quality
# stage's length check anyway).
MIN_UNMARKED_WORDS = 150
# Share of the page text inside links above which a page is a list of links.
MAX_LINK_SHARE = 0.5


@dataclass
class PageEvidence:
    og_type: str | None = None
    ld_types: set[str] = field(default_factory=set)
    body_words: int = 0  # words in paragraphs of >= MIN_PARAGRAPH_WORDS words
    link_share: float = 0.0  # share of the body's text that is link text

    @property
    def article_markup(self) -> bool:
        return self.og_type == "article" or bool(self.ld_types & ARTICLE_LD_TYPES)

    @property
    def listing_markup(self) -> bool:
        return not self.article_markup and (
            self.og_type in ("website", "profile") or bool(self.ld_types & LISTING_LD_TYPES)
        )


def _ld_types(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _ld_types(item, found)
    elif isinstance(node, dict):
        kind = node.get("@type")
        for name in kind if isinstance(kind, list) else [kind]:
            if isinstance(name, str):
                found.add(name.lower())
        if "@graph" in node:
            _ld_types(node["@graph"], found)


def page_evidence(html: str) -> PageEvidence:
    """og:type, JSON-LD types, prose length and link share of a page."""
    evidence = PageEvidence()
    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return evidence
    for meta in tree.iterfind(".//meta"):
        if (meta.get("property") or meta.get("name") or "").lower() == "og:type":
            evidence.og_type = (meta.get("content") or "").strip().lower() or None
            break
    for script in tree.iterfind(".//script"):
        if (script.get("type") or "").lower() == "application/ld+json" and script.text:
            try:
                _ld_types(json.loads(script.text), evidence.ld_types)
            except ValueError:
                continue
    for paragraph in tree.xpath(
        "//p[not(ancestor::nav or ancestor::header or ancestor::footer or ancestor::aside)]"
    ):
        words = len(paragraph.text_content().split())
        if words >= MIN_PARAGRAPH_WORDS:
            evidence.body_words += words
    body = tree.find(".//body")
    if body is not None:
        for bad in body.xpath(".//script|.//style"):
            bad.drop_tree()
        total = len(" ".join(body.text_content().split()))
        linked = sum(len(" ".join(a.text_content().split())) for a in body.iterfind(".//a"))
        evidence.link_share = linked / total if total else 1.0
    return evidence


def judge_page(url_verdict: Verdict, evidence: PageEvidence) -> Verdict:
    """ARTICLE (emit) or NAVIGATION (follow only) for a fetched page."""
    if url_verdict.kind is UrlKind.NAVIGATION:
        return Verdict(UrlKind.NAVIGATION, url_verdict.reason)
    if evidence.article_markup and evidence.body_words >= MIN_MARKED_WORDS:
        return Verdict(UrlKind.ARTICLE, "article-markup")
    if (
        url_verdict.kind is UrlKind.ARTICLE
        and not evidence.listing_markup
        and evidence.body_words >= MIN_UNMARKED_WORDS
        and evidence.link_share <= MAX_LINK_SHARE
    ):
        return Verdict(UrlKind.ARTICLE, "long-body")
    if evidence.listing_markup:
        return Verdict(UrlKind.NAVIGATION, "listing-markup")
    return Verdict(UrlKind.NAVIGATION, "short-body")
