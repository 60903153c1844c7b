"""Scoring extracted text against a hand-checked reference: pure functions, no Scrapy.

The metric is the one the article-extraction benchmark describes (our own implementation):
both texts become word 4-gram shingles; precision is the share of the extracted shingles
found in the reference, recall the share of the reference shingles found in the extraction,
F1 their harmonic mean. Over a dataset, precision and recall are averaged over pages (each
page weighs the same) and the dataset's F1 is the harmonic mean of those two averages, as in
the benchmark's published tables (the mean of per-page F1 is given too); "accuracy" is the
share of pages whose own F1 >= ACCURATE_F1.

Choices, so that figures can be compared and reproduced:
- A word is a run of Unicode letters/digits (`\\w+`), case-folded: punctuation, quotes and
  whitespace differences do not count, word changes do.
- Shingles form a set (the classic definition of shingling, and what makes our figures for
  plain trafilatura land next to the published ones): a paragraph extracted twice costs
  only the few shingles that span the seam. Repeats are caught by the line diff instead
  (`unmatched_lines` uses each reference shingle once), so they show as leftover lines.
- A text shorter than SHINGLE_SIZE words is one shingle of all its words, so a two-word
  text still scores.
- Both texts empty: 1/1/1. Nothing extracted but a reference exists (or a dropped page):
  0/0/0. Extracted text where the reference is empty: precision 0, recall 1, F1 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SHINGLE_SIZE = 4  # the benchmark's n: 4 words are specific enough to rarely match by chance
ACCURATE_F1 = 0.99  # a page "right" for the accuracy share: at most ~1% of shingles off
# A line is leftover/lost when less than this share of its shingles is on the other side:
# half-matching lines are usually reworded or split, not noise.
LINE_MATCH_SHARE = 0.5

_WORD = re.compile(r"\w+", re.UNICODE)

Shingle = tuple[str, ...]


def words(text: str) -> list[str]:
    """The case-folded words of `text` (punctuation and spacing ignored)."""
    return [w.casefold() for w in _WORD.findall(text)]


def shingles(tokens: Sequence[str], size: int = SHINGLE_SIZE) -> Counter[Shingle]:
    """Multiset of the word n-grams of `tokens`; a short non-empty text is one shingle."""
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def shingle_set(text: str, size: int = SHINGLE_SIZE) -> set[Shingle]:
    """The distinct word n-grams of `text` (what `score` compares)."""
    return set(shingles(words(text), size))


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


def score(extracted: str | None, reference: str) -> Score:
    """Precision, recall and F1 of `extracted` against `reference` (None = page dropped)."""
    got = shingle_set(extracted or "")
    want = shingle_set(reference)
    if not got and not want:
        return Score(1.0, 1.0, 1.0)
    if not got:
        return Score(0.0, 0.0, 0.0)
    if not want:
        return Score(0.0, 1.0, 0.0)
    common = len(got & want)
    precision = common / len(got)
    recall = common / len(want)
    return Score(precision, recall, harmonic_mean(precision, recall))


def harmonic_mean(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass
class Summary:
    pages: int
    precision: float  # mean over pages
    recall: float  # mean over pages
    f1: float  # harmonic mean of the two means above (the published tables' F1)
    mean_f1: float  # mean of per-page F1
    accuracy: float  # share of pages with F1 >= ACCURATE_F1

    def as_dict(self) -> dict[str, float | int]:
        return {
            "pages": self.pages,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "mean_f1": self.mean_f1,
            "accuracy": self.accuracy,
        }


def summarize(scores: Iterable[Score]) -> Summary:
    """Averages over pages (each page weighs the same) and the accuracy share."""
    items = list(scores)
    if not items:
        return Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    n = len(items)
    precision = sum(s.precision for s in items) / n
    recall = sum(s.recall for s in items) / n
    return Summary(
        pages=n,
        precision=precision,
        recall=recall,
        f1=harmonic_mean(precision, recall),
        mean_f1=sum(s.f1 for s in items) / n,
        accuracy=sum(1 for s in items if s.f1 >= ACCURATE_F1) / n,
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def unmatched_lines(text: str, other: str) -> list[str]:
    """Lines of `text` that are mostly absent from `other`, in order.

    Each shingle of `other` matches once, so a line repeated more often than in `other` is
    reported on its extra copies. A line shorter than SHINGLE_SIZE words is matched as a
    whole word sequence inside `other`.
    """
    other_words = words(other)
    available = shingles(other_words)
    short_seen: Counter[tuple[str, ...]] = Counter()
    result = []
    for line in _lines(text):
        tokens = words(line)
        if not tokens:
            continue
        if len(tokens) < SHINGLE_SIZE:
            needle = tuple(tokens)
            short_seen[needle] += 1
            if _occurrences(needle, other_words) < short_seen[needle]:
                result.append(line)
            continue
        mine = shingles(tokens)
        matched = mine & available
        if sum(matched.values()) < LINE_MATCH_SHARE * sum(mine.values()):
            result.append(line)
        else:
            available -= matched
    return result


def _occurrences(needle: tuple[str, ...], haystack: list[str]) -> int:
    size = len(needle)
    return sum(
        1 for i in range(len(haystack) - size + 1) if tuple(haystack[i : i + size]) == needle
    )


@dataclass
class LineDiff:
    leftover: list[str] = field(default_factory=list)  # extracted, not in the reference
    lost: list[str] = field(default_factory=list)  # in the reference, not extracted


def line_diff(extracted: str | None, reference: str) -> LineDiff:
    """What the extraction added (leftover lines) and what it missed (lost lines)."""
    extracted = extracted or ""
    return LineDiff(
        leftover=unmatched_lines(extracted, reference),
        lost=unmatched_lines(reference, extracted),
    )
