"""Pages in UTF-8, windows-1251 and KOI8-R, charset in the header, in <meta> or nowhere."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from newscrawl.charset import decode_html, legacy_cyrillic_encoding
from newscrawl.fixtures import EXPECTED, SITES
from newscrawl.spiders.articles import ArticlesSpider
from tests.discovery_helpers import crawl

SITE = SITES / "encodings"
ROUTES: dict[str, dict[str, Any]] = json.loads((SITE / "_server.json").read_text())["routes"]
RECORDS: dict[str, dict[str, Any]] = json.loads(
    (EXPECTED / "encodings" / "records.json").read_text(encoding="utf-8")
)
# Characters that appear when Cyrillic bytes are decoded with the wrong table (Latin-1
# letters and signs, box drawing from KOI8 tables, the replacement character).
MOJIBAKE = set("ÐÑÃÂ¤¦¨ª¬¯²³´µ¶¸¹º¼½¾¿\ufffd") | {chr(c) for c in range(0x2500, 0x2580)}


def served_response(name: str) -> HtmlResponse:
    """The response the fixture server gives for a page, built offline."""
    route = ROUTES[f"{name}.html"]
    headers = {"Content-Type": route["content_type"]} if route["content_type"] else {}
    body = (SITE / route["file"]).read_bytes()
    return HtmlResponse(f"http://encodings.example/{name}.html", body=body, headers=headers)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_page_decodes(name: str) -> None:
    spider = ArticlesSpider(urls="http://encodings.example/")
    spider.crawler = get_crawler(ArticlesSpider)
    page = spider.page_from_response(served_response(name))
    assert page is not None
    expected = RECORDS[name]
    assert expected["title"] in page.html
    for paragraph in expected["text"].split("\n"):
        assert paragraph in page.html
    assert not MOJIBAKE & set(page.html)


def test_the_fallback_only_handles_undeclared_non_utf8() -> None:
    koi8 = "<p>Явка низкая.</p>".encode("koi8-r")
    assert decode_html(koi8, "text/html") == ("<p>Явка низкая.</p>", "koi8-r")
    assert decode_html(koi8, "text/html; charset=koi8-r") is None  # declared: Scrapy decodes
    assert decode_html(b'<meta charset="koi8-r">' + koi8) is None
    assert decode_html("<p>Явка низкая.</p>".encode()) is None  # valid UTF-8


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("Движение по мосту закроют в субботу.", "cp1251", "cp1251"),
        ("Движение по мосту закроют в субботу.", "koi8-r", "koi8-r"),
        ("ВЫБОРЫ: явка низкая", "koi8-r", "koi8-r"),
        # Western text: Cyrillic letters would sit inside Latin words, so no guess.
        ("Le café crème à côté de l'église était fermé.", "cp1252", None),
        ("Größere Brücken über die Flüsse", "cp1252", None),
        ("plain ascii", "ascii", None),
    ],
)
def test_legacy_cyrillic_encoding(text: str, encoding: str, expected: str | None) -> None:
    assert legacy_cyrillic_encoding(text.encode(encoding)) == expected


def test_no_content_type_route(site_server: str) -> None:
    with urllib.request.urlopen(f"{site_server}/encodings/cp1251-no-content-type.html") as answer:
        assert answer.headers.get("Content-Type") is None
        assert answer.read() == (SITE / ROUTES["cp1251-no-content-type.html"]["file"]).read_bytes()


def test_crawl_matches_golden_records(site_server: str, tmp_path: Path) -> None:
    """Every page through the whole pipeline: title and text equal the golden records."""
    names = sorted(n for n, r in RECORDS.items() if not r.get("short"))
    urls = ",".join(f"{site_server}/encodings/{name}.html" for name in names)
    records, _ = crawl("articles", tmp_path / "out.jsonl", f"urls={urls}")
    by_name = {Path(r["url"]).stem: r for r in records}
    assert sorted(by_name) == names
    for name in names:
        record, expected = by_name[name], RECORDS[name]
        assert (record["title"], record["text"]) == (expected["title"], expected["text"]), name
        assert not MOJIBAKE & set(record["text"] + record["title"]), name
