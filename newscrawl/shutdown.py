"""A quick interpreter exit after a crawl.

After a crawl, CPython's finalization runs garbage collections over every
object Scrapy, Twisted and lxml left behind (about 90,000 after 1,000 pages): 0.1 s of
every crawl's exit, a scheduled crawl's included, measured in benchmarks/README.md. At
exit, `collect_and_freeze` collects once (so the finalizers of garbage cycles still run, as
they would at a normal exit) and then freezes what is left, which the finalization's
collections skip; the OS frees it with the process. Objects freed by reference counting,
as module teardown frees most (and with them, open files), are freed as before; cycles
that only become garbage during the teardown are left to the OS too (CPython does not
promise to call `__del__` for objects still alive when the interpreter exits).
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def collect_and_freeze() -> None:
    gc.collect()
    gc.freeze()


def quick_exit_after_crawl() -> None:
    """Have this process run `collect_and_freeze` when it exits (once, however often called).

    An atexit handler rather than a call at the crawl's end: a process that goes on after
    the crawl (a test session, `newscrawl eval`) keeps its garbage collector as it was."""
    global _registered
    if not _registered:
        atexit.register(collect_and_freeze)
        _registered = True
