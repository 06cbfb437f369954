"""Tests for snnbook.widgets: parameter grids, PNG frames, the static HTML block and the live
ipywidgets object (in-process; the kernel round trip is in test_widgets_live.py)."""
from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from snnbook import widgets  # noqa: E402
from snnbook.widgets import (  # noqa: E402
    MAX_FRAMES,
    explore,
    frame_id,
    parameter_grid,
    render_frame,
    static_html,
    value_label,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _static_frames_on(monkeypatch):
    """Tests assume the default (static frames on), whatever the caller's environment says."""
    monkeypatch.delenv("SNNBOOK_STATIC", raising=False)


class Counter:
    """fn with a call log: a small image whose pixels encode the parameters."""

    def __init__(self):
        self.calls = []

    def __call__(self, **params):
        self.calls.append(params)
        a = np.zeros((8, 8))
        a[0, 0] = 1.0
        a[1:, :] = (len(self.calls) % 7) / 7.0
        return a


def curve(tau, k=1):
    fig, ax = plt.subplots(figsize=(3, 2))
    t = np.linspace(0.0, 100.0, 200)
    ax.plot(t, k * np.exp(-t / tau))
    ax.set_title(f"tau={tau}")
    return fig


class Elements(HTMLParser):
    """Collect (tag, attrs) of every start tag."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def parse(block: str) -> Elements:
    parser = Elements()
    parser.feed(block)
    return parser


# ----------------------------------------------------------------------------- grids
def test_parameter_grid_order_and_size():
    grid = parameter_grid({"tau": [5, 10, 20, 40], "k": [1, 2, 3]})
    assert len(grid) == 12
    assert grid[0] == {"tau": 5, "k": 1}
    assert grid[1] == {"tau": 5, "k": 2}  # last parameter varies fastest
    assert grid[3] == {"tau": 10, "k": 1}
    assert grid[-1] == {"tau": 40, "k": 3}
    assert [list(p) for p in grid] == [["tau", "k"]] * 12


def test_parameter_grid_tuple_ranges_include_stop():
    assert parameter_grid({"k": (1, 7, 2)}) == [{"k": v} for v in (1, 3, 5, 7)]
    values = [p["x"] for p in parameter_grid({"x": (0.0, 1.0, 0.1)})]
    assert len(values) == 11 and values[3] == 0.3 and values[-1] == 1.0
    assert all(isinstance(v, float) for v in values)


def test_parameter_grid_numpy_values_become_python_scalars():
    values = [p["v"] for p in parameter_grid({"v": np.linspace(0.0, 2.0, 5)})]
    assert values == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert all(type(v) is float for v in values)
    assert [p["n"] for p in parameter_grid({"n": np.arange(3)})] == [0, 1, 2]


def test_parameter_grid_strings_and_other_tuples_are_value_lists():
    assert [p["mode"] for p in parameter_grid({"mode": ["latency", "rank"]})] == ["latency", "rank"]
    assert [p["n"] for p in parameter_grid({"n": (4, 8)})] == [4, 8]


@pytest.mark.parametrize("spec, error, words", [
    ([], ValueError, "tau is empty"),
    ((1, 10, 0), ValueError, "step > 0"),
    ((10, 1, 1), ValueError, "stop >= start"),
    ((5, 10, 20), ValueError, "multiple of step"),
    ("abc", TypeError, "tau must be a sequence"),
    (5, TypeError, "tau must be a sequence"),
    ([1, 1.0], ValueError, "repeated values"),
])
def test_parameter_grid_rejects_bad_ranges(spec, error, words):
    with pytest.raises(error, match=words):
        parameter_grid({"tau": spec})


def test_grid_above_max_frames_raises_before_calling_fn():
    fn = Counter()
    with pytest.raises(ValueError, match=r"201 frames.*MAX_FRAMES=200"):
        explore(fn, a=list(range(67)), b=[0, 1, 2])
    assert fn.calls == []
    with pytest.raises(ValueError, match="MAX_FRAMES"):
        explore(fn, a=(0, 1000, 1))
    assert fn.calls == []
    ex = explore(fn, a=list(range(100)), b=[0, 1])  # exactly 200 frames is allowed
    assert len(fn.calls) == MAX_FRAMES and len(ex.frames) == MAX_FRAMES


def test_explore_validates_arguments():
    with pytest.raises(TypeError, match="fn must be callable"):
        explore(42, a=[1, 2])
    with pytest.raises(ValueError, match="param_ranges is empty"):
        explore(Counter())
    with pytest.raises(ValueError, match="a is empty"):
        explore(Counter(), a=[])
    with pytest.raises(ValueError, match=r"defaults names unknown parameters \['b'\]"):
        explore(Counter(), a=[1, 2], defaults={"b": 1})
    with pytest.raises(ValueError, match=r"defaults\['a'\]=5 is not one of"):
        explore(Counter(), a=[1, 2], defaults={"a": 5})
    with pytest.raises(TypeError, match="defaults must be a dict"):
        explore(Counter(), a=[1, 2], defaults=[1])
    with pytest.raises(ValueError, match="dpi must be a positive int"):
        explore(Counter(), a=[1, 2], dpi=0)


def test_labels_and_frame_ids():
    assert [value_label(v) for v in (20.0, 0.1 * 3, 3, "on", True)] == ["20", "0.3", "3", "on", "True"]
    assert frame_id({"tau": 20.0, "k": 3}) == "tau=20|k=3"


# ----------------------------------------------------------------------------- frames
def test_render_frame_figure_is_png_and_closed():
    fig = curve(10.0)
    number = fig.number
    png = render_frame(fig, dpi=72)
    assert png[:8] == PNG_MAGIC
    assert not plt.fignum_exists(number)
    image = Image.open(io.BytesIO(png))
    assert image.size == (3 * 72, 2 * 72)
    assert image.mode == "P"  # quantised to a palette


def test_render_frame_figure_closed_even_when_palette_off():
    fig = curve(10.0)
    png = render_frame(fig, palette=False)
    assert png[:8] == PNG_MAGIC and not plt.fignum_exists(fig.number)
    assert Image.open(io.BytesIO(png)).mode in ("RGB", "RGBA")


def test_render_frame_arrays_and_pil():
    grey = Image.open(io.BytesIO(render_frame(np.arange(16.0).reshape(4, 4))))
    assert grey.mode == "L" and grey.size[0] >= 4 and grey.size[0] % 4 == 0  # enlarged, nearest
    pixels = np.asarray(grey)
    assert pixels.min() == 0 and pixels.max() == 255
    chw = np.random.default_rng(0).random((3, 10, 20))  # [channel, height, width] in [0, 1]
    rgb = Image.open(io.BytesIO(render_frame(chw, palette=False)))
    assert rgb.mode == "RGB" and rgb.size[0] == 2 * rgb.size[1]
    pil = Image.new("RGB", (30, 20), (255, 0, 0))
    assert render_frame(pil)[:8] == PNG_MAGIC
    assert render_frame(np.ones((5, 5), dtype=bool))[:8] == PNG_MAGIC


def test_render_frame_rejects_other_results():
    with pytest.raises(TypeError, match="render_frame: fn must return"):
        render_frame("not an image")
    with pytest.raises(ValueError, match="render_frame: an array image"):
        render_frame(np.zeros((2, 3, 5, 7)))
    with pytest.raises(ValueError, match="NaN"):
        render_frame(np.array([[np.nan, 1.0]]))


# ----------------------------------------------------------------------------- static block
def test_static_block_sliders_frames_and_ids():
    fn = Counter()
    ex = explore(fn, tau=[5, 10, 20, 40], k=(1, 5, 2), x=(0.0, 1.0, 0.25), defaults={"tau": 20, "x": 0.5})
    grid = parameter_grid({"tau": [5, 10, 20, 40], "k": (1, 5, 2), "x": (0.0, 1.0, 0.25)})
    assert fn.calls == grid
    doc = parse(ex.html)

    roots = doc.find("div", "snnbook-explore")
    assert len(roots) == 1 and roots[0]["id"].startswith("snnbook-explore-")
    assert roots[0]["data-frames"] == str(len(grid))

    sliders = {s["data-param"]: s for s in doc.find("input", "snnbook-explore-slider")}
    assert list(sliders) == ["tau", "k", "x"]
    assert all(s["type"] == "range" for s in sliders.values())
    # uneven values: a slider over the index; arithmetic progressions: the values themselves
    assert (sliders["tau"]["min"], sliders["tau"]["max"], sliders["tau"]["step"]) == ("0", "3", "1")
    assert sliders["tau"]["data-kind"] == "index" and sliders["tau"]["value"] == "2"
    assert (sliders["k"]["min"], sliders["k"]["max"], sliders["k"]["step"], sliders["k"]["value"]) == ("1", "5", "2", "1")
    assert (float(sliders["x"]["min"]), float(sliders["x"]["max"]), float(sliders["x"]["step"])) == (0.0, 1.0, 0.25)
    assert float(sliders["x"]["value"]) == 0.5
    assert sliders["tau"]["data-labels"] == '["5", "10", "20", "40"]'
    assert len({s["id"] for s in sliders.values()}) == 3

    frames = doc.find("img", "snnbook-explore-frame")
    assert len(frames) == len(grid) == 4 * 3 * 5
    assert [f["data-frame"] for f in frames] == [frame_id(p) for p in grid]
    assert [int(f["data-index"]) for f in frames] == list(range(len(grid)))
    for f, png in zip(frames, ex.frames):
        assert f["src"] == "data:image/png;base64," + base64.b64encode(png).decode()

    shown = doc.find("img", "snnbook-explore-image")
    assert len(shown) == 1
    assert shown[0]["data-frame"] == "tau=20|k=1|x=0.5"
    index = int(shown[0]["data-index"])
    assert frames[index]["data-frame"] == shown[0]["data-frame"] and shown[0]["src"] == frames[index]["src"]

    assert len(doc.find("script")) == 1
    assert not re.search(r"https?://", ex.html)
    assert "<script src" not in ex.html and "<link" not in ex.html


def test_static_block_ids_unique_between_blocks():
    a = explore(Counter(), a=[1, 2])
    b = explore(Counter(), a=[1, 2])
    ids_a = {t["id"] for _, t in parse(a.html).tags if "id" in t}
    ids_b = {t["id"] for _, t in parse(b.html).tags if "id" in t}
    root_a = parse(a.html).find("div", "snnbook-explore")[0]["id"]
    root_b = parse(b.html).find("div", "snnbook-explore")[0]["id"]
    assert root_a != root_b
    assert ids_a and not ids_a & ids_b
    assert f'getElementById("{root_a}")' in a.html and f'getElementById("{root_b}")' in b.html
    # every CSS rule is scoped to its own block
    assert re.findall(r"#(snnbook-explore-[\w-]+)", a.html) and set(re.findall(r"#(snnbook-explore-[\w-]+)", a.html)) == {root_a}


def test_static_block_title_description_escaped():
    ex = explore(Counter(), a=[1, 2], title="Decay <τ>", description="Move & see")
    assert "Decay &lt;τ&gt;" in ex.html and "Move &amp; see" in ex.html


def test_static_html_direct_and_frame_count_check():
    ranges = {"k": [1, 2, 3]}
    frames = [render_frame(np.eye(4) * p["k"]) for p in parameter_grid(ranges)]
    block = static_html(frames, ranges, block_id="my-block")
    assert 'id="my-block"' in block and block.count('class="snnbook-explore-frame"') == 3
    with pytest.raises(ValueError, match="frames has 2 PNGs, expected one per grid point"):
        static_html(frames[:2], ranges)
    with pytest.raises(TypeError, match=r"frames\[0\] must be PNG bytes"):
        static_html([b"GIF89a", b"", b""], ranges)


def noise(seed):
    return np.random.default_rng(seed).integers(0, 256, size=(700, 700, 3), dtype=np.uint8)


def test_size_limit_raised_for_noisy_large_images():
    fn_calls = []

    def fn(seed):
        fn_calls.append(seed)
        return noise(seed)

    with pytest.raises(ValueError, match=r"exceed MAX_STATIC_BYTES=5 MB"):
        explore(fn, seed=list(range(20)), palette=False)
    assert len(fn_calls) < 20  # stops as soon as the budget is spent
    frames = [render_frame(noise(s), palette=False) for s in range(4)]
    with pytest.raises(ValueError, match=r"static_html: the 4 embedded frames take .* MB, more than"):
        static_html(frames, {"seed": [0, 1, 2, 3]})


# ----------------------------------------------------------------------------- display and live object
def test_mimebundle_has_html_widget_and_text():
    ex = explore(curve, tau=[5.0, 10.0])
    bundle = ex._repr_mimebundle_()
    assert set(bundle) >= {"text/html", WIDGET_MIME, "text/plain"}
    assert bundle["text/html"] == ex.html
    assert bundle[WIDGET_MIME]["model_id"] == ex.widget.model_id
    assert bundle["text/plain"].startswith("Explorer(curve, tau=[5.0, 10.0]")
    assert plt.get_fignums() == []  # every frame's figure was closed


def test_live_sliders_rerun_fn_and_redraw():
    fn = Counter()
    ex = explore(fn, tau=[5, 10, 20, 40], k=[1, 2])
    assert set(ex.sliders) == {"tau", "k"} and ex.params == {"tau": 5, "k": 1}
    before, picture = len(fn.calls), ex.image.value
    ex.sliders["tau"].value = 20
    assert len(fn.calls) == before + 1 and fn.calls[-1] == {"tau": 20, "k": 1}
    assert ex.calls[-1] == {"tau": 20, "k": 1} and ex.params == {"tau": 20, "k": 1}
    assert ex.image.value != picture and bytes(ex.image.value)[:8] == PNG_MAGIC
    ex.update(k=2)  # from code: the slider follows, fn runs once
    assert ex.sliders["k"].value == 2 and len(fn.calls) == before + 2 and fn.calls[-1] == {"tau": 20, "k": 2}
    with pytest.raises(ValueError, match="unknown parameters"):
        ex.update(z=1)


def test_without_ipywidgets_static_html_still_works(monkeypatch):
    monkeypatch.setattr(widgets, "_import_ipywidgets", lambda: None)
    ex = explore(Counter(), a=[1, 2, 3])
    assert ex.sliders == {} and ex.widget is None
    bundle = ex._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert len(parse(bundle["text/html"]).find("img", "snnbook-explore-frame")) == 3


@pytest.mark.parametrize("how", ["env", "keyword"])
def test_static_frames_can_be_switched_off(monkeypatch, how):
    fn = Counter()
    if how == "env":
        monkeypatch.setenv("SNNBOOK_STATIC", "0")
        ex = explore(fn, a=[1, 2, 3], defaults={"a": 2})
    else:
        ex = explore(fn, a=[1, 2, 3], defaults={"a": 2}, static=False)
    assert fn.calls == [{"a": 2}] and ex.frames is None
    assert len(parse(ex.html).find("img", "snnbook-explore-frame")) == 1
    assert "Static frames are off" in ex.html
    ex.sliders["a"].value = 3
    assert fn.calls[-1] == {"a": 3}


def test_static_env_default_is_on(monkeypatch):
    monkeypatch.delenv("SNNBOOK_STATIC", raising=False)
    fn = Counter()
    explore(fn, a=[1, 2, 3])
    assert len(fn.calls) == 3
