"""The paired notebooks run on Colab: in a fresh virtual environment holding only what their
first cell installs, every chapter's notebook executes top to bottom, and its sliders are live.

How the test stands in for Colab:

* The environment is a ``python -m venv`` without system site-packages, cached in
  ``_build/colab-venv`` (rebuilt when the install line, ``pyproject.toml`` or the requirements
  change). Into it goes exactly the first cell's ``%pip install`` lines, with one substitution:
  ``snnbook[...] @ git+<repository>`` becomes this checkout (``<root>[...]``), so the test checks
  the working tree, not what is on GitHub. ``requirements.txt`` and ``requirements-nodeps.txt``
  are passed as pip constraints, so the unpinned ``torch``/``torchvision`` of the ``notebook``
  extra resolve to the pinned CPU torch and the torchvision built for it (Colab has its own
  preinstalled and the line leaves them alone). ``ipykernel`` is added: Colab runs
  the notebook in a kernel that is always there.
* myst-nb and jupyter-book are absent (asserted), as on Colab: the chapters' ``glue`` must work
  without them and the notebooks' Markdown must not need them (tests/test_notebooks.py).
* Every notebook executes from its first cell to its last with nbclient, in ``book/`` (so the
  whole-network chapter reads ``results/`` instead of downloading it) and with
  ``SNNBOOK_STATIC=0``: a live session shows the ipywidgets sliders, not the precomputed frames,
  so computing the frame grid is skipped. That keeps the whole test to a few minutes on two
  cores; the chapters have no smaller-data switch, and they run in full. A probe cell then moves
  one slider of each interactive figure and checks that its function re-ran.

Skipped when the package index cannot be reached and no environment is cached yet.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "_build" / "colab-venv"
KERNEL = "snnbook-colab"
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text())
NETWORK_ERRORS = ("Could not fetch", "NewConnectionError", "Failed to establish", "Temporary failure",
                  "No matching distribution found", "Network is unreachable", "ProxyError")

pytestmark = [pytest.mark.book, pytest.mark.colab]

PROBE = """
import json
from snnbook.widgets import Explorer
report, seen = [], set()
candidates = list(globals().items()) + [(f"Out[{k}]", v) for k, v in dict(Out).items()]
for name, obj in candidates:
    if isinstance(obj, Explorer) and id(obj) not in seen:
        seen.add(id(obj))
        slider_name, slider = next(iter(obj.sliders.items()))
        before = len(obj.calls)
        options = list(slider.options)
        new = options[-1] if slider.index != len(options) - 1 else options[0]
        slider.value = new[1] if isinstance(new, tuple) else new
        report.append({"name": name, "calls": len(obj.calls) - before})
print(json.dumps(report))
"""


def install_lines(md: Path) -> list[list[str]]:
    """The ``%pip install`` commands of a chapter's first code cell, as argument lists."""
    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
    commands = []
    for line in first.source.splitlines():
        m = re.match(r"\s*[%!]pip install (.*)$", line)
        if m:
            commands.append(shlex.split(m[1].split("  #")[0]))
    assert commands, f"{md.name}: the first cell installs nothing"
    return commands


def substitute(args: list[str]) -> list[str]:
    """``snnbook[extra] @ git+URL`` -> this checkout with the same extras; ``-q`` dropped."""
    out = []
    for arg in args:
        m = re.fullmatch(r"snnbook(\[[^\]]*\])?\s*@\s*git\+\S+", arg)
        out.append(f"{ROOT}{m[1] or ''}" if m else arg)
    return [a for a in out if a != "-q"]


def _stamp(commands) -> str:
    h = hashlib.sha256(json.dumps(commands).encode())
    for name in ("pyproject.toml", "requirements.txt", "requirements-nodeps.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _source_stamp() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "src" / "snnbook").rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def _pip(python: Path, args: list[str]) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check",
           "-c", str(ROOT / "requirements.txt"), "-c", str(ROOT / "requirements-nodeps.txt"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        log = proc.stdout + proc.stderr
        if any(e in log for e in NETWORK_ERRORS) and not (VENV / ".installed").exists():
            pytest.skip(f"package index unreachable: {log.strip().splitlines()[-1]}")
        pytest.fail(f"{' '.join(cmd)} failed:\n{log[-3000:]}")


@pytest.fixture(scope="module")
def colab_python() -> Path:
    commands = install_lines(CHAPTERS[0])
    for md in CHAPTERS[1:]:
        assert install_lines(md) == commands, f"{md.name}: its install line differs from {CHAPTERS[0].name}"
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if not (stamp.exists() and stamp.read_text() == _stamp(commands)):
        if VENV.exists():
            import shutil

            shutil.rmtree(VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        for args in commands:
            _pip(python, substitute(args))
        _pip(python, ["ipykernel"])
        stamp.write_text(_stamp(commands))
    source = VENV / ".source"
    if not (source.exists() and source.read_text() == _source_stamp()):
        # the library changed since the environment was made: reinstall it alone (not editable,
        # as on Colab)
        _pip(python, ["--no-deps", "--force-reinstall", "--no-build-isolation", str(ROOT)])
        source.write_text(_source_stamp())
    spec = VENV / "share" / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "snnbook (Colab stand-in)", "language": "python"}))
    return python


def test_environment_is_clean(colab_python):
    probe = ("import importlib.util as u, sys; "
             "print(sys.prefix != sys.base_prefix, [m for m in ('myst_nb', 'jupyter_book', "
             "'jupytext') if u.find_spec(m)], u.find_spec('torch') is not None)")
    out = subprocess.run([str(colab_python), "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "[]", "True"], out.stdout


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_paired_notebook_runs_top_to_bottom_with_live_sliders(md, colab_python, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(VENV / "share" / "jupyter"))
    monkeypatch.setenv("SNNBOOK_STATIC", "0")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    has_sliders = any("explore(" in c.source for c in nb.cells if c.cell_type == "code")
    if has_sliders:
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(md.parent)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o["output_type"] == "error"]
    assert not errors
    print(f"{md.stem}: {elapsed:.0f} s")
    if has_sliders:
        out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o["output_type"] == "stream")
        report = json.loads(out.strip().splitlines()[-1])
        assert report, f"{md.stem}: no interactive figure found in the kernel"
        assert all(entry["calls"] == 1 for entry in report), report
