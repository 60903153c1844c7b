"""Stage 4, widgets: the page furniture extractors let through, removed by named rules.

Two kinds of rules, both recorded as `widgets:<category>`:

- Rule packs, data files in `pipelines/rules/<lang>.toml` (plus `common.toml`, symbols and
  names that read the same in every language). Each rule has a category (share, subscribe,
  read-also, credit, ...), a kind saying what it may remove, and regular expressions. The
  packs applied to an article are its language's, the ones that pack lists in `also`,
  English (UI labels such as "Share" or "Join Telegram" appear on sites in any language) and
  `common`; all packs when the language is unknown or has no pack. Each set of packs is
  compiled once per process into one alternation per kind, so a paragraph costs one regex
  call per kind whatever the number of rules.
- Language-free detectors, in this module: `numbers` (short lines dense in numbers with a
  currency, temperature or ticker sign), `letters` (a lone letter or an alphabet index),
  `box` (the other short lines of a run that is mostly widget lines, e.g. a weather box's
  city names), `edge` (a run of link-like lines at the start or end of the body),
  `site-name` and `title` (a line that is only the site's name, or the title with a credit
  glued to it). A lone "Tags" or "Read also" label also takes the keyword list or the
  headlines right after it (recorded under the label's category).

What a rule may remove (see docs/cleaning.md for how to write one):
- `line`: the whole paragraph, when the pattern matches all of it;
- `start`: the whole paragraph, when it starts with the pattern and has at most
  `max_words` words (a call to action is short; a prose paragraph that happens to begin
  with the same words is long or lacks the separator the pattern requires);
- `tail` / `head`: a fragment glued to the end / start of a paragraph (a credit stuck to a
  caption). If what is left is itself only a short caption, the whole paragraph goes;
  otherwise only the fragment. Never text inside a sentence.

Content that looks like noise is protected: table rows (`| a | b |`), and the lines of a
list introduced by a paragraph ending with a colon ("Прогноз по городам:"), are never
touched by the language-free detectors.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from newscrawl.items import Article
from pipelines.base import CleaningStage, Removed
from pipelines.duplicates import fingerprint

# CPython's own pattern parser, to read the characters a rule can start with. It is
# private: should a Python release move it, rules are simply tried without that filter.
try:
    import re._constants as sre
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - depends on the Python version
    sre_parse = None  # type: ignore[assignment]

RULES_DIR = Path(__file__).with_name("rules")
KINDS = ("line", "start", "tail", "head")
# Packs applied to every article whatever its language: language-free symbols and names, and
# English, whose UI labels appear on sites in every language.
ALWAYS = ("common", "en")

# A `start` rule removes a paragraph of at most this many words unless the rule says
# otherwise: calls to action are one or two sentences; prose that begins the same way is
# longer or lacks the rule's separator.
START_MAX_WORDS = 30
# A lone label ("Tags", "Read also", "Читайте также") has at most this many words; it takes
# with it the keyword list or at most FOLLOWERS_MAX headlines (no full stop, at most
# HEADLINE_MAX_WORDS words) right after it.
LABEL_MAX_WORDS = 4
FOLLOWERS_MAX = 5
HEADLINE_MAX_WORDS = 20
# A site name or a title is shorter than this; longer paragraphs are not compared to them.
NAME_MAX_CHARS = 250
# A `start` rule is tried at the second and third sentence only in paragraphs this short.
LATER_SENTENCE_MAX_WORDS = 30
# `line` patterns are labels and calls of a few words: a longer paragraph is not tried.
LINE_MAX_CHARS = 220
# A character's own subset of `line`/`start` rules is compiled after this many paragraphs
# tried at it (Matcher._at); before, the full alternation answers, with the same verdicts.
SUBSET_AFTER_USES = 300
# A `tail` fragment (a credit) is looked for in this many last characters of a paragraph.
FRAGMENT_MAX_CHARS = 110
# After a `tail` fragment (a credit) is cut, a rest of at most this many words is the
# caption of the photo the credit belongs to, and goes with it.
CAPTION_MAX_WORDS = 12
# Widget lines are short: at most this many words (a city and a temperature, a label).
WIDGET_MAX_WORDS = 6
# A number-dense line has at most this many tokens; a longer line with numbers is prose or
# a table row.
NUMBERS_MAX_TOKENS = 14
# Words (tokens without digits) a temperature line or a prices line may have besides its
# numbers: a city name of up to three words and a word of sky ("Tarifa 16° Viento de levante").
TEMPERATURE_MAX_WORDS = 4
PRICES_MAX_WORDS = 3
# Share of tokens that carry a digit or a sign for a line to be number-dense without a
# currency/temperature/ticker sign (then it only goes inside a widget run).
NUMBERS_SHARE = 0.5
# A run of short lines is a widget box when at least this share of them is matched by some
# rule or detector: then the rest (a box's city names, "location-current") goes as `box`.
BOX_SIGNAL_SHARE = 0.5
BOX_MIN_LINES = 3
# ... and at least this many of its lines are matched by a rule or a sure detector (a lone
# letter, a temperature): lines that are merely number-dense ("Meal 1") are not enough.
BOX_MIN_STRONG = 2
# A run of at least this many short non-sentence lines at the start or end of the body is
# page furniture (breadcrumbs, tag lists, "Related" links) unless a colon introduced it.
EDGE_MIN_LINES = 3
# Edge lines are link-like: at most this many words. A closing list of longer items
# ("England (Group A): 10th appearance") is the article's own.
EDGE_MAX_WORDS = 3

_WORD = re.compile(r"\w+", re.UNICODE)
_NEXT_SENTENCE = re.compile(r"[.!?…][\"»”)]*\s+(?=[\"«„“(]?[^\W\d_])")
_SENTENCE_END = re.compile(r"[.!?…;:][\"»”')\]]*$")
_DIGIT = re.compile(r"\d")
# Signs that make a number a rate, a price, a temperature or a ticker move.
_SIGN = re.compile(
    r"[$€£¥₽₸₴₺₹¢°℃℉▲▼△▽↑↓⬆⬇%]|\b(?:USD|EUR|RUB|KZT|GBP|CNY|JPY|CHF|UAH|PLN|TRY|BYN|UZS|KGS|"
    r"BTC|ETH|Brent|WTI|DOW|NASDAQ|S&P|DAX|CAC|IBEX|FTSE)\b"
)
# A ticker's change, "+0,45" / "−1,10", or a lone arrow.
_CHANGE = re.compile(r"(?:^|\s)[+\-−–]\s?\d+(?:[.,]\d+)?%?(?=\s|$)")
# What a glued credit always holds near the end of its paragraph; a cheap test that spares
# the full `tail` alternation on most paragraphs. A pack adding a `tail` rule whose fragment
# has none of these must extend the signs or the words.
_TAIL_GATE_SIGNS = ":©(—"
# fmt: off
_TAIL_GATE_WORDS = (
    "by", "par", "por", "von", "getty", "reuters", "afp", "epa", "shutterstock", "ap", "dpa",
    "efe",
)
# fmt: on
_TAIL_GATE = re.compile(
    rf"[{re.escape(_TAIL_GATE_SIGNS)}]|\b(?:{'|'.join(_TAIL_GATE_WORDS)})\b", re.I
)
_FULL_STOP = re.compile(r"\.[\"»”')\]]*$")
_DEGREES = re.compile(r"\d\s?°|°[CF]\b|℃|℉")
# An arrow, or an arrow icon's text left behind ("506.65 course up 593.07 course down").
_MOVE = re.compile(r"[▲▼△▽↑↓⬆⬇]|\d\s+(?:[^\W\d_]+\s+)?(?:up|down)\b", re.I)
_LABEL = re.compile(r"^[^\W\d_][^:]{0,40}:\s")
# A lone letter ("А", "B."), or an alphabet index ("А Б В Г", "A | B | C").
_LETTERS = re.compile(r"^[^\W\d_]\.?$|^(?:[^\W\d_][\s|·•,/-]+){2,}[^\W\d_]$")
_TABLE_ROW = re.compile(r"^\|.*\|$")
_SITE_SEPARATORS = re.compile(r"\s+[-–—|:·•]\s+|\s*[|•·]\s*")


@dataclass(frozen=True)
class Rule:
    pack: str  # language code of the pack ("common" for the language-free one)
    category: str  # what is removed: share, subscribe, read-also, credit, ...
    kind: str  # line | start | tail | head
    pattern: str
    max_words: int = START_MAX_WORDS


class RuleError(ValueError):
    """A rule pack is malformed; the message names the file and the rule."""


def load_pack(path: Path) -> tuple[list[Rule], list[str]]:
    """The rules of one pack file and the other packs it asks for (`also`)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RuleError(f"{path}: {error}") from None
    rules = []
    for number, entry in enumerate(data.get("rule", []), 1):
        where = f"{path.name} rule {number} ({entry.get('category', '?')})"
        kind = entry.get("kind", "line")
        if kind not in KINDS or not entry.get("category") or not entry.get("patterns"):
            raise RuleError(f"{where}: needs category, patterns and a kind in {KINDS}")
        for pattern in entry["patterns"]:
            try:
                re.compile(pattern)
            except re.error as error:
                raise RuleError(f"{where}: bad pattern {pattern!r}: {error}") from None
            rules.append(
                Rule(
                    pack=path.stem,
                    category=entry["category"],
                    kind=kind,
                    pattern=pattern,
                    max_words=int(entry.get("max_words", START_MAX_WORDS)),
                )
            )
    return rules, list(data.get("also", []))


@lru_cache(maxsize=1)
def available_packs() -> dict[str, tuple[list[Rule], list[str]]]:
    """Every pack in RULES_DIR by name, read once per process."""
    return {path.stem: load_pack(path) for path in sorted(RULES_DIR.glob("*.toml"))}


def packs_for(language: str | None) -> tuple[str, ...]:
    """Which packs apply to an article in `language` (all when unknown, without a pack, or
    one of ALWAYS)."""
    packs = available_packs()
    if not language or language not in packs or language in ALWAYS:
        return tuple(sorted(packs))
    chosen = {language, *ALWAYS, *packs[language][1]}
    return tuple(sorted(name for name in chosen if name in packs))


class Matcher:
    """The rules of a set of packs, compiled into one alternation per kind.

    Python's `re` tries the alternatives of a case-insensitive alternation one by one (it
    has no prefilter for them), so a `line` or `start` test cost one attempt per rule. Each
    rule's possible first characters are worked out from its parsed pattern
    (`_first_class`); a paragraph is then tried only against the rules that can start with
    its character at that position, in their original order, compiled once per distinct
    subset once that character is frequent (`_at`). Dropping alternatives that cannot match
    at a position never changes which one matches first, so the verdicts are those of the
    full alternation."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: dict[str, list[Rule]] = {kind: [] for kind in KINDS}
        for rule in rules:
            self.rules[rule.kind].append(rule)
        self.start_max_words = max((r.max_words for r in self.rules["start"]), default=0)
        # `whole` compares a word count only with thresholds up to this: a count capped at
        # words_cap + 1 (`str.split(None, words_cap)`) gives it the same answers.
        self.words_cap = max(self.start_max_words, LATER_SENTENCE_MAX_WORDS)
        self.patterns: dict[str, re.Pattern[str] | None] = {}
        # Per kind, each rule's first-character test (None: it may start with anything).
        self._firsts: dict[str, list[re.Pattern[str] | None]] = {}
        self._by_char: dict[tuple[str, str], re.Pattern[str] | None] = {}
        self._by_subset: dict[tuple[str, tuple[int, ...]], re.Pattern[str] | None] = {}
        # Characters not yet frequent enough for their own subset: its members, times seen.
        self._pending: dict[tuple[str, str], tuple[tuple[int, ...], int]] = {}
        for kind, members in self.rules.items():
            firsts = [_first_test(rule.pattern) for rule in members]
            self._firsts[kind] = firsts
            everything = tuple(range(len(members)))
            lookahead = None
            if kind == "tail" and members and all(f is not None for f in firsts):
                # `tail` is a search over the paragraph's end: a lookahead on what any rule
                # may start with makes every other position fail at once.
                lookahead = "|".join(f.pattern for f in firsts if f is not None)
            self.patterns[kind] = self._compile(kind, everything, lookahead)

    def _compile(
        self, kind: str, members: tuple[int, ...], lookahead: str | None = None
    ) -> re.Pattern[str] | None:
        """The alternation of the rules `members` of `kind`, wrapped as that kind needs."""
        rules = self.rules[kind]
        groups = "|".join(f"(?P<r{i}>{rules[i].pattern})" for i in members)
        if not groups:
            return None
        if kind == "tail":
            # The fragment starts at a word boundary and runs to the end of the paragraph.
            ahead = f"(?=(?:{lookahead}))" if lookahead else ""
            return re.compile(rf"(?:^|(?<=[\s.,;:!?)»\"”])){ahead}(?:{groups})\s*$", re.I)
        if kind == "head":
            return re.compile(rf"^(?:{groups})(?:\s+|$)", re.I)
        if kind == "line":
            # A label may end with a colon, an ellipsis or an arrow ("You may also like...").
            return re.compile(rf"(?:{groups})[\s:.…!»>|]*", re.I)
        return re.compile(rf"(?:{groups})", re.I)

    def _at(self, kind: str, text: str, position: int) -> re.Pattern[str] | None:
        """The alternation of the `kind` rules that can start with text[position].

        Compiling a subset costs as much as a few hundred tries of the full alternation (ms:
        Python's regex compiler is pure Python), and a worker lives for PAGES_PER_WORKER
        pages only: the full one is used for a character until it has come up
        SUBSET_AFTER_USES times, so only the frequent ones ever pay for their own."""
        if position >= len(text):
            return self.patterns[kind]
        key = (kind, text[position])
        if key in self._by_char:
            return self._by_char[key]
        members, uses = self._pending.get(key) or (self._members(kind, text[position]), 0)
        if not members or len(members) == len(self._firsts[kind]):
            # nothing can start here, or everything can: no subset to compile
            self._by_char[key] = self.patterns[kind] if members else None
            return self._by_char[key]
        if uses + 1 < SUBSET_AFTER_USES:
            self._pending[key] = (members, uses + 1)
            return self.patterns[kind]
        self._pending.pop(key, None)
        if (kind, members) not in self._by_subset:
            self._by_subset[(kind, members)] = self._compile(kind, members)
        self._by_char[key] = self._by_subset[(kind, members)]
        return self._by_char[key]

    def _members(self, kind: str, char: str) -> tuple[int, ...]:
        """The `kind` rules (by index, in order) that can start with `char`."""
        return tuple(
            i for i, first in enumerate(self._firsts[kind]) if first is None or first.match(char)
        )

    def _rule(self, kind: str, match: re.Match[str]) -> Rule:
        return self.rules[kind][int((match.lastgroup or "r0")[1:])]

    def whole(self, paragraph: str, words: int) -> str | None:
        """The category of a `line` or `start` rule removing the whole paragraph, if any.

        A `start` rule may also match at the start of the second or third sentence of a
        short paragraph: the paragraph is within the rule's `max_words` either way. `words`
        may be capped at `words_cap` + 1."""
        line = self._at("line", paragraph, 0) if len(paragraph) <= LINE_MAX_CHARS else None
        if line is not None:
            match = line.fullmatch(paragraph)
            if match:
                return self._rule("line", match).category
        if self.patterns["start"] is None or words > self.start_max_words:
            return None
        # A call to action may follow one short sentence ("Get smarter about your money.
        # Sign up for our newsletter."): try the start of each of the first sentences.
        later = (m.end() for m in _NEXT_SENTENCE.finditer(paragraph))
        positions = (0, *islice(later, 2)) if words <= LATER_SENTENCE_MAX_WORDS else (0,)
        for position in positions:
            start = self._at("start", paragraph, position)
            match = start.match(paragraph, position) if start is not None else None
            if not match:
                continue
            rule = self._rule("start", match)
            if words <= rule.max_words:
                return rule.category
            for other in self.rules["start"]:  # rare: the first rule's cap did not fit
                if words <= other.max_words and re.compile(other.pattern, re.I).match(
                    paragraph, position
                ):
                    return other.category
        return None

    def fragment(self, kind: str, paragraph: str) -> tuple[str, int, int] | None:
        """(category, start, end) of a `tail`/`head` fragment of the paragraph, if any."""
        pattern = self.patterns[kind]
        if pattern is None:
            return None
        if kind == "tail":
            # A fragment is short: look only at the end (a lookbehind still sees before it),
            # and only if the end holds what every credit has, a label sign or an agency.
            window = max(0, len(paragraph) - FRAGMENT_MAX_CHARS)
            if not _tail_gate(paragraph, window):
                return None
            match = pattern.search(paragraph, window)
        else:
            match = pattern.match(paragraph)
        if not match:
            return None
        return self._rule(kind, match).category, match.start(), match.end()


# What `_first_test` knows how to read; anything else makes a rule "may start with anything".
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}


def _class_source(items: list[tuple[Any, Any]]) -> str | None:
    """A parsed character class (`IN`) written back as a class, or None if unsure."""
    parts = []
    negate = ""
    for op, av in items:
        if op is sre.NEGATE:
            negate = "^"
        elif op is sre.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is sre.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is sre.CATEGORY and av in _CATEGORIES:
            parts.append(_CATEGORIES[av])
        else:
            return None
    return f"[{negate}{''.join(parts)}]"


def _starts(items: Any) -> tuple[list[str], bool] | None:
    """What a parsed sequence may start with: (one-character regexes, whether the sequence
    may match the empty string), or None when any character may come first."""
    sources: list[str] = []
    for op, av in items:
        if op is sre.AT:  # ^, $, \b: take no character
            continue
        if op is sre.LITERAL:
            return [*sources, re.escape(chr(av))], False
        if op is sre.NOT_LITERAL:
            return [*sources, f"[^{re.escape(chr(av))}]"], False
        if op is sre.IN:
            source = _class_source(av)
            return None if source is None else ([*sources, source], False)
        if op is sre.BRANCH:
            nullable = False
            for branch in av[1]:
                found = _starts(branch)
                if found is None:
                    return None
                sources.extend(found[0])
                nullable = nullable or found[1]
            if not nullable:
                return sources, False
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            found = _starts(av[2])
            if found is None:
                return None
            sources.extend(found[0])
            if av[0] > 0 and not found[1]:
                return sources, False
        elif op is sre.SUBPATTERN and not av[1] and not av[2]:  # a group without flags
            found = _starts(av[3])
            if found is None:
                return None
            sources.extend(found[0])
            if not found[1]:
                return sources, False
        else:
            return None
    return sources, True


@cache  # a rule is in several pack sets (common in all): read once, not once per matcher
def _first_test(pattern: str) -> re.Pattern[str] | None:
    """A regex matching every character a match of `pattern` (case-insensitive) can start
    with (a superset is fine, never a subset), or None when it may start with anything."""
    if sre_parse is None:
        return None
    try:
        found = _starts(sre_parse.parse(pattern, re.I))
    except Exception:  # a construct this reader does not know: no filter for this rule
        return None
    if found is None or found[1] or not found[0]:
        return None
    return re.compile("|".join(found[0]), re.I)


def _tail_gate(paragraph: str, window: int) -> bool:
    """`_TAIL_GATE.search(paragraph, window)`, answered without the regex when it can be.

    A case-insensitive search tries the word alternation at every position (~40 ns each);
    `in` scans in C. Every character `re.I` equates with one of the gate words' ASCII
    letters casefolds to that letter, so a window whose casefolded text does not contain
    any of the words cannot match; one that does (often inside a longer word: "report")
    is answered by the regex itself."""
    tail = paragraph[window:]
    if any(map(tail.__contains__, _TAIL_GATE_SIGNS)):
        return True
    if not any(map(tail.casefold().__contains__, _TAIL_GATE_WORDS)):
        return False
    return bool(_TAIL_GATE.search(paragraph, window))


@lru_cache(maxsize=64)
def matcher_for(packs: tuple[str, ...]) -> Matcher:
    """The compiled rules of a set of packs, built once per process and set."""
    available = available_packs()
    return Matcher(rule for name in packs for rule in available[name][0])


def _is_table_row(text: str) -> bool:
    # The prefix test spares the regex call on every other paragraph.
    return text.startswith("|") and _TABLE_ROW.match(text) is not None


def _capped_words(text: str, cap: int) -> int:
    """`min(len(text.split()), cap + 1)`, without splitting a long paragraph into all its
    words (the split stops after `cap` of them)."""
    return len(text.split(None, cap))


def _at_most_words(text: str, limit: int) -> bool:
    """`len(text.split()) <= limit`."""
    return _capped_words(text, limit) <= limit


def _is_sentence(text: str) -> bool:
    """Whether the text ends like a sentence (closing quotes and brackets allowed)."""
    return bool(_SENTENCE_END.search(text[-4:]))


def number_line(paragraph: str) -> str | None:
    """How a short line is made of numbers: "signed" for a rate, price, temperature or ticker
    line ("USD 509,12 +0,45", "Астана −14°", "DOW 38,912.45 ▲ 0.3%"), "dense" for one mostly of
    numbers without a sign, None otherwise.

    A "label: value" line ("Loan amount: $20,000") is a data row of the article, not a
    ticker, unless it also carries an arrow or a change.
    """
    if _is_sentence(paragraph) and not paragraph.endswith("%"):
        return None
    tokens = paragraph.split()
    if not tokens or len(tokens) > NUMBERS_MAX_TOKENS or not _DIGIT.search(paragraph):
        return None
    numbers = sum(1 for t in tokens if _DIGIT.search(t))
    numeric = numbers + sum(1 for t in tokens if not _DIGIT.search(t) and _SIGN.fullmatch(t))
    letters_only = sum(1 for t in tokens if not _DIGIT.search(t) and _WORD.search(t))
    moves = bool(_MOVE.search(paragraph) or _CHANGE.search(paragraph))
    # A temperature with a city ("Астана −14°", "Tarifa 16° Viento de levante"); two prices
    # or rates with next to no words ("USD 509,12 592,40"). "Apple AirPods Pro for $235" in a
    # deals list has words around its one price: content.
    temperature = bool(_DEGREES.search(paragraph)) and letters_only <= TEMPERATURE_MAX_WORDS
    prices = (
        bool(_SIGN.search(paragraph))
        and numbers >= 2
        and letters_only <= PRICES_MAX_WORDS
        and not _LABEL.match(paragraph)
    )
    signed = moves or temperature or prices
    if signed:
        return "signed"
    if numeric / len(tokens) >= NUMBERS_SHARE:
        return "dense"
    return None


def is_letters(paragraph: str) -> bool:
    """A lone letter ("А", "B.") or an alphabet index ("А Б В Г")."""
    return bool(_LETTERS.match(paragraph.strip()))


def _is_widget_line(paragraph: str) -> bool:
    """Short, no sentence end, not a table row: what widget boxes and link lists are made of."""
    return (
        _at_most_words(paragraph, WIDGET_MAX_WORDS)
        and not _is_sentence(paragraph)
        and not _is_table_row(paragraph)
    )


def site_prints(site: str | None, site_name: str | None) -> set[str]:
    """Fingerprints of the ways a page names its site: "Site Name", "site.kz", "site"."""
    names: set[str] = set()
    if site_name:
        names.add(site_name)
        names.update(_SITE_SEPARATORS.split(site_name))
    if site:
        host = site.removeprefix("www.")
        names.add(host)
        label = host.split(".")[0]
        if len(label) >= 4:  # "bbc" or "rt" alone would match too much
            names.add(label)
    return {p for p in (fingerprint(n) for n in names) if len(p) >= 3}


def remove_widgets(
    paragraphs: list[str],
    language: str | None = None,
    title: str | None = None,
    site: str | None = None,
    site_name: str | None = None,
) -> tuple[list[str], Removed]:
    """Paragraphs without widget noise, and (rule, text) of every removed piece, in order."""
    matcher = matcher_for(packs_for(language))
    sites = site_prints(site, site_name)
    title_print = fingerprint(title) if title else ""
    texts = list(paragraphs)
    verdicts: list[str | None] = [None] * len(texts)
    fragments: list[list[tuple[str, str]]] = [[] for _ in texts]

    for i, paragraph in enumerate(texts):
        category = matcher.whole(paragraph, _capped_words(paragraph, matcher.words_cap))
        if category is None:
            paragraph, category = _cut_fragments(matcher, paragraph, fragments[i])
            texts[i] = paragraph
        if category is None and len(paragraph) <= NAME_MAX_CHARS:
            print_ = fingerprint(paragraph)
            if print_ and print_ in sites:
                category = "site-name"
            elif title_print and print_ == title_print and fragments[i]:
                category = "title"  # a caption that was the title plus a glued credit
        verdicts[i] = category

    protected = _protected(texts, verdicts)
    for i, paragraph in enumerate(texts):
        if verdicts[i] is None and not protected[i]:
            if is_letters(paragraph):
                verdicts[i] = "letters"
            elif number_line(paragraph) == "signed":
                verdicts[i] = "numbers"

    _mark_followers(texts, verdicts)
    _mark_boxes(texts, verdicts, protected)
    _mark_edges(texts, verdicts, protected)

    kept: list[str] = []
    removed: Removed = []
    for i, text in enumerate(texts):
        if verdicts[i] is not None:
            # The whole paragraph goes, the fragments cut from it included.
            removed.append((verdicts[i] or "", paragraphs[i]))
            continue
        removed.extend(fragments[i])
        kept.append(text)
    return kept, removed


def _cut_fragments(
    matcher: Matcher, paragraph: str, cut: list[tuple[str, str]]
) -> tuple[str, str | None]:
    """Cut glued `head`/`tail` fragments; (rest, category) when nothing worth keeping is left."""
    for kind in ("tail", "head"):
        found = matcher.fragment(kind, paragraph)
        if found is None:
            continue
        category, start, end = found
        rest = (paragraph[:start] if kind == "tail" else paragraph[end:]).strip(" \t-–—|,;·•")
        if not rest:
            return paragraph, category
        if kind == "tail" and _at_most_words(rest, CAPTION_MAX_WORDS):
            return paragraph, category  # a photo's caption with its credit glued: both go
        piece = paragraph[start:end] if kind == "tail" else paragraph[:end]
        cut.append((category, piece.strip()))
        paragraph = rest
    return paragraph, None


def _protected(texts: list[str], verdicts: list[str | None]) -> list[bool]:
    """Lines the detectors must not touch: table rows, and the items of a list introduced
    by a paragraph ending with a colon ("Прогноз по городам:"). The list ends at a prose
    paragraph, at the end of a table, or at a line a rule removed."""
    protected = [False] * len(texts)
    in_list = in_table = False
    for i, text in enumerate(texts):
        row = _is_table_row(text)
        prose = _is_sentence(text) and not _at_most_words(text, WIDGET_MAX_WORDS * 2)
        if verdicts[i] is not None or (in_table and not row) or prose:
            in_list = False
        protected[i] = row or (in_list and verdicts[i] is None)
        in_table = row
        if verdicts[i] is None and text.rstrip().endswith(":"):
            in_list = True
    return protected


def _runs(texts: list[str], protected: list[bool]) -> list[tuple[int, int]]:
    """Maximal runs [start, end) of unprotected widget lines."""
    runs = []
    start = None
    for i, text in enumerate([*texts, ""]):
        inside = i < len(texts) and not protected[i] and _is_widget_line(text)
        if inside and start is None:
            start = i
        elif not inside and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _mark_followers(texts: list[str], verdicts: list[str | None]) -> None:
    """The lines a lone label introduces: the keyword list after "Tags", the headlines
    after "Read also"/"Читайте также" (at most FOLLOWERS_MAX, each a headline, i.e. at
    most HEADLINE_MAX_WORDS words and no full stop)."""
    for i, text in enumerate(texts):
        category = verdicts[i]
        if category not in ("tags", "read-also") or not _at_most_words(text, LABEL_MAX_WORDS):
            continue
        if _FULL_STOP.search(text[-4:]):
            continue
        for j in range(i + 1, min(len(texts), i + 1 + FOLLOWERS_MAX)):
            line = texts[j]
            if verdicts[j] is not None or _is_table_row(line) or _FULL_STOP.search(line[-4:]):
                break
            if category == "read-also" and not _at_most_words(line, HEADLINE_MAX_WORDS):
                break
            if category == "tags" and not _is_keyword_list(line):
                break
            verdicts[j] = category
            if category == "tags":
                break


def _is_keyword_list(line: str) -> bool:
    """ "a, b, c" keywords: no sentence end, every comma-separated item of a few words."""
    items = [item.strip() for item in re.split(r"[,;|•·]", line)]
    return all(0 < len(item.split()) <= 4 for item in items) and not _is_sentence(line)


def _mark_boxes(texts: list[str], verdicts: list[str | None], protected: list[bool]) -> None:
    """A run of short lines mostly matched by rules is one widget box: all of it goes."""
    for start, end in _runs(texts, protected):
        if end - start < BOX_MIN_LINES:
            continue
        strong = sum(1 for i in range(start, end) if verdicts[i] is not None)
        dense = sum(1 for i in range(start, end) if verdicts[i] is None and number_line(texts[i]))
        if strong < BOX_MIN_STRONG or (strong + dense) / (end - start) < BOX_SIGNAL_SHARE:
            continue
        for i in range(start, end):
            if verdicts[i] is None:
                verdicts[i] = "numbers" if number_line(texts[i]) else "box"


def _is_edge_line(text: str) -> bool:
    """A link-like line: very short, no sentence end, no "label: value" (a data row)."""
    return (
        _at_most_words(text, EDGE_MAX_WORDS)
        and not _is_sentence(text)
        and ":" not in text
        and not _is_table_row(text)
    )


def _mark_edges(texts: list[str], verdicts: list[str | None], protected: list[bool]) -> None:
    """Runs of very short non-sentence lines at the very start or end of the body: tag
    lists, breadcrumbs split into lines, "Related" link lists."""
    alive = [i for i in range(len(texts)) if verdicts[i] is None]
    if not alive:
        return
    for order in (alive, list(reversed(alive))):
        run = []
        for i in order:
            if protected[i] or not _is_edge_line(texts[i]):
                break
            run.append(i)
        if len(run) >= EDGE_MIN_LINES and len(run) < len(alive):
            for i in run:
                verdicts[i] = "edge"


class WidgetsPipeline(CleaningStage):
    stage = "widgets"
    per_page = True

    @classmethod
    def warm_up(cls) -> None:
        # The matcher of every pack set an article can get (about 0.1 s of regex compiling
        # each), so that no worker compiles them on its first pages.
        for language in (None, *available_packs()):
            matcher_for(packs_for(language))

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        return remove_widgets(
            article.paragraphs,
            language=article.language,
            title=article.title,
            site=article.site,
            site_name=article.site_name,
        )
