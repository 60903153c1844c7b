"""Downloader middlewares that guard what the crawler may fetch."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from newscrawl.config import get_bool

logger = logging.getLogger(__name__)

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_private_host(host: str) -> bool:
    """True for loopback, private, link-local and unspecified IP literals and local names.

    Host names are not resolved here (a DNS lookup would block the reactor); a public name
    that resolves to a private address is not caught.
    """
    host = host.strip("[]").lower().rstrip(".")
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    )


class PrivateAddressGuard:
    """Refuses requests to local/private addresses unless NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES."""

    def __init__(self, crawler: Crawler, allow: bool) -> None:
        self.crawler = crawler
        self.allow = allow

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        return cls(crawler, get_bool(crawler.settings, "NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES"))

    def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if self.allow or parts.scheme not in ("http", "https"):
            return
        host = parts.hostname or ""
        if is_private_host(host):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newscrawl/skipped/private-address")
            logger.warning(
                "refused %s: private/loopback address (set NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES=1 "
                "to allow)",
                request.url,
            )
            raise IgnoreRequest(f"private address: {request.url}")
