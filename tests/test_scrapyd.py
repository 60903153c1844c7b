"""scrapyd end to end: start a real scrapyd, deploy with scrapyd-deploy, schedule, check JSONL."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newscrawl.commands.validate import validate_file
from tests.conftest import read_jsonl
from tests.output_helpers import ROOT, demo_urls

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
# What a deploy needs from the work tree: the egg is built from these (tests and
# fixtures are not part of it; this test serves the fixture site itself).
PROJECT_FILES = ["scrapy.cfg", "setup.py", "pyproject.toml", "README.md", "newscrawl", "pipelines"]
STARTUP_SECONDS = 20
JOB_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str, data: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=10) as response:
        loaded: dict[str, Any] = json.loads(response.read())
    return loaded


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A scrapyd on a free loopback port, with its eggs, logs and databases under tmp_path."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "\n".join(
            [
                "[scrapyd]",
                "bind_address = 127.0.0.1",
                f"http_port = {port}",
                f"eggs_dir = {home / 'eggs'}",
                f"logs_dir = {home / 'logs'}",
                f"dbs_dir = {home / 'dbs'}",
                "items_dir =",
                "max_proc = 1",
                "poll_interval = 0.2",
                "",
            ]
        )
    )
    log = (home / "scrapyd.out").open("wb")
    server = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if get_json(f"{url}/daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                pass
            assert server.poll() is None, (home / "scrapyd.out").read_text()
            assert time.monotonic() < deadline, "scrapyd did not start"
            time.sleep(0.2)
        yield url, home
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def deployable_copy(target: Path, scrapyd_url: str) -> Path:
    """The project's deploy files in a fresh folder, the [deploy] target aimed at `scrapyd_url`.

    A copy, so building the egg leaves no build/ or egg-info in the work tree.
    """
    target.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    config = (target / "scrapy.cfg").read_text()
    assert re.search(r"(?m)^\[deploy\]$", config) and "project = newscrawl" in config
    (target / "scrapy.cfg").write_text(
        re.sub(r"(?m)^url = .*$", f"url = {scrapyd_url}/", config, count=1)
    )
    return target


def test_deploy_schedule_and_read_the_output(
    scrapyd: tuple[str, Path], site_server: str, tmp_path: Path
) -> None:
    url, home = scrapyd
    project = deployable_copy(tmp_path / "project", url)
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "--version", "1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert '"status": "ok"' in deploy.stdout + deploy.stderr
    [egg] = (home / "eggs" / "newscrawl").glob("*.egg")
    names = zipfile.ZipFile(egg).namelist()
    assert "pipelines/extract.py" in names and "newscrawl/schema/article.schema.json" in names
    assert (
        get_json(f"{url}/listspiders.json?project=newscrawl")["spiders"]
        == [
            "articles",
            "files",
        ]
        or "articles" in get_json(f"{url}/listspiders.json?project=newscrawl")["spiders"]
    )

    out = tmp_path / "items" / "articles.jsonl"
    urls = demo_urls(site_server)
    scheduled = get_json(
        f"{url}/schedule.json",
        [
            ("project", "newscrawl"),
            ("spider", "articles"),
            ("urls", ",".join(urls)),
            ("setting", "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES=1"),
            ("setting", "NEWSCRAWL_STATE=memory://"),
            ("setting", "AUTOTHROTTLE_ENABLED=0"),
            ("setting", "DOWNLOAD_DELAY=0"),
            ("setting", "FEEDS=" + json.dumps({str(out): {"format": "jsonl"}})),
        ],
    )
    assert scheduled["status"] == "ok", scheduled
    job = scheduled["jobid"]

    deadline = time.monotonic() + JOB_SECONDS
    while True:
        jobs = get_json(f"{url}/listjobs.json?project=newscrawl")
        if any(j["id"] == job for j in jobs["finished"]):
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.3)

    log = (home / "logs" / "newscrawl" / "articles" / f"{job}.log").read_text()
    assert f"newscrawl run report (articles, run {job}): ok" in log, log[-3000:]
    records = read_jsonl(out)
    assert {r["url"] for r in records} <= set(urls)
    written = int(re.search(r"'item_scraped_count': (\d+)", log)[1])  # type: ignore[index]
    assert len(records) == written >= len(urls) - 2
    check = validate_file(out, require_manifest=True)
    assert check.ok, check.describe()
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    assert manifest["run_id"] == job and manifest["records"] == len(records)
