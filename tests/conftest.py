"""Shared test fixtures: the SpykeTorch reference fixtures, the chapters executed once per
session in the Colab stand-in (tests/colab.py) and the book built from those executed chapters."""
from __future__ import annotations

import json
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


def build_folder() -> Path:
    """Where the session's book build, executed chapters and execution report go."""
    return Path(os.environ.get("SNNBOOK_TEST_BUILD", ROOT / "_build" / "test-build"))


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """The session's build folder, emptied once."""
    out = build_folder()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


#: Execution reports written in this session (printed at its end).
_EXECUTION_REPORTS: list[Path] = []


@pytest.fixture(scope="session")
def colab_runs(build_dir, tmp_path_factory):
    """Every chapter's paired notebook executed once, as on Colab (tests/colab.py): {chapter:
    ChapterRun}. ``None`` where the Colab stand-in cannot be made (no package index and no
    cached environment); the site build then executes the chapters itself."""
    import colab

    try:
        runs = colab.execute_chapters(tmp_path_factory.mktemp("colab-run"), build_dir / "colab")
    except colab.Unavailable as exc:
        (build_dir / "colab-unavailable.txt").write_text(f"{exc}\n")
        return None
    _EXECUTION_REPORTS.append(build_dir / "chapter_execution.json")
    return runs


def _build_config(build_dir: Path, cache: Path, failed: list[str]) -> Path:
    """A copy of _config.yml whose build takes the chapters' outputs from ``cache`` instead of
    executing them. The chapters in ``failed`` (which failed in the Colab run) are not executed
    a second time: their pages have no outputs (tests/test_colab.py reports the error)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "cache"
    config["execute"]["cache"] = str(cache)
    config["execute"]["exclude_patterns"] = [f"book/{name}.md" for name in failed]
    # the copy is read from build_dir: its local extensions keep pointing into the repository
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in extensions.items():
        extensions[name] = str((ROOT / path).resolve())
    path = build_dir / "_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


@pytest.fixture(scope="session")
def built_book(build_dir, colab_runs) -> Path:
    """Build the whole book into a clean folder and return the folder holding the HTML. The
    chapters' outputs come from their one execution in the Colab stand-in (``colab_runs``); where
    there is none, the build executes them. The build log is kept as build.log, and what was
    left out of the cache (a chapter that failed there) as cache.json."""
    import colab

    jb = Path(sys.executable).with_name("jupyter-book")
    command = [str(jb), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(build_dir)]
    if colab_runs is not None:
        cache = build_dir / "jupyter_cache"
        left_out = colab.prime_cache(colab_runs, cache)
        (build_dir / "cache.json").write_text(json.dumps({"left_out": left_out}, indent=2) + "\n")
        failed = [name for name, run in colab_runs.items() if run.error is not None]
        command += ["--config", str(_build_config(build_dir, cache, failed))]
    env = dict(os.environ, SNNBOOK_STATIC="1", SNNBOOK_COMPILE_NOTICE="0")
    env.pop("MPLBACKEND", None)  # the kernel's inline backend puts the figures in the pages
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    (build_dir / "build.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    html = build_dir / "_build" / "html"
    if proc.returncode != 0 and not (html / "index.html").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        pytest.fail(f"jupyter-book build failed (exit {proc.returncode}); see {build_dir / 'build.log'}\n{tail}")
    # a build with warnings (a chapter that failed, a broken reference) still made the site: the
    # page checks run on it, and tests/test_book.py fails on the build log
    (build_dir / "build-exit-status").write_text(f"{proc.returncode}\n")
    return html


def pytest_terminal_summary(terminalreporter):
    """Print every chapter's execution time (wall and kernel CPU) when this session ran them."""
    import colab

    for report in _EXECUTION_REPORTS:
        terminalreporter.section("chapter execution (Colab stand-in)")
        for line in colab.report_lines(report):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(written to {report})")


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
