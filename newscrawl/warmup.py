"""Imported by the extraction workers' fork server, last of its preloaded modules.

Every worker is a fork of that server (newscrawl/workers.py), so what is built here,
once, is there in every worker from its first page on: `pipelines.extract.warm_up`
extracts one small page and compiles the per-page stages' rules. Importing this module
anywhere else only costs that work once; nothing else depends on it.
"""

import logging

from pipelines.extract import warm_up

try:
    warm_up()
except Exception:  # a worker meets the same failure on its first page and reports it there
    logging.getLogger(__name__).debug("warm-up failed", exc_info=True)
