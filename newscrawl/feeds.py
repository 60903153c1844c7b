"""Atomic local feed storage: output files appear complete or not at all.

Scrapy's FileFeedStorage writes straight into the final path, so a downstream job that
lists the output folder during a crawl (or after a crash) loads half a file. Here the
feed is written to a hidden temporary name in the same folder,
`.NAME.<token>.part`, held under an exclusive flock while its writer lives, then fsynced
and renamed to NAME when the feed closes (rename within one folder is atomic). Only
then is `NAME.manifest.json` written, atomically too: it is the "done" marker a
downstream job can wait for (newscrawl.manifest).

A run that dies (SIGKILL, OOM, power) leaves its `.part` file. The next feed opened in
that folder finds temporary files whose lock is free (their writer is gone) and, with
NEWSCRAWL_FEED_RECOVER (default), publishes their complete JSON lines as
`STEM.recovered-<token>.EXT` with a manifest, so the articles written before the crash
are not lost (resumed jobs rely on this); otherwise, or when nothing is salvageable,
the file is removed. Either way it is logged and counted
(`newscrawl/feeds/recovered_files`, `recovered_records`, `stale_temp_removed`).

A path ending in `.gz` is gzipped here unless the feed already has Scrapy's GzipPlugin
(which flushes only every few dozen KB, so less of a crashed run is recoverable). Rotation
(`FEED_EXPORT_BATCH_ITEM_COUNT` with `%(batch_id)d` in the path) works unchanged: each
batch is its own storage with its own temporary file.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import secrets
import shutil
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import apply_uri_params
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from newscrawl.config import get_bool
from newscrawl.extensions import run_report, utc_now
from newscrawl.manifest import build_manifest, data_facts, manifest_bytes, manifest_path
from newscrawl.state import local_path, records_recovered

try:  # POSIX; without flock we cannot tell a dead writer from a live one, so never sweep.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".part"
# `.NAME.<8 hex>.part`: NAME is the final file name, so a stale file says where it belonged.
TEMP_NAME = re.compile(r"^\.(?P<final>.+)\.(?P<token>[0-9a-f]{8})\.part$")
JSON_LINE_FORMATS = {"jsonl", "jsonlines"}
# How often a new temporary name is tried if a concurrent sweeper removed ours (a race
# that needs another process to list the folder between our create and our lock).
CREATE_ATTEMPTS = 5


def _try_lock(handle: IO[bytes]) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def create_locked_temp(final: Path) -> tuple[IO[bytes], Path]:
    """A new, exclusively locked, unbuffered temporary file next to `final`.

    Unbuffered, so every exporter write (one JSON line) reaches the OS at once and a
    killed run leaves whole lines behind for recovery.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(CREATE_ATTEMPTS):
        temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        handle: IO[bytes] = open(temp, "xb+", buffering=0)  # noqa: SIM115 - closed in store()
        if _try_lock(handle) and _same_file(handle, temp):
            return handle, temp
        handle.close()
    raise OSError(f"could not create a temporary file next to {final}")


def _same_file(handle: IO[bytes], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def publish(handle: IO[bytes], temp: Path, final: Path) -> None:
    """fsync, rename into place, fsync the folder; the lock goes with the close."""
    handle.flush()
    os.fsync(handle.fileno())
    os.replace(temp, final)
    handle.close()
    _fsync_dir(final.parent)


def write_atomically(final: Path, data: bytes) -> None:
    handle, temp = create_locked_temp(final)
    try:
        handle.write(data)
        publish(handle, temp, final)
    except BaseException:
        handle.close()
        temp.unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SyncGzipFile(gzip.GzipFile):
    """Gzip that flushes whole deflate blocks after every write (one record per write).

    Costs a few bytes a record, and makes every record written before a crash
    decompressible from the temporary file, so it can be recovered like plain JSONL.
    """

    def write(self, data: Any) -> int:
        written = super().write(data)
        self.flush(zlib.Z_SYNC_FLUSH)
        return written


class AtomicFileFeedStorage:
    """FEED_STORAGES entry for plain paths and file:// URIs (see module docstring)."""

    def __init__(
        self,
        uri: str,
        *,
        feed_options: dict[str, Any] | None = None,
        crawler: Crawler | None = None,
        manifest: bool = True,
        recover: bool = True,
    ) -> None:
        self.path = Path(uri) if (path := local_path(uri)) is None else path
        options = feed_options or {}
        self.overwrite = bool(options.get("overwrite", False))
        self.format = str(options.get("format") or "")
        self.crawler = crawler
        self.write_manifest = manifest
        self.recover = recover
        self.temp: Path | None = None
        self.raw: IO[bytes] | None = None  # the temporary file under our gzip layer, if any
        self.opened_at = utc_now()
        # `NAME.gz` without Scrapy's GzipPlugin is gzipped here, so the name never lies.
        plugins = [str(getattr(p, "__name__", p)) for p in options.get("postprocessing") or []]
        self.gzip = self.path.name.endswith(".gz") and not any("Gzip" in p for p in plugins)

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> AtomicFileFeedStorage:
        return cls(
            uri,
            feed_options=feed_options,
            crawler=crawler,
            manifest=get_bool(crawler.settings, "NEWSCRAWL_FEED_MANIFEST", True),
            recover=get_bool(crawler.settings, "NEWSCRAWL_FEED_RECOVER", True),
        )

    def open(self, spider: Spider) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.crawler is not None:  # RunReport swept at spider_opened; batches may add folders
            sweep_stale_temps(self.path.parent, self.recover, self.crawler)
        handle, self.temp = create_locked_temp(self.path)
        self.opened_at = utc_now()
        if not self.overwrite and self.path.exists():
            # `-o` appends: start from the current file so the rename keeps its records.
            with self.path.open("rb") as previous:
                shutil.copyfileobj(previous, handle)
        if self.gzip:
            self.raw = handle
            layer = SyncGzipFile(filename="", mode="wb", fileobj=handle, mtime=0)
            return cast("IO[bytes]", layer)
        return handle

    def store(self, file: IO[bytes]) -> Deferred[None]:
        # Hashing and fsync are blocking: keep them off the reactor thread.
        run = run_report(self.crawler) if self.crawler is not None else None
        summary = run.summary().to_dict() if run is not None else None
        context = {
            "run_id": run.run_id if run else "unknown",
            "started_at": run.started_at if run else self.opened_at,
            "run": summary,
            "run_complete": bool(run and run.closing),
            "spider": self.crawler.spider.name if self.crawler and self.crawler.spider else "",
        }
        return deferToThread(self.finish, file, context)

    def finish(self, file: IO[bytes], context: dict[str, Any]) -> None:
        """Publish the data file, then its manifest (blocking; store() runs it in a thread)."""
        assert self.temp is not None
        if self.raw is not None and file is not self.raw:
            file.close()  # our gzip layer: writes the trailer, leaves the file open
            file = self.raw
        file.flush()
        os.fsync(file.fileno())
        facts = data_facts(self.temp)
        # Replacing or appending to a file: its old manifest must not describe the new data,
        # not even for the moment between the two renames.
        manifest_path(self.path).unlink(missing_ok=True)
        publish(file, self.temp, self.path)
        self._inc("newscrawl/feeds/files")
        if not self.write_manifest:
            return
        manifest = build_manifest(
            self.path,
            facts,
            data_format=self.format,
            finished_at=utc_now(),
            extra={"file_opened_at": self.opened_at},
            **context,
        )
        if self.format not in JSON_LINE_FORMATS:
            manifest["records"] = None  # lines are records only in JSON Lines
        write_atomically(manifest_path(self.path), manifest_bytes(manifest))

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)


def stale_temps(folder: Path) -> list[Path]:
    """Temporary files under `folder` whose writer is gone (read-only: nothing is changed)."""
    found: list[Path] = []
    if fcntl is None or not folder.is_dir():  # pragma: no cover
        return found
    for temp in sorted(folder.rglob(f".*{TEMP_SUFFIX}")):
        if not TEMP_NAME.match(temp.name):
            continue
        try:
            with open(temp, "rb") as handle:
                if _try_lock(handle):
                    found.append(temp)
        except FileNotFoundError:
            continue
    return found


def sweep_stale_temps(folder: Path, recover: bool, crawler: Crawler | None = None) -> list[Path]:
    """Recover or remove temporary files in `folder` whose writer is gone; returns outputs.

    Recovered records are published output: the crawler's state store is told at once
    (the `records_recovered` signal of newscrawl.state) so this run does not fetch them again.
    """
    if fcntl is None or not folder.is_dir():  # pragma: no cover - no flock on this platform
        return []

    def count(key: str, n: int = 1) -> None:
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(key, n)

    published: list[Path] = []
    for temp in sorted(folder.glob(f".*{TEMP_SUFFIX}")):
        match = TEMP_NAME.match(temp.name)
        if not match:
            continue
        try:
            handle = open(temp, "rb+")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            continue  # published or swept by someone else meanwhile
        with handle:
            if not _try_lock(handle) or not _same_file(handle, temp):
                continue  # a live writer holds it
            final = temp.with_name(match["final"])
            if recover and not final.name.endswith(".manifest.json"):
                target, records = _recover(handle, temp, final)
                if target is not None:
                    published.append(target)
                    logger.warning(
                        "Recovered %d complete records of a crashed run from %s into %s",
                        len(records),
                        temp,
                        target,
                    )
                    count("newscrawl/feeds/recovered_files")
                    count("newscrawl/feeds/recovered_records", len(records))
                    _announce(crawler, records)
                    continue
            size = temp.stat().st_size
            temp.unlink(missing_ok=True)
            logger.warning("Removed %s (%d bytes) left by a crashed run", temp, size)
            count("newscrawl/feeds/stale_temp_removed")
    return published


def _announce(crawler: Crawler | None, records: list[dict[str, Any]]) -> None:
    if crawler is not None:
        crawler.signals.send_catch_log(records_recovered, records=records)


def _recover(
    handle: IO[bytes], temp: Path, final: Path
) -> tuple[Path | None, list[dict[str, Any]]]:
    """Publish the complete JSON-object lines of a dead run's temporary file."""
    raw = handle.read()
    gzipped = raw[:2] == b"\x1f\x8b"
    data = _gunzip_prefix(raw) if gzipped else raw
    lines, records = [], []
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        record = _as_record(line)
        if record is not None:
            lines.append(line)
            records.append(record)
    if not lines:
        return None, []
    body = b"".join(line + b"\n" for line in lines)
    if gzipped:
        body = gzip.compress(body)
    stem, dot, ext = final.name.partition(".")
    target = final.with_name(f"{stem}.recovered-{secrets.token_hex(4)}{dot}{ext}")
    write_atomically(target, body)
    facts = data_facts(target)
    manifest = build_manifest(
        target,
        facts,
        run_id="unknown",
        spider="",
        started_at="",
        finished_at=utc_now(),
        data_format="jsonl",
        extra={"recovered_from": temp.name},
    )
    write_atomically(manifest_path(target), manifest_bytes(manifest))
    temp.unlink(missing_ok=True)
    return target, records


def _gunzip_prefix(raw: bytes) -> bytes:
    """Decompress as much of a (possibly truncated, multi-member) gzip stream as there is."""
    out = []
    while raw:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out.append(inflater.decompress(raw))
        except zlib.error:
            break
        if not inflater.eof:
            break
        raw = inflater.unused_data
    return b"".join(out)


def _as_record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def sweep_feed_folders(crawler: Crawler, spider: Spider) -> None:
    """At spider_opened: sweep the folders of this crawl's local feeds (first batch paths)."""
    settings = crawler.settings
    if fcntl is None:  # pragma: no cover
        return
    recover = get_bool(settings, "NEWSCRAWL_FEED_RECOVER", True)
    params = {k: getattr(spider, k, None) for k in dir(spider) if not k.startswith("__")}
    now = datetime.now(UTC)
    params.update(
        time=now.replace(microsecond=0).isoformat().replace(":", "-"),
        batch_time=now.isoformat().replace(":", "-"),
        batch_id=1,
    )
    storages = settings.getwithbase("FEED_STORAGES")
    folders: list[Path] = []
    for uri in settings.getdict("FEEDS"):
        uri = str(uri)
        scheme = urlsplit(uri).scheme
        if load_storage_name(storages, scheme) != f"{__name__}.AtomicFileFeedStorage":
            continue
        try:
            applied = apply_uri_params(uri, params)
        except (KeyError, TypeError, ValueError):
            continue  # a uri_params function supplies the names; the first open sweeps
        path = local_path(applied) or Path(applied)
        if path.parent not in folders:
            folders.append(path.parent)
    for folder in folders:
        sweep_stale_temps(folder, recover, crawler)


def load_storage_name(storages: Any, scheme: str) -> str:
    value = storages.get(scheme) or storages.get("file")
    return value if isinstance(value, str) else f"{value.__module__}.{value.__qualname__}"
