"""`scrapy crawl` exits non-zero when a crawl fails outright, so schedulers notice."""

from __future__ import annotations

import socket
from pathlib import Path

from newscrawl.commands_scrapy.crawl import CRAWL_FAILED
from tests.conftest import scrapy_crawl
from tests.output_helpers import demo_urls, feeds, run_crawl


def dead_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def crawl(tmp_path: Path, *urls: str) -> tuple[int, str]:
    result = run_crawl(
        "articles",
        "-a",
        "urls=" + ",".join(urls),
        cwd=tmp_path,
        settings={"FEEDS": feeds(tmp_path / "out.jsonl"), "RETRY_TIMES": "0"},
    )
    return result.returncode, result.stderr


def test_good_crawl_exits_0(site_server: str, tmp_path: Path) -> None:
    code, log = crawl(tmp_path, demo_urls(site_server)[0])
    assert code == 0, log[-3000:]
    assert "newscrawl run report (articles, run " in log and ": ok" in log


def test_partly_failed_crawl_still_exits_0(site_server: str, tmp_path: Path) -> None:
    code, log = crawl(tmp_path, demo_urls(site_server)[0], f"{site_server}/demo/missing.html")
    assert code == 0, log[-3000:]


def test_crawl_of_a_missing_page_exits_non_zero(site_server: str, tmp_path: Path) -> None:
    code, log = crawl(tmp_path, f"{site_server}/demo/missing.html")
    assert code == CRAWL_FAILED, log[-3000:]
    assert "FAILED (nothing fetched)" in log and "http:404" in log


def test_crawl_of_a_dead_port_exits_non_zero(tmp_path: Path) -> None:
    code, log = crawl(tmp_path, f"http://127.0.0.1:{dead_port()}/article.html")
    assert code == CRAWL_FAILED, log[-3000:]
    assert "download:" in log


def test_bad_argument_still_exits_1(tmp_path: Path) -> None:
    code, _ = crawl(tmp_path, "not-a-url")
    assert code == 1


def test_bad_setting_exits_1_with_one_line_naming_it(tmp_path: Path) -> None:
    result = scrapy_crawl(
        "articles",
        tmp_path / "out.jsonl",
        *("-a", "urls=http://127.0.0.1:9/a.html"),
        settings={"NEWSCRAWL_EXTRACT_TIMEOUT": "soon"},
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot start the crawl: NEWSCRAWL_EXTRACT_TIMEOUT='soon': expected a number" in last
    assert "Traceback" not in result.stderr
