"""Stage 1, extract: trafilatura turns a Page's HTML into an Article's paragraphs and metadata.

`extract_html` is a pure function (HTML in, plain dict out); `extract_page` runs it and the
per-page cleaning stages that follow it, in a worker process or inline; `ExtractPipeline`
is the Scrapy glue around them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html
from lxml.etree import XPath

from newscrawl.config import SettingError, get_bool, get_choice, get_float, get_int
from newscrawl.dates import iso_datetime
from newscrawl.items import Article, Page
from newscrawl.workers import (
    ExtractCrash,
    ExtractorPool,
    ExtractTimeout,
    PoolClosed,
    WorkerStartFailed,
    cpu_count,
    load_function,
    start_fork_server,
)
from pipelines.base import CleaningStage, drop_item

if TYPE_CHECKING:  # scrapy stays out of the workers' fork server (see drop_item)
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

# trafilatura is imported where it is called: a crawling process with extraction workers
# never calls it, and importing it there (0.1-0.3 s) delayed the start of the workers' fork
# server, which `prestart_workers` (this module) starts.

logger = logging.getLogger(__name__)

# "balanced": precision mode with a fallback (see extract_html); the others are trafilatura's
# own modes, "default" being neither precision nor recall (for comparisons with `eval -s`).
EXTRACT_MODES = ("balanced", "precision", "recall", "default")
# NEWSCRAWL_EXTRACT_FUNCTION: what workers run; a setting so tests can swap in a page
# that crashes or hangs (monkeypatching cannot reach another process).
DEFAULT_EXTRACT_FUNCTION = "pipelines.extract.extract_html"
# What the pool's workers run: the extract function, then the per-page stages.
EXTRACT_PAGE = "pipelines.extract.extract_page"
# Imported last by the workers' fork server: warms what each worker would otherwise build
# on its first pages (newscrawl/warmup.py).
WARM_UP_MODULE = "newscrawl.warmup"
# NEWSCRAWL_EXTRACT_TIMEOUT: trafilatura needs well under a second for a news page; a
# page still running after this long is stuck (pathological markup), not slow.
DEFAULT_EXTRACT_TIMEOUT = 30.0

# Meta names that carry a page's publication and modification time, most specific first.
_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datePublished",
    "pubdate",
    "publishdate",
    "date",
    "dc.date.issued",
    "dc.date",
)
_MODIFIED_META = ("article:modified_time", "og:updated_time", "dateModified", "last-modified")
_LANG_CODE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*$")
# "balanced" mode keeps trafilatura's precision-mode text unless it holds less than this share
# of the default text's words. On the extraction benchmark, precision mode kept 30-100% of
# the default text on every page but one, where it kept a 5% scrap of the article; any
# value between 0.06 and 0.30 scores the same there, 0.2 sits well inside that gap.
PRECISE_MIN_SHARE = 0.2


def extract_html(
    html: str, url: str | None = None, mode: str = "balanced"
) -> dict[str, Any] | None:
    """Paragraphs and metadata of an article page, or None when trafilatura finds no text."""
    # trafilatura's own loader, not lxml's fromstring: it drops HTML comments and processing
    # instructions, and a comment node left inside a paragraph cuts trafilatura's text there
    # (on the extraction benchmark, lxml's tree lost half the body of some pages).
    from trafilatura import load_html  # see the note on trafilatura above

    try:
        tree = load_html(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return None
    if tree is None:
        return None
    head = _head_metadata(tree, url)
    if mode == "balanced":
        document, paragraphs = _precise_or_default(tree, url)
    else:
        document = _trafilatura(
            tree, url, favor_precision=mode == "precision", favor_recall=mode == "recall"
        )
        paragraphs = _body_paragraphs(document)
    if document is None or not paragraphs:
        return None
    authors = [a.strip() for a in re.split(r";|\|", document.author or "") if a.strip()]
    return {
        "title": document.title or None,
        "paragraphs": paragraphs,
        "description": document.description or None,
        "authors": authors,
        "published": iso_datetime(head["published"]),
        # trafilatura's date search (htmldate) also guesses from URLs and page text (a
        # footer's copyright year): a sitemap/feed date, where there is one, is better.
        "published_guess": iso_datetime(document.date),
        # Captions are not article text; trafilatura drops <figcaption> but not a copy of it
        # printed as a body paragraph, which the duplicates stage removes.
        "captions": _captions(tree),
        "modified": iso_datetime(head["modified"]),
        "language": head["language"],
        "categories": list(document.categories or []),
        "tags": list(document.tags or []),
        "image": document.image or None,
        "canonical_url": head["canonical_url"] or document.url or None,
        "site_name": head["site_name"] or document.sitename or None,
    }


def _trafilatura(
    tree: Any,
    url: str | None,
    favor_precision: bool = False,
    favor_recall: bool = False,
    with_metadata: bool = True,
    fast: bool = False,
) -> Any:
    """One trafilatura run over `tree` (which it copies): its Document, None when it
    found nothing."""
    from trafilatura import bare_extraction  # see the note on trafilatura above

    return bare_extraction(  # a Document, since as_dict is not asked for
        tree,
        url=url,
        with_metadata=with_metadata,
        deduplicate=False,
        include_comments=False,
        favor_precision=favor_precision,
        favor_recall=favor_recall,
        fast=fast,
    )


def _body_paragraphs(document: Any) -> list[str]:
    return [] if document is None or document.body is None else _paragraphs(document.body)


def _word_count(paragraphs: list[str]) -> int:
    return sum(len(p.split()) for p in paragraphs)


def _precise_or_default(tree: Any, url: str | None) -> tuple[Any, list[str]]:
    """trafilatura's precision mode, unless it threw away most of what the default keeps.

    favor_precision drops more boilerplate (related links, teasers, author boxes) but now and
    then misjudges the article body itself and keeps a scrap; then the default text is used.
    Measured on the extraction benchmark: precision alone P 0.958 R 0.972, default P 0.947
    R 0.980, this choice P 0.963 R 0.977 (docs/evaluation.md).
    """
    page_words = _page_words(tree)
    metadata = None
    # trafilatura's fallback (readability, then jusText) is a quarter of a run's time and
    # only replaces a text that looks deficient: a run without it (`fast`) is kept when
    # its text cannot look so (_fallback_cannot_win), and is otherwise run again with it.
    # `fast` also keeps teaser blocks where trafilatura's own extractor comes up short,
    # so a page with any is run with the fallback at once.
    if not _has_teasers(tree):
        quick = _trafilatura(tree, url, favor_precision=True, fast=True)
        if _fallback_cannot_win(quick, page_words):
            return quick, _body_paragraphs(quick)
        metadata = quick
    # trafilatura reads the metadata before, and whatever the mode of, the body: a later
    # run reuses the first run's (a third of a run's time on news pages).
    precise = _trafilatura(tree, url, favor_precision=True, with_metadata=metadata is None)
    precise_paragraphs = _body_paragraphs(precise)
    metadata = precise if metadata is None else metadata
    precise_words = _word_count(precise_paragraphs)
    # The default text is drawn from the page's text, so the page's word count bounds it:
    # when the precise text is a large enough share of the whole page, the default run
    # cannot change the choice and is skipped.
    if precise_paragraphs and precise_words >= PRECISE_MIN_SHARE * page_words:
        return metadata, precise_paragraphs
    default = _trafilatura(tree, url, with_metadata=metadata is None)
    default_paragraphs = _body_paragraphs(default)
    if precise_paragraphs and precise_words >= PRECISE_MIN_SHARE * (
        _word_count(default_paragraphs)
    ):
        return metadata, precise_paragraphs
    return (default if metadata is None else metadata), default_paragraphs


_CLASSES_AND_IDS = XPath("//@class|//@id", smart_strings=False)


def _has_teasers(tree: Any) -> bool:
    """Whether an element's class or id names a teaser: what trafilatura's fast mode keeps
    and its default prunes (its own test is on fewer tags of the tree it rebuilds; this one
    is wider).

    All the names lowercased as one string: an XPath lowercasing each attribute in turn
    cost 3.5 times as much on the extraction benchmark (1.2 ms a page), for the same
    answers. No character but T, E, A, S and R lowercases to one of the word's letters."""
    return "teaser" in " ".join(_CLASSES_AND_IDS(tree)).lower()


def _fallback_cannot_win(document: Any, page_words: int) -> bool:
    """Whether trafilatura's fallback would keep this text of a run without it.

    The fallback replaces trafilatura's own text when readability's is over twice as long,
    when the own text has no paragraph or is mostly tables, and tries jusText when the
    text is shorter than MIN_EXTRACTED_SIZE or holds elements of SANITIZED_XPATH (asides,
    figures, footers...). All but the first are read here on the text itself. The first
    needs readability's text, which is drawn from the page: a text holding at least
    PRECISE_MIN_SHARE of the page's words is taken as safe. On the extraction benchmark
    the fallback changed the text of 6 pages of 181, all under 16% of their page's words,
    and no text above that share (docs/evaluation.md)."""
    triggers = _fallback_triggers()
    body = None if document is None else document.body
    if body is None or triggers is None:  # no text, or a trafilatura we cannot read
        return False
    sanitized, min_size = triggers
    text = "".join(body.itertext())
    return (
        len(text.split()) >= PRECISE_MIN_SHARE * page_words
        and len(text.strip()) >= min_size
        and bool(body.xpath(".//p//text()"))
        and len(body.findall(".//table")) <= len(body.findall(".//p"))
        and not sanitized(body)
    )


@cache
def _fallback_triggers() -> tuple[XPath, int] | None:
    """trafilatura's own SANITIZED_XPATH and MIN_EXTRACTED_SIZE, read once; None where a
    version of it lacks them (every page then takes the run with the fallback)."""
    from trafilatura import external  # see the note on trafilatura above
    from trafilatura.settings import DEFAULT_CONFIG

    sanitized = getattr(external, "SANITIZED_XPATH", None)
    if not isinstance(sanitized, str):
        return None
    return XPath(sanitized), DEFAULT_CONFIG.getint("DEFAULT", "MIN_EXTRACTED_SIZE")


_PAGE_TEXT = XPath("//body//text()[not(ancestor::script or ancestor::style)]")


def _page_words(tree: Any) -> int:
    """Words of the body's text, scripts and styles left out.

    Counted as all the body's text less that of its scripts and styles: lxml's itertext
    runs in C, and this costs 40% less than selecting the text nodes outside them by XPath
    (same counts on the extraction benchmark). The text nodes are joined by spaces, which
    split() drops, and split once."""
    body = tree.find("body")
    if body is None:
        return len(" ".join(_PAGE_TEXT(tree)).split())
    words = len(" ".join(body.itertext()).split())
    for element in body.iter("script", "style"):
        if element.text:
            words -= len(element.text.split())
    return words


def _paragraphs(body: Any) -> list[str]:
    """Body text one block per entry; list items as plain lines.

    trafilatura's text output prefixes list items with "- ", which is markup, not article
    text; rendering items as paragraphs keeps the words and drops the marker.
    """
    from trafilatura.xml import xmltotxt  # see the note on trafilatura above

    for item in body.iter("item"):
        item.tag = "p"
    lines = xmltotxt(body, False).split("\n")
    return [line for line in lines if line.strip() and not _TABLE_RULE.match(line)]


# The separator row trafilatura writes under a table's header ("|---|---|"): markup only.
_TABLE_RULE = re.compile(r"^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$")
_FIGCAPTIONS = XPath("//figcaption")


def _captions(tree: Any) -> list[str]:
    texts = (" ".join("".join(fc.itertext()).split()) for fc in _FIGCAPTIONS(tree))
    return [text for text in texts if text]


def _head_metadata(tree: Any, url: str | None) -> dict[str, str | None]:
    """Full datetimes, language and canonical URL, which trafilatura's metadata lacks.

    trafilatura returns only a date (no time) and no language; both are one meta tag away.
    """
    meta: dict[str, str] = {}
    for element in tree.iterfind(".//meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop")
        if not key:
            key = element.get("http-equiv") or ""
        content = (element.get("content") or "").strip()
        if key and content:
            meta.setdefault(key.strip().lower(), content)
    ld = _json_ld_article(tree)

    def first(keys: tuple[str, ...], ld_key: str) -> str | None:
        for key in keys:
            if key.lower() in meta:
                return meta[key.lower()]
        value = ld.get(ld_key)
        return value if isinstance(value, str) and value.strip() else None

    language = (
        tree.get("lang")
        or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        or meta.get("og:locale")
        or meta.get("content-language")
        or (ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None)
    )
    canonical = None
    for link in tree.iterfind(".//link"):
        if (link.get("rel") or "").strip().lower() == "canonical" and link.get("href"):
            canonical = link.get("href").strip()
            break
    canonical = canonical or meta.get("og:url")
    if canonical:
        canonical = urljoin(url or "", canonical)
        # A relative canonical of a saved file resolves to a meaningless file: path.
        if urlsplit(canonical).scheme not in ("http", "https"):
            canonical = None
    return {
        "published": first(_PUBLISHED_META, "datePublished"),
        "modified": first(_MODIFIED_META, "dateModified"),
        "language": _language_code(language),
        "canonical_url": canonical,
        "site_name": meta.get("og:site_name"),
    }


def _json_ld_article(tree: Any) -> dict[str, Any]:
    """The first JSON-LD object that has a datePublished, or {}."""
    for script in tree.iterfind(".//script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                if "datePublished" in node:
                    return node
                stack.extend(v for k, v in node.items() if k == "@graph")
    return {}


def _language_code(value: str | None) -> str | None:
    match = _LANG_CODE.match((value or "").strip())
    return match.group(1).lower() if match else None


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def article_from(page: Page, extracted: dict[str, Any], audit: bool) -> Article:
    """An Article from a Page and what `extract_html` found; discovery hints fill the gaps."""
    hints = page.hints
    canonical = extracted["canonical_url"] or page.final_url
    return Article(
        url=page.url,
        final_url=page.final_url,
        canonical_url=canonical,
        site=site_of(canonical) or site_of(page.final_url),
        site_name=extracted["site_name"],
        title=extracted["title"] or hints.get("title"),
        paragraphs=list(extracted["paragraphs"]),
        description=extracted["description"],
        authors=extracted["authors"] or list(hints.get("authors") or []),
        published=extracted["published"]
        or iso_datetime(hints.get("published"))
        or extracted["published_guess"],
        modified=extracted["modified"] or iso_datetime(hints.get("modified")),
        language=extracted["language"] or hints.get("language"),
        categories=extracted["categories"],
        tags=extracted["tags"],
        image=extracted["image"],
        fetched_at=page.fetched_at,
        http_status=page.status,
        spider=page.spider,
        source=page.source,
        source_file=page.source_file,
        order=page.order,
        extracted=list(extracted["paragraphs"]),
        captions=list(extracted.get("captions") or []),
        audit=audit,
    )


@cache
def _loaded(path: str) -> Any:
    """A function, or a stage built without a crawler, by dotted path: once per process."""
    target = load_function(path)
    return target() if isinstance(target, type) else target


def extract_page(
    page: Page,
    mode: str,
    audit: bool,
    stages: Sequence[str],
    function: str,
    prepare: Sequence[str] = (),
) -> Article | None:
    """The Article of a page, with the `stages` (dotted paths of per-page cleaning stages)
    already applied and the `prepare` of the later stages (dotted paths of their classes)
    done; None when the extract `function` finds no text.

    This is the job a worker process runs: the per-page stages cost a few milliseconds a
    page, which in the reactor thread would be CPU taken from every download. A stage that
    raises here stops the run: it is left to its pipeline in the reactor, which fails it
    again and reports it with the page's URL (pipelines/base.py). A `prepare` that raises
    is left to its stage, which then does that work itself."""
    extracted = _loaded(function)(page.html, page.final_url, mode)
    if extracted is None:
        return None
    article = article_from(page, extracted, audit)
    for path in stages:
        try:
            stage = _loaded(path)
            kept, removed = stage.clean(article)
        except Exception:
            break
        article.apply_cleaning(stage.stage, kept, removed)
        article.precleaned.append(stage.stage)
    for path in prepare:
        with contextlib.suppress(Exception):
            load_function(path).prepare(article)  # type: ignore[attr-defined]
    return article


# A small article in the shape of a news page, extracted once in the fork server.
_WARM_UP_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Warm-up | Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2026-01-02T03:04:05Z">
<link rel="canonical" href="https://news.example.org/2026/01/02/warm-up.html">
<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2026-01-02"}
</script></head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Warm-up</h1><p>The city council voted on Tuesday to extend the harbour
line by four stations, after two years of hearings and a long debate on its cost.</p>
<figure><img src="/a.jpg"><figcaption>The harbour at dawn.</figcaption></figure>
<p>Construction is expected to start next spring and to last about three years, the
transport department said in a statement published on its website.</p>
<p>Read also: Harbour plans</p></article><footer>© 2026 Example News</footer></body></html>"""


def warm_up() -> None:
    """Build what each worker would otherwise build on its first pages: trafilatura's and
    courlan's lazily loaded tables, the compiled rules of every per-page stage (its
    `warm_up`) and what the `prepare` of later stages loads (the MinHash permutations),
    for every stage class of the `pipelines` modules imported so far. Run in the fork
    server (newscrawl/warmup.py), so that every worker forked from it starts warm: about
    0.5 s of CPU saved per worker started."""
    url = "https://news.example.org/2026/01/02/warm-up.html"
    extracted = extract_html(_WARM_UP_PAGE, url)
    assert extracted is not None
    page = Page(url, url, 200, _WARM_UP_PAGE, "2026-01-02T00:00:00Z", "warm-up", "urls")
    article = article_from(page, extracted, audit=False)
    classes: set[Any] = {
        value
        for name, module in list(sys.modules.items())
        if name.startswith("pipelines.")
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == name
    }
    for cls in sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        if issubclass(cls, CleaningStage) and vars(cls).get("per_page") is True:
            cls.warm_up()
        elif "prepare" in vars(cls):
            cls.prepare(article)


def worker_preload(
    stages: Sequence[str], function: str = DEFAULT_EXTRACT_FUNCTION, prepare: Sequence[str] = ()
) -> list[str]:
    """Modules the workers' fork server imports: the extract function's, those of the
    `stages` (dotted paths: the per-page stages, or at prestart every pipeline after
    extract) and of the `prepare` stages, then the warm-up."""
    modules = [EXTRACT_PAGE.rpartition(".")[0], function.rpartition(".")[0]]
    modules += [path.rpartition(".")[0] for path in (*stages, *prepare)]
    return [*dict.fromkeys(modules), WARM_UP_MODULE]


def extract_workers(settings: BaseSettings) -> int:
    """NEWSCRAWL_EXTRACT_WORKERS as a number of processes ("auto": one per usable CPU)."""
    raw = str(settings.get("NEWSCRAWL_EXTRACT_WORKERS", "auto")).strip().lower()
    if raw in ("", "none", "auto"):
        return cpu_count()
    return get_int(settings, "NEWSCRAWL_EXTRACT_WORKERS", 0, minimum=0)


def prestart_workers(settings: BaseSettings) -> None:
    """Start the workers' fork server now when this crawl will extract in workers, so that
    its imports and warm-up overlap Scrapy's own start-up (newscrawl.workers); `scrapy
    crawl` and `run_crawl` call it before they build the crawler. A wrong setting is left
    for ExtractPipeline.from_crawler to report."""
    try:
        preload = prestart_preload(settings)
    except Exception:  # reported, with the setting at fault, by from_crawler
        return
    if preload:
        start_fork_server(preload)


def prestart_preload(settings: BaseSettings) -> list[str]:
    """What `prestart_workers` has the fork server import ([] when the crawl extracts
    inline): the modules of every pipeline after extract, not only of those the workers
    will run. Telling those apart means importing them all here first (0.15-0.2 s, numpy
    among them), which would delay the fork server's start; in the fork server the extra
    modules cost a few milliseconds."""
    following = _entries_after_extract(settings)
    if following is None or extract_workers(settings) == 0:
        return []
    function = str(settings.get("NEWSCRAWL_EXTRACT_FUNCTION") or DEFAULT_EXTRACT_FUNCTION)
    paths = [e if isinstance(e, str) else f"{e.__module__}.{e.__qualname__}" for e in following]
    return worker_preload(paths, function)


def _entries_after_extract(settings: BaseSettings) -> list[Any] | None:
    """The ITEM_PIPELINES entries (dotted paths or classes, not loaded) after the extract
    pipeline, in order; None without one."""
    from scrapy.utils.conf import build_component_list  # in the reactor only
    from scrapy.utils.misc import load_object

    entries = build_component_list(settings.getwithbase("ITEM_PIPELINES"))
    for position, entry in enumerate(entries):
        component = load_object(entry)
        if isinstance(component, type) and issubclass(component, ExtractPipeline):
            return entries[position + 1 :]
    return None


def _after_extract(settings: BaseSettings) -> list[Any] | None:
    """The ITEM_PIPELINES components after the extract pipeline, in order; None without one."""
    from scrapy.utils.misc import load_object

    following = _entries_after_extract(settings)
    return None if following is None else [load_object(entry) for entry in following]


def per_page_stages(settings: BaseSettings) -> list[str]:
    """Dotted paths of the `per_page` cleaning stages that directly follow extract in
    ITEM_PIPELINES: those `extract_page` may apply. A stage that needs the crawl's state
    (templates) ends the run, so the order of the stages never changes. `per_page` must be
    set by the class itself (a subclass may read settings its parent did not), and a
    stage name may appear once (the reactor side counts removals by name)."""
    paths: list[str] = []
    names: set[str] = set()
    for component in _after_extract(settings) or ():
        if not (
            isinstance(component, type)
            and issubclass(component, CleaningStage)
            and vars(component).get("per_page") is True
            and component.stage not in names
        ):
            break
        names.add(component.stage)
        paths.append(f"{component.__module__}.{component.__qualname__}")
    return paths


def preparing_stages(settings: BaseSettings) -> list[str]:
    """Dotted paths of the pipelines after extract in ITEM_PIPELINES whose class defines
    `prepare(article)`: the per-page, state-free part of a stage that needs the crawl's
    state (the articles stage's MinHash values), which `extract_page` runs after the
    per-page stages."""
    return [
        f"{component.__module__}.{component.__qualname__}"
        for component in _after_extract(settings) or ()
        if isinstance(component, type) and "prepare" in vars(component)
    ]


class ExtractPipeline:
    """Page -> Article. A page trafilatura cannot read is dropped, logged and counted.

    With NEWSCRAWL_EXTRACT_WORKERS > 0 the extraction, and the per-page cleaning stages
    after it (`extract_page`), run in worker processes (newscrawl/workers.py) and
    `process_item` awaits them, so the reactor keeps downloading; a worker that crashes or
    hangs on a page costs that page only.
    """

    def __init__(
        self,
        crawler: Crawler,
        mode: str = "balanced",
        audit: bool = False,
        workers: int = 0,
        timeout: float | None = DEFAULT_EXTRACT_TIMEOUT,
        function: str = DEFAULT_EXTRACT_FUNCTION,
        stages: Sequence[str] = (),
        prepare: Sequence[str] = (),
    ) -> None:
        self.crawler = crawler
        self.mode = mode
        self.audit = audit
        self.workers = workers
        self.timeout = timeout
        self.function_path = function
        self.stages = tuple(stages)
        self.prepare = tuple(prepare)
        self.pool: ExtractorPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        settings = crawler.settings
        workers = extract_workers(settings)
        function = str(settings.get("NEWSCRAWL_EXTRACT_FUNCTION") or DEFAULT_EXTRACT_FUNCTION)
        try:
            load_function(function)
        except (ImportError, ValueError) as error:
            raise SettingError(
                f"NEWSCRAWL_EXTRACT_FUNCTION={function!r}: expected the dotted path of a "
                f"function (html, url, mode) -> dict | None ({error})"
            ) from None
        return cls(
            crawler,
            mode=get_choice(settings, "NEWSCRAWL_EXTRACT_MODE", "balanced", EXTRACT_MODES),
            audit=get_bool(settings, "NEWSCRAWL_AUDIT"),
            workers=workers,
            timeout=get_float(settings, "NEWSCRAWL_EXTRACT_TIMEOUT", DEFAULT_EXTRACT_TIMEOUT),
            function=function,
            stages=per_page_stages(settings),
            prepare=preparing_stages(settings),
        )

    def open_spider(self) -> None:
        self.stages = self._built(self.stages)
        self.prepare = self._prepared_by_built(self.prepare)
        if self.workers > 0 and self.pool is None:
            preload = worker_preload(self.stages, self.function_path, self.prepare)
            self.pool = ExtractorPool(EXTRACT_PAGE, self.workers, self.timeout, preload=preload)
            logger.info(
                "extracting in %d worker processes, cleaning stages %s there too",
                self.workers,
                ", ".join(_loaded(path).stage for path in self.stages) or "(none)",
            )

    def _following(self) -> list[Any] | None:
        """The pipelines Scrapy built after this one; None when not in a crawl."""
        try:
            built = self.crawler.engine.scraper.itemproc.middlewares
        except (RuntimeError, AttributeError):  # no engine: not in a crawl
            built = ()
        if self not in built:
            return None
        return list(built[built.index(self) + 1 :])

    def _prepared_by_built(self, prepare: tuple[str, ...]) -> tuple[str, ...]:
        """`prepare` without the stages Scrapy did not build (NotConfigured)."""
        following = self._following()
        if following is None:
            return prepare  # not in a crawl (tests, tools): as ITEM_PIPELINES says
        built = {type(component) for component in following}
        return tuple(path for path in prepare if load_function(path) in built)

    def _built(self, stages: tuple[str, ...]) -> tuple[str, ...]:
        """`stages` up to the first one Scrapy did not build right after this pipeline (a
        stage whose from_crawler raised NotConfigured is not in the crawl)."""
        following = self._following()
        if following is None:
            return stages  # not in a crawl (tests, tools): as ITEM_PIPELINES says
        kept = []
        for path, component in zip(stages, following, strict=False):
            if load_function(path) is not type(component):
                break
            kept.append(path)
        return tuple(kept)

    def close_spider(self) -> None:
        """Stop and reap the workers: at crawl end and after Ctrl-C (Scrapy closes the spider)."""
        if self.pool is not None:
            self.pool.close(cancel_pending=True)
            self.pool = None

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        job = (item, self.mode, self.audit, self.stages, self.function_path, self.prepare)
        try:
            article = await self._extract(job)
        except ExtractTimeout as error:  # the worker was killed and replaced
            self._fail(item, "extract-timeout", error)
        except ExtractCrash as error:  # the worker died and was replaced
            self._fail(item, "extract-crash", error)
        except Exception as error:  # any extractor bug costs this page only
            self._fail(item, "extract", error)
        if article is None:
            self._inc("newscrawl/dropped/extract:no-text")
            raise drop_item(f"extract: no article text found in {item.final_url}", "INFO")
        return article

    async def _extract(self, job: tuple[Any, ...]) -> Article | None:
        if self.pool is not None:
            try:
                return await self.pool.run(*job)
            except WorkerStartFailed as error:  # this page was not tried: inline, below
                if self.pool is not None and not self.pool.running:
                    self._extract_inline_from_now(error)
            except PoolClosed:
                pass  # closed meanwhile (see below, or at shutdown): this page inline
        return extract_page(*job)

    def _extract_inline_from_now(self, error: WorkerStartFailed) -> None:
        """No worker process is running and none can be started (a sandbox without
        process or pipe support, a process limit): extract in the reactor thread, on one
        core, rather than drop every page."""
        assert self.pool is not None
        pool, self.pool = self.pool, None
        self._inc("newscrawl/errors/extract-workers")
        logger.error("%s; extracting inline (one core) for the rest of the crawl", error)
        # Its queued pages fail the same way and come back here, inline; closing joins the
        # dispatcher threads, which must not hold up the reactor.
        threading.Thread(target=pool.close, name="extract-pool-close", daemon=True).start()

    def _fail(self, item: Page, kind: str, error: Exception) -> NoReturn:
        self._inc(f"newscrawl/errors/{kind}")
        logger.error("extraction failed for %s (%s): %s", item.final_url, kind, error)
        raise drop_item(f"{kind}: {error}", "WARNING")

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)
