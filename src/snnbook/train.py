"""``python -m snnbook.train <network> ...``: the same as ``snnbook train <network> ...``
(:mod:`snnbook.cli`).

Chapter: A deep network that learns with spikes (book/mozafari2019.md), and every network chapter.

Example::

    python -m snnbook.train mozafari2019 --quick
    python -m snnbook.train mozafari2019 --epochs-l3 41 --seed 0 --out results
"""
from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``, without the word ``train``), train, print a
    summary; return the exit status (:func:`snnbook.cli.main`)."""
    if argv is not None and (isinstance(argv, str) or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"main: argv must be a list of str or None, got {argv!r}")
    from .cli import main as cli_main
    words = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["train", *words], prog="python -m snnbook")


if __name__ == "__main__":
    sys.exit(main())
