"""A loopback HTTP server for fixture sites: the offline demo and the tests crawl it.

Python's http.server does the serving; we only add what fixture sites need: the
placeholder `{{BASE}}` in text files becomes the server's own base URL (sitemaps and
feeds need absolute URLs, and the port is only known at start).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PLACEHOLDER = b"{{BASE}}"
_TEXT_SUFFIXES = {".html", ".htm", ".xml", ".txt", ".rss", ".atom", ".json"}


class FixtureHandler(SimpleHTTPRequestHandler):
    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file() or path.suffix not in _TEXT_SUFFIXES:
            return super().send_head()
        base_url: str = getattr(self.server, "base_url", "")
        body = path.read_bytes().replace(PLACEHOLDER, base_url.encode("ascii"))
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def guess_type(self, path: Any) -> str:
        kind = super().guess_type(path)
        return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the crawler logs
        pass


@contextmanager
def serve_directory(root: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `root` on a free port of `host` in a thread; yields the base URL."""
    server = ThreadingHTTPServer((host, 0), functools.partial(FixtureHandler, directory=str(root)))
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
