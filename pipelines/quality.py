"""Stage 6, quality: drop what is no longer an article once the noise is gone.

`quality_verdict(paragraphs)` returns the reason a clean body is not an article, or None:
- `empty`: nothing left;
- `too-short`: fewer than `min_words` words (NEWSCRAWL_MIN_WORDS, default MIN_WORDS);
- `listing`: a section or tag page, i.e. many short headline-like lines (no sentence end)
  and next to no prose.

The pipeline raises `DropItem("quality:<reason>", log_level="INFO")` and counts
`newscrawl/dropped/quality:<reason>`; `newscrawl clean` names the dropped file with the reason.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from newscrawl.config import get_int
from newscrawl.items import Article
from pipelines.base import drop_item

if TYPE_CHECKING:  # scrapy stays out of the workers' fork server (pipelines/base.py)
    from scrapy.crawler import Crawler

# Below this many words what is left is a teaser, a caption or an error page. Kept low on
# purpose: a one-paragraph news brief is an article (the article-extraction benchmark's
# shortest reference has 18 words), and a wrongly dropped page loses all of its text.
MIN_WORDS = 15
# A prose paragraph ends like a sentence and has at least this many words.
PROSE_MIN_WORDS = 12
# A listing page (section, tag or search page, as saved or as extracted): at least
# LISTING_MIN_HEADLINES headline-like lines, at least LISTING_UNFINISHED_SHARE of the
# paragraphs not ending like a sentence (headlines, teasers cut mid-sentence), and prose under
# PROSE_MAX_SHARE of the words. Tables, "label: value" rows and number lines are not
# headlines: a standings or schedule page is an article made of data.
LISTING_MIN_HEADLINES = 10
LISTING_HEADLINE_SHARE = 0.3
# A listing names each item once; a page whose lines recur (a meal plan, a schedule per day)
# is structured content.
LISTING_DISTINCT_SHARE = 0.95
LISTING_UNFINISHED_SHARE = 0.7
PROSE_MAX_SHARE = 0.15
# A headline has HEADLINE_MIN_WORDS..HEADLINE_MAX_WORDS words, starts with a capital (or a
# quote), and does not end with a full stop, comma, semicolon or colon.
HEADLINE_MIN_WORDS = 4
HEADLINE_MAX_WORDS = 20

_SENTENCE_END = re.compile(r"[.!?…][\"»”')\]]*$")
_NOT_HEADLINE_END = re.compile(r"[.,;:][\"»”')\]]*$")
_CAPITALISED = re.compile(r"^[\"«„“'‘(]?[^\W\d_]")
_LABEL = re.compile(r"^[^:|]{1,30}:\s")
_DIGIT = re.compile(r"\d")


def _is_prose(paragraph: str, words: int) -> bool:
    return words >= PROSE_MIN_WORDS and bool(_SENTENCE_END.search(paragraph[-4:]))


def _is_headline(paragraph: str, words: int) -> bool:
    if not HEADLINE_MIN_WORDS <= words <= HEADLINE_MAX_WORDS:
        return False
    if _NOT_HEADLINE_END.search(paragraph[-4:]) or paragraph.startswith("|"):
        return False
    match = _CAPITALISED.match(paragraph)
    if not match or not match.group()[-1].isupper() or _LABEL.match(paragraph):
        return False
    numbers = sum(1 for token in paragraph.split() if _DIGIT.search(token))
    return numbers / words < 0.3


def quality_verdict(paragraphs: list[str], min_words: int = MIN_WORDS) -> str | None:
    """Why this clean body is not an article ("empty", "too-short", "listing"), or None."""
    counts = [len(p.split()) for p in paragraphs]
    total = sum(counts)
    if total == 0:
        return "empty"
    if total < min_words:
        return "too-short"
    headlines = sum(1 for p, n in zip(paragraphs, counts, strict=True) if _is_headline(p, n))
    unfinished = sum(
        1 for p in paragraphs if not _SENTENCE_END.search(p[-4:]) and not p.startswith("|")
    )
    prose = sum(n for p, n in zip(paragraphs, counts, strict=True) if _is_prose(p, n))
    if (
        headlines >= LISTING_MIN_HEADLINES
        and headlines / len(paragraphs) >= LISTING_HEADLINE_SHARE
        and unfinished / len(paragraphs) >= LISTING_UNFINISHED_SHARE
        and prose / total < PROSE_MAX_SHARE
        and len(set(paragraphs)) / len(paragraphs) >= LISTING_DISTINCT_SHARE
    ):
        return "listing"
    return None


class QualityPipeline:
    """Drops articles whose clean body is not an article, with the reason in the stats."""

    stage = "quality"

    def __init__(self, crawler: Crawler | None = None, min_words: int = MIN_WORDS) -> None:
        self.crawler = crawler
        self.min_words = min_words

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> QualityPipeline:
        min_words = get_int(crawler.settings, "NEWSCRAWL_MIN_WORDS", MIN_WORDS, minimum=0)
        return cls(crawler, min_words)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        reason = quality_verdict(item.paragraphs, self.min_words)
        if reason is None:
            return item
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newscrawl/dropped/{self.stage}:{reason}")
        raise drop_item(f"{self.stage}:{reason}", "INFO")
