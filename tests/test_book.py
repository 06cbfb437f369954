"""The book builds from a clean folder with zero warnings, every chapter executes, and no page
shows a traceback."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.book


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def test_every_chapter_has_html(built_book):
    for docname in toc_files():
        assert (built_book / f"{docname}.html").is_file(), f"{docname}.html missing from the site"


def test_build_log_has_no_warning_and_executed_every_notebook(built_book):
    log = (built_book.parents[1] / "build.log").read_text()
    assert "build succeeded" in log
    assert not re.search(r"WARNING|ERROR", log.replace("WARNING | Kernel is running over TCP", ""))
    notebooks = [f for f in toc_files() if "{code-cell}" in (ROOT / f"{f}.md").read_text()]
    assert notebooks, "no executable chapter found"
    for f in notebooks:
        assert f"{f}.md: Executed notebook" in log, f"{f} was not executed in the build"


def test_no_page_contains_a_traceback_or_error_output(built_book):
    for docname in toc_files():
        page = (built_book / f"{docname}.html").read_text()
        assert "Traceback (most recent call last)" not in page, docname
        assert "output traceback" not in page and "output error" not in page, docname
        assert "stderr" not in re.findall(r'class="output ([a-z_]+)', page), docname


def test_site_references_no_external_script_or_stylesheet(built_book):
    for page in built_book.rglob("*.html"):
        text = page.read_text()
        external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not external, f"{page.relative_to(built_book)} loads {external}"


def test_launch_buttons_open_the_paired_notebook_on_colab_and_offer_downloads(built_book):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    for docname in toc_files():
        if "{code-cell}" not in (ROOT / f"{docname}.md").read_text():
            continue
        page = (built_book / f"{docname}.html").read_text()
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{docname}.ipynb"
        assert colab in page, f"{docname}: no Colab button to {colab}"
        name = docname.split("/")[-1]
        assert f"_sources/book/{name}.ipynb" in page and f"_sources/book/{name}.md" in page


class _ProseText(HTMLParser):
    """Collects the text of a page's article outside code, math, scripts and cell outputs."""

    SKIP_TAGS = {"script", "style", "pre", "code", "kbd", "samp", "textarea"}
    SKIP_CLASSES = {"math", "cell_output", "highlight", "snnbook-explore"}

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []  # per open element: does it start a skipped region?
        self.depth_skipped = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        skip = tag in self.SKIP_TAGS or bool(classes & self.SKIP_CLASSES)
        if tag in {"br", "img", "input", "meta", "link", "hr", "wbr", "source"}:
            return  # void elements have no end tag
        self.stack.append(skip)
        self.depth_skipped += skip

    def handle_endtag(self, tag):
        if self.stack:
            self.depth_skipped -= self.stack.pop()

    def handle_data(self, data):
        if not self.depth_skipped:
            self.chunks.append(data)


class _RenderedText(_ProseText):
    """The text a reader sees, cell outputs included (code and scripts still skipped)."""

    SKIP_CLASSES = {"math", "highlight", "snnbook-explore"}


def test_markdown_that_cells_display_is_rendered(built_book):
    # A results table a cell displays as Markdown must reach the page as a table, not as pipes.
    for docname in toc_files():
        page = (built_book / f"{docname}.html").read_text()
        article = page.split('<article class="bd-article"', 1)[-1].split("</article>", 1)[0]
        parser = _RenderedText()
        parser.feed(article)
        text = "\n".join(parser.chunks)
        rows = re.findall(r"\|\s*(?:—|-{3,}|:-+:?|-+:)\s*\|.*", text)
        assert not rows, f"{docname}: a Markdown table shown as text: {rows[:2]}"
        assert not re.search(r"\*\*\w[^*\n]*\*\*", text), f"{docname}: unrendered **bold**"


def test_prose_has_no_unrendered_math_or_markup(built_book):
    # A "$...$" that MyST did not parse (e.g. a line break before "+ x$" turned it into a list
    # item) reaches the reader as raw dollars and LaTeX commands; a broken role or link as
    # "{term}" or "](".
    for docname in toc_files():
        page = (built_book / f"{docname}.html").read_text()
        article = page.split('<article class="bd-article"', 1)[-1].split("</article>", 1)[0]
        parser = _ProseText()
        parser.feed(article)
        text = " ".join(parser.chunks)
        leftovers = re.findall(r".{0,40}(?:\$|\\[a-zA-Z]+\{|\{(?:term|cite|glue|ref|doc)|\]\().{0,40}", text)
        assert not leftovers, f"{docname}: unrendered math or markup in prose: {leftovers}"
