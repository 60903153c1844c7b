"""The extract stage in a real crawl: worker pool vs inline, bad pages, Ctrl-C, settings."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from newscrawl.config import SettingError
from newscrawl.fixtures import site_root
from newscrawl.items import Page
from newscrawl.localserver import serve_directory
from newscrawl.workers import START_METHOD
from pipelines.extract import ExtractPipeline
from tests.conftest import ROOT, read_jsonl, scrapy_crawl
from tests.extract_hooks import CRASH, FAIL, HANG, SLOW
from tests.golden import demo_article_paths

HOOK = "tests.extract_hooks.misbehaving_extract"
BAD = {"crash": CRASH, "hang": HANG, "fail": FAIL}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The demo site plus copies of one article under misbehaving names and 30 slow copies.

    Served at the root of its own server because the demo pages use root-relative links.
    """
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(site_root("demo"), root, dirs_exist_ok=True)
    articles = demo_article_paths()
    model = root / articles[0].lstrip("/")
    for marker in [*BAD.values(), *(f"{SLOW}{n}" for n in range(30))]:
        shutil.copy(model, root / f"{marker}.html")
    with serve_directory(root) as base_url:
        yield base_url, articles


def url_file(tmp_path: Path, urls: list[str]) -> str:
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return str(path)


def crawl(
    tmp_path: Path, urls: list[str], **settings: Any
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.jsonl"
    result = scrapy_crawl(
        "articles", out, "-a", f"url_file={url_file(tmp_path, urls)}", settings=settings
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return read_jsonl(out), result


def by_url(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: {k: v for k, v in r.items() if k != "fetched_at"} for r in records}


def test_pool_and_inline_give_identical_records(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, articles = site
    urls = [base + path for path in articles]
    inline, _ = crawl(tmp_path, urls, NEWSCRAWL_EXTRACT_WORKERS=0)
    pooled, result = crawl(tmp_path, urls, NEWSCRAWL_EXTRACT_WORKERS=2)
    assert len(inline) == len(articles)
    assert by_url(pooled) == by_url(inline)
    assert "extracting in 2 worker processes" in result.stderr
    assert "cleaning stages normalize, duplicates, widgets there too" in result.stderr


def test_crash_hang_and_error_cost_only_their_page(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, articles = site
    bad = {kind: f"{base}/{marker}.html" for kind, marker in BAD.items()}
    urls = [base + path for path in articles]
    records, result = crawl(
        tmp_path,
        [*urls[:3], *bad.values(), *urls[3:]],
        NEWSCRAWL_EXTRACT_WORKERS=2,
        NEWSCRAWL_EXTRACT_TIMEOUT=2,
        NEWSCRAWL_EXTRACT_FUNCTION=HOOK,
    )
    assert sorted(r["url"] for r in records) == sorted(urls)
    log = result.stderr
    assert "'newscrawl/errors/extract-crash': 1" in log
    assert "'newscrawl/errors/extract-timeout': 1" in log
    assert "'newscrawl/errors/extract': 1" in log
    for kind, url in [("extract-crash", bad["crash"]), ("extract-timeout", bad["hang"])]:
        assert f"extraction failed for {url} ({kind})" in log
        # the drop names the page by its URL; the page itself (its HTML) stays out of the log
        assert f"Dropped {url}: {kind}: " in log
    assert "<html" not in log.lower() and "Page(" not in log


def group_processes(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_stops_crawl_and_workers(site: tuple[str, list[str]], tmp_path: Path) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C does."""
    base, _ = site
    urls = [f"{base}/{SLOW}{n}.html" for n in range(30)]
    command = [sys.executable, "-m", "scrapy", "crawl", "articles", "-O", f"{tmp_path}/o.jsonl"]
    command += ["-a", f"url_file={url_file(tmp_path, urls)}"]
    for name, value in {
        "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES": 1,
        "AUTOTHROTTLE_ENABLED": 0,
        "DOWNLOAD_DELAY": 0,
        "CONCURRENT_REQUESTS": 2,
        "NEWSCRAWL_EXTRACT_WORKERS": 2,
        "NEWSCRAWL_EXTRACT_FUNCTION": HOOK,
    }.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pgid = process.pid
    try:
        deadline = time.monotonic() + 30
        while len(group_processes(pgid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(group_processes(pgid)) >= 3, "the crawl did not start its workers"
        time.sleep(1.0)  # some pages in the workers
        os.killpg(pgid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(pgid, signal.SIGKILL)
            process.wait()
    time.sleep(0.2)
    assert group_processes(pgid) == []
    assert "shutting down gracefully" in stderr
    assert "KeyboardInterrupt" not in stderr
    assert "'finish_reason': 'shutdown'" in stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSCRAWL_EXTRACT_WORKERS", "-1"),
        ("NEWSCRAWL_EXTRACT_WORKERS", "many"),
        ("NEWSCRAWL_EXTRACT_TIMEOUT", "soon"),
        ("NEWSCRAWL_EXTRACT_FUNCTION", "tests.extract_hooks.nothing_here"),
    ],
)
def test_bad_settings_fail_at_start_naming_the_setting(name: str, value: str) -> None:
    crawler = get_crawler(settings_dict={name: value})
    with pytest.raises(SettingError, match=name):
        ExtractPipeline.from_crawler(crawler)


def test_where_no_worker_can_start_pages_are_extracted_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(process: Any) -> None:
        raise OSError("no new processes in this sandbox")

    monkeypatch.setattr(multiprocessing.get_context(START_METHOD).Process, "start", refuse)
    crawler = get_crawler(settings_dict={"NEWSCRAWL_EXTRACT_WORKERS": 2})
    pipeline = ExtractPipeline.from_crawler(crawler)
    pipeline.open_spider()
    pages = [
        Page(
            url,
            url,
            200,
            (site_root("demo") / path.lstrip("/")).read_text(encoding="utf-8"),
            "2026-11-25T00:00:00+00:00",
            "test",
            "urls",
        )
        for path in demo_article_paths()[:6]
        for url in [f"https://demo.example.org{path}"]
    ]

    async def main() -> list[Any]:
        return await asyncio.gather(*(pipeline.process_item(page) for page in pages))

    try:
        articles = asyncio.run(main())
    finally:
        pipeline.close_spider()
    assert [a.url for a in articles] == [p.url for p in pages]
    assert all(a.paragraphs for a in articles)
    assert pipeline.pool is None
    assert crawler.stats.get_value("newscrawl/errors/extract-workers") == 1


def test_default_workers_is_cpu_count() -> None:
    pipeline = ExtractPipeline.from_crawler(get_crawler())
    assert pipeline.workers == len(os.sched_getaffinity(0))
    assert pipeline.pool is None  # started by open_spider, not before


def test_bad_extract_mode_fails_at_start_naming_the_setting(tmp_path: Path) -> None:
    result = scrapy_crawl(
        "articles", tmp_path / "out.jsonl", "-a", "urls=http://127.0.0.1:9/x",
        settings={"NEWSCRAWL_EXTRACT_MODE": "fastest"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "NEWSCRAWL_EXTRACT_MODE='fastest': expected one of" in result.stderr


def test_page_words_leave_out_scripts_and_styles() -> None:
    from trafilatura import load_html

    from pipelines.extract import _page_words

    html = (
        "<html><head><title>not counted</title></head><body><p>one two</p>"
        "<script>var a = 1;</script> three <style>p { color: red }</style>"
        "<div>four <span>five</span></div></body></html>"
    )
    assert _page_words(load_html(html)) == 5


def test_bad_worker_count_fails_at_start_naming_the_setting(tmp_path: Path) -> None:
    """`scrapy crawl` reads the worker count before building the crawler (to start the fork
    server early); a wrong value still fails once, with the setting's name."""
    result = scrapy_crawl(
        "articles", tmp_path / "out.jsonl", "-a", "urls=http://127.0.0.1:9/x",
        settings={"NEWSCRAWL_EXTRACT_WORKERS": "many"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "NEWSCRAWL_EXTRACT_WORKERS='many': expected an integer" in result.stderr
    assert "Traceback" not in result.stderr


def crawl_modules(tmp_path: Path, urls: list[str], workers: int) -> set[str]:
    """The modules the crawling process of `scrapy crawl articles` had imported at its exit."""
    seen, out = tmp_path / f"modules-{workers}.txt", tmp_path / f"modules-{workers}.jsonl"
    code = (
        "import atexit, sys\n"
        "SEEN = sys.argv.pop(1)\n"
        "atexit.register(lambda: open(SEEN, 'w').write('\\n'.join(sys.modules)))\n"
        "from scrapy.cmdline import execute\n"
        "execute()\n"
    )
    result = scrapy_crawl(
        "articles", out, "-a", f"url_file={url_file(tmp_path, urls)}",
        settings={"NEWSCRAWL_EXTRACT_WORKERS": workers}, launcher=("-c", code, str(seen)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_jsonl(out)) == len(urls)
    return set(seen.read_text(encoding="utf-8").split())


def test_a_crawl_with_workers_imports_neither_trafilatura_nor_scrapys_remote_control(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    """With extraction workers the crawling process never extracts, so it does not import
    trafilatura (whose import delayed the start of the workers' fork server); and no crawl
    imports Scrapy's remote-control extension, which is off and imports aiohttp."""
    base, articles = site
    urls = [base + path for path in articles[:3]]
    pooled = crawl_modules(tmp_path, urls, workers=2)
    inline = crawl_modules(tmp_path, urls, workers=0)
    assert "trafilatura" in inline and "trafilatura" not in pooled
    for modules in (pooled, inline):
        assert "scrapy.extensions.corestats" in modules
        assert not {"aiohttp", "scrapy.extensions.remote_control"} & modules
