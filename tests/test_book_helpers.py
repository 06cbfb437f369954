"""snnbook.book.glue: what the chapters glue reaches myst-nb as a value it can format."""
from __future__ import annotations

import numpy as np
import pytest

from snnbook import book


def test_numpy_scalars_are_glued_as_python_numbers(monkeypatch):
    seen = {}
    monkeypatch.setattr(book, "_myst_glue", lambda name, value, display: seen.update({name: value}))
    book.glue("f", np.float64(94.87), display=False)
    book.glue("i", np.int64(3), display=False)
    book.glue("a", np.array([1.0, 2.0]), display=False)
    assert type(seen["f"]) is float and seen["f"] == 94.87
    assert type(seen["i"]) is int and seen["i"] == 3
    assert isinstance(seen["a"], np.ndarray)  # arrays are left as they are


def test_glue_needs_a_name():
    with pytest.raises(TypeError, match="glue: name"):
        book.glue("", 1.0)
