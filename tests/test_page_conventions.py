"""What a reader meets on a chapter's page (book/CONVENTIONS.md): code that fits its box without
scrolling sideways, tables that fit the column, display equations that fit a phone's column, no
``glue(...)`` or ``assert`` in code a reader sees, and included library code that states a rule
rather than private, optimised internals.

The widths are measured in Chromium on the built site (tests/browser.py): at the site's desktop
width (1280 px) a code cell's box holds 77 characters, one behind a toggle (a hidden input, a
dropdown) 75; a phone is 390 px wide. The source checks hold the chapters to those numbers
without a build and run in a second; the page checks use the built book."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from book_notebooks import literalinclude

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(p for p in BOOK.glob("*.md") if "\nkernelspec:" in p.read_text())
#: Characters a code cell's box holds at the site's desktop width (1280 px), measured in Chromium
#: (test_code_boxes_hold_the_stated_columns): a plain cell 77, a cell behind a toggle
#: (hide-input, hide-cell) or code in a dropdown 75. Included library code may sit in either.
MAX_COLUMNS = 77
MAX_COLUMNS_TOGGLED = 75
TOGGLED_TAGS = {"hide-input", "hide-cell"}
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


#: A removed cell never reaches the site; it shows only in the paired notebook (Jupyter, Colab),
#: whose code box is wider: the install cell's pip line names the repository in full.
MAX_COLUMNS_NOTEBOOK_ONLY = 85


def column_limit(cell) -> int:
    tags = set(cell.metadata.get("tags", []))
    if not shown(cell):
        return MAX_COLUMNS_NOTEBOOK_ONLY
    return MAX_COLUMNS_TOGGLED if TOGGLED_TAGS & tags else MAX_COLUMNS


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_column(md):
    long = [f"cell {i}: {line.strip()[:60]}... ({len(line)} > {column_limit(cell)})"
            for i, cell in enumerate(code_cells(md))
            for line in cell.source.splitlines() if len(line) > column_limit(cell)]
    for path, options in includes(md):
        long += [f"{path.name} ({options}): {line.strip()[:60]}... ({len(line)} > {MAX_COLUMNS_TOGGLED})"
                 for line in literalinclude(path, options).splitlines() if len(line) > MAX_COLUMNS_TOGGLED]
    assert not long, (f"{md.name}: code lines longer than their box holds ({MAX_COLUMNS} characters, "
                      f"{MAX_COLUMNS_TOGGLED} behind a toggle):\n" + "\n".join(long))


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


def site_pages(html: Path) -> list[str]:
    """Names of the book's pages (``book/<name>.html``): chapters and reference pages."""
    return sorted(p.stem for p in html.glob("book/*.html"))


@pytest.mark.book
@pytest.mark.browser
def test_code_boxes_hold_the_stated_columns(built_book):
    # the source limits above must not exceed what the boxes hold on the site
    from browser import chromium, code_box_columns, open_chapter, serve

    held = set()
    with serve(built_book) as base, chromium() as browser:
        for md in CHAPTERS:
            page = open_chapter(browser, base, md.stem)
            held.update(code_box_columns(page))
            page.close()
    print(f"code boxes at 1280 px hold {sorted(held)} characters")
    assert held and min(held) >= MAX_COLUMNS_TOGGLED and max(held) >= MAX_COLUMNS, sorted(held)


@pytest.mark.book
@pytest.mark.browser
def test_no_code_box_scrolls_sideways_at_desktop_width(built_book):
    from browser import chromium, open_chapter, scrolling_code, serve

    problems = []
    with serve(built_book) as base, chromium() as browser:
        for name in site_pages(built_book):
            page = open_chapter(browser, base, name)
            problems += [f"{name}: {e}" for e in scrolling_code(page)]
            page.close()
    assert not problems, "code that scrolls sideways at 1280 px:\n" + "\n".join(problems)


@pytest.mark.book
@pytest.mark.browser
def test_tables_fit_the_column(built_book):
    from browser import chromium, open_chapter, serve, wide_tables

    problems = []
    with serve(built_book) as base, chromium() as browser:
        for name in site_pages(built_book):
            page = open_chapter(browser, base, name)
            problems += [f"{name}: {e}" for e in wide_tables(page)]
            page.close()
    assert not problems, "tables wider than the column at 1280 px:\n" + "\n".join(problems)


@pytest.mark.book
@pytest.mark.browser
def test_display_equations_fit_a_phone_column(built_book):
    from browser import PHONE_WIDTH, chromium, open_chapter, overflowing_equations, serve

    problems = []
    with serve(built_book) as base, chromium() as browser:
        for name in site_pages(built_book):
            page = open_chapter(browser, base, name, width=PHONE_WIDTH)
            problems += [f"{name}: {e}" for e in overflowing_equations(page)]
            page.close()
    assert not problems, (f"display equations wider than the column of a {PHONE_WIDTH} px phone:\n"
                          + "\n".join(problems))
