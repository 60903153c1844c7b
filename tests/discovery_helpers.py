"""Helpers for the discovery-spider tests: the news site's expected articles, crawl runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newscrawl.fixtures import EXPECTED
from tests.conftest import read_jsonl, scrapy_crawl

# Each crawl forgets what it wrote, extracts inline and writes only the -O file.
SETTINGS = {"NEWSCRAWL_STATE": "memory://", "NEWSCRAWL_EXTRACT_WORKERS": "0", "FEEDS": "{}"}


def news_expected() -> dict[str, Any]:
    """fixtures/expected/news/articles.json, written by fixtures/sites/news/_build.py."""
    data: dict[str, Any] = json.loads((EXPECTED / "news" / "articles.json").read_text("utf-8"))
    return data


def allowed(paths: list[str] | set[str]) -> set[str]:
    """The paths robots.txt lets a crawler fetch."""
    prefix = news_expected()["disallowed_prefix"]
    return {p for p in paths if not p.startswith(prefix)}


def all_articles() -> set[str]:
    return {a["path"] for a in news_expected()["articles"]}


def crawl(
    spider: str,
    out: Path,
    *arguments: str,
    settings: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Run `scrapy crawl` with `-a` arguments; (records, log). Fails on a non-zero exit."""
    args = [part for argument in arguments for part in ("-a", argument)]
    result = scrapy_crawl(spider, out, *args, settings={**SETTINGS, **(settings or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return read_jsonl(out), result.stderr


def site_paths(records: list[dict[str, Any]], base: str, field: str = "final_url") -> list[str]:
    """Paths relative to the site root of each record's URL (duplicates kept)."""
    prefix = base.rstrip("/") + "/"
    paths = []
    for record in records:
        url = record[field]
        assert url.startswith(prefix), f"{url} is not on the fixture site {prefix}"
        paths.append(url[len(prefix) :])
    return paths


def unique_paths(records: list[dict[str, Any]], base: str) -> set[str]:
    """The set of final URL paths, asserting there is no duplicate record."""
    paths = site_paths(records, base)
    assert len(paths) == len(set(paths)), f"duplicates: {sorted(paths)}"
    return set(paths)
