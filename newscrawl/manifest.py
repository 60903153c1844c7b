"""The manifest next to each finished output file: what a downstream job waits for.

`DATA.jsonl` is complete once `DATA.jsonl.manifest.json` exists (the manifest is written,
atomically, only after the data file was renamed into place). The manifest says how many
records the file holds, their schema version, the sha256 of the file's bytes, which run
and spider wrote it and when, and the run's summary (newscrawl.reporting) so
`newscrawl report` can show the crawl's own numbers.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newscrawl.items import SCHEMA_VERSION
from newscrawl.reporting import MANIFEST_SUFFIX, manifest_path

MANIFEST_VERSION = 1
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20

__all__ = [
    "MANIFEST_SUFFIX",
    "MANIFEST_VERSION",
    "DataFacts",
    "build_manifest",
    "data_facts",
    "manifest_path",
]


@dataclass
class DataFacts:
    """What can be measured from a data file's bytes alone."""

    sha256: str
    bytes: int
    records: int  # newline-terminated lines of the (decompressed) data
    compression: str | None  # "gzip" or None


def data_facts(path: Path) -> DataFacts:
    """Hash the stored bytes and count the lines of the decompressed content."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        head = handle.read(2)
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    compression = "gzip" if head == GZIP_MAGIC else None
    return DataFacts(digest.hexdigest(), size, _count_lines(path, compression), compression)


def _count_lines(path: Path, compression: str | None) -> int:
    opener: Any = gzip.open if compression == "gzip" else open
    lines = 0
    with opener(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            lines += chunk.count(b"\n")
    return lines


def build_manifest(
    data: Path,
    facts: DataFacts,
    *,
    run_id: str,
    spider: str,
    started_at: str,
    finished_at: str,
    data_format: str,
    run: dict[str, Any] | None = None,
    run_complete: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest as a dict (see docs/operations.md for every field)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "file": data.name,
        "format": data_format,
        "compression": facts.compression,
        "records": facts.records,
        "bytes": facts.bytes,
        "sha256": facts.sha256,
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "spider": spider,
        "started_at": started_at,
        "finished_at": finished_at,
        "run_complete": run_complete,
        "run": run,
        **(extra or {}),
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
