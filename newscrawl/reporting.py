"""The run report: what a crawl did, computed from its stats or from its output files.

Pure functions only. The end-of-crawl log line (newscrawl.extensions.RunReport), the
manifest next to every output file and `newscrawl report` all call `summary_from_stats`,
so the numbers a scheduler logs are the numbers a person reads later.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Stats namespaces (DESIGN.md: newscrawl/<outcome>/<stage>:<rule>).
SKIPPED = "newscrawl/skipped/"
DROPPED = "newscrawl/dropped/"
REMOVED = "newscrawl/removed/"
ERRORS = "newscrawl/errors/"
PAGES_FETCHED = "newscrawl/pages/fetched"  # non-robots.txt responses below 400, final ones
DOWNLOAD_EXCEPTIONS = "downloader/exception_type_count/"
FAILED = "newscrawl/run/failed"
# Raised on purpose (robots.txt, the private-address guard, already-seen URLs, which
# count themselves under newscrawl/skipped/): decisions, not failures.
NOT_ERRORS = {"IgnoreRequest"}


@dataclass
class Summary:
    """One run's (or several runs') numbers, as shown in the log and by `newscrawl report`."""

    pages_fetched: int = 0
    articles_written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> URLs not fetched
    dropped: Counter[str] = field(default_factory=Counter)  # stage:reason -> items dropped
    removed: Counter[str] = field(default_factory=Counter)  # stage:rule -> paragraphs removed
    errors: Counter[str] = field(default_factory=Counter)  # kind -> count
    runs: int = 1
    finish_reason: str | None = None

    @property
    def failed(self) -> bool:
        """A crawl failed outright when it fetched nothing and had a reason to.

        Nothing fetched because every URL was already seen (an hourly run over an
        unchanged site) is success; nothing fetched because pages errored, or because
        there was nothing to fetch at all, is failure. Items that reached the pipelines
        without a download (the `files` spider of `newscrawl clean`) count as work done.
        """
        if self.pages_fetched or self.articles_written or sum(self.dropped.values()):
            return False
        return bool(sum(self.errors.values())) or not sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "pages_fetched": self.pages_fetched,
            "articles_written": self.articles_written,
            "skipped": dict(sorted(self.skipped.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "removed": dict(sorted(self.removed.items())),
            "errors": dict(sorted(self.errors.items())),
            "finish_reason": self.finish_reason,
            "failed": self.failed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        return cls(
            pages_fetched=int(data.get("pages_fetched", 0)),
            articles_written=int(data.get("articles_written", 0)),
            skipped=Counter(data.get("skipped", {})),
            dropped=Counter(data.get("dropped", {})),
            removed=Counter(data.get("removed", {})),
            errors=Counter(data.get("errors", {})),
            finish_reason=data.get("finish_reason"),
        )

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            pages_fetched=self.pages_fetched + other.pages_fetched,
            articles_written=self.articles_written + other.articles_written,
            skipped=self.skipped + other.skipped,
            dropped=self.dropped + other.dropped,
            removed=self.removed + other.removed,
            errors=self.errors + other.errors,
            runs=self.runs + other.runs,
            finish_reason=None,
        )


def _under(stats: Mapping[str, Any], prefix: str) -> Counter[str]:
    return Counter(
        {
            key[len(prefix) :]: int(value)
            for key, value in stats.items()
            if key.startswith(prefix) and isinstance(value, int | float) and value
        }
    )


def summary_from_stats(stats: Mapping[str, Any]) -> Summary:
    """The run report of one crawl from its Scrapy stats."""
    errors = _under(stats, ERRORS)
    for name, count in _under(stats, DOWNLOAD_EXCEPTIONS).items():
        short = name.rsplit(".", 1)[-1]
        if short not in NOT_ERRORS:
            errors[f"download:{short}"] += count
    return Summary(
        pages_fetched=int(stats.get(PAGES_FETCHED, 0)),
        articles_written=int(stats.get("item_scraped_count", 0)),
        skipped=_under(stats, SKIPPED),
        dropped=_under(stats, DROPPED),
        removed=_under(stats, REMOVED),
        errors=errors,
        finish_reason=stats.get("finish_reason"),
    )


def format_summary(summary: Summary, title: str = "newscrawl run report") -> str:
    """The summary as aligned plain text: totals, then one line per reason under each."""
    status = "FAILED (nothing fetched)" if summary.failed else "ok"
    head = f"{title}: {status}"
    if summary.finish_reason:
        head += f", finish reason {summary.finish_reason}"
    if summary.runs > 1:
        head += f", {summary.runs} runs"
    lines = [
        head,
        f"  pages fetched        {summary.pages_fetched}",
        f"  articles written     {summary.articles_written}",
    ]
    for label, counts in (
        ("skipped as seen", summary.skipped),
        ("dropped", summary.dropped),
        ("paragraphs removed", summary.removed),
        ("errors", summary.errors),
    ):
        lines.append(f"  {label:<20} {sum(counts.values())}")
        width = max((len(k) for k in counts), default=0)
        lines += [f"    {key:<{width}}  {n}" for key, n in sorted(counts.items(), key=_by_count)]
    return "\n".join(lines)


def _by_count(pair: tuple[str, int]) -> tuple[int, str]:
    return (-pair[1], pair[0])


# --- Output files ---------------------------------------------------------------------------

MANIFEST_SUFFIX = ".manifest.json"
DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonlines", ".jsonlines.gz")


def open_text(path: Path) -> Any:
    """A JSONL file as text, transparently gunzipped (by magic number, not by name)."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def find_data_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Finished JSONL files named or found (recursively) under the given paths, sorted."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.name.endswith(DATA_SUFFIXES) and not p.name.startswith(".")
            )
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")


def manifest_path(data: Path) -> Path:
    return data.with_name(data.name + MANIFEST_SUFFIX)


def read_manifest(data: Path) -> dict[str, Any] | None:
    path = manifest_path(data)
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@dataclass
class FileReport:
    """What the output files say: their records, and the runs their manifests describe."""

    files: int = 0
    records: int = 0
    per_site: Counter[str] = field(default_factory=Counter)
    per_day: Counter[str] = field(default_factory=Counter)  # published date, else fetch date
    removed: Counter[str] = field(default_factory=Counter)  # from each record's `cleaning`
    text_lengths: list[int] = field(default_factory=list)  # characters of `text`
    languages: Counter[str] = field(default_factory=Counter)
    runs: dict[str, Summary] = field(default_factory=dict)  # run id -> its stats summary
    # run id -> spider, started_at, finished_at (of its last file), files
    run_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> Summary:
        """The run summary: manifests' stats where present, the records otherwise."""
        if self.runs:
            total = Summary(runs=0)
            for run in self.runs.values():
                total = total + run
            return total
        return Summary(articles_written=self.records, removed=Counter(self.removed), runs=0)


def read_outputs(paths: Iterable[Path]) -> FileReport:
    """Scan output files; a run's summary comes from the manifest written last in that run."""
    report = FileReport()
    latest: dict[str, tuple[bool, str]] = {}
    for path in paths:
        report.files += 1
        try:
            with open_text(path) as handle:
                for line in handle:
                    if line.strip():
                        _add_record(report, json.loads(line))
        except (OSError, EOFError, ValueError) as error:
            report.unreadable.append(f"{path}: {error}")
            continue
        manifest = read_manifest(path)
        run = (manifest or {}).get("run")
        if not manifest or not isinstance(run, dict):
            continue
        run_id = str(manifest.get("run_id"))
        rank = (bool(manifest.get("run_complete")), str(manifest.get("finished_at", "")))
        if run_id not in latest or rank >= latest[run_id]:
            latest[run_id] = rank
            report.runs[run_id] = Summary.from_dict(run)
            files = report.run_info.get(run_id, {}).get("files", 0)
            report.run_info[run_id] = {
                "spider": manifest.get("spider"),
                "started_at": manifest.get("started_at"),
                "finished_at": manifest.get("finished_at"),
                "files": files,
            }
        report.run_info.setdefault(run_id, {"files": 0})["files"] += 1
    return report


def _add_record(report: FileReport, record: dict[str, Any]) -> None:
    report.records += 1
    report.per_site[str(record.get("site") or "unknown")] += 1
    day = record.get("published") or record.get("fetched_at") or ""
    report.per_day[str(day)[:10] or "unknown"] += 1
    report.removed.update(record.get("cleaning") or {})
    report.text_lengths.append(len(record.get("text") or ""))
    report.languages[str(record.get("language") or "unknown")] += 1
