"""Per-page cleaning stages applied next to extraction (`extract_page`), and the reactor's
stages then only counting: same article, same stats, and a stage bug still costs only its
page, reported by the stage with the page's URL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from newscrawl.fixtures import site_root
from newscrawl.items import Article, Page
from pipelines.extract import (
    DEFAULT_EXTRACT_FUNCTION,
    WARM_UP_MODULE,
    article_from,
    extract_html,
    extract_page,
    per_page_stages,
    preparing_stages,
    prestart_preload,
    worker_preload,
)
from tests.extract_hooks import FAIL
from tests.golden import demo_article_paths

EXTRACT = "pipelines.extract.ExtractPipeline"
NORMALIZE = "pipelines.normalize.NormalizePipeline"
DUPLICATES = "pipelines.duplicates.DuplicatesPipeline"
WIDGETS = "pipelines.widgets.WidgetsPipeline"
TEMPLATES = "pipelines.templates.TemplatesPipeline"
FAILING = "tests.extract_hooks.FailingStage"
ARTICLES = "pipelines.articles.ArticlesPipeline"


def demo_page(path: str, url_suffix: str = "") -> Page:
    html = (site_root("demo") / path.lstrip("/")).read_text(encoding="utf-8")
    url = f"https://demo.example.org{path}{url_suffix}"
    return Page(url, url, 200, html, "2026-11-25T00:00:00+00:00", "test", "urls")


def stages_of(pipelines: dict[str, int | None]) -> list[str]:
    return per_page_stages(get_crawler(settings_dict={"ITEM_PIPELINES": pipelines}).settings)


def test_the_run_of_per_page_stages_after_extract_goes_to_the_worker() -> None:
    full = {EXTRACT: 100, NORMALIZE: 200, DUPLICATES: 300, WIDGETS: 400, TEMPLATES: 500}
    assert stages_of(full) == [NORMALIZE, DUPLICATES, WIDGETS]
    # a stage that needs the crawl's state ends the run: the order never changes
    assert stages_of({**full, TEMPLATES: 250}) == [NORMALIZE]
    # a disabled stage is not run in the worker either
    assert stages_of({**full, DUPLICATES: None}) == [NORMALIZE, WIDGETS]
    assert stages_of({NORMALIZE: 50, **{k: v for k, v in full.items() if k != NORMALIZE}}) == [
        DUPLICATES,
        WIDGETS,
    ]
    # `per_page` must be the class's own word, and a stage name may appear once
    inheriting = {**full, WIDGETS: None, "tests.extract_hooks.InheritingWidgets": 400}
    assert stages_of(inheriting) == [NORMALIZE, DUPLICATES]
    second = {**full, "tests.extract_hooks.SecondWidgets": 450}
    assert stages_of(second) == [NORMALIZE, DUPLICATES, WIDGETS]


def run_stages(article: Article, paths: list[str]) -> tuple[Article, dict[str, Any]]:
    crawler = get_crawler()
    for path in paths:
        article = load_object(path).from_crawler(crawler).process_item(article)
    return article, crawler.stats.get_stats()


@pytest.mark.parametrize("path", demo_article_paths())
def test_precleaned_article_and_stats_equal_those_of_the_stages_in_the_reactor(
    path: str,
) -> None:
    stages = [NORMALIZE, DUPLICATES, WIDGETS]
    page = demo_page(path)
    extracted = extract_html(page.html, page.final_url, "balanced")
    assert extracted is not None
    plain, plain_stats = run_stages(article_from(page, extracted, audit=True), stages)
    early = extract_page(page, "balanced", True, stages, DEFAULT_EXTRACT_FUNCTION)
    assert early is not None and early.precleaned == ["normalize", "duplicates", "widgets"]
    counted, counted_stats = run_stages(early, stages)
    assert counted.to_record() == plain.to_record()
    assert counted_stats == plain_stats


def test_a_stage_that_fails_in_the_worker_is_failed_again_and_reported_by_its_pipeline() -> None:
    path = demo_article_paths()[0]
    stages = [NORMALIZE, FAILING, WIDGETS]
    good = extract_page(demo_page(path), "balanced", False, stages, DEFAULT_EXTRACT_FUNCTION)
    assert good is not None and good.precleaned == ["normalize", "failing", "widgets"]
    bad = extract_page(demo_page(path, FAIL), "balanced", False, stages, DEFAULT_EXTRACT_FUNCTION)
    assert bad is not None and bad.precleaned == ["normalize"]  # the rest is left to Scrapy
    crawler = get_crawler()
    failing = load_object(FAILING).from_crawler(crawler)
    with pytest.raises(DropItem, match="stage bug on purpose"):
        failing.process_item(bad)
    assert crawler.stats.get_value("newscrawl/errors/failing") == 1


def test_later_stages_prepare_in_the_worker() -> None:
    """The articles stage's per-page part (the paragraphs' MinHash values) is done next to
    extraction; its fingerprint is then the one the stage would compute itself."""
    from pipelines.articles import fingerprint

    full = {EXTRACT: 100, NORMALIZE: 200, TEMPLATES: 500, ARTICLES: 700}
    settings = get_crawler(settings_dict={"ITEM_PIPELINES": full}).settings
    assert preparing_stages(settings) == [ARTICLES]
    assert (
        preparing_stages(get_crawler(settings_dict={"ITEM_PIPELINES": {EXTRACT: 1}}).settings) == []
    )
    page = demo_page(demo_article_paths()[0])
    article = extract_page(
        page, "balanced", False, [NORMALIZE], DEFAULT_EXTRACT_FUNCTION, [ARTICLES]
    )
    assert article is not None and article.sketches is not None
    assert article.sketches.paragraphs == tuple(article.paragraphs)
    plain = extract_page(page, "balanced", False, [NORMALIZE], DEFAULT_EXTRACT_FUNCTION)
    assert plain is not None and plain.sketches is None
    assert fingerprint(article, 0.8) == fingerprint(plain, 0.8)
    assert worker_preload([NORMALIZE], DEFAULT_EXTRACT_FUNCTION, [ARTICLES]) == [
        "pipelines.extract",
        "pipelines.normalize",
        "pipelines.articles",
        WARM_UP_MODULE,
    ]


def test_warm_up_builds_the_rules_workers_would_build_on_their_first_pages() -> None:
    """What the workers' fork server runs last: afterwards a page in any language finds its
    widget rules compiled."""
    import pipelines.articles  # noqa: F401 - a preloaded module, as in the fork server
    from pipelines.extract import warm_up
    from pipelines.widgets import available_packs, matcher_for, packs_for

    matcher_for.cache_clear()
    warm_up()
    before = matcher_for.cache_info()
    for language in (None, "xx", *available_packs()):
        matcher_for(packs_for(language))
    assert matcher_for.cache_info().misses == before.misses
    assert before.currsize >= 2


def test_the_workers_fork_server_does_not_import_scrapy_or_asyncio() -> None:
    """What `prestart_workers` has the fork server import for the project's pipelines
    (all of them after extract, a superset of what the workers run), warm-up included,
    runs without scrapy: its package import (Twisted, parsel, every Request and Response
    class) cost 0.25-0.5 s of the time before the first worker could start. Stages that
    drop an item import DropItem when they raise it, in the reactor. Nor asyncio (45 ms),
    which only the crawling process's side of the pool awaits with."""
    settings = get_project_settings()
    preload = prestart_preload(settings)
    needed = worker_preload(
        per_page_stages(settings), DEFAULT_EXTRACT_FUNCTION, preparing_stages(settings)
    )
    assert set(needed) <= set(preload) and "pipelines.widgets" in needed
    assert preload[-1] == WARM_UP_MODULE
    inline = settings.copy()
    inline.set("NEWSCRAWL_EXTRACT_WORKERS", 0)
    assert prestart_preload(inline) == []
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'scrapy', 'twisted', 'parsel', 'asyncio'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *preload],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert result.stdout.strip() == "[]"
