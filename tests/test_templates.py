"""templates stage: lines recurring across a site's pages go, once there is enough evidence."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from scrapy.utils.test import get_crawler

from newscrawl.fixtures import SITES
from newscrawl.items import Article
from newscrawl.state import MemoryStore, RunState
from pipelines.templates import TemplatesPipeline, line_hash, recurring_lines
from tests.conftest import read_jsonl, scrapy_crawl

# Distinct words, not numbers: line_hash folds digits (so "© 2025" and "© 2026" match).
NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india")
WORDS = [*NAMES, *(f"{a}-{b}" for a in NAMES for b in NAMES)]
FURNITURE = (
    "Lakeside Ledger reporters cover the harbour towns from Gull Island to the eastern ridge."
)


def test_line_hash_folds_case_spacing_and_numbers() -> None:
    assert line_hash("© 2025  Example   News") == line_hash("© 2026 example news")
    assert line_hash("Read more") != line_hash("Read less")


def counter(store: MemoryStore, site: str, page: str):  # type: ignore[no-untyped-def]
    return lambda hashes: store.count_page_lines(site, page, hashes)


def test_needs_enough_pages_before_removing_anything() -> None:
    store = MemoryStore()
    kept_lines = []
    for n in range(5):
        kept, _ = recurring_lines(
            ["Photo: Staff", f"Story {WORDS[n]} body."], counter(store, "s", f"p{n}"), min_pages=5,
            min_count=3, min_share=0.0,
        )  # fmt: skip
        kept_lines.append(kept)
    # the first four pages keep the shared short line: not enough evidence yet
    assert all(kept[0] == "Photo: Staff" for kept in kept_lines[:4])
    assert kept_lines[4] == ["Story echo body."]


def test_share_and_count_thresholds() -> None:
    store = MemoryStore()
    for n in range(40):  # 40 pages; the footer is on all, a quote on 4 of them
        lines = ["Footer line", f"Body {WORDS[n]}"] + (["A shared quote"] if n < 4 else [])
        store.count_page_lines("s", f"p{n}", [line_hash(x) for x in lines])
    kept, removed = recurring_lines(
        ["Footer line", "A shared quote", "New body"], counter(store, "s", "p40"),
        min_pages=20, min_count=5, min_share=0.2,
    )  # fmt: skip
    assert kept == ["A shared quote", "New body"]  # 5 pages < 20% of 41
    assert removed == [("recurring", "Footer line")]


def test_a_page_of_furniture_only_is_left_whole() -> None:
    store = MemoryStore()
    for n in range(3):
        store.count_page_lines("s", f"p{n}", [line_hash("Menu"), line_hash("Footer")])
    kept, removed = recurring_lines(
        ["Menu", "Footer"], counter(store, "s", "p3"), min_pages=2, min_count=2, min_share=0
    )
    assert kept == ["Menu", "Footer"] and removed == []


def test_pipeline_counts_each_page_once_and_records_the_rule() -> None:
    crawler = get_crawler(settings_dict={"NEWSCRAWL_STATE": "memory://"})
    crawler.spider = SimpleNamespace(name="t")  # type: ignore[assignment]
    crawler.stats.open_spider()  # type: ignore[union-attr]
    stage = TemplatesPipeline(crawler, RunState.for_crawler(crawler), 3, 3, 0.0)

    def page(n: int) -> Article:
        url = f"http://ledger.example/news/{n}"
        return Article(url, url, url, "ledger.example", None, None, [f"Body {WORDS[n]}", FURNITURE])

    # the same page fetched three times is one page of evidence, not three
    for _ in range(3):
        assert stage.process_item(page(0)).paragraphs == ["Body alpha", FURNITURE]
    assert stage.process_item(page(1)).paragraphs == ["Body bravo", FURNITURE]
    third = stage.process_item(page(2))
    assert third.paragraphs == ["Body charlie"]
    assert third.cleaning == {"templates:recurring": 1}
    assert crawler.stats.get_value("newscrawl/removed/templates:recurring") == 1  # type: ignore[union-attr]


def test_crawl_learns_the_furniture_and_keeps_it_learned(site_server: str, tmp_path: Path) -> None:
    urls = ",".join(
        f"{site_server}/incremental/news/{p.name}"
        for p in sorted((SITES / "incremental" / "news").glob("*.html"))
    )
    settings = {
        "NEWSCRAWL_STATE": f"sqlite:///{tmp_path / 'state.db'}",
        "NEWSCRAWL_TEMPLATES_MIN_PAGES": "3",
        "NEWSCRAWL_TEMPLATES_MIN_COUNT": "3",
        "NEWSCRAWL_AUDIT": "1",
        "NEWSCRAWL_EXTRACT_WORKERS": "0",
    }
    result = scrapy_crawl("articles", tmp_path / "1.jsonl", "-a", f"urls={urls}", settings=settings)
    assert result.returncode == 0, result.stderr[-2000:]
    records = read_jsonl(tmp_path / "1.jsonl")
    assert len(records) == 6
    cleaned = [r for r in records if "templates:recurring" in r["cleaning"]]
    # pages 1 and 2 of the site are evidence only; from page 3 on the line goes
    assert len(cleaned) == 4
    removed = {x["text"] for r in records for x in r["removed"] if x["stage"] == "templates"}
    assert removed == {FURNITURE}
    assert all(FURNITURE not in r["text"] for r in cleaned)

    # a later run of the same site starts with what the first learned
    args = ("-a", f"urls={urls}", "-a", "fresh=1")
    result = scrapy_crawl("articles", tmp_path / "2.jsonl", *args, settings=settings)
    assert result.returncode == 0, result.stderr[-2000:]
    again = read_jsonl(tmp_path / "2.jsonl")
    assert len(again) == 6
    assert all(FURNITURE not in r["text"] for r in again)
