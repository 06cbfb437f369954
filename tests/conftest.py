"""Shared test fixtures: the SpykeTorch reference fixtures and a book built once per session."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reference import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
# The book's build tooling (tools/book_notebooks.py, tools/book_sphinx.py) is not part of the
# package: the tests import it from the repository.
sys.path.insert(0, str(ROOT / "tools"))

#: What a copy of the working tree for building the wheel leaves out: environments, build
#: outputs (a stale build/ would put removed modules into the wheel) and training runs.
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "_build", "_vendor", "build", "dist", "runs",
                                     "*.egg-info", "__pycache__", ".pytest_cache", "node_modules",
                                     ".ipynb_checkpoints", "checkpoints", "*.ckpt")


def pytest_configure(config):
    # Build outputs of the test session (site, screenshots) go to _build/ of the repository.
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"SpykeTorch fixtures not found at {FIXTURES}; set SNNBOOK_FIXTURES")
    return FIXTURES


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the whole book from a clean output folder, executing every chapter; return the
    folder holding the HTML. The build log is kept beside it as build.log."""
    out = Path(os.environ.get("SNNBOOK_TEST_BUILD", ROOT / "_build" / "test-build"))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    env = dict(os.environ, SNNBOOK_STATIC="1", SNNBOOK_COMPILE_NOTICE="0")
    env.pop("MPLBACKEND", None)  # the kernel's inline backend puts the figures in the pages
    proc = subprocess.run([str(jb), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    (out / "build.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    html = out / "_build" / "html"
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        pytest.fail(f"jupyter-book build failed (exit {proc.returncode}); see {out / 'build.log'}\n{tail}")
    return html


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """The wheel of the working tree (``pip wheel --no-deps --no-build-isolation``: this
    environment's setuptools), built from a clean copy of the tree; returns the ``.whl`` path."""
    base = tmp_path_factory.mktemp("wheel")
    tree, out = base / "tree", base / "dist"
    shutil.copytree(ROOT, tree, ignore=_NOT_COPIED, symlinks=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--no-build-isolation", str(tree), "-w", str(out)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.fail(f"building the wheel failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    wheels = sorted(out.glob("snnbook-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]
