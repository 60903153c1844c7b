"""`newscrawl clean` on bad input: a clear error naming what is wrong, or a named skip."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from newscrawl.fixtures import SITES
from tests.conftest import ROOT, read_jsonl

PAGE = SITES / "demo" / "en" / "2026" / "11" / "16" / "harbor-automation.html"


def clean(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newscrawl.cli", "clean", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_missing_path_is_named(tmp_path: Path) -> None:
    result = clean(str(tmp_path / "nope.html"))
    assert result.returncode == 2
    assert f"{tmp_path / 'nope.html'}: no such file or directory" in result.stderr


def test_folder_without_pages_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a page", encoding="utf-8")
    result = clean(str(tmp_path))
    assert result.returncode == 2
    assert "no saved pages" in result.stderr


def test_url_needs_exactly_one_file(tmp_path: Path) -> None:
    result = clean(str(PAGE), str(PAGE), "--url", "https://example.org/a")
    assert result.returncode == 2
    assert "--url" in result.stderr


def test_corrupt_gzip_is_skipped_by_name_and_the_rest_written(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data" * 4)  # gzip magic, no gzip
    good = tmp_path / "good.html.gz"
    good.write_bytes(gzip.compress(PAGE.read_bytes()))
    out = tmp_path / "out.jsonl"
    result = clean(str(broken), str(good), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"dropped {broken}: unreadable" in result.stderr
    records = read_jsonl(out)
    assert [r["source_file"] for r in records] == [str(good)]
