"""Helpers for the chapters of the book itself (``book/*.md``), not for the library's users.

:func:`glue` is myst-nb's ``glue`` where myst-nb is installed (the book's build, which puts the
glued values into the text), and a harmless stand-in everywhere else (Colab, a plain Jupyter),
where the paired notebooks show the names of glued values instead (see ``tools/book_notebooks.py`` in the repository).
Chapters import it as ``from snnbook.book import glue`` and never branch on where they run.
"""
from __future__ import annotations

from typing import Any

__all__ = ["glue", "HAVE_MYST_NB"]

try:  # the book's build (jupyter-book) has myst-nb; Colab and a bare kernel do not
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover - exercised by tests/test_colab.py
    _myst_glue = None

#: True where myst-nb is importable and :func:`glue` stores values for the book's pages.
HAVE_MYST_NB = _myst_glue is not None


def _is_figure(value: Any) -> bool:
    return hasattr(value, "savefig") and hasattr(value, "canvas")


def glue(name: str, value: Any, display: bool = True) -> None:
    """Store ``value`` under ``name`` for the book's text (myst-nb ``glue``), or show it.

    With myst-nb (the book's build) this is ``myst_nb.glue(name, value, display)``. Without it
    (Colab, Jupyter) nothing is stored: a Matplotlib figure is displayed, so that the figures a
    chapter glues into its pages still appear under the cell, and any other value is displayed
    only with ``display=True``, as myst-nb would.

    Args:
        name (str): the key the text refers to (``{glue:text}`name```).
        value: any object; figures and strings are the usual ones.
        display (bool): also show the value under the cell. Default: ``True``.

    Example:
        >>> glue("n_digits", 3, display=False)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"glue: name must be a non-empty str, got name={name!r}")
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalars: their repr (np.float64(...)) would not format as a number
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
        return
    if display or _is_figure(value):
        try:
            from IPython.display import display as _display
        except ImportError:  # no IPython: nowhere to show anything
            return
        _display(value)
