"""`newscrawl demo`: crawl the bundled demo site offline and write output/demo.jsonl.

The site is found the way a real one is: robots.txt -> sitemap -> article pages.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from newscrawl.fixtures import site_root
from newscrawl.localserver import serve_directory
from newscrawl.runner import run_crawl

DEMO_OUTPUT = Path("output/demo.jsonl")


def summary(stats: dict[str, Any], output: Path) -> str:
    removed = {
        k.split("/", 2)[2]: v for k, v in stats.items() if k.startswith("newscrawl/removed/")
    }
    dropped = {
        k.split("/", 2)[2]: v for k, v in stats.items() if k.startswith("newscrawl/dropped/")
    }
    lines = [
        f"wrote {output}",
        f"pages fetched: {stats.get('response_received_count', 0)}",
        f"articles written: {stats.get('item_scraped_count', 0)}",
    ]
    if dropped:
        lines.append("pages dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())))
    lines.append(f"paragraphs removed: {sum(removed.values())}")
    lines += [
        f"  {rule:<32} {count}" for rule, count in sorted(removed.items(), key=lambda kv: -kv[1])
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    root = site_root("demo")
    output = Path(args.output)
    with serve_directory(root) as base_url:
        result = run_crawl(
            "sitemap",
            {
                "FEEDS": {str(output): {"format": "jsonl", "overwrite": True, "encoding": "utf-8"}},
                "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES": True,
                # A demo is a one-off full run: nothing learned from or left for other runs.
                "NEWSCRAWL_STATE": "memory://",
                "AUTOTHROTTLE_ENABLED": False,
                "DOWNLOAD_DELAY": 0,
                "LOG_LEVEL": args.log_level,
            },
            site=base_url + "/",
        )
    if result.bootstrap_failed or not result.stats.get("item_scraped_count"):
        print(
            f"newscrawl demo: the crawl wrote no article (see the log above); {output}",
            file=sys.stderr,
        )
        return 1
    print(summary(result.stats, output))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="crawl the bundled demo site offline, write output/demo.jsonl"
    )
    parser.add_argument(
        "-o", "--output", default=str(DEMO_OUTPUT), help="JSONL file (default %(default)s)"
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="Scrapy log level (default %(default)s)"
    )
    parser.set_defaults(func=run)
