"""Stage 3, duplicates: paragraphs the page repeats, kept once, first occurrence, order kept."""

from __future__ import annotations

import re
import unicodedata

from newscrawl.items import Article
from pipelines.base import CleaningStage, Removed

# Quote and dash variants that differ between two prints of the same text.
_FOLD = str.maketrans({c: '"' for c in "«»„“”‟‹›〝〞＂'‘’‚‛`´"} | {c: "-" for c in "‐‑‒–—―−"})
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fingerprint(text: str) -> str:
    """What stays of a paragraph once case, spacing, punctuation, quotes and dashes are gone."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    return _NOT_WORD.sub(" ", text).strip()


def remove_duplicates(paragraphs: list[str], title: str | None = None) -> tuple[list[str], Removed]:
    kept: list[str] = []
    removed: Removed = []
    seen_exact: set[str] = set()
    seen_normalized: set[str] = set()
    title_print = fingerprint(title) if title else ""
    for paragraph in paragraphs:
        print_ = fingerprint(paragraph)
        if paragraph in seen_exact:
            removed.append(("exact", paragraph))
        elif print_ and print_ in seen_normalized:
            removed.append(("normalized", paragraph))
        elif title_print and print_ == title_print:
            removed.append(("title", paragraph))
        else:
            kept.append(paragraph)
            seen_exact.add(paragraph)
            if print_:
                seen_normalized.add(print_)
    return kept, removed


class DuplicatesPipeline(CleaningStage):
    stage = "duplicates"

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        return remove_duplicates(article.paragraphs, article.title)
