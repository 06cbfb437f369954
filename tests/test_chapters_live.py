"""The pipeline and whole-network chapters run in a live Jupyter kernel (as on Colab): after the
chapter executes, moving a slider of each of its interactive figures re-runs the figure's
function."""
from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["neurons", "retina", "coding", "competition", "mozafari2019", "diehl_cook2015", "stdp_failures",
            "gradient", "events"]

pytestmark = pytest.mark.book

PROBE = """
import json
from snnbook.widgets import Explorer
report, seen = [], set()
candidates = list(globals().items()) + [(f"Out[{k}]", v) for k, v in dict(Out).items()]
for name, obj in candidates:
    if isinstance(obj, Explorer) and id(obj) not in seen:
        seen.add(id(obj))
        slider_name, slider = next(iter(obj.sliders.items()))
        before = len(obj.calls)
        options = list(slider.options)
        new = options[-1] if slider.index != len(options) - 1 else options[0]
        slider.value = new[1] if isinstance(new, tuple) else new
        report.append({"name": name, "param": slider_name, "calls": len(obj.calls) - before,
                       "matches": obj.params[slider_name] == (new[1] if isinstance(new, tuple) else new)})
print(json.dumps(report))
"""


@pytest.mark.parametrize("name", CHAPTERS)
def test_sliders_rerun_the_function_in_a_live_kernel(name, tmp_path, monkeypatch):
    # A live session: the static frames are not needed, so skip computing them.
    monkeypatch.setenv("SNNBOOK_STATIC", "0")
    nb = jupytext.read(ROOT / "book" / f"{name}.md")
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(ROOT / "book")}})
    client.execute()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o["output_type"] == "stream")
    report = json.loads(out.strip().splitlines()[-1])
    assert report, f"{name}: no interactive figure found in the kernel"
    for entry in report:
        assert entry["calls"] == 1 and entry["matches"], entry
