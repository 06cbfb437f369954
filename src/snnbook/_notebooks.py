"""Write the paired ``.ipynb`` of every executable chapter (``python -m snnbook._notebooks``).

Colab opens notebooks only, so each MyST chapter in ``book/`` with a ``kernelspec`` gets a
notebook without outputs beside it. Cell ids are numbered (jupytext would draw random ones), so
regenerating a notebook changes only the cells whose source changed.
"""
from __future__ import annotations

import sys
from pathlib import Path


def write_paired_notebooks(book: Path) -> list[Path]:
    """Write ``<chapter>.ipynb`` for every ``<chapter>.md`` in ``book`` that has a kernelspec;
    return the paths written."""
    import jupytext

    written = []
    for md in sorted(book.glob("*.md")):
        if "\nkernelspec:" not in md.read_text():
            continue
        nb = jupytext.read(md)
        nb.metadata.pop("jupytext", None)
        nb.nbformat, nb.nbformat_minor = 4, 5
        for i, cell in enumerate(nb.cells):
            cell.id = f"cell-{i}"
        path = md.with_suffix(".ipynb")
        jupytext.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    write_paired_notebooks(Path(sys.argv[1] if len(sys.argv) > 1 else "book"))
