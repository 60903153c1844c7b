"""Extract functions that misbehave on purpose, for the worker-pool tests.

Workers run in other processes, so monkeypatching cannot reach them; tests point
NEWSCRAWL_EXTRACT_FUNCTION (or an ExtractorPool) at `misbehaving_extract` instead. It
crashes, hangs, fails or dawdles when the page URL contains a marker, and otherwise is the
real `extract_html`. `FailingStage` is the same for a cleaning stage run in a worker.
"""

from __future__ import annotations

import os
import time
from typing import Any

from newscrawl.items import Article
from pipelines.base import CleaningStage, Removed
from pipelines.extract import extract_html
from pipelines.widgets import WidgetsPipeline

CRASH = "x-crash-x"  # the worker process dies, as on a segfault or an OOM kill
HANG = "x-hang-x"  # the worker never answers
FAIL = "x-fail-x"  # the extract function raises
SLOW = "x-slow-x"  # takes SLOW_SECONDS, then extracts normally
SLOW_SECONDS = 0.3


def misbehaving_extract(html: str, url: str | None = None, mode: str = "balanced") -> Any:
    url = url or ""
    if CRASH in url:
        os._exit(3)
    if HANG in url:
        time.sleep(3600)
    if FAIL in url:
        raise ValueError("extractor bug on purpose")
    if SLOW in url:
        time.sleep(SLOW_SECONDS)
    return extract_html(html, url, mode)


class FailingStage(CleaningStage):
    """A per-page cleaning stage with a bug on pages whose URL holds the FAIL marker."""

    stage = "failing"
    per_page = True

    def clean(self, article: Article) -> tuple[list[str], Removed]:
        if FAIL in article.final_url:
            raise RuntimeError("stage bug on purpose")
        return article.paragraphs, []


class InheritingWidgets(WidgetsPipeline):
    """Inherits `per_page` without declaring it: it might read settings its parent does not."""


class SecondWidgets(WidgetsPipeline):
    """Declares `per_page` but keeps its parent's stage name."""

    per_page = True
