"""A crawl killed with SIGKILL and restarted with the same JOBDIR finishes the work:
every article ends up in the output exactly once across both runs' files, none broken."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from newscrawl.fixtures import SITES
from newscrawl.localserver import FixtureHandler
from tests.conftest import ROOT, read_jsonl

ARTICLES = sorted(SITES.joinpath("incremental", "news").glob("*.html"))
# Seconds the server takes per article page: slow enough to kill the crawl mid-way.
ARTICLE_DELAY = 0.6


class SlowArticles(FixtureHandler):
    def send_head(self) -> Any:
        if "/news/" in self.path:
            time.sleep(ARTICLE_DELAY)
        return super().send_head()


@contextmanager
def slow_server(root: Path) -> Iterator[str]:
    handler = functools.partial(SlowArticles, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.base_url = base_url  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()


def crawl_command(base: str, tmp: Path, run: int, spider: str) -> list[str]:
    urls = ",".join(f"{base}/incremental/news/{page.name}" for page in ARTICLES)
    settings = {
        "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES": "1",
        "NEWSCRAWL_STATE": f"sqlite:///{tmp / 'state.db'}",
        "NEWSCRAWL_STATS_FILE": str(tmp / f"stats-{run}.json"),
        "NEWSCRAWL_EXTRACT_WORKERS": "0",
        # the killed run's temporary file is removed, not salvaged: its articles are not
        # committed to the state store, so the resumed run fetches them again
        "NEWSCRAWL_FEED_RECOVER": "0",
        "JOBDIR": str(tmp / "job"),
        "CONCURRENT_REQUESTS": "1",
        "AUTOTHROTTLE_ENABLED": "0",
        "DOWNLOAD_DELAY": "0",
        # two articles per output file: files are committed while the crawl runs
        "FEED_EXPORT_BATCH_ITEM_COUNT": "2",
    }
    if spider == "articles":
        arguments = ["-a", f"urls={urls}"]
    else:  # discovery: the sitemap is fetched again by the resumed run
        arguments = ["-a", f"sitemap={base}/incremental/sitemap.xml"]
    command = [sys.executable, "-m", "scrapy", "crawl", spider, *arguments]
    # FEEDS itself (not -O, which adds to the project's default feed): one batched feed
    feed = {f"{tmp / 'out'}/run{run}-%(batch_id)d.jsonl": {"format": "jsonl"}}
    command += ["-s", f"FEEDS={json.dumps(feed)}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    return command


def output_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.jsonl"))


@pytest.mark.parametrize("spider", ["articles", "sitemap"])
def test_sigkill_then_resume_writes_each_article_once(tmp_path: Path, spider: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "out"
    with slow_server(SITES) as base:
        first = subprocess.Popen(
            crawl_command(base, tmp_path, 1, spider),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not output_files(out) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        killed_files = output_files(out)
        from_first = [r["url"] for path in killed_files for r in read_jsonl(path)]
        assert 0 < len(from_first) < len(ARTICLES), "kill the crawl mid-way"
        assert (tmp_path / "job" / "newscrawl.running").exists()

        second = subprocess.run(
            crawl_command(base, tmp_path, 2, spider),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert second.returncode == 0, second.stderr[-3000:]
    files = output_files(out)
    urls = Counter(r["url"] for path in files for r in read_jsonl(path))  # all lines valid
    assert sorted(urls) == sorted(f"{base}/incremental/news/{p.name}" for p in ARTICLES)
    assert set(urls.values()) == {1}, f"articles written twice: {urls}"
    assert not list(out.glob(".*.part")), "a temporary file was left behind"
    stats = json.loads((tmp_path / "stats-2.json").read_text(encoding="utf-8"))
    assert stats["newscrawl/skipped/seen"] == len(from_first)
    assert stats["newscrawl/resumed-after-kill"] == 1
    assert not (tmp_path / "job" / "newscrawl.running").exists()  # a clean stop
