"""The book builds from a clean folder with zero warnings, every chapter executes, and no page
shows a traceback."""
from __future__ import annotations

import json
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
    status = (built_book.parents[1] / "build-exit-status").read_text().strip()
    assert status == "0", f"jupyter-book exited with {status}: see {built_book.parents[1] / 'build.log'}"
    assert "build succeeded" in log
    assert not re.search(r"WARNING|ERROR", log.replace("WARNING | Kernel is running over TCP", ""))
    notebooks = [f for f in toc_files() if "{code-cell}" in (ROOT / f"{f}.md").read_text()]
    assert notebooks, "no executable chapter found"
    for f in notebooks:
        # executed by the build, or taken from the chapter's one run in the Colab stand-in
        assert re.search(rf"{re.escape(f)}\.md: (Executed notebook|Using cached notebook)", log), \
            f"{f} has no outputs: it was neither executed nor taken from the Colab run"


def test_every_chapter_executes_once(built_book, colab_runs):
    """The site shows the outputs of the chapters' run in the Colab stand-in: the build executes
    none of them again."""
    if colab_runs is None:
        pytest.skip("no Colab stand-in: the build executed the chapters itself")
    log = (built_book.parents[1] / "build.log").read_text()
    again = [f for f in toc_files() if f"{f}.md: Executed notebook" in log]
    assert not again, f"executed a second time by the site build: {again}"
    left_out = json.loads((built_book.parents[1] / "cache.json").read_text())["left_out"]
    assert not left_out, left_out


def numbered_chapters() -> list[str]:
    """Docnames of the chapters in parts with ``numbered`` set, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc.get("parts", []) if part.get("numbered")
            for c in part.get("chapters", [])]


def test_figures_are_numbered_per_chapter(built_book):
    # "Fig. 2.1" for the first figure of chapter 2, not "Fig. 9" continuing from chapter 1
    chapters = numbered_chapters()
    assert len(chapters) >= 2, "the chapters are not numbered (numbered: 1 in _toc.yml)"
    problems, checked = [], 0
    for docname in chapters:
        page = (built_book / f"{docname}.html").read_text()
        article = page.split('<article class="bd-article"', 1)[-1].split("</article>", 1)[0]
        title = re.search(r'<h1>\s*<span class="section-number">(\d+)\.\s*</span>', article)
        numbers = re.findall(r'<span class="caption-number">Fig\. ([\d.]+?)\s*</span>', article)
        if not title:
            problems.append(f"{docname}: its title has no chapter number")
            continue
        chapter = title.group(1)
        expected = [f"{chapter}.{k}" for k in range(1, len(numbers) + 1)]
        if numbers != expected:
            problems.append(f"{docname} (chapter {chapter}): figures numbered {numbers}, expected {expected}")
        checked += bool(numbers)
    assert checked >= 2, "fewer than two numbered chapters have numbered figures"
    assert not problems, "\n".join(problems)


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
