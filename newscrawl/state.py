"""The state store: what must outlive one crawl, behind one small interface.

Three things are kept (DESIGN.md, "The state store"):

- **seen**: article URLs already written to a committed output file, with when and the
  lastmod the sitemap/feed gave then; the incremental middleware skips them next run.
- **site lines**: per site, how many distinct pages each line (by hash) was seen on, and
  how many pages were counted; the templates stage removes lines recurring across pages.
- **fingerprints**: per canonical URL the content hash and MinHash signature of the text
  written, plus the LSH band keys that find near-duplicate candidates across runs.

Backends are chosen by one setting, `NEWSCRAWL_STATE`: `sqlite:///PATH` (the default, an
embedded file, no server), `redis://HOST:PORT/DB[?prefix=NAME]` (several workers share it,
alongside scrapy-redis), `memory://` (nothing outlives the process; tests, one-off runs).
Every method is a batch of key lookups or counter increments, no joins, so each backend
is a thin mapping.

`RunState` is the per-crawl side: it records what this run scraped and writes it to the
store only once the output file holding it has been stored (renamed into place), so a run
that is killed leaves no "seen" mark for articles whose output never appeared.
"""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url, file_uri_to_path

from newscrawl.config import TRUE_WORDS, SettingError
from newscrawl.items import Article

# The workers' fork server imports the articles stage, which imports this module: scrapy
# only for type hints here, and its signals where RunState connects them.
if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

DEFAULT_STATE = "sqlite:///.newscrawl/state.db"
# Sent (crawler.signals.send_catch_log(records_recovered, records=[...])) by whoever publishes
# output records outside the feed exporter, e.g. lines salvaged from a killed run's
# temporary file: they are committed output, so their URLs are marked seen at once.
records_recovered = object()
STATE_SETTING = "NEWSCRAWL_STATE"
# Bump when the SQLite layout changes; an older file is refused rather than misread.
SQLITE_SCHEMA_VERSION = 1


@lru_cache(maxsize=4096)
def url_key(url: str) -> str:
    """The form a URL is stored under: w3lib's canonical form (sorted query, no fragment).

    Cached: a crawl asks for the key of each article URL about six times (dupe filter,
    incremental middleware, articles stage, journal), ~40 µs each without the cache."""
    try:
        return canonicalize_url(url.strip())
    except ValueError:
        return url.strip()


@dataclass(frozen=True)
class Seen:
    """An article URL written to committed output: when (epoch seconds) and its lastmod then."""

    url: str  # url_key() form
    written_at: float
    lastmod: str | None = None  # as discovery gave it (ISO 8601), None when unknown


@dataclass(frozen=True)
class Fingerprint:
    """What the articles stage needs to recognise an article again in a later run."""

    url: str  # url_key() of the canonical URL
    content_hash: str  # sha256 of the text written
    signature: bytes = b""  # MinHash hash values (uint64, little-endian), b"" if none
    bands: tuple[int, ...] = ()  # LSH band keys (signed 64-bit ints), one per band


class StateStore(ABC):
    """One interface, several backends; all methods take and return plain values."""

    # -- seen article URLs ----------------------------------------------------------------
    @abstractmethod
    def get_seen(self, urls: Iterable[str]) -> dict[str, Seen]:
        """The entries known for these url_key()s (missing ones are absent)."""

    @abstractmethod
    def mark_seen(self, entries: Iterable[Seen]) -> None:
        """Record (or refresh) these URLs as written."""

    # -- per-site line statistics (templates) ------------------------------------------------
    @abstractmethod
    def count_page_lines(
        self, site: str, page: str, lines: Iterable[int]
    ) -> tuple[int, dict[int, int]]:
        """Count `page`'s distinct line hashes for `site` (once per page, ever).

        Returns (pages counted for the site, {line: distinct pages it was seen on}) for
        the given lines, after counting this page; a page counted before is not counted
        again, so re-fetches and resumed runs do not inflate the figures.
        """

    # -- article fingerprints (cross-run duplicates) ------------------------------------------
    @abstractmethod
    def fingerprint_of(self, url: str) -> Fingerprint | None:
        """The fingerprint last written for this canonical url_key()."""

    @abstractmethod
    def urls_with_hash(self, content_hash: str) -> list[str]:
        """Canonical URLs whose written text had exactly this hash."""

    @abstractmethod
    def near_candidates(self, bands: Iterable[int]) -> list[Fingerprint]:
        """Fingerprints sharing at least one LSH band key (candidates, to be verified)."""

    @abstractmethod
    def add_fingerprints(self, fingerprints: Iterable[Fingerprint]) -> None:
        """Store fingerprints (replacing an earlier one for the same URL)."""

    # -- bookkeeping: when the last commit happened, which output files were committed ------
    @abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A small named value (e.g. "last_commit", epoch seconds)."""

    @abstractmethod
    def set_meta(self, values: dict[str, str]) -> None:
        """Set small named values."""

    @abstractmethod
    def committed_files(self, paths: Iterable[str]) -> set[str]:
        """Which of these output file paths had their articles committed."""

    @abstractmethod
    def mark_files(self, paths: Iterable[str], when: float) -> None:
        """Record output files whose articles were committed."""

    def close(self) -> None:  # noqa: B027 - optional for backends holding nothing
        """Release the backend (files, connections)."""


class MemoryStore(StateStore):
    """Everything in dicts: nothing outlives the process. Tests and `memory://`."""

    def __init__(self) -> None:
        self.seen: dict[str, Seen] = {}
        self.pages: dict[str, set[str]] = defaultdict(set)
        self.lines: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.fingerprints: dict[str, Fingerprint] = {}
        self.by_hash: dict[str, set[str]] = defaultdict(set)
        self.by_band: dict[int, set[str]] = defaultdict(set)
        self.meta: dict[str, str] = {}
        self.files: dict[str, float] = {}

    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def set_meta(self, values: dict[str, str]) -> None:
        self.meta.update(values)

    def committed_files(self, paths: Iterable[str]) -> set[str]:
        return {path for path in paths if path in self.files}

    def mark_files(self, paths: Iterable[str], when: float) -> None:
        self.files.update(dict.fromkeys(paths, when))

    def get_seen(self, urls: Iterable[str]) -> dict[str, Seen]:
        return {url: self.seen[url] for url in urls if url in self.seen}

    def mark_seen(self, entries: Iterable[Seen]) -> None:
        for entry in entries:
            self.seen[entry.url] = entry

    def count_page_lines(
        self, site: str, page: str, lines: Iterable[int]
    ) -> tuple[int, dict[int, int]]:
        wanted = set(lines)
        counts = self.lines[site]
        if page not in self.pages[site]:
            self.pages[site].add(page)
            for line in wanted:
                counts[line] += 1
        return len(self.pages[site]), {line: counts.get(line, 0) for line in wanted}

    def fingerprint_of(self, url: str) -> Fingerprint | None:
        return self.fingerprints.get(url)

    def urls_with_hash(self, content_hash: str) -> list[str]:
        return sorted(self.by_hash.get(content_hash, ()))

    def near_candidates(self, bands: Iterable[int]) -> list[Fingerprint]:
        urls: set[str] = set()
        for band in bands:
            urls |= self.by_band.get(band, set())
        return [self.fingerprints[url] for url in sorted(urls) if url in self.fingerprints]

    def add_fingerprints(self, fingerprints: Iterable[Fingerprint]) -> None:
        for fp in fingerprints:
            old = self.fingerprints.get(fp.url)
            if old is not None:
                self.by_hash[old.content_hash].discard(fp.url)
            self.fingerprints[fp.url] = fp
            self.by_hash[fp.content_hash].add(fp.url)
            for band in fp.bands:
                self.by_band[band].add(fp.url)


_SQLITE_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, committed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    url TEXT PRIMARY KEY, written_at REAL NOT NULL, lastmod TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY, pages INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS site_pages (
    site TEXT NOT NULL, page TEXT NOT NULL, PRIMARY KEY (site, page)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS site_lines (
    site TEXT NOT NULL, line INTEGER NOT NULL, pages INTEGER NOT NULL, PRIMARY KEY (site, line)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fingerprints (
    url TEXT PRIMARY KEY, content_hash TEXT NOT NULL, signature BLOB NOT NULL,
    bands TEXT NOT NULL, written_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS fingerprints_hash ON fingerprints (content_hash);
CREATE TABLE IF NOT EXISTS bands (
    band INTEGER NOT NULL, url TEXT NOT NULL, PRIMARY KEY (band, url)
) WITHOUT ROWID;
"""

# SQLite's default limit on `?` parameters in one statement is 999 on older builds.
_SQLITE_CHUNK = 500


def _chunks(values: list[Any], size: int = _SQLITE_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class SQLiteStore(StateStore):
    """An embedded SQLite file (stdlib sqlite3) in WAL mode: readers never block the writer,
    and a crash loses at most the last transaction, never the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # One crawl = one thread using the connection (the reactor's); the lock only
        # guards against a stray thread (e.g. a blocking feed storage) calling in.
        self.db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        self.lock = threading.Lock()
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: durable across a process crash, one fsync per checkpoint.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SQLITE_TABLES)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO meta VALUES ('schema', ?)", (str(SQLITE_SCHEMA_VERSION),)
                )
            elif row[0] != str(SQLITE_SCHEMA_VERSION):
                raise SettingError(
                    f"{STATE_SETTING}: {path} has state schema {row[0]}, this newscrawl "
                    f"reads {SQLITE_SCHEMA_VERSION}; move the file away to start afresh"
                )
            self.db.commit()

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self.lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def committed_files(self, paths: Iterable[str]) -> set[str]:
        found: set[str] = set()
        with self.lock:
            for chunk in _chunks(list(paths)):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT path FROM files WHERE path IN ({marks})"
                found.update(row[0] for row in self.db.execute(query, chunk))
        return found

    def mark_files(self, paths: Iterable[str], when: float) -> None:
        with self.lock, self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?)", [(p, when) for p in paths]
            )

    def get_seen(self, urls: Iterable[str]) -> dict[str, Seen]:
        found: dict[str, Seen] = {}
        with self.lock:
            for chunk in _chunks(list(dict.fromkeys(urls))):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT url, written_at, lastmod FROM seen WHERE url IN ({marks})"
                for url, written_at, lastmod in self.db.execute(query, chunk):
                    found[url] = Seen(url, written_at, lastmod)
        return found

    def mark_seen(self, entries: Iterable[Seen]) -> None:
        rows = [(e.url, e.written_at, e.lastmod) for e in entries]
        with self.lock, self.db:
            self.db.executemany(
                "INSERT INTO seen VALUES (?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "written_at=excluded.written_at, lastmod=excluded.lastmod",
                rows,
            )

    def count_page_lines(
        self, site: str, page: str, lines: Iterable[int]
    ) -> tuple[int, dict[int, int]]:
        wanted = list(set(lines))
        with self.lock, self.db:
            new = self.db.execute(
                "INSERT OR IGNORE INTO site_pages VALUES (?, ?)", (site, page)
            ).rowcount
            if new:
                self.db.execute(
                    "INSERT INTO sites VALUES (?, 1) ON CONFLICT(site) DO UPDATE SET "
                    "pages = pages + 1",
                    (site,),
                )
                self.db.executemany(
                    "INSERT INTO site_lines VALUES (?, ?, 1) ON CONFLICT(site, line) DO UPDATE "
                    "SET pages = pages + 1",
                    [(site, line) for line in wanted],
                )
            row = self.db.execute("SELECT pages FROM sites WHERE site=?", (site,)).fetchone()
            counts = dict.fromkeys(wanted, 0)
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT line, pages FROM site_lines WHERE site=? AND line IN ({marks})"
                for line, pages in self.db.execute(query, [site, *chunk]):
                    counts[line] = pages
        return (row[0] if row else 0), counts

    def fingerprint_of(self, url: str) -> Fingerprint | None:
        with self.lock:
            row = self.db.execute(
                "SELECT url, content_hash, signature, bands FROM fingerprints WHERE url=?", (url,)
            ).fetchone()
        return self._fingerprint(row) if row else None

    def urls_with_hash(self, content_hash: str) -> list[str]:
        with self.lock:
            rows = self.db.execute(
                "SELECT url FROM fingerprints WHERE content_hash=? ORDER BY url", (content_hash,)
            ).fetchall()
        return [row[0] for row in rows]

    def near_candidates(self, bands: Iterable[int]) -> list[Fingerprint]:
        wanted = list(set(bands))
        urls: set[str] = set()
        with self.lock:
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT url FROM bands WHERE band IN ({marks})"
                urls.update(row[0] for row in self.db.execute(query, chunk))
            found: list[Fingerprint] = []
            for chunk in _chunks(sorted(urls)):
                marks = ",".join("?" * len(chunk))
                query = (
                    "SELECT url, content_hash, signature, bands FROM fingerprints "
                    f"WHERE url IN ({marks}) ORDER BY url"
                )
                found.extend(self._fingerprint(row) for row in self.db.execute(query, chunk))
        return found

    def add_fingerprints(self, fingerprints: Iterable[Fingerprint]) -> None:
        now = time.time()
        fps = list(fingerprints)
        with self.lock, self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?, ?)",
                [
                    (fp.url, fp.content_hash, fp.signature, ",".join(map(str, fp.bands)), now)
                    for fp in fps
                ],
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO bands VALUES (?, ?)",
                [(band, fp.url) for fp in fps for band in fp.bands],
            )

    @staticmethod
    def _fingerprint(row: tuple[Any, ...]) -> Fingerprint:
        url, content_hash, signature, bands = row
        return Fingerprint(
            url, content_hash, bytes(signature), tuple(int(b) for b in bands.split(",") if b)
        )

    def close(self) -> None:
        with self.lock:
            self.db.close()


# Counts one page's lines for its site atomically (several workers share one Redis):
# KEYS = pages set, lines hash; ARGV = page, line hashes. Returns {pages, [counts]}.
_COUNT_PAGE_LINES = """
local new = redis.call('SADD', KEYS[1], ARGV[1])
if new == 1 then
    for i = 2, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
end
local counts = {}
if #ARGV > 1 then counts = redis.call('HMGET', KEYS[2], unpack(ARGV, 2)) end
return {redis.call('SCARD', KEYS[1]), counts}
"""
# Lua's unpack() is limited by the C stack: at most this many lines in one call.
_REDIS_LINES_PER_CALL = 4000


class RedisStore(StateStore):
    """Redis (redis://HOST:PORT/DB?prefix=NAME): one store shared by several workers, e.g.
    alongside scrapy-redis's scheduler. Keys, all under the prefix (default "newscrawl"):

    - `P:seen` hash, url -> "written_at lastmod";
    - `P:site:SITE:pages` set of counted pages, `P:site:SITE:lines` hash, line -> pages;
    - `P:fp` hash, url -> "content_hash bands", `P:fp:sig` hash, url -> signature bytes,
      `P:hash:HASH` and `P:band:BAND` sets of urls;
    - `P:meta` hash (e.g. last_commit), `P:files` hash, committed output path -> time.
    """

    def __init__(self, uri: str) -> None:
        import redis  # optional: only this backend needs it

        parts = urlsplit(uri)
        query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
        self.prefix = query.pop("prefix", "newscrawl")
        clean = parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()
        # Any: redis-py types replies as bytes | str; this client never decodes (bytes).
        self.db: Any = redis.Redis.from_url(clean)
        self.db.ping()
        self.count_script = self.db.register_script(_COUNT_PAGE_LINES)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def get_meta(self, key: str) -> str | None:
        value = self.db.hget(self._key("meta"), key)
        return value.decode("utf-8") if value is not None else None

    def set_meta(self, values: dict[str, str]) -> None:
        if values:
            self.db.hset(self._key("meta"), mapping=values)

    def committed_files(self, paths: Iterable[str]) -> set[str]:
        wanted = list(paths)
        if not wanted:
            return set()
        found = self.db.hmget(self._key("files"), wanted)
        return {path for path, value in zip(wanted, found, strict=True) if value is not None}

    def mark_files(self, paths: Iterable[str], when: float) -> None:
        mapping = dict.fromkeys(paths, repr(when))
        if mapping:
            self.db.hset(self._key("files"), mapping=mapping)

    def get_seen(self, urls: Iterable[str]) -> dict[str, Seen]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}
        found: dict[str, Seen] = {}
        for url, value in zip(wanted, self.db.hmget(self._key("seen"), wanted), strict=True):
            if value is not None:
                written_at, _, lastmod = value.decode("utf-8").partition(" ")
                found[url] = Seen(url, float(written_at), lastmod or None)
        return found

    def mark_seen(self, entries: Iterable[Seen]) -> None:
        mapping = {e.url: f"{e.written_at!r} {e.lastmod or ''}".rstrip() for e in entries}
        if mapping:
            self.db.hset(self._key("seen"), mapping=mapping)

    def count_page_lines(
        self, site: str, page: str, lines: Iterable[int]
    ) -> tuple[int, dict[int, int]]:
        wanted = list(set(lines))
        keys = [self._key("site", site, "pages"), self._key("site", site, "lines")]
        # A page with more lines than one script call takes is no article: its first
        # lines are counted, the rest are reported as never seen (kept).
        chunk = wanted[:_REDIS_LINES_PER_CALL]
        pages, values = self.count_script(keys=keys, args=[page, *chunk])
        counts = dict.fromkeys(wanted, 0)
        counts.update({line: int(v or 0) for line, v in zip(chunk, values, strict=True)})
        return int(pages), counts

    def fingerprint_of(self, url: str) -> Fingerprint | None:
        meta, signature = (
            self.db.hget(self._key("fp"), url),
            self.db.hget(self._key("fp", "sig"), url),
        )
        return self._fingerprint(url, meta, signature) if meta is not None else None

    def urls_with_hash(self, content_hash: str) -> list[str]:
        return sorted(u.decode("utf-8") for u in self.db.smembers(self._key("hash", content_hash)))

    def near_candidates(self, bands: Iterable[int]) -> list[Fingerprint]:
        keys = [self._key("band", str(band)) for band in set(bands)]
        if not keys:
            return []
        urls = sorted(u.decode("utf-8") for u in self.db.sunion(keys))
        if not urls:
            return []
        metas = self.db.hmget(self._key("fp"), urls)
        signatures = self.db.hmget(self._key("fp", "sig"), urls)
        return [
            self._fingerprint(url, meta, signature)
            for url, meta, signature in zip(urls, metas, signatures, strict=True)
            if meta is not None
        ]

    def add_fingerprints(self, fingerprints: Iterable[Fingerprint]) -> None:
        fps = list(fingerprints)
        if not fps:
            return
        old = self.db.hmget(self._key("fp"), [fp.url for fp in fps])
        pipe = self.db.pipeline()
        for fp, previous in zip(fps, old, strict=True):
            if previous is not None:
                pipe.srem(self._key("hash", previous.decode("utf-8").split(" ")[0]), fp.url)
            pipe.hset(self._key("fp"), fp.url, f"{fp.content_hash} {','.join(map(str, fp.bands))}")
            pipe.hset(self._key("fp", "sig"), fp.url, fp.signature)
            pipe.sadd(self._key("hash", fp.content_hash), fp.url)
            for band in fp.bands:
                pipe.sadd(self._key("band", str(band)), fp.url)
        pipe.execute()

    @staticmethod
    def _fingerprint(url: str, meta: bytes, signature: bytes | None) -> Fingerprint:
        content_hash, _, bands = meta.decode("utf-8").partition(" ")
        return Fingerprint(
            url, content_hash, signature or b"", tuple(int(b) for b in bands.split(",") if b)
        )

    def close(self) -> None:
        self.db.close()


def open_store(uri: str) -> StateStore:
    """The backend named by a NEWSCRAWL_STATE value; SettingError naming the setting if bad."""
    uri = (uri or "").strip()
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them.
        path = uri[len("sqlite:///") :] if uri.lower().startswith("sqlite:///") else ""
        if not path:
            raise SettingError(f"{STATE_SETTING}={uri!r}: expected sqlite:///PATH")
        try:
            return SQLiteStore(path)
        except (sqlite3.Error, OSError) as error:
            raise SettingError(f"{STATE_SETTING}={uri!r}: cannot open it ({error})") from None
    if scheme in ("redis", "rediss", "unix"):
        try:
            return RedisStore(uri)
        except ImportError:
            raise SettingError(
                f"{STATE_SETTING}={uri!r}: the redis package is not installed (pip install redis)"
            ) from None
        except Exception as error:  # redis raises its own ConnectionError/ValueError
            raise SettingError(f"{STATE_SETTING}={uri!r}: cannot connect ({error})") from None
    raise SettingError(
        f"{STATE_SETTING}={uri!r}: expected sqlite:///PATH, redis://HOST:PORT/DB or memory://"
    )


# ---------------------------------------------------------------------------------------------
# The per-crawl side: one store per crawler, commits that follow the output files.


@dataclass
class _Written:
    urls: list[str]  # url_key()s to mark seen: requested, final and canonical URL
    lastmod: str | None
    fingerprint: Fingerprint | None


@dataclass
class _FeedCursor:
    """How far one configured feed has durably stored the stream of scraped items."""

    stored: int = 0  # items of this feed's committed files, counted from the run's start
    next_batch: int = 1
    # batch_id -> (itemcount, local path or None), stored but not yet in batch order
    closed: dict[int, tuple[int, str | None]] = field(default_factory=dict)


# An output file published but not committed (the process died between the rename and the
# commit) was last written before the kill, at most a few seconds before the previous
# commit when batches overlap; files older than the last commit by more than this are not
# examined again at start.
RECONCILE_SLACK = 600.0


def local_path(uri: str) -> Path | None:
    """The local file a feed URI names, or None for remote storage (s3://, ftp://, ...)."""
    if uri.startswith("file:"):
        return Path(file_uri_to_path(uri))
    scheme = urlsplit(uri).scheme
    if scheme and len(scheme) > 1:  # "C:" is a drive letter, not a scheme
        return None
    return Path(uri)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON-object lines of a (possibly gzipped) JSONL file; other lines are skipped."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    records = []
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class RunState:
    """The state store of one crawl, and the journal that commits to it after the output.

    Every scraped Article is appended to the journal in scraping order, which is also the
    order every feed exports it in. When a feed slot (one output file, or one batch) is
    stored, that feed's cursor moves on by the slot's item count; the items every feed has
    stored are committed: their URLs marked seen, their fingerprints added. A run without
    FEEDS (items consumed in-process) commits when the spider closes. A killed run commits
    nothing it had not stored, so the next run fetches those articles again.

    Renaming a file into place and committing its articles cannot be one atomic step; a
    kill between the two leaves a published file whose articles the store does not know.
    So at start, output files in the feeds' folders written since shortly before the last
    commit, and not recorded as committed, are read and their articles committed.
    """

    def __init__(self, crawler: Crawler, store: StateStore, uri: str) -> None:
        self.crawler = crawler
        self.store = store
        self.uri = uri
        self.journal: list[_Written] = []
        self.committed = 0  # journal entries already written to the store
        self.lastmods: dict[str, str] = {}  # url_key -> lastmod the request carried
        self.staged: dict[int, Fingerprint] = {}  # id(article) -> fingerprint, until scraped
        self.feeds: dict[str, _FeedCursor] = {
            str(uri): _FeedCursor() for uri in crawler.settings.getdict("FEEDS")
        }
        self.failed = False  # a feed failed to store: commit nothing more this run
        self.closed = False
        self.files: list[tuple[int, str]] = []  # (journal end, path) of stored local files
        if store.get_meta("created") is None:  # a new store: nothing of its runs published yet
            now = repr(time.time())
            store.set_meta({"created": now, "last_commit": now})
        from scrapy import signals  # see the TYPE_CHECKING import at the top

        connect = crawler.signals.connect
        connect(self._spider_opened, signal=signals.spider_opened)
        connect(self._item_scraped, signal=signals.item_scraped)
        connect(self._feed_slot_closed, signal=signals.feed_slot_closed)
        connect(self._spider_closed, signal=signals.spider_closed)
        connect(self._feed_exporter_closed, signal=signals.feed_exporter_closed)
        connect(self.close, signal=signals.engine_stopped)
        connect(self.commit_records, signal=records_recovered)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> RunState:
        """The crawler's RunState, opened on first use (middleware and pipelines share it)."""
        existing = getattr(crawler, "_newscrawl_state", None)
        if existing is None:
            uri = str(crawler.settings.get(STATE_SETTING) or DEFAULT_STATE)
            existing = cls(crawler, open_store(uri), uri)
            crawler._newscrawl_state = existing  # type: ignore[attr-defined]
            logger.info("state store: %s", uri)
        return existing

    @cached_property
    def fresh(self) -> bool:
        """`-a fresh=1`: this run ignores what earlier runs wrote (and still records its own).

        Read once, on the first request or item, when the spider exists."""
        spider = self.crawler.spider
        return str(getattr(spider, "fresh", "") or "").strip().lower() in TRUE_WORDS

    # -- what components tell the journal --------------------------------------------------
    def note_lastmod(self, key: str, lastmod: str | None) -> None:
        """Discovery's lastmod for an article request (by url_key), kept for when it is written."""
        if lastmod:
            self.lastmods[key] = lastmod

    def stage_fingerprint(self, article: Article, fingerprint: Fingerprint) -> None:
        """The articles stage's fingerprint of an item it let through, kept until scraped."""
        self.staged[id(article)] = fingerprint

    def commit_records(self, records: Iterable[dict[str, Any]], **_: Any) -> int:
        """Mark the URLs of already-published output records (JSON dicts) as seen now."""
        now = time.time()
        entries: list[Seen] = []
        fingerprints: list[Fingerprint] = []
        for record in records:
            urls = [record.get(name) for name in ("url", "final_url", "canonical_url")]
            keys = list(dict.fromkeys(url_key(u) for u in urls if isinstance(u, str) and u))
            entries += [Seen(key, now, None) for key in keys]
            canonical = record.get("canonical_url")
            if isinstance(canonical, str) and isinstance(record.get("content_hash"), str):
                fingerprints.append(Fingerprint(url_key(canonical), record["content_hash"]))
        if not self.closed:
            self.store.mark_seen(entries)
            self.store.add_fingerprints(fingerprints)
        return len(entries)

    # -- signals -----------------------------------------------------------------------------
    def _spider_opened(self, spider: Any, **_: Any) -> None:
        try:
            self.reconcile(spider)
        except Exception:  # never worth stopping the crawl for: at worst, duplicates
            logger.exception("could not check earlier output files against the state store")
            self._inc("newscrawl/errors/state")

    def feed_folders(self, spider: Any) -> list[tuple[Path, str]]:
        """(folder, data file suffix) of each local feed whose folder is known before it runs."""
        folders = []
        for template in self.feeds:
            path = local_path(template)
            if path is None:
                continue
            folder = str(path.parent).replace("%(name)s", str(getattr(spider, "name", "")))
            if "%(" in folder:
                continue  # the folder depends on the time or the batch: not found again
            folders.append((Path(folder), path.suffix))
        return list(dict.fromkeys(folders))

    def reconcile(self, spider: Any) -> int:
        """Commit the articles of output files published but never committed (see above)."""
        if isinstance(self.store, MemoryStore):
            return 0
        # Files from before the store existed were not written by runs using it.
        since = max(
            float(self.store.get_meta("last_commit") or 0) - RECONCILE_SLACK,
            float(self.store.get_meta("created") or 0),
        )
        candidates: list[Path] = []
        for folder, suffix in self.feed_folders(spider):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                name = path.name
                if name.startswith(".") or not name.endswith(suffix) or not path.is_file():
                    continue
                if path.stat().st_mtime >= since:
                    candidates.append(path.resolve())
        known = self.store.committed_files(str(p) for p in candidates)
        total = 0
        for path in sorted(p for p in candidates if str(p) not in known):
            records = read_records(path)
            if records:
                self.commit_records(records)
                total += len(records)
                logger.warning(
                    "%s: %d articles were published but not committed to the state store "
                    "(the last run was killed in between); committed now",
                    path,
                    len(records),
                )
            self.store.mark_files([str(path)], time.time())
        if total:
            self._inc("newscrawl/state/reconciled", total)
        return total

    def _item_scraped(self, item: Any, **_: Any) -> None:
        fingerprint = self.staged.pop(id(item), None)
        if not isinstance(item, Article):
            self.journal.append(_Written([], None, None))  # exported too: keeps positions
        else:
            keys = list(
                dict.fromkeys(
                    url_key(u) for u in (item.url, item.final_url, item.canonical_url) if u
                )
            )
            lastmod = next((self.lastmods[k] for k in keys if k in self.lastmods), None)
            self.journal.append(_Written(keys, lastmod, fingerprint))
        self._commit_stored()

    def _feed_slot_closed(self, slot: Any, **_: Any) -> None:
        cursor = self.feeds.get(str(getattr(slot, "uri_template", "")))
        if cursor is None:
            return
        if self._store_failed():
            if not self.failed:
                logger.warning(
                    "a feed failed to store: articles scraped from now on are not marked "
                    "as seen, the next run fetches them again"
                )
            self.failed = True
            return
        path = local_path(str(getattr(slot, "uri", "")))
        batch = int(getattr(slot, "batch_id", cursor.next_batch))
        cursor.closed[batch] = (int(slot.itemcount), str(path.resolve()) if path else None)
        while cursor.next_batch in cursor.closed:
            items, stored_path = cursor.closed.pop(cursor.next_batch)
            cursor.stored += items
            cursor.next_batch += 1
            if stored_path is not None:
                self.files.append((cursor.stored, stored_path))
        self._commit_stored()

    def _store_failed(self) -> bool:
        stats = self.crawler.stats.get_stats() if self.crawler.stats is not None else {}
        return any(k.startswith("feedexport/failed_count/") and v for k, v in stats.items())

    def _spider_closed(self, **_: Any) -> None:
        # With feeds, FeedExporter (a spider_closed handler too, run concurrently with this
        # one) is still storing its files: their slots commit as they close, and the store
        # closes on feed_exporter_closed. Without feeds, the scraped items are the output.
        if not self.feeds:
            if not self.failed:
                self._commit(len(self.journal))
            self.close()

    def _feed_exporter_closed(self, **_: Any) -> None:
        self._commit_stored()
        self.close()

    def _commit_stored(self) -> None:
        if self.failed or self.closed:
            return
        if self.feeds:
            upto = min(cursor.stored for cursor in self.feeds.values())
            self._commit(min(upto, len(self.journal)))
            done = [path for end, path in self.files if end <= self.committed]
            if done:
                self.files = [(end, path) for end, path in self.files if end > self.committed]
                try:
                    self.store.mark_files(done, time.time())
                except Exception:
                    logger.exception("could not record committed files in the state store")

    def _commit(self, upto: int) -> None:
        if upto <= self.committed:
            return
        entries = self.journal[self.committed : upto]
        now = time.time()
        seen = [Seen(url, now, entry.lastmod) for entry in entries for url in entry.urls]
        fingerprints = [entry.fingerprint for entry in entries if entry.fingerprint]
        try:
            self.store.mark_seen(seen)
            self.store.add_fingerprints(fingerprints)
        except Exception:
            logger.exception("could not commit %d articles to the state store", len(entries))
            self._inc("newscrawl/errors/state")
            return
        self.committed = upto
        try:
            self.store.set_meta({"last_commit": repr(now)})
        except Exception:
            logger.exception("could not record the commit time in the state store")
        for entry in entries:  # free memory: the journal only needs positions from here on
            entry.urls, entry.fingerprint = [], None
        self._inc("newscrawl/state/committed", len(entries))

    def close(self, **_: Any) -> None:
        if not self.closed:
            self.closed = True
            uncommitted = len(self.journal) - self.committed
            if uncommitted:
                logger.info(
                    "%d scraped articles not committed to the state store (their output "
                    "was not stored); the next run fetches them again",
                    uncommitted,
                )
            self.store.close()

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)
