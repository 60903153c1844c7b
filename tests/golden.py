"""Golden records of the demo crawl: compared by the tests, rewritten only on request.

    python3 tasks.py golden     # re-crawl the demo site and rewrite the golden file

Review the diff of fixtures/expected/demo/records.jsonl before committing it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from lxml import etree

from newscrawl.fixtures import EXPECTED, site_root

DEMO_GOLDEN = EXPECTED / "demo" / "records.jsonl"
# Fields that change with every fetch; golden records leave them out.
VOLATILE = ("fetched_at",)


def demo_article_paths() -> list[str]:
    """Root-relative paths of the demo articles, from the site's own sitemap."""
    tree = etree.parse(str(site_root("demo") / "sitemap.xml"))
    locs = tree.iterfind(".//{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
    return sorted(loc.text.strip().replace("{{BASE}}", "") for loc in locs if loc.text)


def comparable(record: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A record with the server's address replaced by {{BASE}} and volatile fields removed."""
    text = json.dumps({k: v for k, v in record.items() if k not in VOLATILE}, ensure_ascii=False)
    return json.loads(text.replace(base_url, "{{BASE}}"))


def regenerate() -> None:
    from newscrawl.localserver import serve_directory
    from tests.conftest import read_jsonl, scrapy_crawl

    with tempfile.TemporaryDirectory() as tmp, serve_directory(site_root("demo")) as base:
        out = Path(tmp) / "out.jsonl"
        urls = ",".join(base + p for p in demo_article_paths())
        result = scrapy_crawl("articles", out, "-a", f"urls={urls}")
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        records = sorted(read_jsonl(out), key=lambda r: r["url"])
        lines = [json.dumps(comparable(r, base), ensure_ascii=False) for r in records]
    DEMO_GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {DEMO_GOLDEN} ({len(lines)} records); review `git diff` before committing")


if __name__ == "__main__":
    regenerate()
