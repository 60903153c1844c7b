"""A pool of extraction processes, so the reactor keeps downloading while pages are parsed.

trafilatura is CPU-bound pure Python: run in the reactor thread it stalls every download
and uses one core. `ExtractorPool` runs an extract function (`html, url, mode -> dict`) in
worker processes instead.

Why a small pool of our own rather than `concurrent.futures.ProcessPoolExecutor`: the
executor cannot tell which page killed a worker (every pending page fails with
BrokenProcessPool) and cannot stop one hung page without killing the whole pool. Here each
worker process is fed by its own dispatcher thread, which knows the order of the pages in
the worker's pipe (PIPELINE_DEPTH), so a crash or a timeout is pinned to exactly one page;
only that worker is replaced, and the pages queued behind it go to its replacement.

- Start method `forkserver`: forking the process that runs the Twisted/asyncio reactor
  would copy its threads' locks and sockets into the child. The fork server is a clean,
  single-threaded process that imports the extract function's module and whatever else
  it is given to preload once (trafilatura, lxml, the cleaning stages and their compiled
  rules: about 1 s of CPU); every worker, and every replacement of a crashed, hung or
  recycled one, is a fork of it that starts in milliseconds, warm. `start_fork_server`
  starts it early, so that this work runs on another core while the crawl is set up.
- Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent, not each
  worker, decides when to stop (Scrapy first finishes the pages in flight).
- A worker exits on its own when the parent goes away (its pipe reads EOF), so a parent
  killed hard leaves no orphans.
- Back-pressure: `run()` admits at most `max_pending` pages at a time (default
  BACKLOG_PER_WORKER per worker); other callers wait, so the backlog in the
  pool never grows with the download rate. Scrapy's own scraper slot
  (SCRAPER_SLOT_MAX_ACTIVE_SIZE) then stops downloading while responses wait for items.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

# asyncio is imported where the crawling process awaits: the workers' fork server imports
# this module for `_worker_main`, and asyncio would be 45 ms of its start-up.
if TYPE_CHECKING:
    import asyncio

logger = logging.getLogger(__name__)

# Tries of a page whose worker dies under it: the second, on a fresh worker, tells a page
# that crashes workers from a worker that was already dead.
CRASH_ATTEMPTS = 2

# Workers are forks of a clean fork server (see the module docstring), never of the reactor;
# where there is no fork server (Windows), spawned interpreters.
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
# Pages in one worker's pipe: the one being extracted and the next, so that the worker goes
# on at once instead of waiting for its dispatcher thread, which needs the GIL and can wait
# up to sys.getswitchinterval() (5 ms) for the reactor thread to let it go.
PIPELINE_DEPTH = 2
# Pages admitted per worker: those in its pipe and a few waiting for whichever worker is
# free first. A finished page lets the next one in only when the reactor thread resumes
# its coroutine, between bursts of download work that can outlast a page's extraction;
# with one waiting page per worker (3 in all), the workers of a 2-core crawl of the demo
# site were idle while 300 downloaded pages waited, and the crawl took 20-25% longer
# than with 8 (benchmarks/README.md). A few pages per worker is still a bounded backlog.
BACKLOG_PER_WORKER = 8
# A worker is replaced after this many pages: trafilatura/lxml keep caches that grow
# slowly with the variety of pages seen; recycling bounds a long crawl's memory at the
# cost of one fork and a warm-up page (~0.15 s of CPU) per this many pages.
PAGES_PER_WORKER = 2000
# How long close() waits for a worker to finish its page and exit before killing it.
CLOSE_GRACE_SECONDS = 5.0


class ExtractCrash(RuntimeError):
    """The worker process died while extracting this page (segfault, os._exit, OOM kill)."""


class WorkerStartFailed(ExtractCrash):
    """No worker process could be started (the system refused a process, a pipe or the fork
    server): the page was not tried."""


class ExtractTimeout(RuntimeError):
    """The page took longer than the per-page timeout; its worker was killed and replaced."""


class ExtractFailure(RuntimeError):
    """The extract function raised in the worker; the message is the worker's exception."""


class PoolClosed(RuntimeError):
    """The pool was closed before this page was done."""


def cpu_count() -> int:
    """CPUs this process may run on (respects taskset/cgroup affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def load_function(path: str) -> Callable[..., Any]:
    """The callable named by a dotted path `package.module.name`."""
    module_name, _, name = path.rpartition(".")
    if not module_name:
        raise ValueError(f"{path!r} is not a dotted path (package.module.function)")
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise ValueError(f"{path!r} does not name a function")
    return function


def start_fork_server(modules: Iterable[str]) -> None:
    """Start this process's fork server now, importing `modules` in it, unless it runs.

    Called while Scrapy is still setting up the crawl (about a second of imports and
    component set-up), the fork server's own imports and warm-up run on another core
    meanwhile instead of after the spider has opened. Only the first call in a process
    decides what the fork server imports. A fork server that cannot start is left to the
    pool, which reports it when its first worker fails to start.

    The fork server is started with SIGINT ignored, which it inherits: multiprocessing
    ignores it there only once the imports are done, and a Ctrl-C (sent by the terminal to
    the whole process group) during that second would kill it and leave the crawl
    without workers instead of letting Scrapy finish the pages in flight."""
    if START_METHOD != "forkserver":
        return
    import multiprocessing.forkserver  # POSIX only

    multiprocessing.get_context(START_METHOD).set_forkserver_preload(list(modules))
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main_thread else None
    try:
        multiprocessing.forkserver.ensure_running()
    except Exception as error:  # the first worker that cannot start says why, with the page
        logger.debug("fork server not started: %r", error)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _receive_all(conn: Connection, inbox: queue.SimpleQueue[Any]) -> None:
    """Move every job from the pipe into `inbox` as it arrives; None when the parent is gone.

    A page larger than the pipe's buffer (~180 KB, a common size for news HTML) sent while
    this worker is busy would otherwise block its dispatcher in send() until the current
    page is done: no timeout check meanwhile, and a deadlock when the current page's
    result is that large too (each side blocked in send to the other)."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            job = None  # the parent is gone
        inbox.put(job)
        if job is None:
            return


def _worker_main(conn: Connection, function_path: str) -> None:
    """Worker loop: receive (args), send ("ok", result) or ("error", text); None stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    function = load_function(function_path)
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=_receive_all, args=(conn, inbox), daemon=True).start()
    while True:
        job = inbox.get()
        if job is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", function(*job))
        except Exception as error:
            reply = ("error", f"{type(error).__name__}: {error}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception as error:  # an unpicklable result
            conn.send(("error", f"result cannot be sent back: {error!r}"))


_QueuedJob = tuple[tuple[Any, ...], "concurrent.futures.Future[Any]"]


@dataclass
class _Job:
    args: tuple[Any, ...]
    future: concurrent.futures.Future[Any]
    attempts: int = 0  # worker deaths while this page was being extracted


class _Worker:
    """One worker process and the dispatcher thread that feeds it (PIPELINE_DEPTH pages in its
    pipe at most) and hands its results back."""

    def __init__(self, pool: ExtractorPool, number: int) -> None:
        self.pool = pool
        self.number = number
        self.process: Any = None
        self.conn: Connection | None = None
        self.pages = 0  # pages sent to the current process
        self.flight: deque[_Job] = deque()  # sent to the worker, in order; the head is running
        self.head_since = 0.0  # when the page at the head of the pipe started
        # Written by submit(): wakes this dispatcher while it waits for a result with room
        # in the pipe, so a new page is sent at once (no polling loop taking the GIL).
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.thread = threading.Thread(
            target=self._run, name=f"extract-dispatch-{number}", daemon=True
        )

    def _start(self) -> None:
        ends: tuple[Connection, ...] = ()
        try:
            ends = parent_end, child_end = self.pool.context.Pipe(duplex=True)
            process = self.pool.context.Process(
                target=_worker_main,
                args=(child_end, self.pool.function_path),
                name=f"newscrawl-extract-{self.number}",
                daemon=True,
            )
            process.start()
        except Exception as error:
            for end in ends:
                end.close()
            raise WorkerStartFailed(f"cannot start a worker process: {error!r}") from None
        child_end.close()  # the child holds its own copy; ours would hide its death (no EOF)
        self.process, self.conn, self.pages = process, parent_end, 0
        self.pool._started(process.pid)

    def _stop(self, kill: bool) -> None:
        """Ask the worker to exit (or kill it) and reap it."""
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if process is None or conn is None:
            return
        self.pool._stopped()
        if not kill:
            with contextlib.suppress(OSError, ValueError):  # already dead: reaped below
                conn.send(None)
            process.join(CLOSE_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        conn.close()
        process.close()

    def _run(self) -> None:
        try:
            self._start()  # now, so that interpreter start overlaps the first downloads
        except WorkerStartFailed as error:
            logger.warning("extract worker %d: %s", self.number, error)
        flight = self.flight
        stopping = False
        while flight or not stopping:
            try:
                stopping = self._fill(stopping)
                if flight:
                    self._wait(room=not stopping and len(flight) < PIPELINE_DEPTH)
            except Exception as error:  # a bug or a worker that cannot start: these pages only
                if not isinstance(error, WorkerStartFailed):
                    logger.exception("extract worker %d failed", self.number)
                for job in flight:
                    if job.future.done():
                        continue
                    # "not tried" only for a page no worker has died on: the caller may run
                    # such a page elsewhere, not one that may be what killed the worker.
                    if isinstance(error, WorkerStartFailed) and not job.attempts:
                        job.future.set_exception(WorkerStartFailed(str(error)))
                    else:
                        job.future.set_exception(ExtractCrash(f"cannot run a worker: {error}"))
                flight.clear()
                self._stop(kill=True)
        self._stop(kill=False)

    def _fill(self, stopping: bool) -> bool:
        """Send queued pages while the pipe has room (blocks for one when idle); True once
        the pool asked this worker to stop."""
        flight = self.flight
        while not stopping and len(flight) < PIPELINE_DEPTH:
            if flight and self.pages >= PAGES_PER_WORKER:
                break  # due for recycling: let the pages in flight finish first
            try:
                item = self.pool.jobs.get() if not flight else self.pool.jobs.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return True
            job = _Job(*item)
            if not job.future.set_running_or_notify_cancel():
                continue
            # A worker that died while idle (OOM killer) must not be blamed on this page.
            if not flight and (
                self.process is None
                or self.pages >= PAGES_PER_WORKER
                or not self.process.is_alive()
            ):
                self._stop(kill=False)
                try:
                    self._start()
                except WorkerStartFailed as error:
                    job.future.set_exception(error)
                    continue
            self._send(job)
        return stopping

    def _send(self, job: _Job) -> None:
        flight = self.flight
        if not flight:
            self.head_since = time.monotonic()
        flight.append(job)
        self.pages += 1
        assert self.conn is not None
        try:
            self.conn.send(job.args)
        except (OSError, ValueError):
            pass  # the worker died between two pages: the wait that follows reads its end
            # of file and handles it as a crash
        except Exception as error:  # the page cannot be pickled; nothing was written
            flight.pop()
            self.pages -= 1
            job.future.set_exception(ExtractFailure(f"cannot send the page: {error!r}"))

    def _wait(self, room: bool) -> None:
        """Wait for the head page's result, or for its timeout, or (while the pipe has room)
        for a new page to send."""
        flight = self.flight
        assert self.conn is not None and self.process is not None
        timeout = self.pool.timeout
        left = None if timeout is None else max(0.0, self.head_since + timeout - time.monotonic())
        try:
            if room:
                ready = bool(wait([self.conn, self.wake_r], left))
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_r, 4096)  # the nudges are only a wake-up call
                ready = self.conn.poll(0) if ready else False
            else:
                ready = self.conn.poll(left)
        except (OSError, ValueError):  # the worker died
            ready = True
        if not ready:
            if timeout is not None and time.monotonic() - self.head_since >= timeout:
                head = flight.popleft()
                try:
                    self._restart(kill=True)
                finally:  # even when no replacement starts: the page is done either way
                    head.future.set_exception(ExtractTimeout(f"no result after {timeout:g} s"))
            return
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(1.0)
            code = self.process.exitcode
            if self.pool.closed:  # killed by close(): no replacement, no retry
                self._stop(kill=True)
                for job in flight:
                    job.future.set_exception(PoolClosed("the extract pool was closed"))
                flight.clear()
                return
            head = flight[0]
            head.attempts += 1
            # A worker killed just before this page (its death not yet visible to
            # is_alive()) looks like a crash on the page: only a page that kills a fresh
            # worker too is blamed.
            blamed = head.attempts >= CRASH_ATTEMPTS
            if blamed:
                flight.popleft()
            try:
                self._restart(kill=True)
            finally:
                if blamed:
                    died = ExtractCrash(f"worker process died (exit code {code})")
                    head.future.set_exception(died)
            return
        head = flight.popleft()
        self.head_since = time.monotonic()  # the next page in the pipe starts now
        if status == "ok":
            head.future.set_result(value)
        else:
            head.future.set_exception(ExtractFailure(value))

    def _restart(self, kill: bool) -> None:
        """A fresh worker, given again the pages the old one had not finished."""
        self._stop(kill=kill)
        self._start()
        pending = list(self.flight)
        self.flight.clear()
        for job in pending:
            self._send(job)


class ExtractorPool:
    """`workers` processes running `function_path(*args)`; see the module docstring."""

    def __init__(
        self,
        function_path: str,
        workers: int,
        timeout: float | None = None,
        max_pending: int | None = None,
        preload: Iterable[str] = (),
    ) -> None:
        if workers < 1:
            raise ValueError("an ExtractorPool needs at least one worker")
        load_function(function_path)  # fail now, in the parent, on a wrong path
        self.function_path = function_path
        self.timeout = timeout or None  # 0/None: wait forever
        self.max_pending = max_pending or workers * BACKLOG_PER_WORKER
        self.context: Any = multiprocessing.get_context(START_METHOD)
        # The fork server of a process is started once, by start_fork_server or the first
        # pool; a later pool's modules are imported by each of its workers instead.
        start_fork_server([__name__, function_path.rpartition(".")[0], *preload])
        self.jobs: queue.SimpleQueue[_QueuedJob | None] = queue.SimpleQueue()
        self.pids: list[int] = []  # every worker process ever started, for tests and logs
        self.running = 0  # worker processes started and not stopped since
        self.pending = 0  # pages admitted by run() and not finished yet
        self.peak_pending = 0
        self._semaphore: asyncio.Semaphore | None = None
        self.closed = False
        self._lock = threading.Lock()
        self._workers = [_Worker(self, number) for number in range(workers)]
        for worker in self._workers:
            worker.thread.start()

    def _started(self, pid: int) -> None:
        with self._lock:
            self.pids.append(pid)
            self.running += 1

    def _stopped(self) -> None:
        with self._lock:
            self.running -= 1

    def submit(self, *args: Any) -> concurrent.futures.Future[Any]:
        """Queue one call; the future fails with ExtractCrash/ExtractTimeout/ExtractFailure."""
        if self.closed:
            raise PoolClosed("the extract pool is closed")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.jobs.put((args, future))
        # Only a dispatcher waiting for a result with room in its pipe needs waking: an idle
        # one is blocked on the queue itself, a full one looks at the queue after its next
        # result. (A length read while it changes is harmless: the page is queued before
        # the read, so a dispatcher that gets room after it finds the page.) On a busy
        # crawl every pipe is full and no wake-up system call is made.
        self._nudge(w for w in self._workers if 0 < len(w.flight) < PIPELINE_DEPTH)
        return future

    async def run(self, *args: Any) -> Any:
        """Extract in a worker without blocking the event loop; waits while the pool is full."""
        import asyncio  # see the note at the imports

        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_pending)
        async with self._semaphore:
            self.pending += 1
            self.peak_pending = max(self.peak_pending, self.pending)
            try:
                return await asyncio.wrap_future(self.submit(*args))
            finally:
                self.pending -= 1

    def close(self, cancel_pending: bool = False) -> None:
        """Stop every worker (after the queued pages, unless `cancel_pending`) and reap it."""
        if self.closed:
            return
        self.closed = True
        if cancel_pending:
            while True:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[1].cancel()
        for _ in self._workers:
            self.jobs.put(None)
        self._nudge(self._workers)
        for worker in self._workers:
            worker.thread.join(CLOSE_GRACE_SECONDS + PIPELINE_DEPTH * (self.timeout or 0))
            if worker.thread.is_alive():  # stuck on a page with no timeout: end it
                process = worker.process
                if process is not None:
                    process.kill()
                worker.thread.join(CLOSE_GRACE_SECONDS)
            if not worker.thread.is_alive():
                os.close(worker.wake_r)
                os.close(worker.wake_w)

    def _nudge(self, workers: Iterable[_Worker]) -> None:
        for worker in workers:
            with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
                os.write(worker.wake_w, b"!")

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(cancel_pending=True)


# How often a spider waiting for room in the item pipelines looks again.
ROOM_POLL_SECONDS = 0.01


async def wait_for_item_room(crawler: Any, limit: int) -> None:
    """Wait until fewer than `limit` items are in the item pipelines.

    Items yielded by `Spider.start()` (the `files` spider of `newscrawl clean`) go to the
    pipelines without any back-pressure: Scrapy's scraper slot only limits responses. A
    spider that reads pages from disk calls this before each yield, so that a directory
    of 100,000 pages is not read into memory while the extraction pool works through it.
    """
    import asyncio  # see the note at the imports

    engine = getattr(crawler, "engine", None)
    while True:
        slot = getattr(getattr(engine, "scraper", None), "slot", None)
        if slot is None or slot.itemproc_size < limit:
            return
        await asyncio.sleep(ROOM_POLL_SECONDS)
