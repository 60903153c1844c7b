"""articles stage: an article already emitted is dropped, within the run and across runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from newscrawl.items import Article
from newscrawl.state import RunState
from pipelines.articles import (
    NEAR_DUPLICATE_THRESHOLD,
    ArticlesPipeline,
    minhash_signature,
    shingles,
    signature_bytes,
    similarity,
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
