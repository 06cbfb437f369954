"""What a reader meets on a chapter's page (book/CONVENTIONS.md): code that fits the column
(at most 85 characters a line, in the sources and on the built pages), display equations that
fit it too (measured in Chromium), no ``glue(...)`` or ``assert`` in code a reader sees, and
included library code that states a rule rather than private, optimised internals.

The source checks need no build and run in a second; the page checks use the built book."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import pytest

from book_notebooks import literalinclude

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(p for p in BOOK.glob("*.md") if "\nkernelspec:" in p.read_text())
MAX_COLUMNS = 85
HIDDEN_TAGS = {"remove-cell", "remove-input"}
INCLUDE = re.compile(r"^```\{literalinclude\}\s+(\S+)\n((?::[a-z-]+:.*\n)*)```", re.M)


def code_cells(md: Path):
    return [c for c in jupytext.read(md).cells if c.cell_type == "code"]


def shown(cell) -> bool:
    """Does the cell's code reach the page (possibly behind a toggle)?"""
    return not HIDDEN_TAGS & set(cell.metadata.get("tags", []))


def includes(md: Path):
    """(path, options) of every ``{literalinclude}`` of a chapter."""
    for m in INCLUDE.finditer(md.read_text()):
        options = dict(re.match(r":([a-z-]+):\s*(.*)", line).groups() for line in m[2].splitlines())
        yield (md.parent / m[1]).resolve(), options


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_column(md):
    long = [f"cell {i}: {line.strip()[:60]}... ({len(line)})"
            for i, cell in enumerate(code_cells(md))
            for line in cell.source.splitlines() if len(line) > MAX_COLUMNS]
    for path, options in includes(md):
        long += [f"{path.name} ({options}): {line.strip()[:60]}... ({len(line)})"
                 for line in literalinclude(path, options).splitlines() if len(line) > MAX_COLUMNS]
    assert not long, f"{md.name}: code lines over {MAX_COLUMNS} columns:\n" + "\n".join(long)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_no_visible_cell_glues_or_asserts(md):
    # glue(...) and key-number asserts belong in cells tagged remove-cell; teaching checks that
    # the text talks about use torch.testing.assert_close and may stay visible
    found = [f"cell {i}: {line.strip()}" for i, cell in enumerate(code_cells(md)) if shown(cell)
             for line in cell.source.splitlines()
             if re.search(r"\bglue\(|^\s*assert\b", line)]
    assert not found, f"{md.name}: glue/assert in cells readers see:\n" + "\n".join(found)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_included_code_is_a_public_rule_not_private_internals(md):
    for path, options in includes(md):
        name = options.get("pyobject", "")
        assert not name.split(".")[-1].startswith("_"), \
            f"{md.name} includes the private {path.name}:{name}; show a readable rule instead"


class _CodeBlocks(HTMLParser):
    """Text of every <pre> of the article's code (cell inputs and code blocks, not outputs)."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.in_output = 0
        self.blocks: list[str] = []
        self._pre: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in {"br", "img", "input", "meta", "link", "hr", "wbr", "source"}:
            return
        classes = (dict(attrs).get("class") or "").split()
        output = "cell_output" in classes
        self.stack.append("output" if output else tag)
        self.in_output += output
        if tag == "pre" and not self.in_output:
            self._pre = []

    def handle_endtag(self, tag):
        if tag == "pre" and self._pre is not None:
            self.blocks.append("".join(self._pre))
            self._pre = None
        if self.stack:
            self.in_output -= self.stack.pop() == "output"

    def handle_data(self, data):
        if self._pre is not None:
            self._pre.append(data)


@pytest.mark.book
def test_built_pages_have_no_code_wider_than_the_column(built_book):
    problems = []
    for md in CHAPTERS:
        page = (built_book / "book" / f"{md.stem}.html").read_text()
        article = page.split('<article class="bd-article"', 1)[-1].split("</article>", 1)[0]
        parser = _CodeBlocks()
        parser.feed(article)
        for block in parser.blocks:
            problems += [f"{md.stem}: {line[:60]}... ({len(line)})"
                         for line in block.splitlines() if len(line) > MAX_COLUMNS]
    assert not problems, "\n".join(problems)


@pytest.mark.book
@pytest.mark.browser
def test_display_equations_fit_the_column(built_book):
    from browser import chromium, overflowing_equations, serve

    problems = []
    with serve(built_book) as base, chromium() as browser:
        for md in CHAPTERS:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/book/{md.stem}.html", wait_until="load")
            if page.locator(".math").count():
                page.wait_for_function("document.querySelectorAll('mjx-container').length >= "
                                       "document.querySelectorAll('.math').length", timeout=30000)
                page.wait_for_timeout(300)
                problems += [f"{md.stem}: {e}" for e in overflowing_equations(page)]
            page.close()
    assert not problems, "display equations wider than the column:\n" + "\n".join(problems)
