"""The crawl's garbage-collector settings: on while a spider runs, undone when it closes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from newscrawl.config import SettingError
from newscrawl.gctuning import CrawlGarbageCollector
from tests.conftest import read_jsonl, scrapy_crawl


@pytest.fixture
def collector() -> Iterator[CrawlGarbageCollector]:
    before = gc.get_threshold()
    extension = CrawlGarbageCollector.from_crawler(
        get_crawler(settings_dict={"NEWSCRAWL_GC_THRESHOLD": 40000})
    )
    yield extension
    extension.spider_closed()
    assert gc.get_threshold() == before


def test_thresholds_and_frozen_objects_last_as_long_as_the_spider(
    collector: CrawlGarbageCollector,
) -> None:
    before = gc.get_threshold()
    collector.spider_opened()
    assert gc.get_threshold() == (40000, *before[1:])
    assert gc.get_freeze_count() > 1000  # the modules and objects made so far
    collector.spider_closed()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_garbage_is_collected_not_frozen(collector: CrawlGarbageCollector) -> None:
    finalized = []

    class Cycle:
        def __del__(self) -> None:
            finalized.append(True)

    gc.disable()
    try:
        cycle = Cycle()
        cycle.itself = cycle  # type: ignore[attr-defined]
        del cycle
        collector.spider_opened()
    finally:
        gc.enable()
    assert finalized == [True]


def test_zero_leaves_python_alone_and_a_negative_value_is_an_error() -> None:
    with pytest.raises(NotConfigured):
        CrawlGarbageCollector.from_crawler(get_crawler(settings_dict={"NEWSCRAWL_GC_THRESHOLD": 0}))
    with pytest.raises(SettingError, match="NEWSCRAWL_GC_THRESHOLD"):
        CrawlGarbageCollector.from_crawler(
            get_crawler(settings_dict={"NEWSCRAWL_GC_THRESHOLD": -1})
        )


def test_a_real_crawl_runs_with_the_project_threshold(site_server: str, tmp_path: Path) -> None:
    from newscrawl import settings

    out = tmp_path / "out.jsonl"
    result = scrapy_crawl(
        "articles",
        out,
        "-a",
        f"urls={site_server}/demo/en/2026/11/16/harbor-automation.html",
        settings={"LOG_LEVEL": "DEBUG"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"garbage collector: threshold ({settings.NEWSCRAWL_GC_THRESHOLD}," in result.stderr
    assert len(read_jsonl(out)) == 1
