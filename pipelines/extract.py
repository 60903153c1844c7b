"""Stage 1, extract: trafilatura turns a Page's HTML into an Article's paragraphs and metadata.

`extract_html` is a pure, picklable function (HTML in, plain dict out) so that it can run
in a worker process; `ExtractPipeline` is the Scrapy glue around it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from trafilatura import bare_extraction, load_html
from trafilatura.xml import xmltotxt

from newscrawl.config import get_bool, get_choice
from newscrawl.dates import iso_datetime
from newscrawl.items import Article, Page

logger = logging.getLogger(__name__)

EXTRACT_MODES = ("balanced", "precision", "recall")

# Meta names that carry a page's publication and modification time, most specific first.
_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datePublished",
    "pubdate",
    "publishdate",
    "date",
    "dc.date.issued",
    "dc.date",
)
_MODIFIED_META = ("article:modified_time", "og:updated_time", "dateModified", "last-modified")
_LANG_CODE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*$")


def extract_html(
    html: str, url: str | None = None, mode: str = "balanced"
) -> dict[str, Any] | None:
    """Paragraphs and metadata of an article page, or None when trafilatura finds no text."""
    # trafilatura's own loader, not lxml's fromstring: it drops HTML comments and processing
    # instructions, and a comment node left inside a paragraph cuts trafilatura's text there
    # (on the extraction benchmark, lxml's tree lost half the body of some pages).
    try:
        tree = load_html(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return None
    if tree is None:
        return None
    head = _head_metadata(tree, url)
    document: Any = bare_extraction(  # a Document, since as_dict is not asked for
        tree,
        url=url,
        with_metadata=True,
        deduplicate=False,
        include_comments=False,
        favor_precision=mode == "precision",
        favor_recall=mode == "recall",
    )
    if document is None or document.body is None:
        return None
    paragraphs = _paragraphs(document.body)
    if not paragraphs:
        return None
    authors = [a.strip() for a in re.split(r";|\|", document.author or "") if a.strip()]
    return {
        "title": document.title or None,
        "paragraphs": paragraphs,
        "description": document.description or None,
        "authors": authors,
        "published": iso_datetime(head["published"]) or iso_datetime(document.date),
        "modified": iso_datetime(head["modified"]),
        "language": head["language"],
        "categories": list(document.categories or []),
        "tags": list(document.tags or []),
        "image": document.image or None,
        "canonical_url": head["canonical_url"] or document.url or None,
        "site_name": head["site_name"] or document.sitename or None,
    }


def _paragraphs(body: Any) -> list[str]:
    """Body text one block per entry; list items as plain lines.

    trafilatura's text output prefixes list items with "- ", which is markup, not article
    text; rendering items as paragraphs keeps the words and drops the marker.
    """
    for item in body.iter("item"):
        item.tag = "p"
    return [line for line in xmltotxt(body, False).split("\n") if line.strip()]


def _head_metadata(tree: Any, url: str | None) -> dict[str, str | None]:
    """Full datetimes, language and canonical URL, which trafilatura's metadata lacks.

    trafilatura returns only a date (no time) and no language; both are one meta tag away.
    """
    meta: dict[str, str] = {}
    for element in tree.iterfind(".//meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop")
        if not key:
            key = element.get("http-equiv") or ""
        content = (element.get("content") or "").strip()
        if key and content:
            meta.setdefault(key.strip().lower(), content)
    ld = _json_ld_article(tree)

    def first(keys: tuple[str, ...], ld_key: str) -> str | None:
        for key in keys:
            if key.lower() in meta:
                return meta[key.lower()]
        value = ld.get(ld_key)
        return value if isinstance(value, str) and value.strip() else None

    language = (
        tree.get("lang")
        or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        or meta.get("og:locale")
        or meta.get("content-language")
        or (ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None)
    )
    canonical = None
    for link in tree.iterfind(".//link"):
        if (link.get("rel") or "").strip().lower() == "canonical" and link.get("href"):
            canonical = link.get("href").strip()
            break
    canonical = canonical or meta.get("og:url")
    if canonical:
        canonical = urljoin(url or "", canonical)
        # A relative canonical of a saved file resolves to a meaningless file: path.
        if urlsplit(canonical).scheme not in ("http", "https"):
            canonical = None
    return {
        "published": first(_PUBLISHED_META, "datePublished"),
        "modified": first(_MODIFIED_META, "dateModified"),
        "language": _language_code(language),
        "canonical_url": canonical,
        "site_name": meta.get("og:site_name"),
    }


def _json_ld_article(tree: Any) -> dict[str, Any]:
    """The first JSON-LD object that has a datePublished, or {}."""
    for script in tree.iterfind(".//script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                if "datePublished" in node:
                    return node
                stack.extend(v for k, v in node.items() if k == "@graph")
    return {}


def _language_code(value: str | None) -> str | None:
    match = _LANG_CODE.match((value or "").strip())
    return match.group(1).lower() if match else None


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def article_from(page: Page, extracted: dict[str, Any], audit: bool) -> Article:
    """An Article from a Page and what `extract_html` found; discovery hints fill the gaps."""
    hints = page.hints
    canonical = extracted["canonical_url"] or page.final_url
    return Article(
        url=page.url,
        final_url=page.final_url,
        canonical_url=canonical,
        site=site_of(canonical) or site_of(page.final_url),
        site_name=extracted["site_name"],
        title=extracted["title"] or hints.get("title"),
        paragraphs=list(extracted["paragraphs"]),
        description=extracted["description"],
        authors=extracted["authors"] or list(hints.get("authors") or []),
        published=extracted["published"] or iso_datetime(hints.get("published")),
        modified=extracted["modified"] or iso_datetime(hints.get("modified")),
        language=extracted["language"] or hints.get("language"),
        categories=extracted["categories"],
        tags=extracted["tags"],
        image=extracted["image"],
        fetched_at=page.fetched_at,
        http_status=page.status,
        spider=page.spider,
        source=page.source,
        source_file=page.source_file,
        order=page.order,
        extracted=list(extracted["paragraphs"]),
        audit=audit,
    )


class ExtractPipeline:
    """Page -> Article. A page trafilatura cannot read is dropped, logged and counted."""

    def __init__(self, crawler: Crawler, mode: str = "balanced", audit: bool = False) -> None:
        self.crawler = crawler
        self.mode = mode
        self.audit = audit

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        settings = crawler.settings
        return cls(
            crawler,
            mode=get_choice(settings, "NEWSCRAWL_EXTRACT_MODE", "balanced", EXTRACT_MODES),
            audit=get_bool(settings, "NEWSCRAWL_AUDIT"),
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        stats = self.crawler.stats
        assert stats is not None
        try:
            extracted = extract_html(item.html, item.final_url, self.mode)
        except Exception as error:  # any extractor bug costs this page only
            stats.inc_value("newscrawl/errors/extract")
            logger.error("extraction failed for %s: %r", item.final_url, error)
            raise DropItem(f"extract: error ({error!r})", log_level="WARNING") from None
        if extracted is None:
            stats.inc_value("newscrawl/dropped/extract:no-text")
            raise DropItem(f"extract: no article text found in {item.final_url}", log_level="INFO")
        return article_from(item, extracted, self.audit)
