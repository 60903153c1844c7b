"""The JSONL exporter: one `Article.to_record()` per line, UTF-8, not ASCII-escaped."""

from __future__ import annotations

import json
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter

from newscrawl.items import Article


def record_line(item: Any) -> bytes:
    """Serialise one item as it appears in every newscrawl output file."""
    record = item.to_record() if isinstance(item, Article) else ItemAdapter(item).asdict()
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class ArticleJsonLinesExporter(BaseItemExporter):
    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(dont_fail=True, **kwargs)
        self.file = file

    def export_item(self, item: Any) -> None:
        self.file.write(record_line(item))
