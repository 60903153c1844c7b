"""Stage 5, templates: lines that recur across many pages of the same site.

Site furniture the extractor lets through (a subscription pitch, an editorial address, a
"follow us" line, a standard disclaimer) appears on page after page of one site, while an
article's own lines do not. The state store counts, per site, on how many distinct pages
each line (by a 64-bit hash of its normalised text: cheap to store and compare) was
seen; a line is removed as `templates:recurring` once

- the site has at least NEWSCRAWL_TEMPLATES_MIN_PAGES pages counted (before that there is
  not enough evidence, and short legit lines of the first pages must survive), and
- the line was seen on at least NEWSCRAWL_TEMPLATES_MIN_COUNT distinct pages and on at
  least NEWSCRAWL_TEMPLATES_MIN_SHARE of the site's pages.

The statistics live in the state store so they accumulate across runs: a scheduled crawl
of a known site cleans its first new page as well as its hundredth. Each page is counted
once, ever (by canonical URL), so re-fetches and resumed runs do not inflate the counts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from newscrawl.config import SettingError, get_float, get_int
from newscrawl.items import Article
from newscrawl.state import RunState, url_key
from pipelines.base import CleaningStage, Removed

if TYPE_CHECKING:  # scrapy stays out of the workers' fork server (pipelines/base.py)
    from scrapy.crawler import Crawler

# A site needs this many pages counted before anything is removed: with fewer, a line
# shared by a handful of related stories (a recurring quote, a section heading) cannot be
# told from furniture.
MIN_PAGES = 20
# A line must be on at least this many distinct pages: chance repeats between a few
# articles ("Photo: Reuters" aside) are rarer than that.
MIN_COUNT = 5
# ... and on at least this share of the site's pages, so that on a large site a line must
# recur site-wide (or section-wide: 2% is a section of fifty) rather than in a few stories.
MIN_SHARE = 0.02
# Lines this short carry no information to hash reliably (a lone "•" or "|").
MIN_LINE_CHARS = 2

_DIGITS = re.compile(r"\d+")


def line_hash(line: str) -> int:
    """64-bit hash of a line's normalised text (case, spacing and numbers folded).

    Numbers are folded so that "© 2025 Example" and "© 2026 Example", or a counter
    inside a widget line, count as the same line.
    """
    text = unicodedata.normalize("NFKC", line).casefold()
    # split/join is `re.sub(r"\s+", " ", t).strip()` (str.split splits on exactly what
    # `\s` matches) in a fraction of its time.
    text = " ".join(_DIGITS.sub("0", text).split())
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def recurring_lines(
    paragraphs: list[str],
    count_page: Callable[[list[int]], tuple[int, dict[int, int]]],
    min_pages: int = MIN_PAGES,
    min_count: int = MIN_COUNT,
    min_share: float = MIN_SHARE,
) -> tuple[list[str], Removed]:
    """Split a page's lines into kept and `recurring` ones.

    `count_page(hashes)` counts this page's lines for its site and returns (pages counted
    for the site, {hash: pages the line was seen on}), this page included.
    """
    hashes = [line_hash(p) if len(p.strip()) >= MIN_LINE_CHARS else None for p in paragraphs]
    pages, counts = count_page([h for h in hashes if h is not None])
    if pages < min_pages:
        return list(paragraphs), []
    needed = max(min_count, min_share * pages)
    kept: list[str] = []
    removed: Removed = []
    for paragraph, digest in zip(paragraphs, hashes, strict=True):
        if digest is not None and counts.get(digest, 0) >= needed:
            removed.append(("recurring", paragraph))
        else:
            kept.append(paragraph)
    if not kept:  # all furniture: a listing or error page; the quality stage judges it whole
        return list(paragraphs), []
    return kept, removed


class TemplatesPipeline(CleaningStage):
    stage = "templates"

    def __init__(
        self,
        crawler: Crawler | None = None,
        state: RunState | None = None,
        min_pages: int = MIN_PAGES,
        min_count: int = MIN_COUNT,
        min_share: float = MIN_SHARE,
    ) -> None:
        super().__init__(crawler)
        self.state = state
        self.min_pages = min_pages
        self.min_count = min_count
        self.min_share = min_share

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        settings = crawler.settings
        share = get_float(settings, "NEWSCRAWL_TEMPLATES_MIN_SHARE", MIN_SHARE)
        if share > 1:
            raise SettingError(f"NEWSCRAWL_TEMPLATES_MIN_SHARE={share!r}: expected 0..1")
        return cls(
            crawler,
            RunState.for_crawler(crawler),
            get_int(settings, "NEWSCRAWL_TEMPLATES_MIN_PAGES", MIN_PAGES, minimum=1),
            get_int(settings, "NEWSCRAWL_TEMPLATES_MIN_COUNT", MIN_COUNT, minimum=2),
            share,
        )

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        if self.state is None or not article.site:
            return list(article.paragraphs), []
        store = self.state.store
        page = url_key(article.canonical_url or article.final_url)

        def count_page(hashes: list[int]) -> tuple[int, dict[int, int]]:
            return store.count_page_lines(article.site, page, hashes)

        return recurring_lines(
            article.paragraphs, count_page, self.min_pages, self.min_count, self.min_share
        )
