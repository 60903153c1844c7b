"""Atomic output: files appear complete with a manifest, or not at all; crashes are recovered."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from newscrawl.commands.validate import validate_file
from newscrawl.feeds import AtomicFileFeedStorage, create_locked_temp, sweep_stale_temps
from newscrawl.reporting import manifest_path
from newscrawl.schema import schema_errors
from tests.output_helpers import (
    crawl_command,
    demo_urls,
    feeds,
    run_crawl,
    slow_server,
    visible_files,
)

CONTEXT: dict[str, Any] = {
    "run_id": "run-1",
    "started_at": "2026-01-01T00:00:00Z",
    "run": None,
    "run_complete": True,
    "spider": "articles",
}


def read_records(path: Path) -> list[dict[str, Any]]:
    """Complete records of a (possibly gzipped, possibly still growing) JSONL file."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompressobj(wbits=31).decompress(data)
    complete = data[: data.rfind(b"\n") + 1]
    records = [json.loads(line) for line in complete.splitlines()]
    for record in records:
        assert not schema_errors(record), schema_errors(record)
    return records


def lines(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_file_appears_only_when_the_feed_closes(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    handle = storage.open(spider=None)  # type: ignore[arg-type]
    handle.write(lines({"n": 1}, {"n": 2}))
    assert not target.exists()
    assert visible_files(tmp_path) == []
    storage.finish(handle, CONTEXT)
    assert target.read_bytes() == lines({"n": 1}, {"n": 2})
    manifest = json.loads(manifest_path(target).read_text())
    assert manifest["records"] == 2
    assert manifest["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert manifest["run_id"] == "run-1" and manifest["file"] == "out.jsonl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.manifest.json"]


def test_overwriting_replaces_data_and_manifest(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    for run, records in (("run-1", 3), ("run-2", 1)):
        storage = AtomicFileFeedStorage(
            str(target), feed_options={"format": "jsonl", "overwrite": True}
        )
        handle = storage.open(spider=None)  # type: ignore[arg-type]
        handle.write(lines(*({"n": n} for n in range(records))))
        storage.finish(handle, {**CONTEXT, "run_id": run})
    manifest = json.loads(manifest_path(target).read_text())
    assert manifest["records"] == 1 and manifest["run_id"] == "run-2"
    assert target.read_bytes() == lines({"n": 0})


def test_append_mode_keeps_earlier_records(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(lines({"n": 0}))
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    handle = storage.open(spider=None)  # type: ignore[arg-type]
    handle.write(lines({"n": 1}))
    assert target.read_bytes() == lines({"n": 0})  # untouched while the run writes
    storage.finish(handle, CONTEXT)
    assert target.read_bytes() == lines({"n": 0}, {"n": 1})
    assert json.loads(manifest_path(target).read_text())["records"] == 2


def dead_writer_temp(final: Path, data: bytes) -> Path:
    """A temporary file as a killed run leaves it: written, never renamed, lock released."""
    handle, temp = create_locked_temp(final)
    handle.write(data)
    handle.close()
    return temp


def test_stale_temp_is_recovered_up_to_its_last_complete_line(tmp_path: Path) -> None:
    temp = dead_writer_temp(tmp_path / "out.jsonl", lines({"n": 1}, {"n": 2}) + b'{"n": 3, "te')
    [recovered] = sweep_stale_temps(tmp_path, recover=True)
    assert not temp.exists()
    assert recovered.name.startswith("out.recovered-") and recovered.name.endswith(".jsonl")
    assert recovered.read_bytes() == lines({"n": 1}, {"n": 2})
    manifest = json.loads(manifest_path(recovered).read_text())
    assert manifest["records"] == 2 and manifest["recovered_from"] == temp.name


def test_stale_gzip_temp_is_recovered(tmp_path: Path) -> None:
    whole = gzip.compress(lines({"n": 1}, {"n": 2}))
    cut = gzip.compress(lines({"n": 3}, {"n": 4}))[:-12]  # a second member, truncated
    dead_writer_temp(tmp_path / "out.jsonl.gz", whole + cut)
    [recovered] = sweep_stale_temps(tmp_path, recover=True)
    assert recovered.name.endswith(".jsonl.gz")
    got = [json.loads(x) for x in gzip.decompress(recovered.read_bytes()).splitlines()]
    assert got[:2] == [{"n": 1}, {"n": 2}]
    assert {"n": 1} in got and len(got) <= 4


def test_gz_name_is_gzipped_and_recoverable_after_a_crash(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl.gz"
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    handle = storage.open(spider=None)  # type: ignore[arg-type]
    handle.write(lines({"n": 1}))
    handle.write(lines({"n": 2}))
    # What a SIGKILL now would leave: the temporary file as it is on disk.
    assert storage.temp is not None
    dead_writer_temp(tmp_path / "crashed.jsonl.gz", storage.temp.read_bytes())
    [recovered] = sweep_stale_temps(tmp_path, recover=True)
    assert gzip.decompress(recovered.read_bytes()) == lines({"n": 1}, {"n": 2})
    storage.finish(handle, CONTEXT)
    assert gzip.decompress(target.read_bytes()) == lines({"n": 1}, {"n": 2})
    manifest = json.loads(manifest_path(target).read_text())
    assert manifest["compression"] == "gzip" and manifest["records"] == 2


def test_live_writers_temp_is_left_alone(tmp_path: Path) -> None:
    handle, temp = create_locked_temp(tmp_path / "out.jsonl")
    handle.write(lines({"n": 1}))
    try:
        assert sweep_stale_temps(tmp_path, recover=True) == []
        assert temp.exists()
    finally:
        handle.close()


def test_stale_temp_without_records_or_recovery_is_removed(tmp_path: Path) -> None:
    empty = dead_writer_temp(tmp_path / "a.jsonl", b'{"half')
    other = dead_writer_temp(tmp_path / "b.jsonl", lines({"n": 1}))
    assert sweep_stale_temps(tmp_path, recover=False) == []
    assert not empty.exists() and not other.exists()
    assert list(tmp_path.iterdir()) == []


def test_gzip_and_rotation_keep_working(site_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats_file = tmp_path / "stats.json"
    result = run_crawl(
        "articles",
        "-a",
        "urls=" + ",".join(demo_urls(site_server)),
        cwd=tmp_path,
        settings={
            "FEEDS": feeds(
                out / "part-%(batch_id)d.jsonl.gz",
                batch_item_count=4,
                postprocessing=["scrapy.extensions.postprocessing.GzipPlugin"],
            ),
            "NEWSCRAWL_STATS_FILE": str(stats_file),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads(stats_file.read_text())
    written = stats["item_scraped_count"]
    assert written >= 8  # the demo site has 10 articles
    data = sorted(out.glob("*.jsonl.gz"))
    assert [p.name for p in data] == [f"part-{i}.jsonl.gz" for i in range(1, len(data) + 1)]
    assert len(data) == -(-written // 4)
    manifests = [json.loads(manifest_path(p).read_text()) for p in data]
    assert sum(m["records"] for m in manifests) == written
    assert {m["run_id"] for m in manifests} == {stats["newscrawl/run_id"]}
    assert all(m["compression"] == "gzip" for m in manifests)
    assert manifests[-1]["run_complete"] is True
    for path in data:
        check = validate_file(path, require_manifest=True)
        assert check.ok, check.describe()
    assert not list(out.glob(".*"))  # no temporary file left


def test_reader_polling_during_a_crawl_never_sees_a_bad_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with slow_server(0.15) as base:
        command, env = crawl_command(
            "articles",
            "-a",
            "urls=" + ",".join(demo_urls(base)),
            settings={
                "FEEDS": feeds(out / "part-%(batch_id)d.jsonl", batch_item_count=2),
                "CONCURRENT_REQUESTS": "1",
            },
        )
        crawl = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        seen_while_running: set[str] = set()
        checks = 0
        try:
            while crawl.poll() is None:
                for path in visible_files(out):
                    if path.name.endswith(".manifest.json"):
                        continue
                    check = validate_file(path)
                    assert check.ok, check.describe()
                    checks += 1
                    seen_while_running.add(path.name)
                time.sleep(0.02)
        finally:
            crawl.kill() if crawl.poll() is None else None
            _, stderr = crawl.communicate()
    assert crawl.returncode == 0, stderr.decode()[-3000:]
    assert len(seen_while_running) >= 2, "the crawl ended before the reader saw files appear"
    assert checks > 10
    for path in visible_files(out):
        if not path.name.endswith(".manifest.json"):
            assert validate_file(path, require_manifest=True).ok


@pytest.mark.parametrize("name", ["articles.jsonl", "articles.jsonl.gz"])
def test_killed_crawl_leaves_no_broken_file_and_the_next_run_recovers(
    tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    state = f"sqlite:///{tmp_path / 'state.db'}"
    settings = {
        "FEEDS": feeds(out / name, overwrite=True),
        "CONCURRENT_REQUESTS": "1",
        "NEWSCRAWL_STATE": state,
    }
    with slow_server(0.2) as base:
        urls = demo_urls(base)
        command, env = crawl_command("articles", "-a", "urls=" + ",".join(urls), settings=settings)
        crawl = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and crawl.poll() is None:
            temps = list(out.glob(".*.part")) if out.exists() else []
            if temps and len(read_records(temps[0])) >= 3:
                break
            time.sleep(0.02)
        assert crawl.poll() is None, "the crawl finished before it could be killed"
        os.kill(crawl.pid, signal.SIGKILL)
        crawl.wait()
        assert visible_files(out) == []  # nothing half-written is visible
        [temp] = list(out.glob(".*.part"))

        second = run_crawl(
            "articles", "-a", "urls=" + ",".join(urls), cwd=tmp_path, settings=settings
        )
    assert second.returncode == 0, second.stderr[-3000:]
    assert not temp.exists()
    data = [p for p in visible_files(out) if not p.name.endswith(".manifest.json")]
    assert len(data) == 2 and any(".recovered-" in p.name for p in data)
    records = []
    for path in data:
        assert validate_file(path, require_manifest=True).ok, validate_file(path).describe()
        records += read_records(path)
    written = [r["url"] for r in records]
    assert len(written) == len(set(written))  # nothing written twice across the two runs
    assert set(written) == set(urls)  # and nothing lost
    assert "Recovered" in second.stderr
