"""The extraction worker pool on its own: results, crashes, hangs, back-pressure, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from newscrawl.fixtures import site_root
from newscrawl.workers import (
    BACKLOG_PER_WORKER,
    CRASH_ATTEMPTS,
    ExtractCrash,
    ExtractFailure,
    ExtractorPool,
    ExtractTimeout,
    PoolClosed,
    load_function,
    wait_for_item_room,
)
from pipelines.extract import extract_html
from tests.extract_hooks import CRASH, FAIL, HANG, SLOW

HOOK = "tests.extract_hooks.misbehaving_extract"
DEMO = site_root("demo")
PAGES = sorted(DEMO.rglob("*.html"))


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (reaped children vanish from /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def page(path: Path) -> tuple[str, str]:
    return path.read_text(encoding="utf-8"), f"http://example.org/{path.relative_to(DEMO)}"


@pytest.fixture
def pool() -> Iterator[ExtractorPool]:
    with ExtractorPool(HOOK, workers=2, timeout=2.0) as pool:
        yield pool


def run_all(pool: ExtractorPool, calls: list[tuple[str, str]]) -> list[object]:
    async def main() -> list[object]:
        runs = (pool.run(html, url, "balanced") for html, url in calls)
        return await asyncio.gather(*runs, return_exceptions=True)

    return asyncio.run(main())


def test_pool_results_equal_inline_extraction(pool: ExtractorPool) -> None:
    calls = [page(p) for p in PAGES]
    results = run_all(pool, calls)
    assert results == [extract_html(html, url, "balanced") for html, url in calls]
    assert any(r is not None for r in results)


def test_crash_hang_and_error_cost_only_their_page(pool: ExtractorPool) -> None:
    html, url = page(PAGES[0])
    good = extract_html(html, url, "balanced")
    assert good is not None
    calls = [(html, url), (html, url + CRASH), (html, url), (html, url + HANG)]
    calls += [(html, url + FAIL), (html, url), (html, url)]
    started = time.monotonic()
    results = run_all(pool, calls)
    assert time.monotonic() - started < 15, "a hung page held up the pool"
    assert isinstance(results[1], ExtractCrash)
    assert isinstance(results[3], ExtractTimeout)
    assert isinstance(results[4], ExtractFailure)
    assert "extractor bug on purpose" in str(results[4])
    assert [results[i] for i in (0, 2, 5, 6)] == [good] * 4
    # replaced: the worker the crashing page killed, the fresh one it killed on its
    # second try (CRASH_ATTEMPTS), and the hung one: 2 at start + 3
    assert len(pool.pids) == 2 + CRASH_ATTEMPTS + 1
    assert run_all(pool, [(html, url)]) == [good]


def test_pages_queued_behind_a_crash_or_hang_in_one_worker_are_not_lost() -> None:
    """One worker: each bad page has the next page already in its pipe (PIPELINE_DEPTH)."""
    html, url = page(PAGES[0])
    good = extract_html(html, url, "balanced")
    calls = [(html, url + CRASH), (html, url), (html, url + HANG), (html, url), (html, url)]
    with ExtractorPool(HOOK, workers=1, timeout=1.0) as pool:
        results = run_all(pool, calls)
    assert isinstance(results[0], ExtractCrash)
    assert isinstance(results[2], ExtractTimeout)
    assert [results[i] for i in (1, 3, 4)] == [good] * 3


def test_a_page_larger_than_the_pipe_behind_a_hung_page_is_not_stuck() -> None:
    """The second page in a worker's pipe is bigger than the pipe's buffer: sending it must
    not wait for the hung page, or that page's timeout would never be checked."""
    html, url = page(PAGES[0])
    big = html.replace("</body>", f"<!-- {'x' * 400_000} --></body>")
    good = extract_html(big, url, "balanced")

    async def main(pool: ExtractorPool) -> list[object]:
        runs = [pool.run(html, url + HANG, "balanced"), pool.run(big, url, "balanced")]
        return await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 30)

    with ExtractorPool(HOOK, workers=1, timeout=1.0) as pool:
        results = asyncio.run(main(pool))
    assert isinstance(results[0], ExtractTimeout)
    assert results[1] == good


def test_close_ends_a_page_that_has_no_timeout() -> None:
    html, url = page(PAGES[0])
    pool = ExtractorPool(HOOK, workers=1, timeout=None)
    hung = pool.submit(html, url + HANG, "balanced")
    time.sleep(0.5)
    pool.close(cancel_pending=True)
    assert isinstance(hung.exception(timeout=5), PoolClosed)
    assert not [pid for pid in pool.pids if alive(pid)]
    assert len(pool.pids) == 1  # killed by close(): not replaced


def test_a_page_that_cannot_be_sent_costs_only_itself() -> None:
    html, url = page(PAGES[0])
    good = extract_html(html, url, "balanced")

    async def main(pool: ExtractorPool) -> list[object]:
        unpicklable = pool.run(html, url, lambda: "a lambda cannot be pickled")
        runs = [pool.run(html, url, "balanced"), unpicklable, pool.run(html, url, "balanced")]
        return await asyncio.gather(*runs, return_exceptions=True)

    with ExtractorPool(HOOK, workers=1, timeout=2.0) as pool:
        results = asyncio.run(main(pool))
        assert len(pool.pids) == 1  # the worker was not blamed, nor replaced
    assert isinstance(results[1], ExtractFailure) and "cannot send the page" in str(results[1])
    assert [results[0], results[2]] == [good, good]


def test_backlog_is_bounded(pool: ExtractorPool) -> None:
    html, url = page(PAGES[0])
    pages = 2 * BACKLOG_PER_WORKER + 4  # more than the two workers' backlog admits
    results = run_all(pool, [(html, f"{url}{SLOW}{n}") for n in range(pages)])
    assert all(isinstance(r, dict) for r in results)
    assert pool.peak_pending == 2 * BACKLOG_PER_WORKER


def test_close_leaves_no_child_processes() -> None:
    pool = ExtractorPool(HOOK, workers=2, timeout=2.0)
    html, url = page(PAGES[0])
    run_all(pool, [(html, url), (html, url + CRASH), (html, url)])
    pids = list(pool.pids)
    assert len(pids) == 2 + CRASH_ATTEMPTS
    pool.close()
    assert not [pid for pid in pids if alive(pid)]
    with pytest.raises(RuntimeError):
        pool.submit(html, url, "balanced")


def test_workers_ignore_sigint(pool: ExtractorPool) -> None:
    html, url = page(PAGES[0])
    run_all(pool, [(html, url)] * 2)  # both workers are up
    for pid in pool.pids:
        os.kill(pid, signal.SIGINT)
    time.sleep(0.3)
    assert all(alive(pid) for pid in pool.pids)
    assert all(isinstance(r, dict) for r in run_all(pool, [(html, url)] * 4))
    assert len(pool.pids) == 2


def test_wrong_function_path_fails_at_start() -> None:
    with pytest.raises((ImportError, ValueError)):
        ExtractorPool("tests.extract_hooks.no_such_function", workers=1)
    with pytest.raises(ValueError):
        load_function("extract_html")


def test_wait_for_item_room_waits_while_pipelines_are_full() -> None:
    slot = SimpleNamespace(itemproc_size=5)
    crawler = SimpleNamespace(engine=SimpleNamespace(scraper=SimpleNamespace(slot=slot)))

    async def main() -> float:
        async def drain() -> None:
            await asyncio.sleep(0.2)
            slot.itemproc_size = 3

        asyncio.get_running_loop().create_task(drain())
        started = time.monotonic()
        await wait_for_item_room(crawler, limit=4)
        return time.monotonic() - started

    assert asyncio.run(main()) >= 0.15
    # no engine yet (or no slot): nothing to wait for
    asyncio.run(wait_for_item_room(SimpleNamespace(engine=None), limit=1))


def test_worker_killed_while_idle_costs_no_page(pool: ExtractorPool) -> None:
    html, url = page(PAGES[0])
    good = run_all(pool, [(html, url)] * 2)
    for pid in pool.pids:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    assert run_all(pool, [(html, url)] * 4) == [good[0]] * 4
