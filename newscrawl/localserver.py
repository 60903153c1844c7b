"""A loopback HTTP server for fixture sites: the offline demo and the tests crawl it.

Python's http.server does the serving; we only add what fixture sites need:

- the placeholder `{{BASE}}` in text files (and inside `.gz` files) becomes the server's
  own base URL (sitemaps and feeds need absolute URLs, and the port is only known at
  start); `{{SITE}}` becomes the URL of the site folder the file belongs to, so a site
  works both when served at the root and as a sub-folder of fixtures/sites/;
- a site folder may hold `_server.json` with special routes (what a real site does and a
  folder of files cannot): redirects, error statuses, raw bytes with a chosen
  Content-Type header (or none, to test charset detection). Files whose name starts
  with `_` are never served.

`_server.json` format::

    {"routes": {
        "old/story.html": {"status": 301, "location": "2026/11/03/story.html"},
        "gone.html": {"status": 410},
        "cp1251.html": {"file": "raw/cp1251.html", "content_type": "text/html"},
        "bare.html": {"file": "raw/bare.html", "content_type": null},
        "busy.html": {"status": 503, "body": "Busy", "headers": {"Retry-After": "1"}}
    }}

Route keys and `file` are relative to the site folder; a relative `location` is resolved
against the site URL.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

PLACEHOLDER = b"{{BASE}}"
SITE_PLACEHOLDER = b"{{SITE}}"
SITE_CONFIG = "_server.json"
_TEXT_SUFFIXES = {".html", ".htm", ".xml", ".txt", ".rss", ".atom", ".json"}


class FixtureHandler(SimpleHTTPRequestHandler):
    # Keep-alive, as news sites serve: one connection carries many pages, so a benchmark
    # does not time a TCP handshake per page on both ends. No Nagle: the headers and the
    # body are two writes, and the body would wait for the client's delayed ACK of the
    # headers (~40 ms a page, the stall trafilatura's downloader showed on HTTP/1.1).
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def send_head(self) -> Any:
        parts = [p for p in unquote(urlsplit(self.path).path).split("/") if p]
        if any(part.startswith("_") or part == ".." for part in parts):
            self.send_error(404, "File not found")
            return None
        site = self._site_of(parts)
        if site is not None:
            site_dir, depth, config = site
            route = config.get("routes", {}).get("/".join(parts[depth:]))
            if route is not None:
                return self._send_route(route, site_dir, parts[:depth])
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not urlsplit(self.path).path.endswith("/"):
                return super().send_head()  # redirects to the path with a slash
            path = path / "index.html"
        suffix = path.suffix
        if not path.is_file() or (suffix not in _TEXT_SUFFIXES and suffix != ".gz"):
            return super().send_head()
        body = path.read_bytes()
        if suffix == ".gz":
            body = gzip.compress(self._substitute(gzip.decompress(body), parts), mtime=0)
            content_type = "application/gzip"
        else:
            body = self._substitute(body, parts)
            content_type = self.guess_type(str(path))
        return self._send_body(200, body, content_type)

    def _site_of(self, parts: list[str]) -> tuple[Path, int, dict[str, Any]] | None:
        """The nearest site folder (one holding `_server.json`) of a URL path, if any."""
        root = Path(self.directory)
        for depth in range(len(parts), -1, -1):
            config = root.joinpath(*parts[:depth], SITE_CONFIG)
            if config.is_file():
                return config.parent, depth, json.loads(config.read_text(encoding="utf-8"))
        return None

    def _site_url(self, site_parts: list[str]) -> str:
        base_url: str = getattr(self.server, "base_url", "")
        return base_url + "".join("/" + part for part in site_parts)

    def _substitute(self, body: bytes, parts: list[str]) -> bytes:
        base_url: str = getattr(self.server, "base_url", "")
        site = self._site_of(parts)
        site_url = self._site_url(parts[: site[1]]) if site else base_url
        body = body.replace(SITE_PLACEHOLDER, site_url.encode("ascii"))
        return body.replace(PLACEHOLDER, base_url.encode("ascii"))

    def _send_route(self, route: dict[str, Any], site_dir: Path, site_parts: list[str]) -> Any:
        status = int(route.get("status", 200))
        site_url = self._site_url(site_parts) + "/"
        if "location" in route:
            self.send_response(status)
            self.send_header("Location", urljoin(site_url, route["location"]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return io.BytesIO(b"")
        body = b""
        if "file" in route:
            file_parts = [p for p in route["file"].split("/") if p]
            body = self._substitute(site_dir.joinpath(*file_parts).read_bytes(), site_parts)
        elif "body" in route:
            body = str(route["body"]).encode("utf-8")
        content_type = route.get("content_type", "text/html")
        return self._send_body(status, body, content_type, route.get("headers", {}))

    def _send_body(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> io.BytesIO:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def guess_type(self, path: Any) -> str:
        kind = super().guess_type(path)
        return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the crawler logs
        pass


@contextmanager
def serve_directory(
    root: Path, host: str = "127.0.0.1", handler: type[FixtureHandler] = FixtureHandler
) -> Iterator[str]:
    """Serve `root` on a free port of `host` in a thread; yields the base URL."""
    server = ThreadingHTTPServer((host, 0), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True
    base_url = f"http://{host}:{server.server_address[1]}"
    server.base_url = base_url  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="fixture-server", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
