"""The paired notebooks run on Colab: in a fresh virtual environment holding only what their
first cell installs, every chapter's notebook executes top to bottom alone in an empty folder (no
``results/`` beside it), and in the live kernel its sliders re-run their figures' functions.

The chapters execute once per session, in the ``colab_runs`` fixture (tests/conftest.py, how it
stands in for Colab: tests/colab.py); the site build reuses those executed notebooks. The tests
here read what that run found.

Skipped when the package index cannot be reached and no environment is cached yet.
"""
from __future__ import annotations

import subprocess

import nbformat
import pytest

import colab

pytestmark = [pytest.mark.book, pytest.mark.colab]


@pytest.fixture(scope="module")
def runs(colab_runs):
    if colab_runs is None:
        pytest.skip("no Colab stand-in: the package index is unreachable and no environment is cached")
    return colab_runs


def test_environment_is_clean(runs):
    probe = ("import importlib.util as u, sys; "
             "print(sys.prefix != sys.base_prefix, [m for m in ('myst_nb', 'jupyter_book', "
             "'jupytext') if u.find_spec(m)], u.find_spec('torch') is not None)")
    python = colab.VENV / "bin" / "python"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "[]", "True"], out.stdout


def test_library_is_installed_from_the_checkout_not_editable(runs):
    # as on Colab, the chapters import the installed package and its published record
    code = ("import snnbook, snnbook.compare as c; print(snnbook.__file__); "
            "print(any(c.published_results().glob('*.json')))")
    out = subprocess.run([str(colab.VENV / "bin" / "python"), "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    path, found = out.stdout.split()
    assert str(colab.VENV) in path and str(colab.ROOT / "src") not in path, path
    assert found == "True"


@pytest.mark.parametrize("md", colab.CHAPTERS, ids=lambda p: p.stem)
def test_paired_notebook_runs_top_to_bottom_with_live_sliders(md, runs):
    run = runs[md.stem]
    print(f"{md.stem}: wall {run.wall_s:.0f} s, kernel CPU {run.cpu_s} s")
    assert run.error is None, f"{md.stem} failed in the Colab stand-in:\n{run.error}"
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    if any("explore(" in c.source for c in nb.cells if c.cell_type == "code"):
        assert run.sliders, f"{md.stem}: no interactive figure found in the kernel"
        for entry in run.sliders:
            assert entry["calls"] == 1 and entry["matches"], entry


@pytest.mark.parametrize("md", colab.CHAPTERS, ids=lambda p: p.stem)
def test_executed_notebook_keeps_every_cell_and_no_error(md, runs):
    # the saved notebook (which the site shows) is the paired notebook with outputs: the probe
    # cell is gone and every code cell ran
    run = runs[md.stem]
    if run.error is not None:
        pytest.skip("failed to execute (reported above)")
    paired = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    executed = nbformat.read(run.executed, as_version=4)
    assert [c.source for c in executed.cells] == [c.source for c in paired.cells]
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o["output_type"] == "error"]
