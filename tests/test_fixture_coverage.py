"""Every SpykeTorch reference fixture file is checked by some test: a new file that no test
names fails the suite."""
from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_fixture_file_is_covered(fixtures_dir):
    sources = "\n".join(p.read_text() for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    files = sorted(p.name for p in fixtures_dir.glob("*.pt"))
    assert files, f"no fixture files in {fixtures_dir}"
    uncovered = [name for name in files if f'"{name}"' not in sources]
    assert not uncovered, f"fixture files no test loads: {uncovered}"
