"""extract_html skips trafilatura's fallback where it cannot change the text, and only there."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lxml import etree

from newscrawl.fixtures import SITES
from pipelines import extract

PAGES = sorted(p for p in SITES.rglob("*.htm*") if p.is_file())


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def url_of(path: Path) -> str:
    return "https://news.example.org/" + path.relative_to(SITES).as_posix()


def calls_of(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The `fast` flag of every trafilatura run extract_html makes from now on."""
    runs: list[bool] = []
    real = extract._trafilatura

    def spy(*args: Any, **kwargs: Any) -> Any:
        runs.append(bool(kwargs.get("fast")))
        return real(*args, **kwargs)

    monkeypatch.setattr(extract, "_trafilatura", spy)
    return runs


def test_every_fixture_page_extracts_as_with_the_fallback_always_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(PAGES) > 100
    pages = [(read(path), url_of(path)) for path in PAGES]
    runs = calls_of(monkeypatch)
    ours = [extract.extract_html(html, url) for html, url in pages]
    skipped = runs.count(True)
    with monkeypatch.context() as always:  # every page as if it had teasers: fallback run
        always.setattr(extract, "_has_teasers", lambda tree: True)
        reference = [extract.extract_html(html, url) for html, url in pages]
    assert ours == reference
    assert skipped > len(pages) / 2  # the fast run is what most pages got


def test_an_article_takes_a_single_run_without_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = SITES / "demo" / "en" / "2026" / "11" / "16" / "harbor-automation.html"
    runs = calls_of(monkeypatch)
    assert extract.extract_html(read(path), url_of(path)) is not None
    assert runs == [True]


def test_a_page_whose_quick_text_is_a_scrap_is_run_again_with_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = SITES / "news" / "index.html"  # a section front: a few links of text at most
    runs = calls_of(monkeypatch)
    extract.extract_html(read(path), url_of(path))
    assert runs[:2] == [True, False]


def test_a_page_with_teaser_blocks_is_run_with_the_fallback_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = SITES / "demo" / "index.html"  # a front page of teaser blocks
    assert 'class="teaser' in read(path)
    runs = calls_of(monkeypatch)
    assert extract.extract_html(read(path), url_of(path)) is not None
    assert runs and True not in runs


# What the teaser test answered as an XPath lowercasing T, E, A, S, R in each class and id.
TEASER_XPATH = etree.XPath(
    "boolean(//*[contains(translate(@class, 'TEASR', 'teasr'), 'teaser')"
    " or contains(translate(@id, 'TEASR', 'teasr'), 'teaser')])"
)


@pytest.mark.parametrize(
    "html",
    [
        '<div class="card teaser-block">x</div>',
        '<div id="TopTeaser">x</div>',
        '<section><p class="tEaSeR">x</p></section>',
        '<div class="tea ser">x</div>',  # the word split over two names
        '<div class="card" title="teaser">x</div>',  # another attribute
        "<p>a teaser in the text</p>",
        '<div class="teaſer Teas">x</div>',  # the long s lowercases to itself
        '<div class="ТЕАСЕР" id="">x</div>',  # Cyrillic look-alikes
        '<div class="a"><span class="b"></span></div><i id="teaser2"></i>',
    ],
)
def test_the_teaser_test_answers_as_its_xpath(html: str) -> None:
    tree = etree.fromstring(f"<html><body>{html}</body></html>", etree.HTMLParser())
    assert extract._has_teasers(tree) is TEASER_XPATH(tree)


def test_the_teaser_test_answers_as_its_xpath_on_every_fixture_page() -> None:
    trees = [etree.fromstring(read(path), etree.HTMLParser()) for path in PAGES]
    answers = [extract._has_teasers(tree) for tree in trees]
    assert answers == [TEASER_XPATH(tree) for tree in trees]
    assert True in answers and False in answers


SENTENCE = "The council voted on Tuesday to extend the harbour line by four stations. "
LONG = SENTENCE * 6  # 78 words, over trafilatura's MIN_EXTRACTED_SIZE of characters


@pytest.mark.parametrize(
    ("body", "page_words", "kept"),
    [
        (f"<doc><p>{LONG}</p></doc>", 200, True),
        (f"<doc><p>{LONG}</p></doc>", 1000, False),  # under a fifth of the page
        (f"<doc><p>{SENTENCE}</p></doc>", 10, False),  # short: jusText is tried
        (f"<doc><list><item>{LONG}</item></list></doc>", 100, False),  # no paragraph
        (f"<doc><table><row><cell>{LONG}</cell></row></table></doc>", 100, False),
        (f"<doc><p>{LONG}</p><table/><table/></doc>", 100, False),  # mostly tables
        (f"<doc><p>{LONG}</p><figure/></doc>", 100, False),  # trafilatura's SANITIZED_XPATH
    ],
)
def test_the_quick_text_is_kept_only_where_the_fallback_cannot_replace_it(
    body: str, page_words: int, kept: bool
) -> None:
    document = SimpleNamespace(body=etree.fromstring(body))
    assert extract._fallback_cannot_win(document, page_words) is kept
    assert extract._fallback_cannot_win(None, page_words) is False


def test_a_trafilatura_without_sanitized_xpath_always_gets_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trafilatura import external

    monkeypatch.delattr(external, "SANITIZED_XPATH")
    extract._fallback_triggers.cache_clear()
    try:
        document = SimpleNamespace(body=etree.fromstring(f"<doc><p>{LONG}</p></doc>"))
        assert extract._fallback_triggers() is None
        # the quick text that passes every test above is not trusted: the full run follows
        assert extract._fallback_cannot_win(document, 100) is False
    finally:
        extract._fallback_triggers.cache_clear()
