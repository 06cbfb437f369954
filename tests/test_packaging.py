"""The package's metadata says one thing everywhere: one version, one licence, one repository URL,
every declared dependency pinned for the repository's own environment, and a wheel that holds
the library and the published record but none of the repository's tooling, tests or runs.

Installing that wheel into a fresh environment and using it is tests/test_install.py."""
from __future__ import annotations

import datetime
import json
import re
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

import snnbook
from snnbook._resources import published_dir

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
CITATION = yaml.safe_load((ROOT / "CITATION.cff").read_text())
#: The one place where the repository URL is set (the book's launch buttons and Colab links).
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if "\nkernelspec:" in p.read_text())
#: Files a reader meets that name the repository.
URL_FILES = [ROOT / "README.md", ROOT / "CITATION.cff", *sorted((ROOT / "book").glob("*.md"))]
#: The weights that the chapters load, besides those named literally in them: the Mozafari
#: chapter loads the file named by its seed-0 results file.
WEIGHTS_NAMED_BY_RESULTS = ["mozafari2019-seed0.json", "mozafari2019-2h-seed0.json"]


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement (``Torch_Vision[x]>=1`` -> ``torch-vision``)."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)[1]).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                assert "==" in line, f"{name}: {line!r} is not pinned exactly"
                pins[_name(line)] = line.split("==", 1)[1].strip()
    return pins


# ---------------------------------------------------------------------------------------------
# one version, one licence
# ---------------------------------------------------------------------------------------------
def test_version_has_one_source():
    assert "version" not in PROJECT.get("dynamic", [])
    version = PROJECT["version"]
    assert snnbook.__version__ == version, "reinstall (make venv): the installed metadata is stale"
    assert str(CITATION["version"]) == version
    init = (ROOT / "src" / "snnbook" / "__init__.py").read_text()
    assert not re.search(r"__version__\s*=\s*['\"]", init), "__version__ is read from the metadata"


def test_license_file_matches_the_metadata():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 The Spiking Vision authors" in text
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert CITATION["license"] == "MIT"
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"]), \
        "the SPDX expression replaces license classifiers"


def test_citation_file_is_cff_1_2_0():
    assert CITATION["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "license", "repository-code", "date-released"):
        assert CITATION.get(key), f"CITATION.cff: {key} missing"
    assert CITATION["authors"] == [{"name": "The Spiking Vision authors"}]  # an entity
    assert CITATION["date-released"] == datetime.date(2026, 12, 6)


def test_python_versions():
    from packaging.specifiers import SpecifierSet

    assert "3.11" in SpecifierSet(PROJECT["requires-python"])
    tested = [c.rsplit(" ", 1)[1] for c in PROJECT["classifiers"]
              if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert tested == ["3.11"], "classifiers name the Python versions CI runs (.ci/run: 3.11)"


# ---------------------------------------------------------------------------------------------
# one repository URL
# ---------------------------------------------------------------------------------------------
def test_project_urls_come_from_the_repository_url():
    urls = PROJECT["urls"]
    assert urls["Repository"] == urls["Homepage"] == REPOSITORY
    assert urls["Documentation"].startswith(REPOSITORY + "#")
    assert urls["Issues"] == REPOSITORY + "/issues"
    assert CITATION["repository-code"] == REPOSITORY


@pytest.mark.parametrize("path", URL_FILES, ids=lambda p: p.name)
def test_every_mention_of_the_repository_is_the_configured_url(path):
    """Install lines (``git+URL``), the chapters' ``REPOSITORY`` constants and any GitHub URL of
    a repository named snnbook all equal ``repository.url`` of _config.yml."""
    text = path.read_text()
    found = re.findall(r"git\+(https?://[^\s\"'`]+)", text)
    found += re.findall(r"^REPOSITORY\s*=\s*[\"']([^\"']+)", text, flags=re.M)
    found += [m.rstrip(".") for m in re.findall(r"https?://github\.com/[\w.-]+/snnbook[\w.-]*", text, flags=re.I)]
    assert all(url == REPOSITORY for url in found), (path.name, sorted(set(found)))


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_install_cell_names_the_repository(md):
    line = next(l for l in md.read_text().splitlines() if "snnbook[notebook]@git+" in l)
    assert line.strip() == f'%pip install -q "snnbook[notebook]@git+{REPOSITORY}"'


def test_readme_installs_from_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert f'pip install "snnbook @ git+{REPOSITORY}"' in readme
    assert "pip install snnbook[" not in readme, "no package index has snnbook"


# ---------------------------------------------------------------------------------------------
# dependencies
# ---------------------------------------------------------------------------------------------
def test_every_declared_dependency_is_pinned_for_the_repository():
    pins = _pins()
    declared = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        declared += [r for r in extra if _name(r) != "snnbook"]
    missing = sorted({_name(r) for r in declared} - set(pins))
    assert not missing, f"declared in pyproject.toml, not pinned in requirements*.txt: {missing}"


def test_runtime_dependencies():
    names = [_name(r) for r in PROJECT["dependencies"]]
    assert names == ["torch", "numpy", "numba", "tqdm", "matplotlib", "platformdirs"]
    torch_req = PROJECT["dependencies"][0]
    assert re.fullmatch(r"torch>=[\d.]+", torch_req), "a lower bound on torch, no upper pin"
    assert _pins()["torch"] == "2.13.0", "torch stays pinned to the CPU wheel"
    assert set(PROJECT["optional-dependencies"]) >= {"book", "events", "interop", "notebook"}
    assert PROJECT["scripts"] == {"snnbook": "snnbook.cli:main"}


# ---------------------------------------------------------------------------------------------
# the published record and the wheel
# ---------------------------------------------------------------------------------------------
def test_packages_list_every_package_of_the_source_tree():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    src = ROOT / "src"
    found = {".".join(d.relative_to(src).parts) for d in src.rglob("*")
             if d.is_dir() and d.name != "__pycache__" and not d.name.endswith(".egg-info")
             and any(d.glob("*.py"))}
    assert listed == found | {"snnbook.published"}, "[tool.setuptools] packages of pyproject.toml"


def test_published_dir_is_the_checkout_results():
    assert published_dir() == ROOT / "results"


def _chapter_weights() -> set[str]:
    names = set()
    for md in (ROOT / "book").glob("*.md"):
        names |= {n for n in re.findall(r"[\"']([\w.-]+\.pt)[\"']", md.read_text())
                  if (ROOT / "results" / n).exists()}
    for name in WEIGHTS_NAMED_BY_RESULTS:
        names.add(json.loads((ROOT / "results" / name).read_text())["weights"]["file"])
    return names


def test_wheel_holds_the_library_and_the_published_record(built_wheel):
    names = set(zipfile.ZipFile(built_wheel).namelist())
    version = PROJECT["version"]
    assert built_wheel.name == f"snnbook-{version}-py3-none-any.whl"
    src = ROOT / "src"
    modules = {p.relative_to(src).as_posix() for p in src.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)
    results = ROOT / "results"
    published = {f"snnbook/published/{p.relative_to(results).as_posix()}"
                 for p in [*results.glob("*.json"), *results.glob("sweep/*.json")]}
    assert "snnbook/published/mozafari2019.json" in published
    assert published <= names, sorted(published - names)
    weights = {f"snnbook/published/{n}" for n in _chapter_weights()}
    assert len(weights) >= 4 and weights <= names, sorted(weights - names)
    shipped_weights = {n for n in names if n.endswith(".pt")}
    assert shipped_weights == weights, "only the weights the chapters load"


def test_wheel_holds_no_tooling_tests_runs_or_checkpoints(built_wheel):
    wheel = zipfile.ZipFile(built_wheel)
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"snnbook", f"snnbook-{PROJECT['version']}.dist-info"}, top
    for name in names:
        parts = name.split("/")
        assert not {"tests", "tools", "runs", "checkpoints", "results", "__pycache__"} & set(parts), name
        assert not re.search(r"(_sphinx|_notebooks|book_sphinx|book_notebooks|conftest)\.py$", name), name
        assert not name.endswith((".ckpt", ".sha256", ".pyc")), name
    size_mb = built_wheel.stat().st_size / 1e6
    assert size_mb < 25, f"wheel of {size_mb:.1f} MB"
    meta = wheel.read(f"snnbook-{PROJECT['version']}.dist-info/METADATA").decode()
    assert f"Version: {PROJECT['version']}\n" in meta and "License-Expression: MIT\n" in meta
    assert "Requires-Dist: torch>=" in meta
    assert f"snnbook-{PROJECT['version']}.dist-info/licenses/LICENSE" in names
    entry_points = wheel.read(f"snnbook-{PROJECT['version']}.dist-info/entry_points.txt").decode()
    assert "snnbook = snnbook.cli:main" in entry_points


def test_install_marker_is_registered_and_not_deselected():
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("install:") for m in options["markers"])
    assert "-m" not in options.get("addopts", "").split()
