"""Shared test fixtures: a loopback server for fixtures/sites/, crawl runners, schema checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from newscrawl.fixtures import EXPECTED, SITES
from newscrawl.localserver import serve_directory
from newscrawl.schema import schema_errors

ROOT = Path(__file__).resolve().parent.parent

# Crawls in tests (in-process and `scrapy crawl` subprocesses, which inherit the environment)
# forget what they wrote: a persistent state store would make one test's crawl skip the
# articles another test already wrote. Tests of the state store pass NEWSCRAWL_STATE.
os.environ["NEWSCRAWL_STATE"] = "memory://"


@pytest.fixture(scope="session")
def site_server() -> Iterator[str]:
    """Base URL of a local HTTP server serving fixtures/sites/ (each site is a sub-folder)."""
    with serve_directory(SITES) as base_url:
        yield base_url


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse a JSONL output file, checking every line against the article schema."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        record = json.loads(line)
        errors = schema_errors(record)
        assert not errors, f"{path}:{number}: {errors}"
        records.append(record)
    return records


def scrapy_crawl(
    spider: str,
    out: Path,
    *args: str,
    settings: dict[str, Any] | None = None,
    timeout: float = 180,
    launcher: Sequence[str] = ("-m", "scrapy"),
) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl SPIDER ... -O out.jsonl` in a subprocess, from the project directory;
    `launcher`: what the interpreter runs instead of `-m scrapy` (code that calls Scrapy's
    `execute()`)."""
    command = [sys.executable, *launcher, "crawl", spider, "-O", f"{out}:jsonl"]
    merged = {
        "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES": "1",
        "AUTOTHROTTLE_ENABLED": "0",
        "DOWNLOAD_DELAY": "0",
        "LOG_LEVEL": "INFO",
        **(settings or {}),
    }
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    command += list(args)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def expected_text(site: str, page_path: str) -> str:
    """The hand-written clean body of a fixture page (fixtures/expected/<site>/<path>.txt)."""
    path = EXPECTED / site / Path(page_path.lstrip("/")).with_suffix(".txt")
    return path.read_text(encoding="utf-8").strip("\n")


@pytest.fixture(scope="session")
def news_server() -> Iterator[str]:
    """Base URL of a server with fixtures/sites/news/ at its root, so that its robots.txt
    is the host's /robots.txt (robots rules only apply there)."""
    with serve_directory(SITES / "news") as base_url:
        yield base_url
