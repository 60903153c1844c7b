"""The run report: the crawl's log, `newscrawl report` and its HTML page show the stats' numbers."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from newscrawl.cli import main
from newscrawl.htmlreport import fill_days, length_histogram, render_html
from newscrawl.reporting import (
    Summary,
    find_data_files,
    format_summary,
    read_outputs,
    summary_from_stats,
)
from tests.output_helpers import demo_urls, feeds, run_crawl


@pytest.fixture(scope="module")
def crawled(site_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One crawl of the demo site plus a missing page, rotated into gzip batches."""
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "out"
    stats_file = tmp / "stats.json"
    result = run_crawl(
        "articles",
        "-a",
        "urls=" + ",".join([*demo_urls(site_server), f"{site_server}/demo/no-such-page.html"]),
        cwd=tmp,
        settings={
            "FEEDS": feeds(
                out / "articles-%(batch_id)d.jsonl.gz",
                batch_item_count=3,
                postprocessing=["scrapy.extensions.postprocessing.GzipPlugin"],
            ),
            "NEWSCRAWL_STATS_FILE": str(stats_file),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "stats": json.loads(stats_file.read_text()), "log": result.stderr}


def numbers(text: str) -> dict[str, int]:
    """`label   N` lines of a printed summary (totals and per-reason lines)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"^\s+(\S.*?)\s{2,}(\d+)$", line)
        if match:
            found.setdefault(match[1], int(match[2]))
    return found


def under(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}


def expected_numbers(stats: dict[str, Any]) -> dict[str, int]:
    """What the report must say, read straight from the raw Scrapy stats."""
    removed = under(stats, "newscrawl/removed/")
    errors = under(stats, "newscrawl/errors/")
    return {
        "pages fetched": stats["newscrawl/pages/fetched"],
        "articles written": stats["item_scraped_count"],
        "skipped as seen": sum(under(stats, "newscrawl/skipped/").values()),
        "dropped": sum(under(stats, "newscrawl/dropped/").values()),
        "paragraphs removed": sum(removed.values()),
        "errors": sum(errors.values()),
        **removed,
        **errors,
    }


def test_the_log_ends_with_the_summary_of_the_stats(crawled: dict[str, Any]) -> None:
    stats = crawled["stats"]
    block = crawled["log"].split("newscrawl run report", 1)[1].split("\n20", 1)[0]
    assert numbers(block) == {**numbers(block), **expected_numbers(stats)}
    assert stats["newscrawl/errors/http:404"] == 1
    assert stats["newscrawl/pages/fetched"] == len(demo_urls("x"))


def test_report_numbers_equal_the_stats(crawled: dict[str, Any], capsys: Any) -> None:
    stats = crawled["stats"]
    assert main(["report", str(crawled["out"])]) == 0
    printed = capsys.readouterr().out
    got = numbers(printed)
    for label, value in expected_numbers(stats).items():
        assert got.get(label) == value, (label, printed)
    assert got["records in files"] == stats["item_scraped_count"]
    assert stats["newscrawl/run/summary"]["articles_written"] == stats["item_scraped_count"]


def test_report_without_manifests_uses_the_records(crawled: dict[str, Any], tmp_path: Path) -> None:
    for path in find_data_files([crawled["out"]]):
        shutil.copy(path, tmp_path / path.name)
    report = read_outputs(find_data_files([tmp_path]))
    summary = report.summary()
    assert report.runs == {}
    assert summary.articles_written == crawled["stats"]["item_scraped_count"]
    # Removals counted from the records' `cleaning` fields of the written articles.
    assert sum(summary.removed.values()) == sum(report.removed.values())
    assert summary.pages_fetched == 0


def test_runs_add_up(crawled: dict[str, Any], tmp_path: Path) -> None:
    for run in ("one", "two"):
        for path in find_data_files([crawled["out"]]):
            target = tmp_path / f"{run}-{path.name}"
            shutil.copy(path, target)
            manifest = json.loads(Path(f"{path}.manifest.json").read_text())
            manifest.update(file=target.name, run_id=run)
            Path(f"{target}.manifest.json").write_text(json.dumps(manifest))
    report = read_outputs(find_data_files([tmp_path]))
    summary = report.summary()
    stats = crawled["stats"]
    assert summary.runs == 2
    files = len(list(find_data_files([crawled["out"]])))
    assert {r: i["files"] for r, i in report.run_info.items()} == {"one": files, "two": files}
    html = render_html(report)
    assert "<h2>Runs</h2>" in html and ">one</td>" in html and ">two</td>" in html
    assert summary.articles_written == 2 * stats["item_scraped_count"]
    assert summary.pages_fetched == 2 * stats["newscrawl/pages/fetched"]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_report_is_self_contained_with_charts(crawled: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    assert main(["report", str(crawled["out"]), "--html", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(html)
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names and "link" not in names and "img" not in names
    assert not [a for _, a in parser.tags if any(k in a for k in ("src", "href"))]
    assert names.count("svg") == 5  # per site, per day, per rule, text length, languages
    for heading in ("Articles per site", "Articles per day", "removed per rule", "Text length"):
        assert heading in html
    stats = crawled["stats"]
    # The per-site bar carries the number of articles of the (single) site.
    assert f">{stats['item_scraped_count']}</text>" in html
    for rule in under(stats, "newscrawl/removed/"):
        assert rule in html


@pytest.mark.parametrize(
    ("stats", "failed"),
    [
        ({"newscrawl/pages/fetched": 3}, False),
        ({"newscrawl/pages/fetched": 0, "newscrawl/errors/http:404": 1}, True),
        ({"newscrawl/pages/fetched": 0}, True),  # nothing to do at all
        ({"item_scraped_count": 2}, False),  # saved pages read without a download
        ({"newscrawl/dropped/quality:too-short": 1}, False),
        ({"newscrawl/pages/fetched": 0, "newscrawl/skipped/seen": 10}, False),  # all known
        (
            {
                "newscrawl/skipped/seen": 4,
                "downloader/exception_type_count/twisted.internet.error.TimeoutError": 2,
            },
            True,
        ),
        ({"downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 1}, True),
    ],
)
def test_outright_failure(stats: dict[str, Any], failed: bool) -> None:
    summary = summary_from_stats(stats)
    assert summary.failed is failed
    assert ("FAILED" in format_summary(summary)) is failed


def test_ignored_requests_are_not_errors() -> None:
    summary = summary_from_stats(
        {
            "downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 2,
            "downloader/exception_type_count/twisted.internet.error.DNSLookupError": 1,
        }
    )
    assert dict(summary.errors) == {"download:DNSLookupError": 1}
    assert Summary.from_dict(summary.to_dict()).to_dict() == summary.to_dict()


def test_days_are_filled_and_lengths_binned() -> None:
    from collections import Counter

    days = fill_days(Counter({"2026-11-01": 2, "2026-11-04": 1, "unknown": 1}))
    assert days == [
        ("2026-11-01", 2),
        ("2026-11-02", 0),
        ("2026-11-03", 0),
        ("2026-11-04", 1),
        ("unknown", 1),
    ]
    bins = length_histogram([10, 950, 990, 2400])
    assert sum(n for _, n in bins) == 4
    assert bins[0][0].startswith("0–")
