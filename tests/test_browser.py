"""Open every page of the built site in Chromium: no console error, no request to any host but
127.0.0.1, MathJax rendered the math; a screenshot of each page goes to _build/screenshots/."""
from __future__ import annotations

from pathlib import Path

import pytest

from browser import PageWatch, chromium, serve

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.book]


def site_pages(html: Path) -> list[Path]:
    pages = sorted(html.glob("book/*.html")) + [html / "genindex.html", html / "search.html"]
    return [p for p in pages if p.is_file()]


def test_every_page_renders_offline_without_errors(built_book):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    pages = site_pages(built_book)
    assert len(pages) >= 3
    with serve(built_book) as base, chromium() as browser:
        for path in pages:
            rel = path.relative_to(built_book).as_posix()
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            watch = PageWatch(page)
            page.goto(f"{base}/{rel}", wait_until="load")
            has_math = page.locator(".math").count() > 0
            if has_math:
                page.wait_for_selector("mjx-container", state="attached", timeout=20000)
                page.wait_for_function("document.querySelectorAll('mjx-container').length >= document.querySelectorAll('.math').length", timeout=20000)
                rendered = page.locator("mjx-container").count()
                if rendered < page.locator(".math").count():
                    problems.append(f"{rel}: MathJax rendered {rendered} of {page.locator('.math').count()} formulas")
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENSHOTS / (rel.replace("/", "_") + ".png")), full_page=True)
            if watch.console_errors:
                problems.append(f"{rel}: console errors {watch.console_errors}")
            if watch.external_requests:
                problems.append(f"{rel}: external requests {watch.external_requests}")
            page.close()
    assert not problems, "\n".join(problems)


def test_math_page_exists_and_uses_local_mathjax(built_book):
    pages_with_math = [p for p in site_pages(built_book) if 'class="math' in p.read_text()]
    assert pages_with_math, "no page of the book has math; expected the chapters' equations"
    for p in pages_with_math:
        text = p.read_text()
        assert "mathjax/es5/tex-chtml.js" in text and "cdn" not in text.split("tex-chtml.js")[0][-200:]


#: Largest first load of a chapter, in bytes transferred (gzip, as a static host serves it),
#: MathJax's fonts aside (they depend on which symbols a page uses).
FIRST_LOAD_BUDGET = 2_000_000


def test_first_load_of_every_chapter_fits_the_budget(built_book):
    from browser import TransferLog

    def mathjax_font(url):
        return "/mathjax/" in url and "/fonts/" in url

    problems = []
    with serve(built_book, compress=True) as base, chromium() as browser:
        for path in sorted(built_book.glob("book/*.html")):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log = TransferLog(page)
            page.goto(f"{base}/book/{path.name}", wait_until="load")
            page.wait_for_timeout(1000)  # deferred scripts and the fonts they pull in
            total = log.total(exclude=mathjax_font)
            scripts = [u for u in log.bytes if "embed-amd" in u or "require.js" in u]
            if scripts:
                problems.append(f"{path.name}: loads the widget manager {scripts}")
            if total > FIRST_LOAD_BUDGET:
                problems.append(f"{path.name}: {total / 1e6:.2f} MB on first load, largest "
                                f"{log.largest()}")
            page.close()
    assert not problems, "\n".join(problems)


def test_no_page_embeds_widget_state(built_book):
    for path in built_book.glob("book/*.html"):
        assert "application/vnd.jupyter.widget-state+json" not in path.read_text(), path.name
