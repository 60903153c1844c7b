"""Stage 2, normalize: one spelling of every character, one space between words, no empties."""

from __future__ import annotations

import re
import unicodedata

from newscrawl.items import Article
from pipelines.base import CleaningStage, Removed

# Characters that take no room on screen but break equality of otherwise equal paragraphs:
# zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks.
# A regex rather than str.translate: translate builds a new string char by char even when
# nothing is replaced (~13 µs per paragraph), a character class scan is ~20x cheaper.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f]")


def normalize_text(text: str) -> str:
    """NFC, without invisible characters, every whitespace run (the non-breaking ones
    included) one plain space, no space at either end.

    `unicodedata.normalize` returns its input untouched when it is already NFC (a quick
    check, the common case); `str.split()` without arguments splits on exactly what `\\s`
    matches in a str pattern, and joining its words is `re.sub(r"\\s+", " ", t).strip()`
    in one pass."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def normalize_paragraphs(paragraphs: list[str]) -> tuple[list[str], Removed]:
    kept: list[str] = []
    removed: Removed = []
    for paragraph in paragraphs:
        clean = normalize_text(paragraph)
        if clean:
            kept.append(clean)
        elif paragraph:
            removed.append(("empty", paragraph))
    return kept, removed


class NormalizePipeline(CleaningStage):
    stage = "normalize"
    per_page = True

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        if article.title:
            article.title = normalize_text(article.title)
        if article.description:
            article.description = normalize_text(article.description)
        authors = (normalize_text(a) for a in article.authors)
        article.authors = [a for a in authors if a]
        # Captions are compared with body paragraphs (duplicates:caption): same spelling.
        article.captions = [c for c in map(normalize_text, article.captions) if c]
        return normalize_paragraphs(article.paragraphs)
