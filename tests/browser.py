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


#: The site's desktop width and a phone's (CSS pixels), as the presentation checks use them.
DESKTOP_WIDTH, PHONE_WIDTH = 1280, 390


def open_chapter(browser, base: str, name: str, width: int = DESKTOP_WIDTH, open_toggles: bool = True):
    """Open ``book/<name>.html`` at a viewport ``width`` px wide, wait for MathJax to typeset
    every formula and, with ``open_toggles``, open every toggle (hidden inputs, dropdowns), so
    that what a reader can unfold is measured too. Returns the page."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{base}/book/{name}.html", wait_until="load")
    if page.locator(".math").count():
        page.wait_for_function("document.querySelectorAll('mjx-container').length >= "
                               "document.querySelectorAll('.math').length", timeout=30000)
    if open_toggles:
        page.evaluate("() => document.querySelectorAll('article details').forEach(d => d.open = true)")
    page.wait_for_timeout(300)
    return page


def scrolling_code(page) -> list[dict]:
    """Code boxes of the article that scroll sideways (content wider than the box): cell inputs,
    code blocks and text outputs (``pre``), each with its widths and its longest line."""
    return page.evaluate("""() => [...document.querySelectorAll(
            'article div.highlight pre, article .cell_output pre, article div.output pre')]
        .filter(pre => pre.clientWidth > 0 && pre.scrollWidth > pre.clientWidth + 1)
        .map(pre => {
            const lines = pre.textContent.split('\\n');
            const longest = lines.reduce((a, b) => b.length > a.length ? b : a, '');
            return {where: pre.closest('.cell_output, div.output') ? 'output' : 'code',
                    content: pre.scrollWidth, box: pre.clientWidth,
                    line: longest.trim().slice(0, 60), columns: longest.length};
        })""")


def code_box_columns(page) -> list[int]:
    """How many characters each kind of code box of the page holds without scrolling: a line
    of ``x`` grows in every box until it scrolls (one entry per distinct box width)."""
    return page.evaluate("""() => {
        const seen = new Map();
        for (const pre of document.querySelectorAll('article div.highlight pre')) {
            if (pre.clientWidth === 0 || seen.has(pre.clientWidth)) continue;
            const keep = pre.innerHTML;
            let n = 20;
            while (n < 300) { pre.textContent = 'x'.repeat(n + 1);
                              if (pre.scrollWidth > pre.clientWidth + 1) break; n++; }
            pre.innerHTML = keep;
            seen.set(pre.clientWidth, n);
        }
        return [...seen.values()];
    }""")


def wide_tables(page) -> list[dict]:
    """Tables of the article wider than the article's column, or inside a box that scrolls
    sideways (which a reader sees as a cut-off table): each as its width, the column's and the
    start of its text."""
    return page.evaluate("""() => {
        const article = document.querySelector('article.bd-article') || document.querySelector('article');
        if (!article) return [];
        const cs = getComputedStyle(article);
        const column = article.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        const out = [];
        for (const table of article.querySelectorAll('table')) {
            if (table.getClientRects().length === 0) continue;  // not rendered
            const width = Math.max(table.scrollWidth, table.getBoundingClientRect().width);
            let scroller = null;
            for (let e = table.parentElement; e && e !== article; e = e.parentElement) {
                if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1) { scroller = e; break; }
            }
            if (width > column + 1 || scroller) {
                out.push({width: Math.round(width), column: Math.round(column),
                          scrolls: scroller ? scroller.className || scroller.tagName : null,
                          text: (table.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60)});
            }
        }
        return out;
    }""")
