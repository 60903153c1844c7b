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

Within the run the stage keeps its own in-memory index; across runs it asks the state store,
which only holds articles whose output file was stored (newscrawl/state.py, RunState), so a
killed run's articles are not mistaken for duplicates of themselves when fetched again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from newscrawl.config import SettingError, get_float
from newscrawl.items import Article
from newscrawl.state import Fingerprint, MemoryStore, RunState, StateStore, url_key

logger = logging.getLogger(__name__)

# 128 permutations: the Jaccard estimate's standard error is ~0.04, fine for telling a
# 0.9-similar rewrite from a different story, at 1 KiB of signature per article.
NUM_PERM = 128
# Words per shingle: 5-word runs are rare enough to be distinctive in news prose, short
# enough that a one-word edit changes only 5 shingles.
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

_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Case-folded word n-grams of the text (punctuation and spacing ignored)."""
    words = _WORD.findall(text.casefold())
    if len(words) < size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash_signature(text: str, num_perm: int = NUM_PERM) -> np.ndarray | None:
    """datasketch MinHash values of the text's shingles; None for texts too short to judge."""
    if len(_WORD.findall(text)) < MIN_WORDS_FOR_MINHASH:
        return None
    minhash = MinHash(num_perm=num_perm, seed=MINHASH_SEED)
    minhash.update_batch(list(shingles(text)))
    return minhash.hashvalues


@functools.lru_cache(maxsize=8)
def band_ranges(threshold: float, num_perm: int) -> tuple[tuple[int, int], ...]:
    """datasketch's band layout for this threshold (costly to compute: once per process)."""
    return tuple(MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges)


def lsh_bands(signature: np.ndarray, threshold: float) -> tuple[int, ...]:
    """One key per LSH band: a 64-bit hash of (band number, the band's hash values).

    datasketch's MinHashLSH picks the band layout (b bands of r rows) that minimises false
    positives and negatives at `threshold`; the keys are computed here so that any state
    store backend can index them as plain integers.
    """
    keys = []
    for number, (start, end) in enumerate(band_ranges(threshold, len(signature))):
        digest = hashlib.blake2b(
            number.to_bytes(2, "little") + signature[start:end].astype("<u8").tobytes(),
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


def fingerprint(article: Article, threshold: float) -> Fingerprint:
    signature = minhash_signature(article.text)
    if signature is None:
        return Fingerprint(url_key(article.canonical_url), article.content_hash())
    return Fingerprint(
        url_key(article.canonical_url),
        article.content_hash(),
        signature_bytes(signature),
        lsh_bands(signature, threshold),
    )


def duplicate_reason(
    fp: Fingerprint, run: StateStore, earlier: StateStore | None, threshold: float
) -> tuple[str, str] | tuple[None, str]:
    """(reason, the URL it duplicates) or (None, "updated"/"") for an article to keep."""
    if run.fingerprint_of(fp.url) is not None:
        return "duplicate-url", fp.url
    verdict = ""
    stores = [run] if earlier is None else [run, earlier]
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
        self.run = MemoryStore()  # this run's emitted articles

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
        except Exception as error:
            # A failing lookup must not cost the article: emit it unchecked, counted.
            self._inc("newscrawl/errors/articles")
            logger.exception("articles stage failed for %s", item.final_url)
            if self.state is not None:
                self.state.drop_staged(item)
            del error
            return item
        if reason is not None:
            self._inc(f"newscrawl/dropped/articles:{reason}")
            raise DropItem(
                f"articles:{reason}: {item.canonical_url} repeats {other}", log_level="INFO"
            )
        if other == "updated":
            self._inc("newscrawl/articles/updated")
        self.run.add_fingerprints([fp])
        if self.state is not None:
            self.state.stage_fingerprint(item, fp)
        return item

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)
