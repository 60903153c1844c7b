"""End to end: `scrapy crawl articles` over the demo site; `newscrawl clean` on its pages."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newscrawl.fixtures import EXPECTED, site_root
from newscrawl.localserver import serve_directory
from tests.conftest import ROOT, read_jsonl, scrapy_crawl
from tests.golden import DEMO_GOLDEN, comparable, demo_article_paths

DEMO = site_root("demo")
META = json.loads((EXPECTED / "demo" / "meta.json").read_text(encoding="utf-8"))
# Fields that depend on when and where a page was fetched, not on what it says.
FETCH_FIELDS = {
    "url",
    "final_url",
    "canonical_url",
    "site",
    "fetched_at",
    "http_status",
    "spider",
    "source",
    "source_file",
    "image",
}


@pytest.fixture(scope="module")
def demo_server() -> Iterator[str]:
    """The demo site at the root of its own server (its pages use root-relative links)."""
    with serve_directory(DEMO) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def crawled(
    demo_server: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("demo")
    url_file = tmp / "urls.txt"
    url_file.write_text(
        "# demo articles\n\n" + "\n".join(demo_server + p for p in demo_article_paths()) + "\n",
        encoding="utf-8",
    )
    out = tmp / "out.jsonl"
    result = scrapy_crawl("articles", out, "-a", f"url_file={url_file}")
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_jsonl(out)
    by_path = {r["url"].removeprefix(demo_server): r for r in records}
    assert len(by_path) == len(records), "an article was written twice"
    return by_path


def expected_lines(path: str) -> list[str]:
    text = (EXPECTED / "demo" / path.lstrip("/")).with_suffix(".txt").read_text(encoding="utf-8")
    return text.strip("\n").split("\n")


def test_every_article_exactly_once(crawled: dict[str, dict[str, Any]]) -> None:
    assert sorted(crawled) == sorted(demo_article_paths())


@pytest.mark.parametrize("path", demo_article_paths())
def test_text_equals_expected(crawled: dict[str, dict[str, Any]], path: str) -> None:
    got = crawled[path]["text"].split("\n")
    want = expected_lines(path)
    leftover = [line for line in got if line not in want]
    lost = [line for line in want if line not in got]
    assert got == want, f"{path}\nleftover: {leftover}\nlost: {lost}"


@pytest.mark.parametrize("path", demo_article_paths())
def test_title_not_in_text_and_no_paragraph_twice(
    crawled: dict[str, dict[str, Any]], path: str
) -> None:
    record = crawled[path]
    lines = record["text"].split("\n")
    assert record["title"] not in lines
    assert len(lines) == len(set(lines))


@pytest.mark.parametrize("path", demo_article_paths())
def test_metadata(crawled: dict[str, dict[str, Any]], path: str) -> None:
    record, want = crawled[path], META[path]
    assert record["title"] == want["title"]
    assert record["language"] == want["language"]
    assert record["published"] == want["published"]
    assert record["authors"] == want["authors"]


def test_golden_records(crawled: dict[str, dict[str, Any]], demo_server: str) -> None:
    """Whole records, against fixtures/expected/demo/records.jsonl (see tests/golden.py)."""
    golden = [json.loads(line) for line in DEMO_GOLDEN.read_text(encoding="utf-8").splitlines()]
    got = [comparable(crawled[p], demo_server) for p in sorted(crawled)]
    assert got == golden


def test_non_html_is_skipped_and_counted(demo_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = scrapy_crawl("articles", out, "-a", f"urls={demo_server}/robots.txt")
    assert result.returncode == 0
    assert read_jsonl(out) == []
    assert "'newscrawl/skipped/not-html': 1" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no URLs"),
        (
            ["-a", "urls=ftp://example.org/a"],
            "-a urls: 'ftp://example.org/a' is not an http(s) URL",
        ),
        (
            ["-a", "url_file=/nonexistent/urls.txt"],
            "-a url_file=/nonexistent/urls.txt: cannot read",
        ),
    ],
)
def test_bad_arguments_fail_at_start(tmp_path: Path, args: list[str], message: str) -> None:
    result = scrapy_crawl("articles", tmp_path / "out.jsonl", *args)
    assert result.returncode != 0
    assert message in result.stderr


def test_clean_gives_the_crawls_records(crawled: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "clean.jsonl"
    pages = [str(DEMO / p.lstrip("/")) for p in demo_article_paths()]
    result = subprocess.run(
        [sys.executable, "-m", "newscrawl.cli", "clean", *pages, "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cleaned = read_jsonl(out)
    assert [r["source_file"] for r in cleaned] == pages  # input order, one record per page
    for path, record in zip(demo_article_paths(), cleaned, strict=True):
        crawl = {k: v for k, v in crawled[path].items() if k not in FETCH_FIELDS}
        clean = {k: v for k, v in record.items() if k not in FETCH_FIELDS}
        assert clean == crawl, path
