"""The two items that travel through the crawl: a fetched Page and the Article made from it.

`Article.to_record()` is the one place that turns an article into an output line, so the
feed exporter, `newscrawl clean` and the tests all write the same JSON.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


def text_hash(text: str) -> str:
    """`content_hash` of a body: sha256 of its UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Page:
    """A fetched HTML page, before extraction."""

    url: str  # the URL we asked for
    final_url: str  # the URL after redirects
    status: int  # HTTP status of the final response
    html: str  # decoded HTML text
    fetched_at: str  # ISO 8601 UTC time of the fetch
    spider: str  # name of the spider that fetched it
    source: str  # how it was discovered: "urls", "sitemap", "feed", "site", "file"
    # Fallback metadata from discovery (sitemap/feed entry): title, published, authors, language.
    hints: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None  # path of the saved page for `newscrawl clean`
    order: int | None = None  # input position, used by `newscrawl clean` to keep input order


@dataclass
class Removal:
    """One paragraph (or fragment of one) a cleaning stage took out, and why."""

    stage: str
    rule: str
    text: str


@dataclass
class Article:
    """An extracted article; cleaning stages replace `paragraphs` through `apply_cleaning`."""

    url: str  # URL as requested
    final_url: str  # URL after redirects
    canonical_url: str  # <link rel=canonical> / og:url, resolved; else final_url
    site: str  # host name of canonical_url without "www."
    site_name: str | None  # the publication's name (og:site_name), if the page gives one
    title: str | None
    paragraphs: list[str]  # clean body, one paragraph per entry (joined by "\n" in `text`)
    description: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601 date or datetime
    modified: str | None = None  # ISO 8601 date or datetime
    language: str | None = None  # ISO 639-1 code
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image: str | None = None  # absolute URL of the lead image
    fetched_at: str | None = None  # ISO 8601 UTC
    http_status: int | None = None
    spider: str | None = None
    source: str | None = None
    source_file: str | None = None
    order: int | None = None
    cleaning: Counter[str] = field(default_factory=Counter)  # "stage:rule" -> paragraphs removed
    removed: list[Removal] = field(default_factory=list)  # every removal, kept for audit/explain
    # Paragraphs as they came out of extraction, kept so `explain` can show the whole story.
    extracted: list[str] = field(default_factory=list)
    audit: bool = False  # NEWSCRAWL_AUDIT: also write `removed` in the output line
    captions: list[str] = field(default_factory=list)  # the page's figure captions (not output)
    # Stages already applied in the extraction worker (pipelines/base.py, `per_page`).
    precleaned: list[str] = field(default_factory=list)
    # The paragraphs' MinHash values (pipelines.articles.Sketches), computed in the
    # extraction worker for the articles stage; not output.
    sketches: Any = None

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    def apply_cleaning(self, stage: str, kept: list[str], removed: list[tuple[str, str]]) -> None:
        """Record a stage's verdict: `kept` becomes the body, `removed` is (rule, text) pairs."""
        self.paragraphs = kept
        for rule, text in removed:
            self.cleaning[f"{stage}:{rule}"] += 1
            self.removed.append(Removal(stage, rule, text))

    def removals(self, stage: str) -> list[str]:
        """The rule of each removal `stage` made, in order."""
        return [r.rule for r in self.removed if r.stage == stage]

    def content_hash(self) -> str:
        return text_hash(self.text)

    def to_record(self) -> dict[str, Any]:
        """The output line of the JSONL contract (see newscrawl/schema/article.schema.json)."""
        text = self.text  # joined once
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "url": self.url,
            "final_url": self.final_url,
            "canonical_url": self.canonical_url,
            "site": self.site,
            "site_name": self.site_name,
            "title": self.title,
            "text": text,
            "description": self.description,
            "authors": self.authors,
            "published": self.published,
            "modified": self.modified,
            "language": self.language,
            "categories": self.categories,
            "tags": self.tags,
            "image": self.image,
            "fetched_at": self.fetched_at,
            "http_status": self.http_status,
            "spider": self.spider,
            "source": self.source,
            "content_hash": text_hash(text),
            "word_count": len(text.split()),
            "cleaning": dict(sorted(self.cleaning.items())),
        }
        if self.source_file is not None:
            record["source_file"] = self.source_file
        if self.audit:
            record["removed"] = [
                {"stage": r.stage, "rule": r.rule, "text": r.text} for r in self.removed
            ]
        return record
