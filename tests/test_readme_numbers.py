"""Every result number the README states comes from the published record: the results section
is written by tools/readme_results.py from results/*.json (README.md must equal its output), and
no percentage, speed ratio or duration is typed by hand anywhere else in the README's prose."""
from __future__ import annotations

import re
from pathlib import Path

import readme_results  # tools/ (tests/conftest.py puts it on the path)

README = Path(__file__).resolve().parents[1] / "README.md"


def prose_outside_results(text: str) -> str:
    """The README without its generated section, code blocks and inline code."""
    head, rest = text.split(readme_results.BEGIN, 1)
    text = head + rest.split(readme_results.END, 1)[1]
    text = re.sub(r"^```.*?^```", " ", text, flags=re.S | re.M)
    return re.sub(r"`[^`]*`", " ", text)


def test_results_section_is_what_the_generator_writes_from_the_results_files():
    text = README.read_text()
    assert text == readme_results.rewrite(text), (
        "README.md's results section differs from the results files: run python tools/readme_results.py")


def test_no_result_number_is_typed_by_hand_outside_the_results_section():
    prose = prose_outside_results(README.read_text())
    found = re.findall(r"\d+(?:[.,]\d+)?\s?%", prose)  # accuracies
    found += re.findall(r"\b\d+(?:\.\d+)?\s?x\b", prose)  # speed ratios
    found += re.findall(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|seconds?|min|minutes?|h|hours?)\b", prose)
    found += re.findall(r"\b(?:one|two|three|four|few)[- ]hours?\b", prose, flags=re.I)
    assert not found, f"numbers typed by hand in README.md (put them in tools/readme_results.py): {found}"


def test_readme_does_not_call_a_loaded_machine_idle_or_a_committee_a_two_hour_result():
    text = README.read_text()
    assert "idle" not in text.lower(), "the results files record the load average: state it instead"
    generated = readme_results.results_section()
    for line in generated.splitlines():
        if "committee" in line and line.startswith("|"):
            assert "from the first member's start to the last one's end" in line, line


def test_generator_rejects_a_readme_without_markers():
    import pytest

    with pytest.raises(ValueError, match="rewrite: README.md must hold the markers"):
        readme_results.rewrite("# no markers\n")
