"""`newscrawl clean FILE_OR_DIR... [-o OUT] [--url URL]`: saved pages -> the crawl's JSONL."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from newscrawl.atomic import atomic_open
from newscrawl.exporters import record_line
from newscrawl.items import Article
from newscrawl.runner import Progress, run_crawl
from newscrawl.spiders.files import find_pages, unreadable_file

# Fewer pages than this are extracted inline: starting the worker processes (about a
# second of CPU each, trafilatura's import) costs more than ~30 ms of extraction per page.
INLINE_BELOW = 20


class OrderedWriter:
    """Writes records in input order although pipelines may finish pages out of order."""

    def __init__(self, out: IO[bytes], progress: Progress) -> None:
        self.out = out
        self.pending: dict[int, bytes | None] = {}
        self.next = 0
        self.written = 0
        self.progress = progress

    def settle(self, order: int | None, line: bytes | None) -> None:
        if order is None:
            return
        self.pending[order] = line
        self.progress.step()
        while self.next in self.pending:
            ready = self.pending.pop(self.next)
            if ready is not None:
                self.out.write(ready)
                self.written += 1
            self.next += 1


@contextlib.contextmanager
def output_stream(path: str | None) -> Iterator[IO[bytes]]:
    if path in (None, "-"):
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with atomic_open(path) as handle:
            yield handle


def clean_files(
    paths: list[Path],
    out: IO[bytes],
    url: str | None = None,
    overrides: dict[str, Any] | None = None,
    urls: dict[str, str] | None = None,
    observe: Callable[[int, Article | None, str | None], None] | None = None,
) -> tuple[int, int, dict[str, Any]]:
    """Run the crawl pipelines over saved pages; returns (written, dropped, stats).

    `urls` maps a file (as given in `paths`) to its page's address; `observe(order, article,
    drop_reason)` sees every page's outcome (used by `newscrawl eval` and `explain`): the
    reason is None for a written article; a page dropped after extraction comes with its
    Article, one dropped before (or unreadable) with None.
    """
    progress = Progress("cleaned", len(paths))
    writer = OrderedWriter(out, progress)
    dropped = 0

    def on_article(article: Article) -> None:
        if observe is not None and article.order is not None:
            observe(article.order, article, None)
        writer.settle(article.order, record_line(article))

    def on_drop(item: Any, reason: str) -> None:
        nonlocal dropped
        dropped += 1
        order = getattr(item, "order", None)
        name = getattr(item, "source_file", None) or getattr(item, "url", "?")
        print(f"newscrawl clean: dropped {name}: {reason}", file=sys.stderr)
        if observe is not None and order is not None:
            observe(order, item if isinstance(item, Article) else None, reason)
        writer.settle(order, None)

    def on_unreadable(order: int, path: str, reason: str, **_: Any) -> None:
        nonlocal dropped
        dropped += 1
        print(f"newscrawl clean: dropped {path}: unreadable ({reason})", file=sys.stderr)
        if observe is not None:
            observe(order, None, f"unreadable ({reason})")
        writer.settle(order, None)

    settings: dict[str, Any] = {
        "FEEDS": {},
        "LOG_LEVEL": "WARNING",
        "ROBOTSTXT_OBEY": False,
        # Cleaning saved pages is not a scheduled crawl: no cross-run state, so cleaning
        # the same file twice gives the same record twice.
        "NEWSCRAWL_STATE": "memory://",
        **({"NEWSCRAWL_EXTRACT_WORKERS": 0} if len(paths) < INLINE_BELOW else {}),
        **(overrides or {}),
    }
    result = run_crawl(
        "files",
        settings,
        on_article=on_article,
        on_drop=on_drop,
        extra_signals={unreadable_file: on_unreadable},
        files=[str(p) for p in paths],
        url=url,
        urls=urls or {},
    )
    progress.close()
    return writer.written, dropped, result.stats


def run(args: argparse.Namespace) -> int:
    try:
        paths = list(find_pages(args.paths))
    except FileNotFoundError as error:
        print(f"newscrawl clean: {error}", file=sys.stderr)
        return 2
    if not paths:
        print(
            f"newscrawl clean: no saved pages (.html, .html.gz) in {' '.join(args.paths)}",
            file=sys.stderr,
        )
        return 2
    if args.url and len(paths) > 1:
        print(
            "newscrawl clean: --url names one page's address; give exactly one file",
            file=sys.stderr,
        )
        return 2
    overrides = {"NEWSCRAWL_AUDIT": True} if args.audit else {}
    with output_stream(args.output) as out:
        written, dropped, _ = clean_files(paths, out, args.url, overrides)
    if args.output not in (None, "-"):
        print(
            f"newscrawl clean: {written} records written to {args.output}, {dropped} pages dropped",
            file=sys.stderr,
        )
    return 0 if written else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "clean",
        help="run the cleaning pipelines over saved pages (.html, .html.gz, directories)",
        description="Extract and clean saved pages with the crawl's own pipelines; writes JSONL.",
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument(
        "-o", "--output", metavar="OUT", help="JSONL file to write (default: stdout)"
    )
    parser.add_argument("--url", help="the page's original address (one file only)")
    parser.add_argument("--audit", action="store_true", help="add the removed texts to each line")
    parser.set_defaults(func=run)
