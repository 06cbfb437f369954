"""snnbook.widgets in a real Jupyter kernel: a notebook executed with nbclient creates an explorer,
moves a slider from a later cell, and the kernel re-runs ``fn`` with the new value."""
from __future__ import annotations

import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

CELLS = [
    "import json, sys\n"
    "import numpy as np\n"
    "from snnbook.widgets import explore\n"
    "calls = []\n"
    "def fn(a):\n"
    "    calls.append({'a': a})\n"
    "    image = np.zeros((4, 4))\n"
    "    image[0, 0], image[1:] = 3.0, a  # fixed range 0..3: grey level shows a\n"
    "    return image",
    "ex = explore(fn, a=[1, 2, 3])\n"
    "ex",
    "before, picture = len(calls), bytes(ex.image.value)\n"
    "ex.sliders['a'].value = 3\n"
    "print(json.dumps({'before': before, 'after': len(calls), 'last': calls[-1], 'params': ex.params, "
    "'redrawn': bytes(ex.image.value) != picture, 'python': sys.executable}))",
]


def test_slider_reruns_fn_in_a_live_kernel(tmp_path, monkeypatch):
    monkeypatch.delenv("SNNBOOK_STATIC", raising=False)  # the kernel inherits the environment
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # kernel_name "python3" starts ipykernel with sys.executable (jupyter_client replaces a
    # leading "python" in the kernel spec), i.e. this venv's interpreter with snnbook installed.
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    display = [o for o in nb.cells[1].outputs if o["output_type"] == "execute_result"]
    assert len(display) == 1
    data = display[0]["data"]
    assert WIDGET_MIME in data and "text/html" in data and "text/plain" in data
    assert data["text/html"].count('class="snnbook-explore-frame"') == 3

    import json

    stdout = "".join(o.get("text", "") for o in nb.cells[2].outputs if o["output_type"] == "stream")
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["before"] == 3  # the static grid: one call per frame
    assert result["after"] == 4  # moving the slider re-ran fn once...
    assert result["last"] == {"a": 3}  # ...with the slider's value
    assert result["params"] == {"a": 3}
    assert result["redrawn"]  # the live picture changed
    assert result["python"] == sys.executable
