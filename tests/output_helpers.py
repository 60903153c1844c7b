"""Helpers for the output-contract tests: demo URLs, a slowed fixture server, crawl runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newscrawl.fixtures import SITES
from newscrawl.localserver import FixtureHandler, serve_directory

ROOT = Path(__file__).resolve().parent.parent

# Settings every crawl here uses: the local server, no throttling, a state store that
# forgets (each test starts clean), extraction inline (no worker processes to orphan
# when a test kills the crawl), and no default output folder in the repository.
BASE_SETTINGS: dict[str, str] = {
    "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES": "1",
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "NEWSCRAWL_STATE": "memory://",
    "NEWSCRAWL_EXTRACT_WORKERS": "0",
    "FEEDS": "{}",
}


def demo_urls(base_url: str) -> list[str]:
    """Article URLs of the demo site, from its sitemap, for a server serving fixtures/sites/."""
    sitemap = (SITES / "demo" / "sitemap.xml").read_text(encoding="utf-8")
    return [
        loc.replace("{{BASE}}", f"{base_url}/demo") for loc in re.findall(r"<loc>([^<]+)", sitemap)
    ]


def crawl_command(
    spider: str, *args: str, settings: dict[str, Any] | None = None
) -> tuple[list[str], dict[str, str]]:
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in {**BASE_SETTINGS, **(settings or {})}.items():
        if not isinstance(value, str):
            value = json.dumps(value)
        command += ["-s", f"{name}={value}"]
    command += list(args)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCRAPY_SETTINGS_MODULE": "newscrawl.settings"}
    return command, env


def run_crawl(
    spider: str,
    *args: str,
    cwd: Path,
    settings: dict[str, Any] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl` in a subprocess with `cwd` as working folder (relative paths land there)."""
    command, env = crawl_command(spider, *args, settings=settings)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def feeds(path: Path, **options: Any) -> dict[str, Any]:
    return {str(path): {"format": "jsonl", "encoding": "utf-8", **options}}


class SlowHandler(FixtureHandler):
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        super().do_GET()


@contextmanager
def slow_server(delay: float) -> Iterator[str]:
    """Like the `site_server` fixture, but every response waits `delay` seconds."""
    handler = type("Slow", (SlowHandler,), {"delay": delay})
    with serve_directory(SITES, handler=handler) as base_url:
        yield base_url


def visible_files(folder: Path) -> list[Path]:
    """What a downstream job listing the folder sees (it skips dot-files)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
