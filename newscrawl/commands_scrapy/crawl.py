"""`scrapy crawl` with an exit status schedulers can act on.

Scrapy's own command exits 0 whenever the crawler started, even if every request
failed. This one exits CRAWL_FAILED when the RunReport extension flagged the crawl as
failed outright (no page fetched, and either errors or nothing to fetch at all).
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from newscrawl.config import SettingError
from newscrawl.reporting import FAILED
from newscrawl.shutdown import quick_exit_after_crawl
from newscrawl.spiders.base import ArgumentError

logger = logging.getLogger(__name__)

# Distinct from Scrapy's 1 (the crawler could not start) and argparse's 2 (usage).
CRAWL_FAILED = 3


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Without -o/-O or FEEDS, write the default NEWSCRAWL_OUTPUT file."""
        super().process_options(args, opts)
        assert self.settings is not None
        default = self.settings.get("NEWSCRAWL_OUTPUT")
        if default and not self.settings.getdict("FEEDS"):
            feed = {"format": "jsonl", "encoding": "utf-8"}
            self.settings.set("FEEDS", {default: feed}, priority="cmdline")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError(
                None
                if not args
                else "running 'scrapy crawl' with more than one spider is not supported"
            )
        assert self.crawler_process
        assert self.settings is not None
        # Imported here: Scrapy imports every command module for any `scrapy` command.
        from pipelines.extract import prestart_workers

        prestart_workers(self.settings)  # the workers' imports overlap the crawler's set-up
        quick_exit_after_crawl()
        crawler = self._create_crawler(args[0])
        started = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(started, asyncio.Future):
            started.add_done_callback(report_start_error)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        elif crawler.stats is not None and crawler.stats.get_value(FAILED):
            self.exitcode = CRAWL_FAILED


def report_start_error(task: asyncio.Future[None]) -> None:
    """A wrong setting or spider argument as one line: its message names what to change.

    Without this, asyncio prints the crawl task's traceback ("Task exception was never
    retrieved") with the message at its very end. Other errors keep their traceback."""
    if task.cancelled():
        return
    error = task.exception()
    if isinstance(error, (SettingError, ArgumentError)):
        logger.error("cannot start the crawl: %s", error)
    elif error is not None:
        logger.error("the crawl stopped with an error", exc_info=error)
