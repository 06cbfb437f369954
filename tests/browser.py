"""Helpers for the browser tests: serve the built site on 127.0.0.1 and drive Debian's Chromium
with Playwright (Playwright's own browser download is unreachable here)."""
from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import os
import shutil
import threading
from urllib.parse import urlparse

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


COMPRESSED_TYPES = (".html", ".js", ".css", ".svg", ".json", ".txt", ".map")


class _GzipHandler(_QuietHandler):
    """Like a static host (GitHub Pages, nginx): text files go out gzip-compressed to a browser
    that accepts it, so that transferred bytes are what a reader downloads."""

    def send_head(self):
        path = self.translate_path(self.path)
        if ("gzip" not in self.headers.get("Accept-Encoding", "")
                or not os.path.isfile(path) or not path.endswith(COMPRESSED_TYPES)):
            return super().send_head()
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(directory, compress: bool = False):
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port); yield the base URL. With
    ``compress``, text files are sent gzip-compressed, as a static host does."""
    handler = functools.partial(_GzipHandler if compress else _QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class PageWatch:
    """Record console errors, page errors and every request to a host other than 127.0.0.1
    (those are aborted, so a test fails instead of hanging on the closed network)."""

    def __init__(self, page):
        self.console_errors: list[str] = []
        self.external_requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("response", lambda r: r.status >= 400 and self.console_errors.append(f"HTTP {r.status} {r.url}"))
        page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.external_requests.append(url)
            route.abort()


class TransferLog:
    """Bytes a page transferred over the network (Chromium DevTools ``encodedDataLength``:
    headers and the compressed body), per URL."""

    def __init__(self, page):
        self.bytes: dict[str, int] = {}
        self._urls: dict[str, str] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.on("Network.responseReceived", lambda e: self._urls.__setitem__(e["requestId"], e["response"]["url"]))
        cdp.on("Network.loadingFinished", self._finished)
        self._cdp = cdp

    def _finished(self, event):
        url = self._urls.get(event["requestId"], event["requestId"])
        self.bytes[url] = self.bytes.get(url, 0) + int(event["encodedDataLength"])

    def total(self, exclude=lambda url: False) -> int:
        return sum(n for url, n in self.bytes.items() if not exclude(url))

    def largest(self, n: int = 5) -> list[tuple[int, str]]:
        return sorted(((b, u.rsplit("/", 1)[-1]) for u, b in self.bytes.items()), reverse=True)[:n]


def overflowing_equations(page) -> list[dict]:
    """Display equations (MathJax CHTML) wider than the column that holds them: each as its
    rendered width, the available width and the start of its text."""
    return page.evaluate("""() => [...document.querySelectorAll('mjx-container[display="true"]')]
        .map(c => ({width: Math.round(c.querySelector('mjx-math').getBoundingClientRect().width),
                    available: Math.round(c.getBoundingClientRect().width),
                    text: (c.parentElement.textContent || '').trim().slice(0, 60)}))
        .filter(e => e.width > e.available + 1)""")


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
