"""Scrapy settings for newscrawl.

Every NEWSCRAWL_* setting is defined here with its default and what it does; components
read them in `from_crawler` and fail at start with a message naming the setting when a
value is wrong. Anything here can be overridden per run with `-s NAME=VALUE`.
"""

import os

from scrapy.settings import default_settings

BOT_NAME = "newscrawl"
SPIDER_MODULES = ["newscrawl.spiders"]
NEWSPIDER_MODULE = "newscrawl.spiders"

# --- Politeness ------------------------------------------------------------------------
# Set a real contact before crawling other people's sites (README, "Crawling a real site").
USER_AGENT = "newscrawl/0.1 (+https://example.org/newscrawl; contact: you@example.org)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Items processed at once per response. Scrapy starts this many asyncio tasks for every
# response, and our spiders yield one article per response: the default (100) cost about
# 2 ms of reactor CPU per page for nothing (docs/performance.md). Extraction parallelism
# comes from the worker pool across responses, not from this.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
# Retries wait (newscrawl.retry.BackoffRetryMiddleware, which replaces Scrapy's): this many
# seconds before the first retry, doubled for each next one, at least what a Retry-After
# header asks, at most NEWSCRAWL_RETRY_BACKOFF_MAX. 0 retries at once (Scrapy's behaviour).
NEWSCRAWL_RETRY_BACKOFF = 1.0
NEWSCRAWL_RETRY_BACKOFF_MAX = 60.0
DOWNLOAD_TIMEOUT = 30
# News pages larger than this are not articles; cap what one response may cost us.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
REDIRECT_ENABLED = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control extension (on by default in Scrapy 2.19) starts an HTTP server in
# every crawl that runs Python code sent to it, and writes its access token to the user's
# profile. A scheduled news crawl has no use for it. Off here, and left out of
# EXTENSIONS_BASE below: a disabled extension is still imported (and so is one set to None
# in EXTENSIONS: Scrapy imports every key there), and this one imports aiohttp, 0.1-0.2 s
# of every crawl's start-up.
REMOTE_CONTROL_ENABLED = False

# --- Components -----------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # Refuses loopback/private addresses unless NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES.
    "newscrawl.middlewares.PrivateAddressGuard": 50,
    # Skips article URLs already written by an earlier run (NEWSCRAWL_STATE, docs/scheduled.md).
    "newscrawl.incremental.IncrementalMiddleware": 60,
    # Scrapy's retry, plus a wait before each retry (NEWSCRAWL_RETRY_BACKOFF).
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "newscrawl.retry.BackoffRetryMiddleware": 550,
}
# Request dedup for this run only, even with JOBDIR: a persisted filter would remember
# requests lost when a crawl is killed; the state store decides across runs.
DUPEFILTER_CLASS = "newscrawl.incremental.RunDupeFilter"

ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.duplicates.DuplicatesPipeline": 300,
    # Widget noise: rule packs per language (pipelines/rules/*.toml) + language-free detectors.
    "pipelines.widgets.WidgetsPipeline": 400,
    # Lines recurring across many pages of one site (learned in the state store).
    "pipelines.templates.TemplatesPipeline": 500,
    # Drops what is no longer an article (too short, a listing page): NEWSCRAWL_MIN_WORDS.
    "pipelines.quality.QualityPipeline": 600,
    # The same article already emitted, this run or an earlier one (canonical URL, hash, MinHash).
    "pipelines.articles.ArticlesPipeline": 700,
}

FEED_EXPORTERS = {
    "jsonl": "newscrawl.exporters.ArticleJsonLinesExporter",
    "jsonlines": "newscrawl.exporters.ArticleJsonLinesExporter",
}
FEED_EXPORT_ENCODING = "utf-8"
# Feeds of a run. Left empty here: `scrapy crawl` without -o/-O/FEEDS writes the one
# JSONL file named by NEWSCRAWL_OUTPUT (a default in FEEDS would be written *besides*
# the file given with -O, since Scrapy merges FEEDS across priorities).
FEEDS: dict[str, dict[str, str]] = {}
# Default output of `scrapy crawl` when no feed is given ("" = none); Scrapy's feed URI
# parameters apply: %(name)s is the spider, %(time)s the start time.
NEWSCRAWL_OUTPUT = "output/%(name)s/%(time)s.jsonl"
# Local files are written to `.NAME.<token>.part` and renamed when the feed closes, then
# NAME.manifest.json is written: downstream jobs never see a partial file (docs/operations.md).
FEED_STORAGES = {
    "": "newscrawl.feeds.AtomicFileFeedStorage",
    "file": "newscrawl.feeds.AtomicFileFeedStorage",
}
# Write NAME.manifest.json (records, sha256, run id, run summary) after each output file.
NEWSCRAWL_FEED_MANIFEST = True
# A `.part` file left by a crashed run is published as NAME.recovered-<token>.EXT (its
# complete lines) when True, removed when False; logged and counted either way.
NEWSCRAWL_FEED_RECOVER = True

# Run report in the log at the end of every crawl, and the outright-failure flag that
# the `crawl` command below turns into a non-zero exit status. Ordered before Scrapy's
# FeedExporter (0) so the last manifest carries the final summary.
EXTENSIONS = {
    "newscrawl.extensions.RunReport": -10,
    # Fewer garbage-collector passes while a spider runs (newscrawl/gctuning.py).
    "newscrawl.gctuning.CrawlGarbageCollector": 0,
}
# Container allocations between two young-generation collections in the crawling process
# while a spider runs (Python's default: 700); 0 leaves Python's thresholds alone.
NEWSCRAWL_GC_THRESHOLD = 10000
EXTENSIONS_BASE = {
    path: order
    for path, order in default_settings.EXTENSIONS_BASE.items()
    if path != "scrapy.extensions.remote_control.RemoteControl"
}
# `scrapy crawl` from newscrawl.commands_scrapy: exits 3 when the crawl failed outright.
COMMANDS_MODULE = "newscrawl.commands_scrapy"
# Path of a JSON file receiving all crawl stats plus the run summary when the crawl
# ends ("" = none). The run id is the scrapyd job id, else NEWSCRAWL_RUN_ID, else
# generated (UTC time + random).
NEWSCRAWL_STATS_FILE = ""
NEWSCRAWL_RUN_ID = ""

LOG_LEVEL = "INFO"
# "Dropped"/"Error processing"/"Scraped" log lines name the item's URL instead of printing
# the item (a dropped Page would put its whole HTML on one log line).
LOG_FORMATTER = "newscrawl.logformatter.UrlLogFormatter"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# --- newscrawl ---------------------------------------------------------------------------
# Requests to loopback, private and link-local addresses are refused unless True
# (tests and the offline demo set it; a crawler should not probe the local network).
NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES = False

# When True, each output line also carries `removed`: every removed text with its
# stage and rule, so a reviewer can check that only noise went.
NEWSCRAWL_AUDIT = False

# How trafilatura is asked to extract: "balanced" (default: its precision mode, falling back
# to its default mode when precision keeps under a fifth of the text; best F1 on the
# extraction benchmark, see docs/evaluation.md), or one of trafilatura's own modes:
# "precision", "recall", "default".
NEWSCRAWL_EXTRACT_MODE = "balanced"

# The quality stage drops an article whose clean body has fewer words than this
# (quality:too-short). Low on purpose: a one-paragraph brief is an article. 0 switches the
# length test off; empty bodies and listing pages are still dropped.
NEWSCRAWL_MIN_WORDS = 15

# The state store (newscrawl/state.py): seen article URLs, per-site line statistics,
# article fingerprints. "sqlite:///PATH" (relative to the working directory, or
# sqlite:////abs/path), "memory://" (forget everything at exit: one-off full runs, tests).
# The environment variable NEWSCRAWL_STATE, if set, replaces this default.
NEWSCRAWL_STATE = os.environ.get("NEWSCRAWL_STATE") or "sqlite:///.newscrawl/state.db"
# Fetch an article written by an earlier run again once this long has passed since it was
# written: "30m", "12h", "7d", "2w"; "" (default) = never (only when discovery gives a
# newer lastmod). `-a fresh=1` refetches everything for one run.
NEWSCRAWL_REFETCH_AFTER = ""
# templates stage: a line is site furniture once the site has MIN_PAGES pages counted and the
# line was seen on at least MIN_COUNT pages and on MIN_SHARE of them (pipelines/templates.py).
NEWSCRAWL_TEMPLATES_MIN_PAGES = 20
NEWSCRAWL_TEMPLATES_MIN_COUNT = 5
NEWSCRAWL_TEMPLATES_MIN_SHARE = 0.02
# articles stage: MinHash similarity (estimated Jaccard of 5-word shingles) at or above
# which two texts under different URLs are one article (pipelines/articles.py).
NEWSCRAWL_NEAR_DUPLICATE_THRESHOLD = 0.8

# Extraction runs in this many worker processes so the reactor keeps downloading while
# pages are parsed (docs/performance.md). "auto" (default): one per CPU this process may
# use; 0: extract inline in the reactor thread (no child processes; slower).
NEWSCRAWL_EXTRACT_WORKERS = "auto"
# Seconds one page may take in a worker (extraction and the per-page cleaning stages run
# there) before the worker is killed and replaced; the page is dropped and counted
# (newscrawl/errors/extract-timeout). 0: no limit. Not enforced when
# NEWSCRAWL_EXTRACT_WORKERS=0.
NEWSCRAWL_EXTRACT_TIMEOUT = 30.0
# Dotted path of the function workers run, (html, url, mode) -> dict | None. Only tests
# change it (to a function that crashes or hangs on purpose).
NEWSCRAWL_EXTRACT_FUNCTION = "pipelines.extract.extract_html"
