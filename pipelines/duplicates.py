"""Stage 3, duplicates: paragraphs the page repeats, kept once, first occurrence, order kept.

Rules, in the order they are tried on each paragraph (the rule name is what the record and the
stats show as `duplicates:<rule>`):

- `exact`: the very same paragraph was kept before.
- `normalized`: the same once case, spacing, punctuation, quote and dash variants are folded.
- `title`: the paragraph is the page title (possibly followed by the site's name).
- `near`: nearly the same as a kept paragraph (rapidfuzz ratio >= NEAR_RATIO), e.g. a body
  printed twice with a typo fixed; only for paragraphs of NEAR_MIN_WORDS words or more.
- `resplit`: every sentence of the paragraph was already kept, so the same text came back
  split into paragraphs another way (three paragraphs again as one, or one as three).
- `lead`: the description (lead) printed as a paragraph and again inside a longer one, or
  as a slightly reworded teaser before the body's own version (the teaser goes, not the
  body's paragraph), or a teaser cut with an ellipsis; see `_is_echo`. A caption echoed
  in the body is a repeat of one of its sentences and goes by `exact`/`resplit`.
- `caption`: a figure caption of the page (`<figcaption>`, which the extractor leaves out)
  printed again as a body paragraph, alone or followed by its credit.
- `quote`: a pull quote, i.e. words of a longer paragraph at most QUOTE_DISTANCE away,
  in order, in at most QUOTE_PIECES runs. The same words said again elsewhere in the
  article, inside a longer paragraph, are a deliberate repeat and stay.

Short repeats inside structured content stay: two list items or table rows that happen to
be equal ("Стаж работы - 5 лет." in two worked examples) are content. See `_is_structured`.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import fuzz

from newscrawl.items import Article
from pipelines.base import CleaningStage, Removed

# Punctuation, quote and dash variants (and the underscore) all fold into one space.
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)

# Captions are a sentence or two; a long paragraph that happens to open a caption's words
# is article text.
CAPTION_MAX_WORDS = 60

# A near-identical paragraph: rapidfuzz's normalised Indel similarity (0-100) of the two
# fingerprints. 90 lets through a corrected typo, a changed number or an added credit
# in a long paragraph, but not two different sentences built on the same template.
NEAR_RATIO = 90.0
# Below this many words, two different paragraphs can easily be 90% alike ("Фото: Reuters" vs
# "Фото: Reuters/AP"); short ones are only compared exactly.
NEAR_MIN_WORDS = 8
# Blocking near-duplicate candidates: two paragraphs are compared only when they share one of
# their SKETCH_SIZE smallest word hashes (a bottom-k MinHash), so a 5,000-paragraph page is
# not compared pair by pair.
SKETCH_SIZE = 4
SKETCH_MIN_CHARS = 4  # shorter words ("the", "и") are in every paragraph
# A word hash shared by this many kept paragraphs is template, not fingerprint: its bucket
# stops growing, which keeps a page of 5,000 lines built on
# one template linear. Near repeats of such lines are missed; exact ones are still caught.
BUCKET_MAX = 32
# A paragraph is a re-split repeat only if it has at least this many words: a single short
# sentence said twice ("Но таких мало.") is not worth the risk.
RESPLIT_MIN_WORDS = 8
# Sentences shorter than this (in characters of fingerprint) are not indexed: "Да." or
# "Почему?" recur in any interview and prove nothing.
SENTENCE_MIN_CHARS = 12
# A paragraph contained in a longer one is an echo only when it has at least ECHO_MIN_WORDS
# words (fewer is a subheading or a name) and is the page description or a teaser.
ECHO_MIN_WORDS = 6
# A pull quote repeats words of a paragraph at most this many paragraphs away (the box sits
# beside the paragraph it quotes), in at most QUOTE_PIECES runs ("We are not closing this
# mill," he said. "Not this year" -> two runs). Farther away, a repeated sentence is more
# likely a deliberate echo, which the benchmark's references keep.
QUOTE_DISTANCE = 2
QUOTE_PIECES = 3
# A pull quote has at least this many words: a shorter paragraph quoting the one below it
# is a subheading ("«Вышвырнули, даже день не дали доработать»"), which is content.
QUOTE_MIN_WORDS = 10
# Up to this many paragraphs, the paragraphs containing a given one are found by searching
# every paragraph (a substring search each, in C: faster than building an index on a page
# of news length); a longer page indexes its word trigrams first, so that many lookups on a
# 5,000-paragraph page stay linear.
SCAN_MAX_PARAGRAPHS = 300
# Repeats up to this many words may be structured content (list items, table rows).
STRUCTURED_MAX_WORDS = 12
# ... and a repeated question up to this many, when its neighbours differ: the same question
# put to each person of an interview series is content (one benchmark page is such a series).
QUESTION_MAX_WORDS = 40

# The split consumes the sentence's final mark too, which its fingerprint drops anyway;
# starting with a character class (not a lookbehind) lets `re` skip to the candidates.
_SENTENCE_END = re.compile(r"[.!?…][\"»”)]*\s+(?=[\"«„“(]?[^\W\d_])", re.UNICODE)
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)\s*[\"»”]?\s*$")
# Two prints of one text have the same numbers; "ставка 20%" vs "ставка 21%" are two rows.
_DIGITS = re.compile(r"\d+")
# "Срок: 12 месяцев", "Стаж работы - 5 лет": a short label, then a separator and a value.
_LABEL = re.compile(r"^[^\W\d_][^:–—-]{0,40}?\s*(?::|\s[-–—])\s+\S")
_PROSE_END = re.compile(r"[.!?…:;][\"»”')]*\s*$")
_SITE_SEPARATORS = re.compile(r"\s+[-–—|:·•]\s+")


# Fingerprints computed lately, by text. `remove_duplicates` computes every paragraph's
# fingerprint anyway and leaves it here: the widgets stage, next in the chain, asks for the
# same paragraphs' fingerprints (a site name, the title) and gets them without a second
# normalisation. Cleared when full, which bounds it (the reactor runs one page at a time).
_PRINTS: dict[str, str] = {}
PRINTS_CACHED = 4096


def _remember(text: str, print_: str) -> None:
    if len(_PRINTS) >= PRINTS_CACHED:
        _PRINTS.clear()
    _PRINTS[text] = print_


def fingerprint(text: str) -> str:
    """What stays of a paragraph once case, spacing, punctuation, quotes and dashes are gone."""
    print_ = _PRINTS.get(text)
    if print_ is None:
        print_ = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
        _remember(text, print_)
    return print_


def sentences(text: str) -> list[str]:
    """Sentence fingerprints of a paragraph; a regex split is enough to find repeats.

    Joined by a space they are the paragraph's `fingerprint` (the split only consumes
    punctuation and spaces), which `remove_duplicates` uses to normalise each text once."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [f for f in (_NOT_WORD.sub(" ", s).strip() for s in _SENTENCE_END.split(folded)) if f]


def _sketch(words: list[str]) -> list[int]:
    """The SKETCH_SIZE smallest hashes of the paragraph's distinct words of 4+ letters (a
    bottom-k MinHash over words: near-identical paragraphs share most words, so most likely
    one of these; candidates are then checked with rapidfuzz). `words` are the words of
    the paragraph's fingerprint."""
    # sorted()[:k] is heapq.nsmallest(k, ...) for distinct values, in C.
    # crc32, not hash(): str hashes are seeded per process, and which paragraphs get
    # compared must not change from one run to the next.
    long_words = {word for word in words if len(word) >= SKETCH_MIN_CHARS}
    return sorted(map(zlib.crc32, map(str.encode, long_words)))[:SKETCH_SIZE]  # UTF-8


def _is_row(paragraph: str, print_: str) -> bool:
    """A short line shaped like a list item or table row: a number, a "label: value", or no
    sentence end at all."""
    if not print_ or len(print_.split()) > STRUCTURED_MAX_WORDS:
        return False
    if _DIGITS.search(print_) or _LABEL.match(paragraph):
        return True
    return not _PROSE_END.search(paragraph)


def _is_structured(paragraphs: list[str], prints: list[str], i: int, j: int) -> bool:
    """Whether repeat `i` of paragraph `j` is a short line of structured content, to keep.

    Only short repeats (at most STRUCTURED_MAX_WORDS words) can be. A row-like one (see
    `_is_row`: list item, table row, label and value) is kept unless a neighbour is a long
    paragraph repeated at the same side of the first occurrence, i.e. unless it belongs to a
    copied block (a body printed twice). Another short repeat is kept when its neighbours on
    both sides differ from those of its first occurrence (the same question put to each
    person of an interview series; a question may be up to QUESTION_MAX_WORDS long). Either
    needs a neighbour to compare. Short noise that recurs (share labels, credits) is the
    widgets stage's business, by pattern.
    """
    question = paragraphs[i].rstrip(' "»”)').endswith("?")
    limit = QUESTION_MAX_WORDS if question else STRUCTURED_MAX_WORDS
    if len(prints[i].split()) > limit:
        return False
    sides = []
    for step in (-1, 1):
        a, b = i + step, j + step
        if 0 <= a < len(prints) and 0 <= b < len(prints) and a != j and b != i:
            sides.append((a, b))
    if not sides:
        return False
    if _is_row(paragraphs[i], prints[i]):
        return not any(
            prints[a] == prints[b] and len(prints[a].split()) > STRUCTURED_MAX_WORDS
            for a, b in sides
        )
    return not any(prints[a] == prints[b] for a, b in sides)


def _title_prints(title: str | None) -> set[str]:
    """The title, and the title without a trailing or leading " - Site name" part."""
    if not title:
        return set()
    prints = {fingerprint(title)}
    parts = _SITE_SEPARATORS.split(title)
    if len(parts) > 1:
        prints.add(fingerprint(" - ".join(parts[:-1])))
        prints.add(fingerprint(" - ".join(parts[1:])))
    return {p for p in prints if len(p.split()) >= 2 or len(p) >= 12}


class _NearIndex:
    """Kept paragraphs indexed by sketch hash, with their fingerprint lengths for a pre-filter."""

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = defaultdict(list)
        self.prints: list[str] = []
        self.positions: list[int] = []  # paragraph index of each kept print
        self.digits: list[list[str]] = []  # the numbers of each kept print
        self.last_index = -1  # paragraph index of the last match found

    def add(self, position: int, print_: str, sketch: list[int], digits: list[str]) -> None:
        index = len(self.prints)
        self.prints.append(print_)
        self.positions.append(position)
        self.digits.append(digits)
        for key in sketch:
            bucket = self.buckets[key]
            if len(bucket) < BUCKET_MAX:
                bucket.append(index)

    def find(self, print_: str, sketch: list[int], digits: list[str]) -> bool:
        size = len(print_)
        # Indel similarity can reach NEAR_RATIO only if the shorter text is at least this
        # share of the longer: 2*min/(a+b) >= r  <=>  min/max >= r/(2-r).
        ratio = NEAR_RATIO / 100
        low, high = size * ratio / (2 - ratio), size * (2 - ratio) / ratio
        tried: set[int] = set()
        for key in sketch:
            for index in self.buckets.get(key, ()):
                if index in tried:
                    continue
                tried.add(index)
                other = self.prints[index]
                if (
                    low <= len(other) <= high
                    and self.digits[index] == digits
                    and fuzz.ratio(print_, other, score_cutoff=NEAR_RATIO)
                ):
                    self.last_index = self.positions[index]
                    return True
        return False


class _EchoIndex:
    """The page's paragraphs by sentence and (on a long page, built on first use) by word
    trigram, to find one paragraph contained in another."""

    def __init__(self, paragraphs: list[str], prints: list[str], split: list[list[str]]) -> None:
        self.prints = prints
        self.paragraphs = paragraphs
        self._sentences = [
            frozenset(s for s in own if len(s) >= SENTENCE_MIN_CHARS) for own in split
        ]
        self._trigrams: dict[str, set[int]] | None = None
        self._sentence_count: dict[str, int] | None = None

    def sentences(self, index: int) -> frozenset[str]:
        """The paragraph's sentences long enough to prove a repeat (SENTENCE_MIN_CHARS)."""
        return self._sentences[index]

    def is_merge(self, index: int) -> bool:
        """A container made only of sentences found in other paragraphs is itself a re-split
        repeat, and the pieces are the ones to keep."""
        if self._sentence_count is None:
            self._sentence_count = defaultdict(int)
            for other in range(len(self.paragraphs)):
                for sentence in self.sentences(other):
                    self._sentence_count[sentence] += 1
        own = self.sentences(index)
        return len(own) > 1 and all(self._sentence_count[s] > 1 for s in own)

    def contained(self, i: int, print_: str) -> bool:
        """Whether `print_` (a paragraph, or its head) is inside another, longer paragraph."""
        words = print_.split()
        if len(words) < 3:
            return False
        candidates: Iterable[int] = range(len(self.prints))
        if len(self.prints) > SCAN_MAX_PARAGRAPHS:
            # A container holds the first and the last three words of `print_` (prints are
            # words joined by single spaces): only paragraphs with both are searched.
            if self._trigrams is None:
                self._trigrams = defaultdict(set)
                for index, other in enumerate(self.prints):
                    tokens = other.split()
                    for k in range(len(tokens) - 2):
                        self._trigrams[" ".join(tokens[k : k + 3])].add(index)
            first = self._trigrams.get(" ".join(words[:3]), set())
            last = self._trigrams.get(" ".join(words[-3:]), set())
            candidates = sorted(first & last)
        needle = f" {print_} "
        for index in candidates:
            other = self.prints[index]
            if (
                index != i
                and len(other) > len(print_)
                and needle in f" {other} "
                and not self.is_merge(index)
            ):
                return True
        return False


def _pieces(words: list[str], container: list[str]) -> int:
    """In how many in-order runs `words` occur in `container` (greedy), 0 if they do not."""
    pieces = 0
    position = 0
    k = 0
    while k < len(words):
        try:
            position = container.index(words[k], position)
        except ValueError:
            return 0
        pieces += 1
        while k < len(words) and position < len(container) and container[position] == words[k]:
            k += 1
            position += 1
    return pieces


def _is_pull_quote(i: int, tokens: list[list[str]], echo: _EchoIndex) -> bool:
    """Whether paragraph `i` repeats, in a few pieces, a longer paragraph close by (one that
    is not itself a re-split repeat of other paragraphs)."""
    words = tokens[i]
    if len(words) < QUOTE_MIN_WORDS:
        return False
    for j in range(max(0, i - QUOTE_DISTANCE), min(len(tokens), i + QUOTE_DISTANCE + 1)):
        other = tokens[j]
        if (
            j != i
            and len(other) > len(words)
            and words[0] in other
            and words[-1] in other
            and 0 < _pieces(words, other) <= QUOTE_PIECES
            and not echo.is_merge(j)
        ):
            return True
    return False


def _closer_to_description(earlier: str, later: str, description: str) -> bool:
    """Whether of two near-identical paragraphs the earlier one is the description itself."""
    if not description:
        return False
    return fuzz.ratio(earlier, description) > max(fuzz.ratio(later, description), NEAR_RATIO)


def _is_echo(paragraph: str, print_: str, words: int, description: str) -> bool:
    """Whether a paragraph found inside a longer one should go: only the description or a
    teaser cut with an ellipsis. A pull quote or a subheading quoting the paragraph under
    it is content (the benchmark's references keep both)."""
    if words < ECHO_MIN_WORDS:
        return False
    return print_ == description or _ends_with_ellipsis(paragraph)


def _ends_with_ellipsis(paragraph: str) -> bool:
    # The regex is tried at every position of the paragraph; what it can match ends with
    # an ellipsis once closing spaces and quotes are off, which str methods tell in C.
    if not paragraph.rstrip().rstrip('"»”').rstrip().endswith(("...", "…")):
        return False
    return _ELLIPSIS_END.search(paragraph) is not None


def _is_caption(print_: str, words: int, caption_prints: list[str]) -> bool:
    """The paragraph is a caption, or a caption that continues with its credit."""
    if not print_ or words > CAPTION_MAX_WORDS:
        return False
    return any(c == print_ or c.startswith(print_ + " ") for c in caption_prints)


def remove_duplicates(
    paragraphs: list[str],
    title: str | None = None,
    description: str | None = None,
    captions: list[str] | None = None,
) -> tuple[list[str], Removed]:
    """Each paragraph once, at its first occurrence; see the module docstring for the rules."""
    split = [sentences(p) for p in paragraphs]
    prints = [" ".join(own) for own in split]  # == fingerprint(p), one normalisation per text
    for paragraph, print_ in zip(paragraphs, prints, strict=True):
        _remember(paragraph, print_)
    tokens = [p.split() for p in prints]
    verdicts: list[str | None] = [None] * len(paragraphs)  # rule that removed it, or None
    first_exact: dict[str, int] = {}
    first_print: dict[str, int] = {}
    seen_sentences: set[str] = set()
    near = _NearIndex()
    echo = _EchoIndex(paragraphs, prints, split)
    titles = _title_prints(title)
    description_print = fingerprint(description) if description else ""
    caption_prints = [c for c in map(fingerprint, captions or []) if c]
    for i, (paragraph, print_) in enumerate(zip(paragraphs, prints, strict=True)):
        words = tokens[i]
        sketch = _sketch(words) if len(words) >= NEAR_MIN_WORDS else []
        digits: list[str] | None = None  # the print's numbers, found once for the near index
        rule = None
        if paragraph in first_exact:
            if not _is_structured(paragraphs, prints, i, first_exact[paragraph]):
                rule = "exact"
        elif print_ and print_ in first_print:
            if not _is_structured(paragraphs, prints, i, first_print[print_]):
                rule = "normalized"
        elif print_ in titles:
            rule = "title"
        elif caption_prints and _is_caption(print_, len(words), caption_prints):
            rule = "caption"
        elif sketch and near.find(print_, sketch, digits := _DIGITS.findall(print_)):
            earlier = near.last_index
            if _closer_to_description(prints[earlier], print_, description_print):
                # The first print was the description as a teaser (slightly reworded); the
                # body's own paragraph is the one to keep.
                verdicts[earlier] = "lead"
            elif len(words) > STRUCTURED_MAX_WORDS or not _is_structured(
                paragraphs, prints, i, earlier
            ):
                rule = "near"
        else:
            own = echo.sentences(i)
            if len(words) >= RESPLIT_MIN_WORDS and own and own <= seen_sentences:
                rule = "resplit"
            elif _is_echo(paragraph, print_, len(words), description_print):
                head = _ELLIPSIS_END.sub("", paragraph)
                if echo.contained(i, fingerprint(head)):
                    rule = "lead"
            if rule is None and _is_pull_quote(i, tokens, echo):
                rule = "quote"
        if rule is not None:
            verdicts[i] = rule
            continue
        first_exact.setdefault(paragraph, i)
        if print_:
            first_print.setdefault(print_, i)
        if sketch:
            if digits is None:
                digits = _DIGITS.findall(print_)
            near.add(i, print_, sketch, digits)
        seen_sentences.update(echo.sentences(i))
    kept = [p for p, v in zip(paragraphs, verdicts, strict=True) if v is None]
    removed = [(v, p) for p, v in zip(paragraphs, verdicts, strict=True) if v is not None]
    return kept, removed


class DuplicatesPipeline(CleaningStage):
    stage = "duplicates"
    per_page = True

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        return remove_duplicates(
            article.paragraphs, article.title, article.description, article.captions
        )
