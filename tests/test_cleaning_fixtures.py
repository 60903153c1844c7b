"""The cleaning fixture site: every page crawled must come out exactly as its golden text.

fixtures/sites/cleaning/<lang>/<slug>.html are article pages modelled on real layouts, each
with widget noise and a duplication pattern (see `pattern` in fixtures/expected/cleaning/
meta.json); fixtures/expected/cleaning/<lang>/<slug>.txt is what a human editor keeps. The
adversarial pages (`adversarial: true`) hold real content that looks like noise (a table of
rates, a forecast, equal list items, a prose "Read also"), listed in `must_contain`.

One `scrapy crawl articles` subprocess crawls all pages; each page is then its own test.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from newscrawl.fixtures import EXPECTED, SITES
from tests.conftest import read_jsonl, scrapy_crawl

SITE = "cleaning"
META: dict[str, dict[str, Any]] = json.loads(
    (EXPECTED / SITE / "meta.json").read_text(encoding="utf-8")
)
PAGES = sorted(p.relative_to(SITES / SITE).as_posix() for p in (SITES / SITE).rglob("*.html"))
ADVERSARIAL = [page for page in PAGES if META.get(page, {}).get("adversarial")]


def expected_lines(page: str) -> list[str]:
    path = EXPECTED / SITE / Path(page).with_suffix(".txt")
    return path.read_text(encoding="utf-8").strip("\n").split("\n")


def describe(page: str, actual: list[str], expected: list[str]) -> str:
    """Missing lines, leftover lines, then a unified diff: what to fix at a glance."""
    missing = [line for line in expected if line not in actual]
    leftover = [line for line in actual if line not in expected]
    repeated = sorted({line for line in actual if actual.count(line) > expected.count(line) > 0})
    parts = [f"{page} ({META.get(page, {}).get('pattern', '')})"]
    parts += [f"  MISSING  {line}" for line in missing]
    parts += [f"  LEFTOVER {line}" for line in leftover]
    parts += [f"  REPEATED {line}" for line in repeated]
    diff = difflib.unified_diff(expected, actual, "expected", "actual", lineterm="", n=1)
    return "\n".join([*parts, "", *diff])


@pytest.fixture(scope="module")
def records(site_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Records of one crawl over every cleaning page, by page path."""
    out = tmp_path_factory.mktemp("cleaning") / "out.jsonl"
    base = f"{site_server}/{SITE}/"
    result = scrapy_crawl("articles", out, "-a", "urls=" + ",".join(base + p for p in PAGES))
    assert result.returncode == 0, result.stderr[-3000:]
    by_page = {}
    for record in read_jsonl(out):
        assert record["url"].startswith(base), record["url"]
        by_page[record["url"][len(base) :]] = record
    return by_page


def test_fixture_set_is_complete() -> None:
    assert len(PAGES) >= 25
    assert len(ADVERSARIAL) >= 5
    assert set(META) == set(PAGES), "meta.json and the pages must list the same paths"
    for page in PAGES:
        lines = expected_lines(page)
        assert all(line == line.strip() and line for line in lines), page
        assert META[page]["title"] not in lines, f"{page}: expected text must not hold the title"


@pytest.mark.parametrize("page", PAGES)
def test_clean_text_equals_golden(records: dict[str, dict], page: str) -> None:
    assert page in records, f"{page}: no record (dropped?)"
    actual = records[page]["text"].split("\n")
    expected = expected_lines(page)
    if actual != expected:
        pytest.fail(describe(page, actual, expected), pytrace=False)


@pytest.mark.parametrize("page", PAGES)
def test_title_and_language(records: dict[str, dict], page: str) -> None:
    assert page in records, f"{page}: no record (dropped?)"
    record = records[page]
    assert record["title"] == META[page]["title"]
    assert record["language"] == META[page]["language"]


@pytest.mark.parametrize("page", ADVERSARIAL)
def test_adversarial_content_kept(records: dict[str, dict], page: str) -> None:
    """Content that looks like noise (rates, temperatures, equal list items) must survive.

    A snippet listed twice in `must_contain` must occur (at least) twice in the text.
    """
    assert page in records, f"{page}: no record (dropped?)"
    text = records[page]["text"]
    wanted = META[page]["must_contain"]
    lost = sorted({s for s in wanted if text.count(s) < wanted.count(s)})
    assert not lost, f"{page}: lost content:\n" + "\n".join(f"  {s}" for s in lost)
