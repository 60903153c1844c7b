"""The state store: both backends behave alike, and commits follow the output files."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler

from newscrawl.config import SettingError
from newscrawl.items import Article
from newscrawl.state import (
    Fingerprint,
    MemoryStore,
    RunState,
    Seen,
    SQLiteStore,
    StateStore,
    open_store,
    records_recovered,
    url_key,
)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port (installed by .ci/run), no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):  # CI must run what it claims to: never a silent skip there
            pytest.fail("redis-server is not installed; .ci/run should have installed it")
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(folder),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "memory":
        backend: StateStore = MemoryStore()
    elif request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "state.db")
    else:
        # a prefix per test: the server is shared by the module's tests
        url = request.getfixturevalue("redis_url")
        backend = open_store(f"{url}?prefix=t{time.monotonic_ns()}")
    yield backend
    backend.close()


def test_seen_roundtrip(store: StateStore) -> None:
    assert store.get_seen(["http://a.example/1"]) == {}
    store.mark_seen(
        [Seen("http://a.example/1", 100.0, "2026-11-01"), Seen("http://a.example/2", 5)]
    )
    found = store.get_seen(["http://a.example/1", "http://a.example/2", "http://a.example/3"])
    assert found["http://a.example/1"] == Seen("http://a.example/1", 100.0, "2026-11-01")
    assert set(found) == {"http://a.example/1", "http://a.example/2"}
    store.mark_seen([Seen("http://a.example/1", 200.0, None)])  # refreshed
    assert store.get_seen(["http://a.example/1"])["http://a.example/1"].written_at == 200.0


def test_page_lines_count_each_page_once(store: StateStore) -> None:
    assert store.count_page_lines("s", "p1", [1, 2]) == (1, {1: 1, 2: 1})
    assert store.count_page_lines("s", "p2", [1, 3]) == (2, {1: 2, 3: 1})
    # the same page again (a refetch, a resumed run) counts nothing
    assert store.count_page_lines("s", "p2", [1, 3]) == (2, {1: 2, 3: 1})
    # other sites are separate
    assert store.count_page_lines("t", "p1", [1]) == (1, {1: 1})


def test_fingerprints(store: StateStore) -> None:
    first = Fingerprint("http://a.example/1", "h1", b"\x01" * 16, (10, 11))
    second = Fingerprint("http://a.example/2", "h2", b"\x02" * 16, (11, 12))
    store.add_fingerprints([first, second])
    assert store.fingerprint_of("http://a.example/1") == first
    assert store.urls_with_hash("h2") == ["http://a.example/2"]
    assert {fp.url for fp in store.near_candidates([11])} == {first.url, second.url}
    assert [fp.url for fp in store.near_candidates([12, 99])] == [second.url]
    updated = Fingerprint("http://a.example/1", "h3", b"\x03" * 16, (13,))
    store.add_fingerprints([updated])
    assert store.fingerprint_of("http://a.example/1") == updated
    assert store.urls_with_hash("h1") == []


def test_sqlite_outlives_the_process_object(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    first = open_store(f"sqlite:///{path}")
    first.mark_seen([Seen("http://a.example/1", 1.0)])
    first.close()
    again = open_store(f"sqlite:///{path}")
    assert "http://a.example/1" in again.get_seen(["http://a.example/1"])
    again.close()


@pytest.mark.parametrize("uri", ["", "mysql://x", "sqlite://", "redis://127.0.0.1:1/0"])
def test_bad_state_setting_names_it(uri: str) -> None:
    with pytest.raises(SettingError, match="NEWSCRAWL_STATE"):
        open_store(uri)


def test_url_key_is_canonical() -> None:
    assert url_key("HTTP://Example.com/a?b=2&a=1#frag") == url_key("http://example.com/a?a=1&b=2")


# --- RunState: commits follow the stored output ------------------------------------------


def article(n: int) -> Article:
    url = f"http://news.example/a{n}"
    return Article(url, url, url, "news.example", None, f"t{n}", [f"text {n}"])


def run_state(feeds: dict[str, Any]) -> RunState:
    crawler = get_crawler(settings_dict={"FEEDS": feeds, "NEWSCRAWL_STATE": "memory://"})
    crawler.spider = SimpleNamespace(name="test")  # type: ignore[assignment]
    return RunState.for_crawler(crawler)


def send(state: RunState, signal: object, **kwargs: Any) -> None:
    state.crawler.signals.send_catch_log(signal, **kwargs)


def slot(uri: str, batch_id: int, items: int) -> SimpleNamespace:
    return SimpleNamespace(uri_template=uri, batch_id=batch_id, itemcount=items)


def seen_urls(state: RunState) -> set[str]:
    store = state.store
    assert isinstance(store, MemoryStore)
    return set(store.seen)


def test_nothing_is_seen_before_its_file_is_stored() -> None:
    state = run_state({"out.jsonl": {"format": "jsonl"}})
    for n in range(3):
        send(state, signals.item_scraped, item=article(n), response=None, spider=None)
    assert seen_urls(state) == set()  # a SIGKILL here leaves nothing marked
    send(state, signals.feed_slot_closed, slot=slot("out.jsonl", 1, 3))
    assert seen_urls(state) == {url_key(f"http://news.example/a{n}") for n in range(3)}


def test_batches_commit_in_order_and_every_feed_must_have_stored() -> None:
    state = run_state({"a-%(batch_id)d.jsonl": {}, "b.jsonl": {}})
    for n in range(5):
        send(state, signals.item_scraped, item=article(n), response=None, spider=None)
    send(state, signals.feed_slot_closed, slot=slot("a-%(batch_id)d.jsonl", 2, 2))
    send(state, signals.feed_slot_closed, slot=slot("b.jsonl", 1, 5))
    assert seen_urls(state) == set()  # batch 1 of feed a is not stored yet
    send(state, signals.feed_slot_closed, slot=slot("a-%(batch_id)d.jsonl", 1, 2))
    assert len(seen_urls(state)) == 4  # a: batches 1+2 = 4 items; b: 5
    send(state, signals.feed_slot_closed, slot=slot("a-%(batch_id)d.jsonl", 3, 1))
    assert len(seen_urls(state)) == 5


def test_a_failed_store_commits_nothing_more() -> None:
    state = run_state({"out.jsonl": {}})
    send(state, signals.item_scraped, item=article(1), response=None, spider=None)
    assert state.crawler.stats is not None
    state.crawler.stats.inc_value("feedexport/failed_count/AtomicFileFeedStorage")
    send(state, signals.feed_slot_closed, slot=slot("out.jsonl", 1, 1))
    send(state, signals.feed_exporter_closed)
    assert seen_urls(state) == set()


def test_without_feeds_the_spider_close_commits() -> None:
    state = run_state({})
    send(state, signals.item_scraped, item=article(1), response=None, spider=None)
    assert seen_urls(state) == set()
    send(state, signals.spider_closed, spider=None, reason="finished")
    assert seen_urls(state) == {url_key("http://news.example/a1")}


def test_recovered_records_are_committed_at_once() -> None:
    state = run_state({"out.jsonl": {}})
    record = {"url": "http://news.example/x?utm=1", "canonical_url": "http://news.example/x"}
    send(state, records_recovered, records=[{**record, "content_hash": "abc"}])
    assert seen_urls(state) == {url_key(record["url"]), url_key(record["canonical_url"])}
    assert state.store.urls_with_hash("abc") == [url_key("http://news.example/x")]


def test_published_but_uncommitted_files_are_committed_at_start(tmp_path: Path) -> None:
    """A kill between a file's rename and its commit: the next start commits its articles."""
    out = tmp_path / "out"
    out.mkdir()
    feeds = {f"{out}/%(name)s-%(time)s.jsonl": {"format": "jsonl"}}
    uri = f"sqlite:///{tmp_path / 'state.db'}"

    def start() -> RunState:
        crawler = get_crawler(settings_dict={"FEEDS": feeds, "NEWSCRAWL_STATE": uri})
        crawler.spider = SimpleNamespace(name="news")  # type: ignore[assignment]
        crawler.stats.open_spider()  # type: ignore[union-attr]
        state = RunState.for_crawler(crawler)
        send(state, signals.spider_opened, spider=crawler.spider)
        return state

    start().close()  # the store exists (and knows when it last committed)
    record = {"url": "http://news.example/a1", "canonical_url": "http://news.example/a1"}
    (out / "news-1.jsonl").write_text(json.dumps(record) + "\n{broken\n", encoding="utf-8")
    (out / ".news-2.jsonl.0123abcd.part").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (out / "news-1.jsonl.manifest.json").write_text("{}", encoding="utf-8")
    state = start()
    assert url_key("http://news.example/a1") in state.store.get_seen([url_key(record["url"])])
    assert state.crawler.stats is not None
    assert state.crawler.stats.get_value("newscrawl/state/reconciled") == 1
    state.close()
    again = start()  # read once: the file is now recorded as committed
    assert again.crawler.stats is not None
    assert again.crawler.stats.get_value("newscrawl/state/reconciled") is None
    again.close()


def test_committed_files_are_not_read_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = out / "a.jsonl"
    crawler = get_crawler(
        settings_dict={"FEEDS": {str(path): {}}, "NEWSCRAWL_STATE": f"sqlite:///{tmp_path}/s.db"}
    )
    crawler.spider = SimpleNamespace(name="news")  # type: ignore[assignment]
    state = RunState.for_crawler(crawler)
    send(state, signals.item_scraped, item=article(1), response=None, spider=None)
    path.write_text(json.dumps(article(1).to_record()) + "\n", encoding="utf-8")
    send(state, signals.feed_slot_closed, slot=SimpleNamespace(
        uri_template=str(path), uri=str(path), batch_id=1, itemcount=1
    ))  # fmt: skip
    assert state.store.committed_files([str(path.resolve())]) == {str(path.resolve())}
    assert state.reconcile(crawler.spider) == 0
