"""The pipeline and whole-network chapters have what a lecture needs: learning goals, equations,
at least two figures, an interactive figure that works live and on the static site, exercises
with hidden solutions, a summary linking the glossary and bibliography; every number in the
prose is computed (glue or an inline expression). Every chapter's execution time (wall and kernel
CPU, from its one run in the Colab stand-in) is reported; only a CPU time far above the
chapter's budget fails, never the wall-clock time, which a loaded machine stretches."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest

from colab import CHAPTERS as EXECUTED_CHAPTERS

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_CHAPTERS = ["neurons", "retina", "coding", "competition"]
NETWORK_CHAPTERS = ["mozafari2019", "diehl_cook2015", "stdp_failures", "gradient", "events", "conversion"]
CHAPTERS = PIPELINE_CHAPTERS + NETWORK_CHAPTERS
#: Kernel CPU seconds (all its threads and child processes) a chapter may spend. Generous: the
#: chapters use a fraction of this; the check catches a chapter that trains or sweeps far more
#: than a reader should wait for, not a slow or busy machine.
CPU_BUDGET_S = 600
# A whole-network chapter trains a small network live and runs the test set through the
# shipped weights: it gets a larger budget of its own.
NETWORK_CPU_BUDGET_S = 1200

pytestmark = pytest.mark.book


def chapter_path(name: str) -> Path:
    return ROOT / "book" / f"{name}.md"


def prose(md_source: str) -> str:
    """The Markdown prose of a chapter with math, code, roles, directive options, links and
    citations removed: what is left is text a reader reads as stated fact."""
    text = re.sub(r"\$\$.*?\$\$", " ", md_source, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\{[a-z:-]+\}", " ", text)
    text = re.sub(r"^\s*:[a-z-]+:.*$", " ", text, flags=re.M)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"^#+ .*$", " ", text, flags=re.M)  # headings
    return text


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_source_has_the_parts_of_a_lecture(name):
    source = chapter_path(name).read_text()
    nb = jupytext.read(chapter_path(name))
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^#+ .*learning goals", markdown, flags=re.M | re.I), "no learning goals"
    assert "$$" in markdown or "{math}" in markdown, "no display equation"
    assert "explore(" in code, "no interactive figure (snnbook.widgets.explore)"
    solutions = len(re.findall(r":class: dropdown", source))
    assert 2 <= solutions, f"expected 2-3 exercises with solutions behind a toggle, found {solutions}"
    assert re.search(r"^#+ .*summary", markdown, flags=re.M | re.I), "no summary"
    assert "{term}" in markdown and "{cite" in markdown, "summary must link the glossary and bibliography"
    assert "glue(" in code, "numbers stated in prose must be glued from computed values"


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_number_in_prose_is_typed_by_hand(name):
    nb = jupytext.read(chapter_path(name))
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    text = prose(markdown)
    decimals = re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", text)
    percents = re.findall(r"\d+(?:\.\d+)?\s?%", text)
    assert not decimals and not percents, f"hand-typed results in the prose: {decimals + percents}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_built_chapter_has_figures_and_both_forms_of_the_interactive_figure(name, built_book, colab_runs):
    page = (built_book / "book" / f"{name}.html").read_text()
    static_blocks = page.count('class="snnbook-explore"')
    assert static_blocks >= 1, "no static slider block on the page"
    without_blocks = re.sub(r'<div class="snnbook-explore".*?</script>', " ", page, flags=re.S)
    figures = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', without_blocks)
    assert len(figures) >= 2, f"expected at least two figures, found {len(figures)}"
    if colab_runs is not None and colab_runs[name].executed is not None:
        executed = colab_runs[name].executed  # the chapter's one execution, which the site shows
    else:
        executed = built_book.parents[0] / "jupyter_execute" / "book" / f"{name}.ipynb"
    outputs = [o for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])]
    live = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert live, "the interactive figure has no live (ipywidgets) form in the executed notebook"


@pytest.mark.parametrize("name", [p.stem for p in EXECUTED_CHAPTERS])
def test_chapter_cpu_time_is_within_budget(name, colab_runs):
    """Reported for every chapter (the session's summary prints the table; the numbers are in
    chapter_execution.json beside the build); fails only when the kernel's CPU time is far
    above the budget."""
    if colab_runs is None:
        pytest.skip("no Colab stand-in: the chapters were executed by the site build")
    run = colab_runs[name]
    print(f"{name}: wall {run.wall_s:.0f} s, kernel CPU {run.cpu_s} s")
    if run.error is not None:
        pytest.skip(f"{name} failed to execute (tests/test_colab.py reports it)")
    budget = NETWORK_CPU_BUDGET_S if name in NETWORK_CHAPTERS else CPU_BUDGET_S
    assert run.cpu_s <= budget, f"{name}: {run.cpu_s:.0f} s of CPU time, budget {budget} s"
