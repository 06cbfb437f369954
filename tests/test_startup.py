"""The compiled kernels are cached on disk outside the package (which may be read-only), a warm
start compiles nothing, and the first compilation of a process is announced once.

Counts, never wall times: numba's per-kernel cache counters (:func:`snnbook._jit.compile_stats`,
a miss is a compilation), the cache files and the announcement on stderr, in fresh processes.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Fresh processes with a cold cache compile for real (about 20-60 s on 2 shared cores): marked
# like the other tests that install the package somewhere fresh.
pytestmark = pytest.mark.install

KERNEL_MODULE = textwrap.dedent("""
    from snnbook._jit import njit, prange

    @njit(cache=True, nogil=True)
    def add_one(x):
        for i in range(x.shape[0]):
            x[i] += 1

    @njit(cache=True, parallel=True)
    def add_rows(x):
        for i in prange(x.shape[0]):
            add_one(x[i])
""")

CHILD = textwrap.dedent("""
    import json, numpy as np
    import kernels
    from snnbook import _jit
    x = np.zeros((8, 3))
    kernels.add_rows(x)
    kernels.add_one(x[0])
    s = _jit.compile_stats()
    print(json.dumps(dict(s, total=float(x.sum()), cache_path=kernels.add_one.stats.cache_path)))
""")


def _run_child(tmp_path: Path, env_extra: dict, drop=("NUMBA_CACHE_DIR", "SNNBOOK_CACHE_DIR")) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path / "mod"),
                                                                    os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture
def kernels_dir(tmp_path):
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "kernels.py").write_text(KERNEL_MODULE)
    return tmp_path


def _cache_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")]


def test_kernels_cached_in_snnbook_cache_dir_and_announced_once(kernels_dir):
    cache = kernels_dir / "cache"
    cold, err = _run_child(kernels_dir, {"SNNBOOK_CACHE_DIR": str(cache)})
    assert cold["total"] == 8 * 3 + 3
    assert cold["misses"] == 2 and cold["hits"] == 0  # add_one (once: also inside add_rows) and add_rows
    assert cold["cache_dir"] == str((cache / "numba").resolve())
    assert Path(cold["cache_path"]).parent == (cache / "numba").resolve()
    assert err.count("snnbook: compiling the event-driven engine's kernels") == 1, err
    assert "cached in" in err
    assert _cache_files(cache / "numba") and not _cache_files(kernels_dir / "mod")
    warm, err = _run_child(kernels_dir, {"SNNBOOK_CACHE_DIR": str(cache)})
    assert warm["misses"] == 0 and warm["hits"] == 2 and not warm["announced"]
    assert "snnbook: compiling" not in err


def test_numba_cache_dir_is_honoured_without_snnbook_cache_dir(kernels_dir):
    cache = kernels_dir / "numba-own"
    res, _ = _run_child(kernels_dir, {"NUMBA_CACHE_DIR": str(cache), "XDG_CACHE_HOME": str(kernels_dir / "xdg")})
    assert res["misses"] == 2 and _cache_files(cache)
    assert not (kernels_dir / "xdg").exists() or not _cache_files(kernels_dir / "xdg")


def test_unusable_cache_dir_falls_back_without_failing(kernels_dir):
    blocker = kernels_dir / "a-file"
    blocker.write_text("not a folder")
    res, err = _run_child(kernels_dir, {"SNNBOOK_CACHE_DIR": str(blocker / "sub")})
    assert res["total"] == 8 * 3 + 3 and res["misses"] == 2
    assert "Traceback" not in err


def test_announcement_uses_logging_where_it_shows_else_stderr(monkeypatch, caplog, capsys):
    from snnbook import _jit

    class Cache:
        cache_path = str(_jit.cache_dir() / "snnbook_0123")

    log = logging.getLogger("snnbook")
    monkeypatch.setattr(log, "level", logging.NOTSET)
    monkeypatch.setattr(_jit, "_announced", False)
    _jit._announce(Cache())  # root at WARNING: logging would drop it, so stderr
    _jit._announce(Cache())  # once per process
    err = capsys.readouterr().err
    assert err.count("snnbook: compiling the event-driven engine's kernels") == 1 and "cached in" in err
    monkeypatch.setattr(_jit, "_announced", False)
    with caplog.at_level(logging.INFO, logger="snnbook"):
        _jit._announce(Cache())
    assert "snnbook: compiling" in caplog.text and not capsys.readouterr().err
    monkeypatch.setattr(_jit, "_announced", False)
    log.setLevel(logging.WARNING)  # quietened explicitly (monkeypatch restores the level)
    _jit._announce(Cache())
    assert not capsys.readouterr().err


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmarks_startup", ROOT / "benchmarks" / "startup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_startup_benchmark_cold_then_warm(tmp_path):
    """The library's first use from a read-only copy of the package with an empty cache folder,
    then again with the cache it left: the benchmark's own checks, and the counts behind them."""
    out = tmp_path / "startup.json"
    _load_benchmark().main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["quick"] and set(data["workloads"]) == {"mozafari2019", "diehl_cook2015"}
    for name, w in data["workloads"].items():
        assert all(w["checks"].values()), (name, w["checks"])
        cold, warm = w["runs"][0]["cold"], w["runs"][0]["warm"]
        assert cold["misses"] > 0 and cold["cache_files"] > 0, name
        assert warm["misses"] == 0 and warm["hits"] > 0, name
        assert warm["cache_files"] == cold["cache_files"], name
        assert set(warm["kernels"]) <= set(cold["kernels"]), name
        assert len(cold["stderr_announcement"]) == 1 and not warm["stderr_announcement"], name
        assert w["cold_s"] > 0 and w["warm_s"] > 0
    for key in ("platform", "cpu_count", "load_average_at_start"):
        assert key in data["machine"]


def test_announcement_goes_to_stdout_in_a_kernel_and_is_silenced_by_the_environment(monkeypatch, capsys):
    """A Jupyter kernel draws stderr as an error, so the notice goes to stdout there; the book's
    site build sets SNNBOOK_COMPILE_NOTICE=0 so no page carries build noise."""
    from snnbook import _jit

    class Cache:
        cache_path = str(_jit.cache_dir() / "snnbook_0123")

    assert not _jit._in_notebook()  # pytest's captured stdout is not a kernel's stream
    monkeypatch.setattr(logging.getLogger("snnbook"), "level", logging.NOTSET)
    monkeypatch.delenv("SNNBOOK_COMPILE_NOTICE", raising=False)
    monkeypatch.setattr(_jit, "_announced", False)
    monkeypatch.setattr(_jit, "_in_notebook", lambda: True)
    _jit._announce(Cache())
    out, err = capsys.readouterr()
    assert "snnbook: compiling" in out and not err
    monkeypatch.setattr(_jit, "_announced", False)
    monkeypatch.setenv("SNNBOOK_COMPILE_NOTICE", "0")
    _jit._announce(Cache())
    assert capsys.readouterr() == ("", "")
