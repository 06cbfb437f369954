"""Interactive figures: the sliders of every chapter of *Spiking Vision* (each chapter calls
:func:`explore`; the introduction shows how to use them).

One call, two renderings. ``explore(fn, tau=[5, 10, 20, 40])`` returns an :class:`Explorer`
whose rich display carries

* ``application/vnd.jupyter.widget-view+json``: ipywidgets sliders that re-run ``fn`` in a live
  kernel (Jupyter, Colab) and redraw its picture in place;
* ``text/html``: a self-contained static block for the built website. Every frame of the
  parameter grid is computed at build time, stored as a base64 PNG, and a few lines of inlined
  JavaScript switch frames when a ``<input type="range">`` moves. No kernel, no CDN.

The book (myst-nb) prefers ``text/html``; Jupyter and Colab prefer the widget. Chapters never
branch on where they run. Set ``SNNBOOK_STATIC=0`` (or pass ``static=False``) to skip the frame
grid in a live session where computing it is too slow.

HTML structure of the static block (what browser tests select)::

    div.snnbook-explore#<block id>[data-ready="1" once its script ran]
      div.snnbook-explore-title / p.snnbook-explore-description     (optional)
      div.snnbook-explore-controls
        label.snnbook-explore-control[data-param=NAME]
          input.snnbook-explore-slider[type=range][data-param=NAME][data-labels=JSON list]
          output.snnbook-explore-value                               (label of the value)
      img.snnbook-explore-image[data-frame=FRAME ID][data-index=i]   (the shown frame)
      div.snnbook-explore-frames[hidden]
        img.snnbook-explore-frame[data-frame=FRAME ID][data-index=i] (one per grid point)
      script

A frame id is ``"name1=label1|name2=label2"`` in parameter order, with labels from
:func:`value_label` (``20.0 -> "20"``, ``0.5 -> "0.5"``, ``"on" -> "on"``).
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
import os
from numbers import Integral, Real
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "MAX_FRAMES",
    "MAX_STATIC_BYTES",
    "DEFAULT_DPI",
    "Explorer",
    "explore",
    "parameter_grid",
    "parameter_values",
    "render_frame",
    "static_html",
    "value_label",
    "frame_id",
]

#: Largest parameter grid (number of frames) that :func:`explore` computes.
MAX_FRAMES = 200
#: Largest size in bytes of the base64 frames embedded in one static block (5 MB).
MAX_STATIC_BYTES = 5_000_000
#: Resolution (dots per inch) at which Matplotlib figures are rendered to PNG frames.
DEFAULT_DPI = 80
#: Environment variable that switches the static frame grid off when set to ``0``/``false``/``no``.
STATIC_ENV = "SNNBOOK_STATIC"
#: Array images are enlarged (nearest neighbour) by an integer factor up to this many pixels.
MIN_IMAGE_SIDE = 192

_block_counter = itertools.count()


# --------------------------------------------------------------------------- parameter grids
def _is_range_tuple(spec) -> bool:
    return (isinstance(spec, tuple) and len(spec) == 3
            and all(isinstance(v, Real) and not isinstance(v, bool) for v in spec))


def _python_scalar(v):
    """numpy/torch scalars -> Python scalars, so labels and ``fn`` arguments are plain."""
    if not isinstance(v, (str, bytes)) and hasattr(v, "item") and getattr(v, "ndim", None) == 0:
        return v.item()
    return v


def _range_values(name: str, spec: tuple) -> list:
    start, stop, step = spec
    if not all(math.isfinite(float(v)) for v in spec):
        raise ValueError(f"explore: {name} range (start, stop, step) must be finite, got {name}={spec!r}")
    if step <= 0:
        raise ValueError(f"explore: {name} range (start, stop, step) needs step > 0, got {name}={spec!r}")
    if stop < start:
        raise ValueError(f"explore: {name} range (start, stop, step) needs stop >= start, got {name}={spec!r}")
    n = (stop - start) / step
    if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
        raise ValueError(
            f"explore: {name} range (start, stop, step) needs stop - start to be a multiple of step, "
            f"got {name}={spec!r}; pass a list such as {name}={list(spec)!r} for those exact values")
    n = int(round(n)) + 1
    if n > MAX_FRAMES:
        raise ValueError(f"explore: {name}={spec!r} has {n} values, more than MAX_FRAMES={MAX_FRAMES}")
    if all(isinstance(v, Integral) for v in spec):
        return [int(start) + i * int(step) for i in range(n)]
    # round away float noise (0.1 * 3 -> 0.3) while keeping 12 significant digits
    return [float(f"{start + i * step:.12g}") for i in range(n)]


def parameter_values(name: str, spec) -> list:
    """Normalise one parameter range to a list of allowed values.

    Args:
        name (str): the parameter's name (used in error messages).
        spec: a sequence of values (list, ``range``, 1-D array, tuple of any length other than a
            3-tuple of numbers), or a tuple ``(start, stop, step)`` of numbers, read like
            ipywidgets' ``interact``: ``stop`` included.

    Returns:
        list: the values, as Python scalars where they were numpy scalars.

    Example:
        >>> parameter_values("k", (1, 7, 2))
        [1, 3, 5, 7]
        >>> parameter_values("tau", [5.0, 10.0])
        [5.0, 10.0]
    """
    if _is_range_tuple(spec):
        return _range_values(name, spec)
    if isinstance(spec, (str, bytes)) or isinstance(spec, Mapping) or not hasattr(spec, "__iter__"):
        raise TypeError(f"explore: {name} must be a sequence of values or a (start, stop, step) tuple, "
                        f"got {name}={spec!r} ({type(spec).__name__})")
    if getattr(spec, "ndim", 1) != 1:
        raise ValueError(f"explore: {name} must be one-dimensional, got shape {np.shape(spec)}")
    values = [_python_scalar(v) for v in spec]
    if not values:
        raise ValueError(f"explore: {name} is empty; expected at least one value")
    labels = [value_label(v) for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"explore: {name} has repeated values, got {name}={values!r}")
    return values


def parameter_grid(param_ranges: Mapping[str, Any]) -> list[dict]:
    """All combinations (cartesian product) of the parameter values, last parameter fastest.

    Args:
        param_ranges (Mapping[str, sequence | tuple]): parameter name -> allowed values, or
            ``(start, stop, step)`` (``stop`` included), see :func:`parameter_values`.

    Returns:
        list[dict]: one ``{name: value}`` dict per frame, in the order the static block stores
        its frames (``itertools.product`` order).

    Example:
        >>> parameter_grid({"a": [1, 2], "b": (0.0, 1.0, 0.5)})  # doctest: +NORMALIZE_WHITESPACE
        [{'a': 1, 'b': 0.0}, {'a': 1, 'b': 0.5}, {'a': 1, 'b': 1.0},
         {'a': 2, 'b': 0.0}, {'a': 2, 'b': 0.5}, {'a': 2, 'b': 1.0}]
    """
    values = _normalise_ranges(param_ranges)
    names = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*values.values())]


def _normalise_ranges(param_ranges: Mapping[str, Any]) -> dict[str, list]:
    if not isinstance(param_ranges, Mapping):
        raise TypeError(f"explore: param_ranges must be a mapping name -> values, "
                        f"got {type(param_ranges).__name__}")
    if not param_ranges:
        raise ValueError("explore: param_ranges is empty; give at least one parameter, "
                         "e.g. explore(fn, tau=[5, 10, 20])")
    values = {}
    for name, spec in param_ranges.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"explore: parameter names must be non-empty strings, got {name!r}")
        values[name] = parameter_values(name, spec)
    size = math.prod(len(v) for v in values.values())
    if size > MAX_FRAMES:
        sizes = " x ".join(f"{len(v)} ({n})" for n, v in values.items())
        raise ValueError(f"explore: the parameter grid has {size} frames ({sizes}), more than "
                         f"MAX_FRAMES={MAX_FRAMES}; use fewer values per parameter")
    return values


def value_label(value) -> str:
    """The text shown for a parameter value, also used in frame ids.

    Integers print as integers, floats with 6 significant digits (``20.0 -> "20"``), anything
    else with ``str``.

    Example:
        >>> value_label(20.0), value_label(0.25), value_label(3), value_label("rank")
        ('20', '0.25', '3', 'rank')
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    return format(float(value), ".6g")


def frame_id(params: Mapping[str, Any]) -> str:
    """The frame id of one grid point: ``"name=label|name=label"`` in parameter order.

    Example:
        >>> frame_id({"tau": 20.0, "k": 3})
        'tau=20|k=3'
    """
    return "|".join(f"{name}={value_label(v)}" for name, v in params.items())


# --------------------------------------------------------------------------- frames
def _array_to_pil(array: np.ndarray):
    from PIL import Image

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] not in (1, 3, 4) and a.shape[0] in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # [channel, height, width] -> [height, width, channel]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ValueError(f"render_frame: an array image must be [height, width], [height, width, 3|4] "
                         f"or [3|4, height, width], got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"render_frame: the array image is empty (shape {a.shape})")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError("render_frame: the array image contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if a.ndim == 3 and lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0  # an RGB(A) image in [0, 1]: keep its colours
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        a = np.round(a * 255.0).astype(np.uint8)
    scale = max(1, MIN_IMAGE_SIDE // max(a.shape[0], a.shape[1]))
    if scale > 1:
        a = np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)
    return Image.fromarray(np.ascontiguousarray(a))


def _to_pil(result, dpi: int):
    """A PIL image from a Figure (closed afterwards), a PIL image or an array."""
    from PIL import Image

    if isinstance(result, Image.Image):
        return result
    if hasattr(result, "savefig") and hasattr(result, "canvas"):  # matplotlib Figure
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        try:
            result.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        finally:
            plt.close(result)
        buffer.seek(0)
        image = Image.open(buffer)
        image.load()
        return image
    if hasattr(result, "detach") and hasattr(result, "cpu"):  # a torch tensor
        result = result.detach().cpu().numpy()
    if isinstance(result, np.ndarray) or (isinstance(result, (list, tuple)) and result):
        return _array_to_pil(np.asarray(result))
    raise TypeError(f"render_frame: fn must return a matplotlib Figure, a PIL image or a 2-D/3-D array, "
                    f"got {type(result).__name__}")


def render_frame(result, *, dpi: int = DEFAULT_DPI, palette: bool = True) -> bytes:
    """Render what ``fn`` returned to compressed PNG bytes.

    A Matplotlib Figure is drawn at ``dpi`` and closed. A 2-D array is drawn in grey levels
    (floats scaled from their min to max, ``uint8`` as is), a 3-D array as RGB(A) (channel last
    or first; floats in [0, 1] kept as they are); small arrays are enlarged by an integer factor
    (nearest neighbour). With ``palette`` the image is quantised to at most 256 colours (no
    dithering), which usually halves the PNG.

    Args:
        result: a ``matplotlib.figure.Figure``, a ``PIL.Image.Image``, a numpy array or a tensor.
        dpi (int): resolution for figures, dots per inch. Default: ``DEFAULT_DPI`` (80).
        palette (bool): quantise to a 256-colour palette. Default: ``True``.

    Returns:
        bytes: a PNG file.

    Example:
        >>> png = render_frame(np.eye(8))
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    if isinstance(dpi, bool) or not isinstance(dpi, Integral) or dpi <= 0:
        raise ValueError(f"render_frame: dpi must be a positive int, got dpi={dpi!r}")
    image = _to_pil(result, int(dpi))
    if palette and image.mode not in ("1", "L", "P"):
        from PIL import Image

        has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
        if has_alpha:
            image = image.convert("RGBA").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                                   dither=Image.Dither.NONE)
        else:
            image = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                  dither=Image.Dither.NONE)
    elif image.mode not in ("1", "L", "P", "RGB", "RGBA", "LA"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --------------------------------------------------------------------------- static block
_CSS = """\
#{id}{{margin:.5em 0 1em 0;font-family:inherit}}
#{id} .snnbook-explore-title{{font-weight:600;margin-bottom:.25em}}
#{id} .snnbook-explore-description{{margin:.25em 0}}
#{id} .snnbook-explore-controls{{display:flex;flex-wrap:wrap;gap:.25em 1.5em;margin:.25em 0 .5em 0}}
#{id} .snnbook-explore-control{{display:inline-flex;align-items:center;gap:.5em;white-space:nowrap}}
#{id} .snnbook-explore-value{{font-family:monospace;min-width:3em}}
#{id} .snnbook-explore-image{{max-width:100%;height:auto;image-rendering:auto}}"""

# Plain ES5, no globals, no network. The root is the script's parent (so even a pasted copy of a
# block works), else the element with the block id (%(id)s, JSON-quoted). Running it twice does
# nothing the second time (data-ready).
_SCRIPT = """\
(function () {
  var me = document.currentScript, up = me && me.parentNode;
  var root = (up && up.classList && up.classList.contains("snnbook-explore")) ? up
    : document.getElementById(%(id)s);
  if (!root || root.getAttribute("data-ready") === "1") { return; }
  var shown = root.querySelector("img.snnbook-explore-image");
  var sliders = root.querySelectorAll("input.snnbook-explore-slider");
  var frames = {};
  var stored = root.querySelectorAll("img.snnbook-explore-frame");
  for (var f = 0; f < stored.length; f++) { frames[stored[f].getAttribute("data-frame")] = stored[f]; }
  function labelOf(slider) {
    var labels = JSON.parse(slider.getAttribute("data-labels"));
    var step = parseFloat(slider.step), low = parseFloat(slider.min);
    var i = Math.round((parseFloat(slider.value) - low) / step);
    i = Math.max(0, Math.min(labels.length - 1, i));
    return labels[i];
  }
  function update() {
    var parts = [];
    for (var s = 0; s < sliders.length; s++) {
      var label = labelOf(sliders[s]);
      var out = sliders[s].parentNode.querySelector("output.snnbook-explore-value");
      if (out) { out.textContent = label; }
      parts.push(sliders[s].getAttribute("data-param") + "=" + label);
    }
    var key = parts.join("|");
    var frame = frames[key];
    if (frame && shown.getAttribute("data-frame") !== key) {
      shown.src = frame.getAttribute("src");
      shown.setAttribute("data-frame", key);
      shown.setAttribute("data-index", frame.getAttribute("data-index"));
    }
  }
  for (var s = 0; s < sliders.length; s++) {
    sliders[s].addEventListener("input", update);
    sliders[s].addEventListener("change", update);
  }
  update();
  root.setAttribute("data-ready", "1");
})();"""


def _slider_geometry(values: list) -> tuple[str, str, str, str]:
    """(min, max, step, index-to-value kind) for a range input over ``values``.

    An arithmetic progression of numbers gets a slider in the values' own units; anything else
    (uneven steps, strings) gets a slider over the index ``0 .. n-1``.
    """
    numeric = all(isinstance(v, Real) and not isinstance(v, bool) for v in values)
    if numeric and len(values) >= 2:
        step = values[1] - values[0]
        even = step > 0 and all(
            math.isclose(values[i + 1] - values[i], step, rel_tol=1e-9, abs_tol=1e-12)
            for i in range(len(values) - 1))
        if even:
            return _number_attr(values[0]), _number_attr(values[-1]), _number_attr(step), "value"
    if numeric and len(values) == 1:
        v = _number_attr(values[0])
        return v, v, "1", "value"
    return "0", str(len(values) - 1), "1", "index"


def _number_attr(value) -> str:
    """A number as an HTML attribute (shortest round-trip form: ``0.1 -> "0.1"``)."""
    if isinstance(value, Integral):
        return str(int(value))
    return repr(float(f"{float(value):.12g}"))


def _block_id(frames: Sequence[bytes], names: Sequence[str]) -> str:
    digest = hashlib.sha1()
    for name in names:
        digest.update(name.encode())
    for png in frames:
        digest.update(hashlib.sha1(png).digest())
    return f"snnbook-explore-{digest.hexdigest()[:10]}-{next(_block_counter)}"


def static_html(frames: Sequence[bytes], param_ranges: Mapping[str, Any], *,
                defaults: Mapping[str, Any] | None = None, title: str | None = None,
                description: str | None = None, block_id: str | None = None) -> str:
    """A self-contained HTML block: one range slider per parameter switching precomputed frames.

    Args:
        frames (Sequence[bytes]): one PNG per grid point, in :func:`parameter_grid` order.
        param_ranges (Mapping[str, sequence | tuple]): the ranges the frames were computed over.
        defaults (Mapping[str, Any], optional): the value each slider starts at.
            Default: each parameter's first value.
        title (str, optional): a heading shown above the sliders.
        description (str, optional): a sentence shown under the title.
        block_id (str, optional): the root element's ``id``. Default: a new unique id
            (a hash of the frames and a per-process counter, so two blocks never share one).

    Returns:
        str: ``<div class="snnbook-explore" id=...>`` with inlined style, frames (base64
        ``data:`` URIs) and script; nothing is loaded from the network.

    Example:
        >>> ranges = {"k": [1, 2]}
        >>> frames = [render_frame(np.eye(4) * p["k"]) for p in parameter_grid(ranges)]
        >>> block = static_html(frames, ranges)
        >>> block.count('class="snnbook-explore-frame"'), 'type="range"' in block
        (2, True)
    """
    values = _normalise_ranges(param_ranges)
    grid = parameter_grid(values)
    if len(frames) != len(grid):
        raise ValueError(f"static_html: frames has {len(frames)} PNGs, expected one per grid point "
                         f"({len(grid)})")
    for i, png in enumerate(frames):
        if not isinstance(png, (bytes, bytearray)) or bytes(png[:8]) != b"\x89PNG\r\n\x1a\n":
            raise TypeError(f"static_html: frames[{i}] must be PNG bytes (see render_frame), "
                            f"got {type(png).__name__}")
    uris = [_data_uri(bytes(png)) for png in frames]
    total = sum(len(u) for u in uris)
    if total > MAX_STATIC_BYTES:
        raise ValueError(f"static_html: the {len(frames)} embedded frames take {total / 1e6:.1f} MB, more "
                         f"than MAX_STATIC_BYTES={MAX_STATIC_BYTES / 1e6:g} MB; use fewer values, "
                         "a lower dpi or smaller figures")
    start = _resolve_defaults("static_html", values, defaults)
    start_index = grid.index(start) if start in grid else 0
    ids = [frame_id(p) for p in grid]
    bid = block_id if block_id is not None else _block_id(frames, list(values))
    esc = html.escape
    out = [f'<div class="snnbook-explore" id="{esc(bid)}" data-frames="{len(grid)}">',
           f"<style>{_CSS.format(id=bid)}</style>"]
    if title:
        out.append(f'<div class="snnbook-explore-title">{esc(str(title))}</div>')
    if description:
        out.append(f'<p class="snnbook-explore-description">{esc(str(description))}</p>')
    out.append('<div class="snnbook-explore-controls">')
    for j, (name, vals) in enumerate(values.items()):
        low, high, step, kind = _slider_geometry(vals)
        i = vals.index(start[name])
        value = _number_attr(vals[i]) if kind == "value" else str(i)
        labels = [value_label(v) for v in vals]
        sid = f"{bid}-p{j}"
        out.append(
            f'<label class="snnbook-explore-control" data-param="{esc(name)}" for="{esc(sid)}">'
            f'<span class="snnbook-explore-name">{esc(name)}</span>'
            f'<input class="snnbook-explore-slider" type="range" id="{esc(sid)}" '
            f'data-param="{esc(name)}" data-kind="{kind}" min="{low}" max="{high}" step="{step}" '
            f'value="{value}" data-labels="{esc(json.dumps(labels))}" aria-label="{esc(name)}">'
            f'<output class="snnbook-explore-value" for="{esc(sid)}">{esc(labels[i])}</output></label>')
    out.append("</div>")
    out.append(f'<img class="snnbook-explore-image" alt="{esc(str(title or "interactive figure"))}" '
               f'data-frame="{esc(ids[start_index])}" data-index="{start_index}" src="{uris[start_index]}">')
    out.append('<div class="snnbook-explore-frames" hidden style="display:none">')
    for i, (fid, uri) in enumerate(zip(ids, uris)):
        out.append(f'<img class="snnbook-explore-frame" alt="" data-frame="{esc(fid)}" '
                   f'data-index="{i}" src="{uri}">')
    out.append("</div>")
    out.append(f"<script>\n{_SCRIPT % {'id': json.dumps(bid)}}\n</script>")
    out.append("</div>")
    return "\n".join(out)


def _resolve_defaults(fn_name: str, values: Mapping[str, list], defaults) -> dict:
    """``{name: value}`` for the starting frame, each default matched to an allowed value."""
    if defaults is None:
        defaults = {}
    if not isinstance(defaults, Mapping):
        raise TypeError(f"{fn_name}: defaults must be a dict name -> value, got {type(defaults).__name__}")
    unknown = [k for k in defaults if k not in values]
    if unknown:
        raise ValueError(f"{fn_name}: defaults names unknown parameters {unknown}; "
                         f"expected some of {list(values)}")
    start = {}
    for name, vals in values.items():
        if name not in defaults:
            start[name] = vals[0]
            continue
        wanted = _python_scalar(defaults[name])
        match = [v for v in vals if type(v) is type(wanted) and v == wanted]
        if not match and isinstance(wanted, Real) and not isinstance(wanted, bool):
            match = [v for v in vals if isinstance(v, Real) and not isinstance(v, bool)
                     and math.isclose(v, wanted, rel_tol=1e-9, abs_tol=1e-12)]
        if not match:
            raise ValueError(f"{fn_name}: defaults[{name!r}]={defaults[name]!r} is not one of the allowed "
                             f"values {vals!r}")
        start[name] = match[0]
    return start


# --------------------------------------------------------------------------- live widget + object
def _static_enabled(static: bool | None) -> bool:
    if static is not None:
        if not isinstance(static, bool):
            raise TypeError(f"explore: static must be True, False or None, got static={static!r}")
        return static
    return os.environ.get(STATIC_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _import_ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class Explorer:
    """An interactive figure: live ipywidgets sliders plus a static HTML block of all frames.

    Built by :func:`explore`; display it (last expression of a cell) to show it.

    Attributes:
        fn (Callable): the function re-run for each parameter setting.
        values (dict[str, list]): the allowed values of each parameter.
        params (dict): the current parameter values.
        calls (list[dict]): the parameters of every call of ``fn``, in order.
        frames (list[bytes] | None): one PNG per grid point, or ``None`` with static frames off.
        html (str): the static block (``text/html``).
        sliders (dict[str, ipywidgets.SelectionSlider]): one per parameter (empty without
            ipywidgets); setting ``.value`` re-runs ``fn`` and redraws.
        image (ipywidgets.Image | None): the live picture.
        widget (ipywidgets.VBox | None): sliders, picture and an output area for errors.
    """

    def __init__(self, fn: Callable, values: dict[str, list], start: dict, *, title=None,
                 description=None, static: bool = True, dpi: int = DEFAULT_DPI, palette: bool = True):
        self.fn = fn
        self.values = values
        self.params = dict(start)
        self.calls: list[dict] = []
        self.title, self.description = title, description
        self.dpi, self.palette = dpi, palette
        self.frames = self._compute_frames() if static else None
        if self.frames is not None:
            self._png = self.frames[parameter_grid(values).index(self.params)]
        else:
            self._png = self._render(self.params)
        self.html = self._static_block()
        self.sliders: dict[str, Any] = {}
        self._syncing = False
        self.image = self.widget = self._errors = None
        self._build_widget()

    # --- computing
    def _render(self, params: dict) -> bytes:
        self.calls.append(dict(params))
        return render_frame(self.fn(**params), dpi=self.dpi, palette=self.palette)

    def _compute_frames(self) -> list[bytes]:
        frames, total = [], 0
        for params in parameter_grid(self.values):
            png = self._render(params)
            total += 4 * math.ceil(len(png) / 3) + len("data:image/png;base64,")
            if total > MAX_STATIC_BYTES:
                raise ValueError(
                    f"explore: the embedded frames exceed MAX_STATIC_BYTES={MAX_STATIC_BYTES / 1e6:g} MB "
                    f"after {len(frames) + 1} of {math.prod(len(v) for v in self.values.values())} frames; "
                    "use fewer values, a lower dpi or smaller figures")
            frames.append(png)
        return frames

    def _static_block(self) -> str:
        if self.frames is not None:
            return static_html(self.frames, self.values, defaults=self.params, title=self.title,
                               description=self.description)
        # static frames off: the current picture only, sliders shown but fixed
        single = {k: [v] for k, v in self.params.items()}
        block = static_html([self._png], single, title=self.title, description=self.description)
        note = ('<p class="snnbook-explore-note">Static frames are off (SNNBOOK_STATIC=0); '
                'run the notebook to move the sliders.</p>')
        return block.replace('<div class="snnbook-explore-controls">', note + '<div class="snnbook-explore-controls">', 1)

    # --- live widget
    def _build_widget(self) -> None:
        widgets = _import_ipywidgets()
        if widgets is None:
            return
        for name, vals in self.values.items():
            slider = widgets.SelectionSlider(
                options=[(value_label(v), v) for v in vals], value=self.params[name],
                description=name, continuous_update=False,
                style={"description_width": "initial"})
            slider.observe(self._on_change, names="value")
            self.sliders[name] = slider
        self.image = widgets.Image(value=self._png, format="png")
        self._errors = widgets.Output()
        children = []
        if self.title:
            children.append(widgets.HTML(f"<b>{html.escape(str(self.title))}</b>"))
        if self.description:
            children.append(widgets.HTML(f"<p>{html.escape(str(self.description))}</p>"))
        children += [widgets.HBox(list(self.sliders.values()), layout={"flex_flow": "row wrap"}),
                     self.image, self._errors]
        self.widget = widgets.VBox(children)

    def _on_change(self, change) -> None:
        if self._syncing:
            return
        params = {name: s.value for name, s in self.sliders.items()}
        if _in_kernel():  # outside a kernel clear_output would print terminal escape codes
            self._errors.clear_output()
        with self._errors:  # in a kernel, a traceback from fn shows under the picture
            self.update(**params)

    def update(self, **params) -> bytes:
        """Re-run ``fn`` with the given parameters (the others unchanged), move the sliders and
        redraw the live picture.

        Args:
            **params: parameter name -> one of its allowed values.

        Returns:
            bytes: the new frame as PNG.
        """
        new = dict(self.params)
        new.update(_resolve_defaults("Explorer.update", self.values, params) if params else {})
        for name in self.values:  # _resolve_defaults fills unnamed parameters with first values
            if name not in params:
                new[name] = self.params[name]
        self.params = new
        self._syncing = True
        try:
            for name, slider in self.sliders.items():
                if slider.value != new[name]:
                    slider.value = new[name]
        finally:
            self._syncing = False
        self._png = self._render(new)
        if self.image is not None:
            self.image.value = self._png
        return self._png

    # --- display
    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs) -> dict:
        bundle = {}
        if self.widget is not None:
            bundle.update(self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs) or {})
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = self.html
        return bundle

    def __repr__(self) -> str:
        ranges = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        frames = len(self.frames) if self.frames is not None else 0
        return f"Explorer({name}, {ranges}, frames={frames})"


def explore(fn: Callable, /, *, defaults: Mapping[str, Any] | None = None, title: str | None = None,
            description: str | None = None, static: bool | None = None, dpi: int = DEFAULT_DPI,
            palette: bool = True, **param_ranges) -> Explorer:
    """An interactive figure of ``fn`` over a grid of parameters, live in Jupyter and static on the web.

    Make it the last expression of a cell. In Jupyter or Colab the sliders re-run
    ``fn(**params)`` and redraw. In the built book the same output is a static block whose frames
    were computed over the whole grid (cartesian product) when the book was executed.

    Args:
        fn (Callable): ``fn(**params)`` returns a Matplotlib Figure (closed after rendering), a PIL
            image, or a 2-D/3-D array image (see :func:`render_frame`).
        defaults (Mapping[str, Any], optional): starting value per parameter (must be one of its
            values). Default: each parameter's first value.
        title (str, optional): heading shown above the sliders.
        description (str, optional): a sentence shown under the title.
        static (bool, optional): compute the static frame grid. Default: ``True`` unless the
            environment variable ``SNNBOOK_STATIC`` is ``0``; then only the shown frame is computed.
        dpi (int): resolution of figure frames, dots per inch. Default: ``DEFAULT_DPI`` (80).
        palette (bool): quantise frames to 256 colours to shrink them. Default: ``True``.
        **param_ranges: name -> sequence of allowed values (list, ``np.linspace(...)``, ...) or a
            tuple ``(start, stop, step)`` with ``stop`` included.

    Returns:
        Explorer: with ``.sliders`` (live widgets), ``.calls`` (parameters of every call of
        ``fn``), ``.html`` (the static block) and ``_repr_mimebundle_`` giving ``text/html``,
        ``application/vnd.jupyter.widget-view+json`` (when ipywidgets is importable) and
        ``text/plain``.

    Raises:
        TypeError: ``fn`` is not callable, or a range is not a sequence.
        ValueError: no parameters, an empty range, an unknown default, more than ``MAX_FRAMES``
            (200) frames (checked before ``fn`` runs) or more than ``MAX_STATIC_BYTES`` (5 MB)
            of embedded frames.

    Example:
        >>> ex = explore(lambda k: np.eye(6) * k, k=[1, 2, 3], defaults={"k": 2}, static=True)
        >>> len(ex.calls), ex.params
        (3, {'k': 2})
        >>> sorted(k for k in ex._repr_mimebundle_() if k.startswith("text/"))
        ['text/html', 'text/plain']
    """
    if not callable(fn):
        raise TypeError(f"explore: fn must be callable (returning a Figure or an image), "
                        f"got {type(fn).__name__}")
    if isinstance(dpi, bool) or not isinstance(dpi, Integral) or dpi <= 0:
        raise ValueError(f"explore: dpi must be a positive int, got dpi={dpi!r}")
    values = _normalise_ranges(param_ranges)
    start = _resolve_defaults("explore", values, defaults)
    return Explorer(fn, values, start, title=title, description=description,
                    static=_static_enabled(static), dpi=int(dpi), palette=palette)
