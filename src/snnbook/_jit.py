"""numba's ``njit`` and ``prange`` for snnbook's compiled kernels: an on-disk cache in the user's
cache folder, and one line when the kernels are first compiled (private).

Every kernel of the event-driven engine (:mod:`snnbook._engine`, :mod:`snnbook.events`,
:mod:`snnbook.models.diehl_cook2015`) is decorated with :func:`njit` from here instead of
numba's. Two differences:

* ``cache=True`` writes the compiled machine code to ``<user cache>/snnbook/numba``
  (``platformdirs.user_cache_dir("snnbook")`` when platformdirs is installed, else
  ``$XDG_CACHE_HOME/snnbook`` or ``~/.cache/snnbook``; ``$SNNBOOK_CACHE_DIR/numba`` when the
  environment variable ``SNNBOOK_CACHE_DIR`` is set), not next to the source files: the cache
  works from a read-only install (site-packages, a container image) and survives between runs.
  An explicit ``NUMBA_CACHE_DIR`` (numba's own setting) is honoured when ``SNNBOOK_CACHE_DIR`` is
  not set. When no folder is writable, numba's usual places are tried (``__pycache__`` next to
  the module, numba's user-wide folder); when none is, the kernels are compiled in every process
  (with a warning) instead of failing at import. The cache is keyed by the source file's content,
  numba's version and the CPU, so an edit or an upgrade recompiles, never reuses stale code.
* The first time a process has to COMPILE a kernel (its cache entry is missing or stale), one
  line says so: on the ``"snnbook"`` logger at INFO where logging would show it, else on stderr
  (on stdout inside a Jupyter kernel, which draws stderr as an error;
  ``logging.getLogger("snnbook").setLevel(logging.WARNING)`` or ``SNNBOOK_COMPILE_NOTICE=0``
  silences it: the book's site build sets the latter), e.g.
  ``snnbook: compiling the event-driven engine's kernels on first use (once, about 20 s in all
  on 2 CPU cores; cached in ~/.cache/snnbook/numba)``. When the cache is warm nothing is printed.

:func:`compile_stats` counts cache hits and compilations of every kernel (for tests and
``benchmarks/startup.py``).
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import numba

__all__ = ["njit", "prange", "cache_dir", "compile_stats"]

prange = numba.prange

#: Rough cold-start figure printed with the announcement: the README's first use of the 2019
#: network on a 2-core CPU (``results/bench_startup.json``).
ABOUT = "about 20 s in all on 2 CPU cores"

_log = logging.getLogger("snnbook")
_announced = False
_dispatchers: list = []


def cache_dir() -> Path:
    """The folder of snnbook's compiled kernels: ``$SNNBOOK_CACHE_DIR/numba`` if that variable is
    set (and not empty), else ``<user cache dir>/snnbook/numba`` (platformdirs, else
    ``$XDG_CACHE_HOME`` or ``~/.cache``). Not created here."""
    env = os.environ.get("SNNBOOK_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser().resolve() / "numba"
    try:
        import platformdirs
        root = Path(platformdirs.user_cache_dir("snnbook", appauthor=False))
    except Exception:  # pragma: no cover - platformdirs is optional
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = Path(xdg).expanduser() if xdg and os.path.isabs(os.path.expanduser(xdg)) else Path.home() / ".cache"
        root = base / "snnbook"
    return root / "numba"


try:  # numba's cache internals (numba is pinned); if they move, numba's own cache locations are used
    from numba.core import caching as _caching
    from numba.core import config as _config

    class _SnnbookLocator(_caching._SourceFileBackedLocatorMixin, _caching._CacheLocator):
        """numba cache locator: :func:`cache_dir` plus numba's per-folder subpath (parent folder
        name and a hash of the source folder, so two installs never share entries)."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            # numba's own NUMBA_CACHE_DIR wins over the default folder, not over SNNBOOK_CACHE_DIR
            if _config.CACHE_DIR and not os.environ.get("SNNBOOK_CACHE_DIR", "").strip():
                return None
            return super().from_function(py_func, py_file)  # None when the folder is not writable

    class _SnnbookCacheImpl(_caching.CompileResultCacheImpl):
        _locator_classes = [_SnnbookLocator] + list(_caching.CompileResultCacheImpl._locator_classes)

    class _SnnbookFunctionCache(_caching.FunctionCache):
        _impl_class = _SnnbookCacheImpl

    class _Cache(_caching._Cache):
        """The dispatcher's cache: a :class:`_SnnbookFunctionCache` built on first use (importing
        snnbook creates no folder), and the announcement on the first miss of the process."""

        def __init__(self, py_func):
            self._py_func = py_func
            self._real = None
            self._enabled = True

        def _get(self):
            if self._real is None:
                try:
                    self._real = _SnnbookFunctionCache(self._py_func)
                except Exception as exc:  # no locator (nowhere to write), no home folder...: never fail a kernel
                    warnings.warn(f"snnbook: cannot cache the compiled kernels ({exc}); they are compiled in every "
                                  f"process. Set SNNBOOK_CACHE_DIR to a writable folder.", RuntimeWarning, stacklevel=2)
                    self._real = _caching.NullCache()
                if not self._enabled:
                    self._real.disable()
            return self._real

        @property
        def cache_path(self):
            return self._get().cache_path

        def load_overload(self, sig, target_context):
            data = self._get().load_overload(sig, target_context)
            if data is None and self._enabled:
                _announce(self._real)
            return data

        def save_overload(self, sig, data):
            self._get().save_overload(sig, data)

        def enable(self):
            self._enabled = True
            if self._real is not None:
                self._real.enable()

        def disable(self):
            self._enabled = False
            if self._real is not None:
                self._real.disable()

        def flush(self):
            self._get().flush()
except (ImportError, AttributeError):  # pragma: no cover - another numba than the pinned one
    _caching = None


def _announce(cache) -> None:
    global _announced
    if _announced:
        return
    _announced = True
    where = getattr(cache, "cache_path", None)
    if where is None:
        tail = "not cached: no writable cache folder, set SNNBOOK_CACHE_DIR"
    else:
        folder = Path(where)
        if folder.parent == cache_dir():
            folder = folder.parent
        try:
            folder = "~" / folder.relative_to(Path.home())
        except (ValueError, RuntimeError):  # not under the home folder, or no home folder
            pass
        tail = f"cached in {folder}"
    msg = (f"snnbook: compiling the event-driven engine's kernels on first use (once, {ABOUT}; "
           f"{tail})")
    if _log.level > logging.INFO:  # the "snnbook" logger was quietened explicitly
        return
    if os.environ.get("SNNBOOK_COMPILE_NOTICE", "").strip() == "0":  # e.g. the book's site build
        return
    if _log.isEnabledFor(logging.INFO) and _log.hasHandlers():
        _log.info(msg)
    else:  # logging would drop it (not configured, or at WARNING): the reader still sees why it waits
        print(msg, file=sys.stdout if _in_notebook() else sys.stderr, flush=True)


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where stderr is drawn as an error: the notice is not one."""
    return type(sys.stdout).__module__.startswith("ipykernel")


def njit(*args, **kwargs):
    """``numba.njit`` with ``cache=True`` redirected to :func:`cache_dir` (module docstring).
    Same arguments (signatures, if given, are compiled at decoration, through the cache);
    returns numba's dispatcher."""
    cache = kwargs.pop("cache", False)
    if args and callable(args[0]):
        return _wrap(numba.njit(**kwargs)(args[0]), cache)
    sigs = args[0] if args else kwargs.pop("signature_or_function", None)

    def decorate(func):
        disp = _wrap(numba.njit(**kwargs)(func), cache)  # the cache is attached before any compilation
        if sigs is not None and hasattr(disp, "compile"):
            for sig in sigs if isinstance(sigs, list) else [sigs]:
                disp.compile(sig)
            disp.disable_compile()
        return disp
    return decorate


def _wrap(disp, cache: bool):
    if not hasattr(disp, "_cache"):  # NUMBA_DISABLE_JIT: the plain Python function
        return disp
    if cache:
        if _caching is None:  # pragma: no cover
            disp.enable_caching()
        else:
            disp._cache = _Cache(disp.py_func)
    _dispatchers.append(disp)
    return disp


def compile_stats() -> dict:
    """Per kernel compiled or loaded in this process: ``{"hits": n, "misses": n, "kernels":
    {qualified name: {"hits": n, "misses": n}}}`` (numba's per-dispatcher counters; a miss is a
    compilation), plus ``"cache_dir"`` (:func:`cache_dir`) and ``"announced"``."""
    kernels = {}
    for d in _dispatchers:
        hits, misses = sum(d._cache_hits.values()), sum(d._cache_misses.values())
        if hits or misses:
            kernels[f"{d.py_func.__module__}.{d.py_func.__qualname__}"] = {"hits": hits, "misses": misses}
    return {"hits": sum(k["hits"] for k in kernels.values()),
            "misses": sum(k["misses"] for k in kernels.values()),
            "kernels": kernels, "cache_dir": str(cache_dir()), "announced": _announced}
