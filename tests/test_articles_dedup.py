"""articles stage: an article already emitted is dropped, within the run and across runs."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from datasketch import MinHash
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from newscrawl.items import Article
from newscrawl.state import Fingerprint, MemoryStore, RunState
from pipelines.articles import (
    MIN_WORDS_FOR_MINHASH,
    MINHASH_SEED,
    NEAR_DUPLICATE_THRESHOLD,
    NUM_PERM,
    PERMUTATIONS_FILE,
    ArticlesPipeline,
    RunIndex,
    _permutations,
    band_ranges,
    fingerprint,
    lsh_bands,
    minhash_signature,
    shingle_hash,
    shingles,
    signature_bytes,
    similarity,
    sketch_paragraphs,
)

STORY = (
    "Councillors voted nine to four against selling the Victorian market hall to a hotel "
    "developer who had offered to restore its glass roof.\n"
    "Traders packed the public gallery and applauded when the chair read the result, ending a "
    "consultation that ran for most of the year.\n"
    "The council must now find money for the roof itself and will apply to the heritage fund "
    "before the deadline in February.\n"
    "The developer said he was disappointed but would look for another building in the old "
    "town, possibly the empty customs house by the quay, which has stood unused since the "
    "port authority moved to the new terminal twelve years ago.\n"
    "Market traders have promised to help raise money, starting with a winter fair under the "
    "leaking roof in December, when the stalls will stay open late every Friday evening and "
    "a brass band from the harbour will play carols in the hall."
)
# The same story republished with a credit line and one word changed.
REPRINT = STORY.replace("nine to four", "nine votes to four") + "\nReporting by the Ledger desk."
OTHER = (
    "Forty pupils from Northgate Primary took first prize at the regional choir festival with "
    "a programme of sea shanties and a lullaby in Welsh.\n"
    "Their music teacher arranged two of the songs herself and rehearsed the children every "
    "lunchtime since the start of term, the school said on Friday."
)


def make(url: str, text: str, canonical: str | None = None) -> Article:
    return Article(url, url, canonical or url, "ledger.example", None, "t", text.split("\n"))


def test_shingles_and_similarity() -> None:
    assert shingles("One two, THREE four five six") == {
        b"one two three four five",
        b"two three four five six",
    }
    story, reprint, other = (minhash_signature(t) for t in (STORY, REPRINT, OTHER))
    assert story is not None and reprint is not None and other is not None
    story_b, reprint_b, other_b = map(signature_bytes, (story, reprint, other))
    assert similarity(story_b, reprint_b) >= NEAR_DUPLICATE_THRESHOLD
    assert similarity(story_b, other_b) < 0.2
    assert minhash_signature("Too short to judge.") is None


def test_signature_is_the_minhash_of_the_shingle_set() -> None:
    """The vectorised word-hash path equals hashing each distinct shingle one by one."""
    for text in (STORY, REPRINT, OTHER):
        reference = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=shingle_hash)
        reference.update_batch(sorted(shingles(text)))
        signature = minhash_signature(text)
        assert signature is not None
        assert np.array_equal(signature, reference.hashvalues)
    # distinct shingles get distinct hashes (no structural collisions from the word fold)
    every = set().union(*(shingles(t) for t in (STORY, REPRINT, OTHER)))
    assert len({shingle_hash(s) for s in every}) == len(every)
    # word order matters: a shingle is a sequence
    assert shingle_hash(b"a b c d e") != shingle_hash(b"e d c b a")


def test_shingles_stay_within_paragraphs() -> None:
    assert shingles("one two three\nfour five six seven eight") == {
        b"one two three",
        b"four five six seven eight",
    }


def test_each_paragraph_row_is_datasketchs_minhash_of_its_shingles() -> None:
    """sketch_paragraphs computes every row in one matrix; each equals datasketch's own
    MinHash of that paragraph, long paragraphs (fed in slices) and empty ones included."""
    rng = random.Random(7)
    vocabulary = [f"w{n}" for n in range(3000)]
    paragraphs = [
        "",
        "Short one.",
        "three word paragraph",
        " ".join(rng.choices(vocabulary, k=9000)),
    ]
    paragraphs += [" ".join(rng.choices(vocabulary, k=rng.randint(1, 300))) for _ in range(40)]
    sketches = sketch_paragraphs(paragraphs)
    for row, paragraph in zip(sketches.rows, paragraphs, strict=True):
        reference = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=shingle_hash)
        reference.update_batch(sorted(shingles(paragraph)))
        assert row.tolist() == reference.hashvalues.tolist()


def test_signature_of_the_paragraphs_a_later_stage_kept() -> None:
    """The worker sketches every paragraph; the stage takes the minimum over those the
    templates stage left: the signature of that shorter text, computed afresh."""
    paragraphs = STORY.split("\n")
    sketches = sketch_paragraphs(paragraphs)
    kept = [paragraphs[0], paragraphs[2], paragraphs[3]]
    expected = minhash_signature("\n".join(kept))
    assert expected is not None
    assert sketches.signature(kept).tolist() == expected.tolist()
    assert sketches.signature(paragraphs[:1]) is None  # too few words left to judge
    with pytest.raises(KeyError):  # a paragraph rewritten after the sketch
        sketches.signature([paragraphs[0] + " Updated."])


def test_fingerprint_uses_the_worker_sketches_and_redoes_a_rewritten_body() -> None:
    article = make("http://ledger.example/1", STORY)
    ArticlesPipeline.prepare(article)
    reference = fingerprint(make("http://ledger.example/1", STORY), NEAR_DUPLICATE_THRESHOLD)
    assert fingerprint(article, NEAR_DUPLICATE_THRESHOLD) == reference
    article.paragraphs = [p.replace("Councillors", "Council members") for p in article.paragraphs]
    rewritten = make("http://ledger.example/1", "\n".join(article.paragraphs))
    expected = fingerprint(rewritten, NEAR_DUPLICATE_THRESHOLD)
    assert fingerprint(article, NEAR_DUPLICATE_THRESHOLD) == expected != reference


def test_default_band_layout_is_datasketchs() -> None:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_THRESHOLD, num_perm=NUM_PERM)
    assert band_ranges(NEAR_DUPLICATE_THRESHOLD, NUM_PERM) == tuple(lsh.hashranges)
    assert band_ranges(0.5, NUM_PERM) == tuple(MinHashLSH(threshold=0.5, num_perm=128).hashranges)


def test_permutations_file_is_datasketchs() -> None:
    assert _permutations(NUM_PERM).tolist() == (
        MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED).permutations.tolist()
    ), f"regenerate {PERMUTATIONS_FILE.name} as its header says"


@pytest.mark.parametrize("content", [None, "1 2 3\n", "not numbers\n"])
def test_a_missing_or_broken_permutations_file_falls_back_to_datasketch(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    content: str | None,
) -> None:
    broken = tmp_path / "minhash_permutations.txt"
    if content is not None:
        broken.write_text(content, encoding="utf-8")
    monkeypatch.setattr("pipelines.articles.PERMUTATIONS_FILE", broken)
    drawn = _permutations.__wrapped__(NUM_PERM)  # past the per-process cache
    assert drawn.tolist() == MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED).permutations.tolist()
    assert str(broken) in caplog.text


def test_neither_the_stage_nor_the_workers_prepare_imports_datasketch(tmp_path: Path) -> None:
    """The crawling process runs the stage on the worker's sketches, and the worker's
    `prepare` reads datasketch's permutations from a file: neither imports datasketch (its
    import, with scipy, cost 0.4-0.6 s of every crawl's start-up)."""
    import pickle

    articles = [make(f"http://ledger.example/{n}", text) for n, text in enumerate((STORY, REPRINT))]
    for article in articles:
        ArticlesPipeline.prepare(article)
    articles[1].paragraphs = articles[1].paragraphs[:-1]  # what the templates stage may do
    (tmp_path / "articles.pickle").write_bytes(pickle.dumps(articles))
    code = (
        "import pickle, sys\n"
        "from scrapy.exceptions import DropItem\n"
        "from scrapy.utils.test import get_crawler\n"
        "from pipelines.articles import ArticlesPipeline\n"
        "stage = ArticlesPipeline.from_crawler(get_crawler(settings_dict="
        "{'NEWSCRAWL_STATE': 'memory://'}))\n"
        "first, second = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "stage.process_item(first)\n"
        "try:\n"
        "    stage.process_item(second)\n"
        "except DropItem as drop:\n"
        "    print(drop)\n"
        "ArticlesPipeline.prepare(first)\n"
        "print('datasketch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "articles.pickle")],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert result.stdout.splitlines() == [
        "articles:near-duplicate: http://ledger.example/1 repeats http://ledger.example/0",
        "False",
    ]


def test_length_rule_counts_the_text_words_not_the_folded_ones() -> None:
    # U+0130 folds to "i" + a combining dot, which splits every word that holds it in two
    words = ["\u0130stanbul"] * (MIN_WORDS_FOR_MINHASH - 1)
    assert minhash_signature(" ".join(words)) is None
    assert minhash_signature(" ".join([*words, "port"])) is not None


def test_signatures_are_stable_across_processes() -> None:
    """Signatures and band keys are stored: another interpreter (hash seed) computes the same."""
    code = (
        "import json, sys; from pipelines.articles import minhash_signature, lsh_bands;"
        "s = minhash_signature(sys.stdin.read());"
        "print(json.dumps([s.tolist(), list(lsh_bands(s, 0.8))]))"
    )
    signature = minhash_signature(STORY)
    assert signature is not None
    for seed in ("12345",):
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=STORY,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        values, bands = json.loads(result.stdout)
        assert values == signature.tolist()
        assert bands == list(lsh_bands(signature, 0.8))


def test_run_index_answers_like_the_memory_store() -> None:
    """RunIndex is a compact MemoryStore: same answers over adds, shared keys and updates."""
    rng = random.Random(3)
    memory, index = MemoryStore(), RunIndex()
    urls = [f"http://ledger.example/{n}" for n in range(40)]
    for _ in range(300):
        url = rng.choice(urls)
        signed = rng.random() < 0.8
        values = np.array([rng.randrange(2**32) for _ in range(NUM_PERM)], dtype=np.uint64)
        fp = Fingerprint(
            url,
            f"hash{rng.randrange(12)}",
            signature_bytes(values) if signed else b"",
            tuple(rng.randrange(30) for _ in range(3)) if signed else (),
        )
        memory.add_fingerprints([fp])
        index.add_fingerprints([fp])
        for other in urls[:10]:
            expected = memory.fingerprint_of(other)
            got = index.fingerprint_of(other)
            assert (got is None) == (expected is None)
            if got is not None and expected is not None:
                assert (got.url, got.content_hash, got.signature) == (
                    expected.url,
                    expected.content_hash,
                    expected.signature,
                )
        for content_hash in ("hash0", "hash5", "hash11", "none"):
            assert index.urls_with_hash(content_hash) == memory.urls_with_hash(content_hash)
        bands = [rng.randrange(32) for _ in range(4)]
        assert [(fp.url, fp.signature) for fp in index.near_candidates(bands)] == [
            (fp.url, fp.signature) for fp in memory.near_candidates(bands)
        ]
    assert len(index) == len(memory.fingerprints)


def crawl_state(state_uri: str, **spider_args: Any) -> tuple[ArticlesPipeline, RunState]:
    crawler = get_crawler(settings_dict={"NEWSCRAWL_STATE": state_uri, "FEEDS": {"out.jsonl": {}}})
    crawler.spider = SimpleNamespace(name="t", **spider_args)  # type: ignore[assignment]
    crawler.stats.open_spider()  # type: ignore[union-attr]
    return ArticlesPipeline.from_crawler(crawler), RunState.for_crawler(crawler)


def reason(stage: ArticlesPipeline, article: Article) -> str | None:
    """The drop reason, or None when the article is emitted (and scraped, as a crawl would)."""
    try:
        item = stage.process_item(article)
    except DropItem as drop:
        return str(drop).split(":")[1]
    assert stage.crawler is not None
    stage.crawler.signals.send_catch_log(
        signals.item_scraped, item=item, response=None, spider=None
    )
    return None


def stored(state: RunState, items: int) -> None:
    """The feed file holding the first `items` scraped items was stored."""
    slot = SimpleNamespace(uri_template="out.jsonl", batch_id=1, itemcount=items)
    state.crawler.signals.send_catch_log(signals.feed_slot_closed, slot=slot)


def test_within_one_run() -> None:
    stage, _ = crawl_state("memory://")
    assert reason(stage, make("http://ledger.example/a", STORY)) is None
    # the same canonical URL reached through another address
    again = make("http://ledger.example/a?utm_source=x", STORY, "http://ledger.example/a")
    assert reason(stage, again) == "duplicate-url"
    assert reason(stage, make("http://ledger.example/copy", STORY)) == "duplicate-hash"
    assert reason(stage, make("http://ledger.example/reprint", REPRINT)) == "near-duplicate"
    assert reason(stage, make("http://ledger.example/b", OTHER)) is None
    assert stage.crawler is not None and stage.crawler.stats is not None
    stats = stage.crawler.stats.get_stats()
    for rule in ("duplicate-url", "duplicate-hash", "near-duplicate"):
        assert stats[f"newscrawl/dropped/articles:{rule}"] == 1


def test_across_runs_only_committed_articles_count(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'state.db'}"
    stage, state = crawl_state(uri)
    assert reason(stage, make("http://ledger.example/a", STORY)) is None
    stored(state, 1)
    assert reason(stage, make("http://ledger.example/b", OTHER)) is None  # never stored: killed
    state.close()

    stage, state = crawl_state(uri)
    assert reason(stage, make("http://ledger.example/a", STORY)) == "duplicate-url"  # unchanged
    assert reason(stage, make("http://ledger.example/reprint", REPRINT)) == "near-duplicate"
    assert reason(stage, make("http://ledger.example/mirror", STORY)) == "duplicate-hash"
    assert reason(stage, make("http://ledger.example/b", OTHER)) is None  # fetched again
    # an update of a written article is emitted again
    updated = STORY.replace("February", "March, after a delay")
    assert reason(stage, make("http://ledger.example/a", updated)) is None
    assert state.crawler.stats is not None
    assert state.crawler.stats.get_value("newscrawl/articles/updated") == 1
    state.close()


def test_fresh_run_ignores_earlier_runs(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'state.db'}"
    stage, state = crawl_state(uri)
    assert reason(stage, make("http://ledger.example/a", STORY)) is None
    stored(state, 1)
    state.close()
    stage, state = crawl_state(uri, fresh="1")
    assert reason(stage, make("http://ledger.example/a", STORY)) is None
    assert reason(stage, make("http://ledger.example/a", STORY)) == "duplicate-url"  # this run
    state.close()


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_bad_threshold_names_the_setting(value: str) -> None:
    crawler = get_crawler(settings_dict={"NEWSCRAWL_NEAR_DUPLICATE_THRESHOLD": value})
    with pytest.raises(ValueError, match="NEWSCRAWL_NEAR_DUPLICATE_THRESHOLD"):
        ArticlesPipeline.from_crawler(crawler)


def test_run_index_keeps_signatures_past_one_block() -> None:
    index = RunIndex()
    fingerprints = []
    for number in range(1200):  # more than two signature blocks
        values = np.full(NUM_PERM, number * 1000 + 7, dtype=np.uint64)
        fp = Fingerprint(f"u{number}", f"h{number}", signature_bytes(values), (number,))
        fingerprints.append(fp)
    index.add_fingerprints(fingerprints)
    for fp in (fingerprints[0], fingerprints[511], fingerprints[512], fingerprints[1199]):
        assert index.near_candidates(fp.bands) == [
            Fingerprint(fp.url, fp.content_hash, fp.signature)
        ]
