"""`newscrawl validate FILE_OR_DIR...`: the check a downstream job runs before loading.

Every line must be a complete JSON object that passes the article schema; when the file
has a manifest (NAME.manifest.json), the file's sha256, its record count and the
records' schema version must match it. Exit status 0 when every file passes, 1 when one
does not (the first bad line of each bad file is named on stderr), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newscrawl.feeds import stale_temps
from newscrawl.manifest import MANIFEST_VERSION, data_facts
from newscrawl.reporting import find_data_files, manifest_path
from newscrawl.schema import schema_errors


@dataclass
class FileCheck:
    path: Path
    records: int = 0
    line: int | None = None  # number of the first bad line (1-based); None: file-level
    reason: str | None = None  # None: the file passed
    manifest: bool = False
    versions: set[Any] = field(default_factory=set)  # schema_version values seen

    @property
    def ok(self) -> bool:
        return self.reason is None

    def describe(self) -> str:
        if self.ok:
            with_manifest = "manifest ok" if self.manifest else "no manifest"
            return f"{self.path}: ok, {self.records} records, {with_manifest}"
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.reason}"


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        yield from handle


def check_records(path: Path) -> FileCheck:
    """Parse and schema-check every line; stop at the first bad one."""
    check = FileCheck(path)
    number = 0
    try:
        for number, raw in enumerate(_lines(path), 1):
            reason = _line_problem(raw, check.versions)
            if reason:
                check.line, check.reason = number, reason
                return check
            check.records += 1
    except (EOFError, OSError, zlib.error) as error:
        check.line, check.reason = number + 1, f"unreadable compressed data ({error})"
        return check
    return check


def _line_problem(raw: bytes, versions: set[Any]) -> str | None:
    if not raw.endswith(b"\n"):
        return "incomplete last line (no newline): the file was cut off"
    try:
        record = json.loads(raw)
    except ValueError as error:  # also UnicodeDecodeError
        return f"not valid JSON ({error})"
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    errors = schema_errors(record)
    if errors:
        return f"schema: {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
    versions.add(record.get("schema_version"))
    return None


def check_manifest(check: FileCheck, manifest: dict[str, Any]) -> None:
    """Compare the file with its manifest; sets `check.reason` on the first mismatch."""
    check.manifest = True
    facts = data_facts(check.path)
    versions = check.versions
    problems = [
        (
            manifest.get("manifest_version") != MANIFEST_VERSION,
            f"manifest version {manifest.get('manifest_version')!r}, expected {MANIFEST_VERSION}",
        ),
        (
            manifest.get("file") != check.path.name,
            f"manifest describes {manifest.get('file')!r}, not {check.path.name!r}",
        ),
        (
            manifest.get("sha256") != facts.sha256,
            f"sha256 {facts.sha256} differs from the manifest's {manifest.get('sha256')}",
        ),
        (
            manifest.get("records") is not None and manifest.get("records") != check.records,
            f"{check.records} records, the manifest says {manifest.get('records')}",
        ),
        (
            bool(versions - {manifest.get("schema_version")}),
            f"records have schema_version {sorted(versions, key=str)}, "
            f"the manifest says {manifest.get('schema_version')!r}",
        ),
    ]
    for failed, reason in problems:
        if failed:
            check.reason = f"manifest mismatch: {reason}"
            return


def validate_file(path: Path, require_manifest: bool = False) -> FileCheck:
    check = check_records(path)
    if not check.ok:
        return check
    mpath = manifest_path(path)
    if mpath.exists():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            check.reason = f"unreadable manifest {mpath.name} ({error})"
            return check
        check_manifest(check, manifest)
    elif require_manifest:
        check.reason = f"no manifest ({mpath.name}): the file may still be in progress"
    return check


def run(args: argparse.Namespace) -> int:
    try:
        paths = list(find_data_files(args.paths))
    except FileNotFoundError as error:
        print(f"newscrawl validate: {error}", file=sys.stderr)
        return 2
    if not paths:
        print(f"newscrawl validate: no JSONL files in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    for given in args.paths:
        for temp in stale_temps(Path(given)):
            print(
                f"newscrawl validate: note: {temp} was left by a crashed run; the next crawl "
                "writing to this folder recovers its complete records",
                file=sys.stderr,
            )
    bad = 0
    for path in paths:
        check = validate_file(path, args.require_manifest)
        if check.ok:
            if not args.quiet:
                print(check.describe())
        else:
            bad += 1
            print(f"newscrawl validate: {check.describe()}", file=sys.stderr)
    return 1 if bad else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check JSONL output files against the schema and their manifests",
        description=(
            "Check that every line of each file is a complete record that passes the article "
            "schema, and that the file matches its manifest (sha256, record count, schema "
            "version). Exits 1 naming the first bad line of each bad file."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="FILE_OR_DIR", help=".jsonl / .jsonl.gz files or folders"
    )
    parser.add_argument(
        "--require-manifest",
        action="store_true",
        help="a file without NAME.manifest.json fails (it may not be finished)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    parser.set_defaults(func=run)
