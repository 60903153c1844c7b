"""Stage 2, normalize: one spelling of every character, one space between words, no empties."""

from __future__ import annotations

import re
import unicodedata

from newscrawl.items import Article
from pipelines.base import CleaningStage, Removed

# Characters that take no room on screen but break equality of otherwise equal paragraphs:
# zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"), None)
# Every kind of whitespace, the non-breaking ones included, becomes one plain space.
_SPACES = re.compile(r"\s+", re.UNICODE)


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return _SPACES.sub(" ", text).strip()


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

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        if article.title:
            article.title = normalize_text(article.title)
        if article.description:
            article.description = normalize_text(article.description)
        article.authors = [normalize_text(a) for a in article.authors if normalize_text(a)]
        return normalize_paragraphs(article.paragraphs)
