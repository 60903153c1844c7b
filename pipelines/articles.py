"""Stage 7, articles: drop an article already emitted, in this run or an earlier one.

Three checks, cheapest first, each with its drop reason:

- `articles:duplicate-url`: the same canonical URL was already emitted in this run, or an
  earlier run wrote it with exactly this text (an unchanged page fetched again). A page
  an earlier run wrote with different text is an update and goes through
  (`newscrawl/articles/updated`).
- `articles:duplicate-hash`: another URL already carried exactly this text.
- `articles:near-duplicate`: another URL carried nearly this text (MinHash estimate of
  word-shingle Jaccard similarity >= NEWSCRAWL_NEAR_DUPLICATE_THRESHOLD), found through
  locality-sensitive hashing bands so a lookup costs a few index probes, not a scan.

The signature is the MinHash of the body's paragraphs' word shingles, kept per paragraph
(`Sketches`): the extraction worker computes them next to trafilatura (`prepare`), and
the stage here only takes the minimum over the paragraphs that the templates stage left,
so the crawling process spends no CPU on hashing unless a stage after the worker rewrote
a paragraph, which none of ours does. Neither process imports datasketch (with scipy,
aiohttp and redis, 0.4-0.6 s of start-up): its permutations are read from a file.

Within the run the stage keeps its own in-memory index; across runs it asks the state store,
which only holds articles whose output file was stored (newscrawl/state.py, RunState), so a
killed run's articles are not mistaken for duplicates of themselves when fetched again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from newscrawl.config import SettingError, get_float
from newscrawl.items import Article, text_hash
from newscrawl.state import Fingerprint, RunState, StateStore, url_key
from pipelines.base import drop_item

if TYPE_CHECKING:  # the workers' fork server imports this module for `prepare`: no scrapy
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# 128 permutations: the Jaccard estimate's standard error is ~0.04, fine for telling a
# 0.9-similar rewrite from a different story, at 1 KiB of signature per article.
NUM_PERM = 128
# Words per shingle: 5-word runs are rare enough to be distinctive in news prose, short
# enough that a one-word edit changes only 5 shingles. Shingles stay within a paragraph (a
# shorter paragraph is one shingle of all its words), so that removing a paragraph later
# removes exactly its shingles from the signature.
SHINGLE_WORDS = 5
# Default similarity at or above which two texts are one article: a 300-word story
# re-published with a word changed and a credit line added still scores ~0.9, while two
# stories on the same event by different writers share few 5-word runs (< 0.3).
NEAR_DUPLICATE_THRESHOLD = 0.8
# Below this many words a text has too few shingles for a meaningful estimate; such texts
# are matched by exact hash only.
MIN_WORDS_FOR_MINHASH = 30
# Fixed seed: signatures must be comparable across runs and processes.
MINHASH_SEED = 1
# Version of the signature and band-key scheme, mixed into every band key. Bump it whenever
# signatures change (shingle hashing, permutations): stored fingerprints of another scheme then
# never share a band with new ones, so they are simply not near-duplicate candidates (exact
# URL and hash checks still apply). 2: word-hash shingles + datasketch affine32 (was SHA-1).
# 3: shingles within paragraphs (they ran across paragraph breaks).
MINHASH_SCHEME = 3
# datasketch's MinHashLSH band layout for NEAR_DUPLICATE_THRESHOLD and NUM_PERM: 9 bands of
# 13 rows. Written out so that the crawling process need not import datasketch to find it;
# tests check it against MinHashLSH. Other thresholds ask datasketch (band_ranges).
DEFAULT_BANDS, DEFAULT_ROWS = 9, 13

# Signatures per block of the in-run index (RunIndex): 512 rows of 128 uint32 = 256 KiB.
SIGNATURE_BLOCK = 512
# Shingle hashes permuted at once (sketch_paragraphs): a work matrix of this many rows of
# NUM_PERM uint32 (2 MiB), whatever the page's length.
MINHASH_BATCH = 4096

_WORD = re.compile(r"\w+", re.UNICODE)
# Shingle hash: the 32-bit CRCs of its words folded in order with a 64-bit multiply (golden
# ratio constant) and finished by a MurmurHash3-style mix, all wrapping uint64 numpy arithmetic.
# Hashing each word once and combining whole arrays replaces one SHA-1 call and one join per
# shingle (3x cheaper per page); zlib.crc32 and fixed constants keep the value stable across
# processes and runs, unlike hash(). datasketch pre-mixes and permutes the values as usual.
_FOLD = np.uint64(0x9E3779B97F4A7C15)
_FINISH = np.uint64(0xD6E8FEB86659FD93)
_SHIFT = np.uint64(32)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Case-folded word n-grams of each paragraph (line) of the text, punctuation and
    spacing ignored.

    The reference definition of what a signature summarises; `shingle_hashes` computes the
    same set's hashes without building it.
    """
    found: set[bytes] = set()
    for paragraph in text.split("\n"):
        words = _WORD.findall(paragraph.casefold())
        if len(words) < size:
            found.update({" ".join(words).encode("utf-8")} if words else ())
        else:
            found.update(
                " ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)
            )
    return found


def shingle_hashes(words: list[str], size: int = SHINGLE_WORDS) -> np.ndarray:
    """32-bit hash of every `size`-word run of `words` (len(words) >= size), repeats included.

    Repeats do not matter: a MinHash keeps minima, so hashing a shingle twice changes nothing.
    """
    word_hashes = np.fromiter(
        map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words)
    )
    count = len(words) - size + 1
    folded = word_hashes[:count].copy()
    for offset in range(1, size):
        folded *= _FOLD
        folded ^= word_hashes[offset : offset + count]
    folded ^= folded >> _SHIFT
    folded *= _FINISH
    folded ^= folded >> _SHIFT
    return (folded >> _SHIFT).astype(np.uint32)


def shingle_hash(shingle: bytes) -> int:
    """One shingle's hash as `shingle_hashes` computes it (reference, for tests)."""
    words = shingle.decode("utf-8").split(" ")
    return int(shingle_hashes(words, size=len(words))[0])


def _casefold_splitters() -> re.Pattern[str]:
    """Characters whose case folding makes or breaks a \\w run (e.g. U+0130 -> i + U+0307).

    Computed over the Basic Multilingual Plane (where Unicode's case folding lives, ~15 ms
    once): a text without them has as many words case-folded as not.
    """
    found = []
    for point in range(0x10000):
        char = chr(point)
        folded = char.casefold()
        if folded != char:
            is_word = _WORD.fullmatch(char) is not None
            if any((_WORD.fullmatch(c) is not None) != is_word for c in folded):
                found.append(re.escape(char))
    return re.compile("[" + "".join(found) + "]") if found else re.compile(r"(?!)")


_CASEFOLD_SPLITTERS = _casefold_splitters()


# datasketch's permutations for NUM_PERM and MINHASH_SEED, saved: importing datasketch (it
# loads scipy) cost every crawl's extraction workers 0.4 s before their first page.
PERMUTATIONS_FILE = Path(__file__).with_name("minhash_permutations.txt")


@functools.lru_cache(maxsize=4)
def _permutations(num_perm: int) -> np.ndarray:
    """datasketch's permutation parameters for MINHASH_SEED, read or drawn once per process."""
    if num_perm == NUM_PERM and MINHASH_SEED == 1:
        problem: object
        try:
            saved = np.loadtxt(PERMUTATIONS_FILE, dtype=np.uint32, ndmin=2)
            if saved.shape == (2, num_perm):
                return saved
            problem = f"shape {saved.shape}"
        except (OSError, ValueError) as error:
            problem = error
        logger.warning("%s unusable (%s): asking datasketch", PERMUTATIONS_FILE, problem)
    from datasketch import MinHash  # scipy: 0.4 s of imports, when the file cannot serve

    return MinHash(num_perm=num_perm, seed=MINHASH_SEED).permutations


def _word_count(paragraph: str, folded_words: list[str]) -> int:
    """The paragraph's own words: folding changes the count only for a few characters
    (checked with one regex scan instead of a second word split)."""
    if _CASEFOLD_SPLITTERS.search(paragraph):
        return len(_WORD.findall(paragraph))
    return len(folded_words)


@dataclass(frozen=True)
class Sketches:
    """The MinHash values of each paragraph's shingles: row i (NUM_PERM uint32) is the
    MinHash of `paragraphs[i]`; a text's signature is the minimum over its paragraphs' rows
    (the MinHash of the union of their shingles)."""

    paragraphs: tuple[str, ...]
    words: tuple[int, ...]  # each paragraph's word count (the length rule counts them)
    rows: np.ndarray  # shape (len(paragraphs), NUM_PERM), datasketch's affine32 values

    def signature(self, paragraphs: Sequence[str]) -> np.ndarray | None:
        """The signature of `paragraphs`, which must be some of these paragraphs in their
        order (a later stage removed the others); None for a text too short to judge.
        Raises KeyError for a paragraph not sketched here (a later stage rewrote it)."""
        picked: list[int] = []
        position = 0
        for paragraph in paragraphs:
            try:
                position = self.paragraphs.index(paragraph, position)
            except ValueError:
                raise KeyError(paragraph) from None
            picked.append(position)
            position += 1
        if sum(self.words[i] for i in picked) < MIN_WORDS_FOR_MINHASH:
            return None
        return self.rows[picked].min(axis=0)


# MurmurHash3's 32-bit finalizer, which datasketch's "affine32" scheme applies to every value
# before its permutations a * h + b (mod 2^32).
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
_EMPTY = np.uint32(0xFFFFFFFF)  # the value of a MinHash that saw nothing


def _permuted(hashes: np.ndarray, permutations: np.ndarray) -> np.ndarray:
    """datasketch's affine32 values of `hashes`: one row per hash, one column per
    permutation."""
    s1, m1, s2, m2 = _FMIX32
    mixed = hashes ^ (hashes >> s1)
    mixed *= m1
    mixed ^= mixed >> s2
    mixed *= m2
    mixed ^= mixed >> s1
    a, b = permutations
    values: np.ndarray = mixed[:, None] * a[None, :]
    values += b[None, :]
    return values


def sketch_paragraphs(paragraphs: Sequence[str], num_perm: int = NUM_PERM) -> Sketches:
    """Per-paragraph MinHash values of a body: row i equals datasketch's
    MinHash(hashfunc=int, scheme="affine32", seed=MINHASH_SEED) of paragraph i's shingle
    hashes (tests check it).

    Computed here rather than with one datasketch MinHash per paragraph: its API gives
    one minimum per object, and an object per paragraph cost 2-3x the time of the whole
    page's values in one matrix with a minimum per paragraph (np.minimum.reduceat) on the
    extraction benchmark's pages. The permutations are datasketch's own."""
    permutations = _permutations(num_perm)
    rows = np.full((len(paragraphs), num_perm), _EMPTY, dtype=np.uint32)
    words: list[int] = []
    batch: list[tuple[int, np.ndarray]] = []  # (row, its distinct shingle hashes)
    in_batch = 0

    def flush() -> None:
        nonlocal in_batch
        if batch:
            values = _permuted(np.concatenate([hashes for _, hashes in batch]), permutations)
            starts = np.cumsum([0] + [len(hashes) for _, hashes in batch[:-1]])
            rows[[row for row, _ in batch]] = np.minimum.reduceat(values, starts, axis=0)
            batch.clear()
            in_batch = 0

    for row, paragraph in enumerate(paragraphs):
        folded = _WORD.findall(paragraph.casefold())
        words.append(_word_count(paragraph, folded))
        if not folded:
            continue
        # fewer words than a shingle: one shingle of them all
        hashes = shingle_hashes(folded, min(SHINGLE_WORDS, len(folded)))
        if len(hashes) > MINHASH_BATCH:  # one long paragraph: alone, in bounded slices
            hashes = np.unique(hashes)
            for start in range(0, len(hashes), MINHASH_BATCH):
                values = _permuted(hashes[start : start + MINHASH_BATCH], permutations)
                rows[row] = np.minimum(rows[row], values.min(axis=0))
            continue
        if in_batch + len(hashes) > MINHASH_BATCH:
            flush()
        batch.append((row, hashes))
        in_batch += len(hashes)
    flush()
    return Sketches(tuple(paragraphs), tuple(words), rows)


def minhash_signature(text: str, num_perm: int = NUM_PERM) -> np.ndarray | None:
    """MinHash values of the text's shingles (paragraphs are its lines); None for texts
    too short to judge."""
    paragraphs = text.split("\n")
    return sketch_paragraphs(paragraphs, num_perm).signature(paragraphs)


@functools.lru_cache(maxsize=8)
def band_ranges(threshold: float, num_perm: int) -> tuple[tuple[int, int], ...]:
    """datasketch's band layout for this threshold (costly to compute: once per process)."""
    if (threshold, num_perm) == (NEAR_DUPLICATE_THRESHOLD, NUM_PERM):
        return tuple((b * DEFAULT_ROWS, (b + 1) * DEFAULT_ROWS) for b in range(DEFAULT_BANDS))
    from datasketch import MinHashLSH  # scipy: 0.6 s of imports, only for another threshold

    return tuple(MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges)


def lsh_bands(signature: np.ndarray, threshold: float) -> tuple[int, ...]:
    """One key per LSH band: a 64-bit hash of (band number, the band's hash values).

    datasketch's MinHashLSH picks the band layout (b bands of r rows) that minimises false
    positives and negatives at `threshold`; the keys are computed here so that any state
    store backend can index them as plain integers.
    """
    keys = []
    values = signature.astype("<u8")
    prefix = MINHASH_SCHEME.to_bytes(2, "little")
    for number, (start, end) in enumerate(band_ranges(threshold, len(signature))):
        digest = hashlib.blake2b(
            prefix + number.to_bytes(2, "little") + values[start:end].tobytes(),
            digest_size=8,
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def signature_bytes(signature: np.ndarray) -> bytes:
    """How a signature is stored: uint64 little-endian, whatever dtype datasketch used."""
    return signature.astype("<u8").tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """MinHash estimate of the Jaccard similarity of two stored signatures."""
    if not a or len(a) != len(b):
        return 0.0
    left = np.frombuffer(a, dtype="<u8")
    right = np.frombuffer(b, dtype="<u8")
    return float(np.count_nonzero(left == right)) / len(left)


def _signature(article: Article) -> np.ndarray | None:
    """From the paragraphs' sketches made in the extraction worker (`prepare`), else, or
    when a later stage rewrote a paragraph, from the body sketched here."""
    if article.sketches is not None:
        with contextlib.suppress(KeyError):
            return article.sketches.signature(article.paragraphs)
    return sketch_paragraphs(article.paragraphs).signature(article.paragraphs)


def fingerprint(article: Article, threshold: float) -> Fingerprint:
    text = article.text  # joined once
    signature = _signature(article)
    if signature is None:
        return Fingerprint(url_key(article.canonical_url), text_hash(text))
    return Fingerprint(
        url_key(article.canonical_url),
        text_hash(text),
        signature_bytes(signature),
        lsh_bands(signature, threshold),
    )


class FingerprintIndex(Protocol):
    """The lookups `duplicate_reason` makes: a StateStore, or this run's `RunIndex`."""

    def fingerprint_of(self, url: str) -> Fingerprint | None: ...

    def urls_with_hash(self, content_hash: str) -> list[str]: ...

    def near_candidates(self, bands: Iterable[int]) -> list[Fingerprint]: ...


def _add_row(table: dict[Any, int | list[int]], key: Any, row: int) -> None:
    """Index `row` under `key`: a bare int for the usual single row, a list past that."""
    rows = table.get(key)
    if rows is None:
        table[key] = row
    elif isinstance(rows, int):
        if rows != row:
            table[key] = [rows, row]
    elif row not in rows:
        rows.append(row)


def _rows(table: dict[Any, int | list[int]], key: Any) -> list[int]:
    rows = table.get(key)
    if rows is None:
        return []
    return [rows] if isinstance(rows, int) else rows


class RunIndex:
    """This run's emitted articles, answering like a MemoryStore at a fraction of its memory.

    A crawl keeps every emitted article here until it ends, so the layout matters: each
    article is a row number; URLs and content hashes are kept once in lists, band keys and
    hashes map to a bare row number (a list only on a shared key), and signatures are rows
    of uint32 blocks (datasketch's affine32 values fit 32 bits). MemoryStore keeps a
    Fingerprint object, a 1 KiB signature and one set per band key and per hash instead:
    tracemalloc over 10,000 synthetic articles (URL strings aside): 3.4 KB per article for a
    MemoryStore, 1.6 KB here. Band keys are not kept per article (lookups only need them as
    dict keys), so fingerprint_of() returns none.
    """

    def __init__(self, num_perm: int = NUM_PERM) -> None:
        self._row_of: dict[str, int] = {}
        self._urls: list[str] = []
        self._hashes: list[str] = []
        self._signed = bytearray()  # 1 where the row has a signature
        self._num_perm = num_perm
        # Fixed-size blocks, not one doubling array: no copy on growth, at most one block
        # (256 KiB) allocated ahead.
        self._blocks: list[np.ndarray] = []
        self._by_hash: dict[str, int | list[int]] = {}
        self._by_band: dict[int, int | list[int]] = {}

    def __len__(self) -> int:
        return len(self._urls)

    def _signature(self, row: int) -> bytes:
        if not self._signed[row]:
            return b""
        return self._blocks[row // SIGNATURE_BLOCK][row % SIGNATURE_BLOCK].astype("<u8").tobytes()

    def fingerprint_of(self, url: str) -> Fingerprint | None:
        row = self._row_of.get(url)
        if row is None:
            return None
        return Fingerprint(url, self._hashes[row], self._signature(row))

    def urls_with_hash(self, content_hash: str) -> list[str]:
        return sorted(self._urls[row] for row in _rows(self._by_hash, content_hash))

    def near_candidates(self, bands: Iterable[int]) -> list[Fingerprint]:
        rows = {row for band in bands for row in _rows(self._by_band, band)}
        found = [
            Fingerprint(self._urls[row], self._hashes[row], self._signature(row)) for row in rows
        ]
        return sorted(found, key=lambda fp: fp.url)

    def add_fingerprints(self, fingerprints: Iterable[Fingerprint]) -> None:
        """Add (or replace, for a known URL) fingerprints; old band keys keep pointing here."""
        for fp in fingerprints:
            row = self._row_of.get(fp.url)
            if row is None:
                row = len(self._urls)
                self._row_of[fp.url] = row
                self._urls.append(fp.url)
                self._hashes.append(fp.content_hash)
                self._signed.append(0)
            else:
                old = self._hashes[row]
                rows = _rows(self._by_hash, old)
                if old != fp.content_hash and rows:
                    remaining = [other for other in rows if other != row]
                    if not remaining:
                        del self._by_hash[old]
                    else:
                        self._by_hash[old] = remaining[0] if len(remaining) == 1 else remaining
                self._hashes[row] = fp.content_hash
            _add_row(self._by_hash, fp.content_hash, row)
            values = np.frombuffer(fp.signature, dtype="<u8")
            if len(values) == self._num_perm and int(values.max()) <= 0xFFFFFFFF:
                while row // SIGNATURE_BLOCK >= len(self._blocks):
                    shape = (SIGNATURE_BLOCK, self._num_perm)
                    self._blocks.append(np.zeros(shape, dtype=np.uint32))
                self._blocks[row // SIGNATURE_BLOCK][row % SIGNATURE_BLOCK] = values
                self._signed[row] = 1
            elif fp.signature:
                raise ValueError(f"signature of {fp.url}: not {self._num_perm} uint32 values")
            else:
                self._signed[row] = 0
            for band in fp.bands:
                _add_row(self._by_band, band, row)


def duplicate_reason(
    fp: Fingerprint, run: FingerprintIndex, earlier: StateStore | None, threshold: float
) -> tuple[str, str] | tuple[None, str]:
    """(reason, the URL it duplicates) or (None, "updated"/"") for an article to keep."""
    if run.fingerprint_of(fp.url) is not None:
        return "duplicate-url", fp.url
    verdict = ""
    stores: list[FingerprintIndex] = [run] if earlier is None else [run, earlier]
    if earlier is not None:
        previous = earlier.fingerprint_of(fp.url)
        if previous is not None:
            if previous.content_hash == fp.content_hash:
                return "duplicate-url", fp.url
            verdict = "updated"
    for store in stores:
        others = [url for url in store.urls_with_hash(fp.content_hash) if url != fp.url]
        if others:
            return "duplicate-hash", others[0]
    if fp.bands:
        for store in stores:
            for candidate in store.near_candidates(fp.bands):
                if candidate.url == fp.url:
                    continue  # an earlier version of this very article
                if similarity(fp.signature, candidate.signature) >= threshold:
                    return "near-duplicate", candidate.url
    return None, verdict


class ArticlesPipeline:
    """Scrapy glue: drops duplicates with `articles:<reason>`, stages fingerprints to commit."""

    stage = "articles"

    def __init__(self, crawler: Crawler | None, state: RunState | None, threshold: float) -> None:
        self.crawler = crawler
        self.state = state
        self.threshold = threshold
        self.run = RunIndex()  # this run's emitted articles

    @staticmethod
    def prepare(article: Article) -> None:
        """The per-page part of this stage, run in the extraction worker after the per-page
        cleaning stages (pipelines/extract.py): the paragraphs' MinHash values."""
        article.sketches = sketch_paragraphs(article.paragraphs)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArticlesPipeline:
        name = "NEWSCRAWL_NEAR_DUPLICATE_THRESHOLD"
        threshold = get_float(crawler.settings, name, NEAR_DUPLICATE_THRESHOLD)
        if not 0.0 < threshold <= 1.0:
            raise SettingError(f"{name}={threshold!r}: expected a number in (0, 1]")
        return cls(crawler, RunState.for_crawler(crawler), threshold)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        earlier = None
        if self.state is not None and not self.state.fresh:
            earlier = self.state.store
        try:
            fp = fingerprint(item, self.threshold)
            reason, other = duplicate_reason(fp, self.run, earlier, self.threshold)
        except Exception:
            # A failing lookup must not cost the article: emit it unchecked, counted.
            self._inc("newscrawl/errors/articles")
            logger.exception("articles stage failed for %s", item.final_url)
            return item
        if reason is not None:
            self._inc(f"newscrawl/dropped/articles:{reason}")
            raise drop_item(f"articles:{reason}: {item.canonical_url} repeats {other}", "INFO")
        if other == "updated":
            self._inc("newscrawl/articles/updated")
        self.run.add_fingerprints([fp])
        if self.state is not None:
            self.state.stage_fingerprint(item, fp)
        return item

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)
