"""``python -m snnbook``: the ``snnbook`` command (:mod:`snnbook.cli`)."""
import sys

from .cli import main

sys.exit(main(prog="python -m snnbook"))
