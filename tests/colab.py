"""Run the book's paired notebooks as Colab runs them, once per test session; the site build
reuses the executed notebooks (tests/conftest.py), so that every chapter executes once per
``make test``.

How this stands in for Colab:

* The environment is a ``python -m venv`` without system site-packages, cached in
  ``_build/colab-venv`` (rebuilt when the install line, the package's declared dependencies or
  the requirements change; the library alone is reinstalled when its sources, ``pyproject.toml``
  or the published results change).
  Into it goes exactly the first cell's ``%pip install`` lines, with one substitution:
  ``snnbook[...] @ git+<repository>`` becomes this checkout (``<root>[...]``), so the tests check
  the working tree, not what is on GitHub. ``requirements.txt`` and ``requirements-nodeps.txt``
  are passed as pip constraints, so the unpinned ``torch``/``torchvision`` of the ``notebook``
  extra resolve to the pinned CPU torch (Colab has its own preinstalled and the line leaves them
  alone). ``ipykernel`` is added: Colab runs the notebook in a kernel that is always there.
  myst-nb, jupyter-book and jupytext are absent, as on Colab.
* Every paired notebook (``book/<chapter>.ipynb``) is copied alone into an empty temporary
  folder, with no ``results/`` beside it or above it, and executes there from its first cell to
  its last with nbclient: the chapters must find the published record through the installed
  package, as on Colab.
* The kernel runs with ``SNNBOOK_STATIC=1`` and ``SNNBOOK_COMPILE_NOTICE=0``, as the site build
  does, so that the outputs carry both forms of every interactive figure: the precomputed
  frames the static site shows and the live ipywidgets sliders a Colab reader moves.
* One difference from Colab, for the site: a kernel start-up file makes ``snnbook.book.glue``
  record its values as myst-nb's ``glue`` does (a display with ``scrapbook`` metadata), so that
  the pages can print them. Without it the stand-in would show figures and drop the values.
* A last cell, removed from the saved notebook, moves one slider of each interactive figure
  (its function must re-run once and take the new value) and reads the kernel's CPU time.

The executed notebooks go to ``<build>/colab/<chapter>.ipynb`` and a report of every chapter's
wall time and kernel CPU time to ``<build>/chapter_execution.json``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "_build" / "colab-venv"
KERNEL = "snnbook-colab"
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text())
NETWORK_ERRORS = ("Could not fetch", "NewConnectionError", "Failed to establish", "Temporary failure",
                  "No matching distribution found", "Network is unreachable", "ProxyError")
#: Seconds one cell may run before the chapter counts as failed (a hung kernel, not a budget).
CELL_TIMEOUT_S = 900

#: IPython start-up file of the kernel: ``snnbook.book.glue`` records values as myst-nb does.
GLUE_STARTUP = '''
def _snnbook_record_glue():
    from IPython.core.formatters import format_display_data
    from IPython.display import display as _show

    import snnbook.book

    def glue(name, value, display=True):  # myst_nb.glue, which Colab does not have
        bundle, metadata = format_display_data(value)
        prefix = "" if display else "application/papermill.record/"
        metadata["scrapbook"] = dict(name=name, mime_prefix=prefix)
        _show({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)

    snnbook.book._myst_glue = glue


_snnbook_record_glue()
del _snnbook_record_glue
'''

#: Last cell of every run: move one slider of each interactive figure, read the CPU time.
FINISH = '''
import json as _json
import resource as _resource
import time as _time

from snnbook.widgets import Explorer as _Explorer

_report, _seen = [], set()
_candidates = list(globals().items()) + [(f"Out[{k}]", v) for k, v in dict(Out).items()]
for _name, _obj in _candidates:
    if isinstance(_obj, _Explorer) and id(_obj) not in _seen:
        _seen.add(id(_obj))
        _param, _slider = next(iter(_obj.sliders.items()))
        _before = len(_obj.calls)
        _options = list(_slider.options)
        _new = _options[-1] if _slider.index != len(_options) - 1 else _options[0]
        _new = _new[1] if isinstance(_new, tuple) else _new
        _slider.value = _new
        _report.append({"name": _name, "param": _param, "calls": len(_obj.calls) - _before,
                        "matches": _obj.params[_param] == _new})
_children = _resource.getrusage(_resource.RUSAGE_CHILDREN)
print(_json.dumps({"sliders": _report,
                   "cpu_s": _time.process_time() + _children.ru_utime + _children.ru_stime}))
'''


class Unavailable(Exception):
    """The Colab stand-in cannot be made here (no package index and no cached environment)."""


@dataclasses.dataclass
class ChapterRun:
    """One chapter's run: ``error`` is None when every cell ran; ``sliders`` is the probe's
    report (one entry per interactive figure), ``cpu_s`` the kernel's CPU time (its threads and
    child processes), ``wall_s`` the wall-clock time of the execution."""

    name: str
    wall_s: float
    cpu_s: float | None = None
    error: str | None = None
    sliders: list | None = None
    executed: Path | None = None


def install_lines(md: Path) -> list[list[str]]:
    """The ``%pip install`` commands of a chapter's first code cell, as argument lists."""
    import jupytext

    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
    commands = []
    for line in re.sub(r"\\\n\s*", " ", first.source).splitlines():  # join "\" continuations
        m = re.match(r"\s*[%!]pip install (.*)$", line)
        if m:
            commands.append(shlex.split(m[1].split("  #")[0]))
    if not commands:
        raise AssertionError(f"{md.name}: the first cell installs nothing")
    return commands


def substitute(args: list[str]) -> list[str]:
    """``snnbook[extra] @ git+URL`` -> this checkout with the same extras; ``-q`` dropped."""
    out = []
    for arg in args:
        m = re.fullmatch(r"snnbook(\[[^\]]*\])?\s*@\s*git\+\S+", arg)
        out.append(f"{ROOT}{m[1] or ''}" if m else arg)
    return [a for a in out if a != "-q"]


def _stamp(commands) -> str:
    """What the environment's third-party packages depend on: the install line, the pins and the
    package's declared dependencies."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    h = hashlib.sha256(json.dumps([commands, project.get("dependencies"),
                                   project.get("optional-dependencies")], sort_keys=True).encode())
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _source_stamp() -> str:
    """The library's sources, its packaging and the published record it ships
    (snnbook.published)."""
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    files = sorted((ROOT / "src" / "snnbook").rglob("*.py")) + sorted(
        p for p in (ROOT / "results").rglob("*") if p.is_file())
    for path in files:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _pip(python: Path, args: list[str]) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check",
           "-c", str(ROOT / "requirements.txt"), "-c", str(ROOT / "requirements-nodeps.txt"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        log = proc.stdout + proc.stderr
        if any(e in log for e in NETWORK_ERRORS) and not (VENV / ".installed").exists():
            raise Unavailable(f"package index unreachable: {log.strip().splitlines()[-1]}")
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{log[-3000:]}")


def colab_python() -> Path:
    """The Colab stand-in's Python, made or refreshed as needed; raises :class:`Unavailable`."""
    commands = install_lines(CHAPTERS[0])
    for md in CHAPTERS[1:]:
        if install_lines(md) != commands:
            raise AssertionError(f"{md.name}: its install line differs from {CHAPTERS[0].name}")
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if not (stamp.exists() and stamp.read_text() == _stamp(commands)):
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        try:
            for args in commands:
                _pip(python, substitute(args))
            _pip(python, ["ipykernel"])
        except Unavailable:
            shutil.rmtree(VENV)
            raise
        stamp.write_text(_stamp(commands))
    source = VENV / ".source"
    if not (source.exists() and source.read_text() == _source_stamp()):
        # the library or the published record changed since the environment was made:
        # reinstall the library alone (not editable, as on Colab)
        _pip(python, ["--no-deps", "--force-reinstall", "--no-build-isolation", str(ROOT)])
        source.write_text(_source_stamp())
    spec = VENV / "share" / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "snnbook (Colab stand-in)", "language": "python"}))
    return python


@contextlib.contextmanager
def _kernel_path():
    """Let this process find the stand-in's kernel spec."""
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(VENV / "share" / "jupyter")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def kernel_env(ipython_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"MPLBACKEND", "PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH"}}
    env.update(SNNBOOK_STATIC="1", SNNBOOK_COMPILE_NOTICE="0", IPYTHONDIR=str(ipython_dir),
               PYTHONUNBUFFERED="1")
    return env


def execute_chapter(md: Path, work: Path, out: Path, ipython_dir: Path) -> ChapterRun:
    """Execute ``md``'s paired notebook alone in ``work/<chapter>/``; save it to ``out``."""
    import nbclient
    import nbformat

    folder = work / md.stem
    folder.mkdir(parents=True)
    beside = [p / "results" for p in (folder, *folder.parents) if (p / "results").exists()]
    if beside:
        raise AssertionError(f"{folder} has a results/ folder beside it: {beside}")
    notebook = folder / f"{md.stem}.ipynb"
    shutil.copyfile(md.with_suffix(".ipynb"), notebook)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(FINISH))
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    error = None
    try:
        with _kernel_path():
            client.execute(env=kernel_env(ipython_dir))
    except nbclient.exceptions.CellExecutionError as exc:
        error = str(exc)[-4000:]
    except Exception as exc:  # a dead or hung kernel: report it as the chapter's failure
        error = f"{type(exc).__name__}: {exc}"[-4000:]
    run = ChapterRun(md.stem, wall_s=round(time.perf_counter() - start, 1), error=error)
    finish = nb.cells.pop()
    if error is None:
        text = "".join(o.get("text", "") for o in finish.outputs if o["output_type"] == "stream")
        report = json.loads(text.strip().splitlines()[-1])
        run.sliders, run.cpu_s = report["sliders"], round(report["cpu_s"], 1)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    if errors and run.error is None:
        run.error = f"error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    out.mkdir(parents=True, exist_ok=True)
    run.executed = out / f"{md.stem}.ipynb"
    nbformat.write(nb, run.executed)
    return run


def execute_chapters(work: Path, out: Path, chapters=CHAPTERS) -> dict[str, ChapterRun]:
    """Execute every chapter's paired notebook in the Colab stand-in (raises
    :class:`Unavailable` where there is none); write the report; return the runs by name."""
    colab_python()
    ipython_dir = work / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-snnbook-glue.py").write_text(GLUE_STARTUP)
    runs = {}
    for md in chapters:
        runs[md.stem] = execute_chapter(md, work / "chapters", out, ipython_dir)
    write_report(runs, out.parent / "chapter_execution.json")
    return runs


def write_report(runs: dict[str, ChapterRun], path: Path) -> None:
    rows = {name: {"wall_s": r.wall_s, "cpu_s": r.cpu_s, "ok": r.error is None} for name, r in runs.items()}
    path.write_text(json.dumps({"environment": "Colab stand-in (tests/colab.py)",
                                "cpu_count": os.cpu_count(), "chapters": rows}, indent=2) + "\n")


def report_lines(path: Path) -> list[str]:
    """The report as lines for the terminal."""
    data = json.loads(path.read_text())
    lines = [f"{'chapter':<16}{'wall s':>9}{'CPU s':>9}  (kernel CPU time: its threads and children)"]
    for name, row in data["chapters"].items():
        cpu = "-" if row["cpu_s"] is None else f"{row['cpu_s']:.0f}"
        lines.append(f"{name:<16}{row['wall_s']:>9.0f}{cpu:>9}" + ("" if row["ok"] else "  FAILED"))
    return lines


def md_notebook(md: Path):
    """The chapter as myst-nb reads it for the site (the notebook whose hash the cache keys)."""
    import yaml
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    extensions = set(config.get("parse", {}).get("myst_enable_extensions", []))
    return read_myst_markdown_notebook(md.read_text(), config=MdParserConfig(enable_extensions=extensions),
                                       add_source_map=True, path=str(md))


def prime_cache(runs: dict[str, ChapterRun], cache: Path) -> dict[str, str]:
    """Put every chapter that ran without error into a jupyter-cache at ``cache``: the chapter's
    MyST notebook with the outputs of its executed paired notebook (their code cells are the same:
    tests/test_notebooks.py). A site build with ``execute_notebooks: cache`` then takes its
    outputs from there instead of executing. Returns {chapter: why it was left out}."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    store = get_cache(str(cache))
    left_out = {}
    for name, run in runs.items():
        if run.error is not None:
            left_out[name] = "failed in the Colab run"
            continue
        nb = md_notebook(ROOT / "book" / f"{name}.md")
        executed = nbformat.read(run.executed, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        done = [c for c in executed.cells if c.cell_type == "code"]
        if [c.source for c in code] != [c.source for c in done]:
            left_out[name] = "its paired notebook's code differs from the chapter (run make notebooks)"
            continue
        for cell, ran in zip(code, done):
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
        for key in ("language_info", "widgets"):
            if key in executed.metadata:
                nb.metadata[key] = executed.metadata[key]
        store.cache_notebook_bundle(CacheBundleIn(nb, str(ROOT / "book" / f"{name}.md"),
                                                  data={"execution_seconds": run.wall_s}),
                                    check_validity=False, overwrite=True)
    return left_out
