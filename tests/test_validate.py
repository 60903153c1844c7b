"""`newscrawl validate`: the first bad line of each bad file, by number and reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from newscrawl.cli import main
from newscrawl.commands.validate import validate_file
from newscrawl.feeds import AtomicFileFeedStorage
from newscrawl.items import SCHEMA_VERSION, Article
from newscrawl.reporting import manifest_path


def record(n: int) -> dict[str, Any]:
    article = Article(
        url=f"https://news.example/a/{n}.html",
        final_url=f"https://news.example/a/{n}.html",
        canonical_url=f"https://news.example/a/{n}.html",
        site="news.example",
        site_name=None,
        title=f"Title {n}",
        paragraphs=[f"Paragraph one of article {n}.", "Paragraph two."],
        fetched_at="2026-11-20T10:00:00Z",
        http_status=200,
        spider="articles",
        source="urls",
    )
    return article.to_record()


def jsonl(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def published(folder: Path, name: str, data: bytes) -> Path:
    """A file written through the feed storage, so it has a real manifest."""
    target = folder / name
    storage = AtomicFileFeedStorage(str(target), feed_options={"format": "jsonl"})
    handle = storage.open(spider=None)  # type: ignore[arg-type]
    handle.write(data)
    context = {"run_id": "r", "started_at": "", "run": None, "run_complete": True, "spider": "s"}
    storage.finish(handle, context)
    return target


def test_good_file_with_manifest_passes(tmp_path: Path, capsys: Any) -> None:
    path = published(tmp_path, "good.jsonl", jsonl(record(1), record(2)))
    check = validate_file(path, require_manifest=True)
    assert check.ok and check.records == 2 and check.manifest
    assert main(["validate", str(tmp_path)]) == 0
    assert "good.jsonl: ok, 2 records, manifest ok" in capsys.readouterr().out


def test_gzip_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "good.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(record(1), record(2), record(3))))
    check = validate_file(path)
    assert check.ok and check.records == 3 and not check.manifest


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (jsonl(record(1)) + b'{"schema_version": 1, "url"', 2, "incomplete last line"),
        (jsonl(record(1), record(2)) + b"not json\n", 3, "not valid JSON"),
        (jsonl(record(1)) + b"[1, 2]\n", 2, "not a JSON object"),
        (jsonl(record(1), {**record(2), "url": 5}), 2, "schema: url:"),
        (jsonl({k: v for k, v in record(1).items() if k != "text"}), 1, "'text' is a required"),
        (b"\xff\xfe\n", 1, "not valid JSON"),
    ],
)
def test_first_bad_line_is_named(
    tmp_path: Path, capsys: Any, data: bytes, line: int, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    check = validate_file(path)
    assert not check.ok and check.line == line and reason in str(check.reason)
    assert main(["validate", str(path)]) == 1
    assert f"{path}:{line}: " in capsys.readouterr().err


def test_truncated_gzip_fails(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*(record(n) for n in range(50))))[:-40])
    check = validate_file(path)
    assert not check.ok and check.line is not None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"records": 3}, "2 records, the manifest says 3"),
        ({"sha256": "0" * 64}, "sha256"),
        ({"schema_version": SCHEMA_VERSION + 1}, "schema_version"),
        ({"file": "other.jsonl"}, "describes 'other.jsonl'"),
    ],
)
def test_manifest_mismatch_fails(tmp_path: Path, change: dict[str, Any], reason: str) -> None:
    path = published(tmp_path, "out.jsonl", jsonl(record(1), record(2)))
    mpath = manifest_path(path)
    mpath.write_text(json.dumps({**json.loads(mpath.read_text()), **change}))
    check = validate_file(path)
    assert not check.ok and "manifest mismatch" in str(check.reason) and reason in str(check.reason)


def test_file_changed_after_its_manifest_fails(tmp_path: Path) -> None:
    path = published(tmp_path, "out.jsonl", jsonl(record(1)))
    with path.open("ab") as handle:
        handle.write(jsonl(record(2)))
    assert not validate_file(path).ok


def test_missing_manifest_fails_only_when_required(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_bytes(jsonl(record(1)))
    assert validate_file(path).ok
    assert main(["validate", "--require-manifest", str(path)]) == 1
    assert "no manifest" in capsys.readouterr().err


def test_every_bad_file_is_named_and_usage_errors_exit_2(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"{}\n")
    (tmp_path / "b.jsonl").write_bytes(jsonl(record(1)))
    (tmp_path / "c.jsonl").write_bytes(b"x")
    assert main(["validate", "-q", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "a.jsonl:1:" in err and "c.jsonl:1:" in err and "b.jsonl" not in err
    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 2


def test_temporary_files_left_by_a_crash_are_noted(tmp_path: Path, capsys: Any) -> None:
    published(tmp_path, "done.jsonl", jsonl(record(1)))
    (tmp_path / ".next.jsonl.0123abcd.part").write_bytes(jsonl(record(2)))
    assert main(["validate", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert ".next.jsonl.0123abcd.part was left by a crashed run" in err
