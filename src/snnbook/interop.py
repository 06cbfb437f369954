"""Export of the surrogate-gradient networks to NIR, the Neuromorphic Intermediate Representation
(Pedersen et al. 2024), and import back.

Chapter: Learning by gradient (book/gradient.md).

NIR describes a network as a graph of continuous-time primitives (``nir.Affine``, ``nir.Conv2d``,
``nir.AvgPool2d``, ``nir.Flatten``, ``nir.LIF``, ...) that any simulator or chip reading NIR can run.
:func:`to_nir` maps the ``nn.Sequential`` ``net`` of :class:`snnbook.models.surrogate.SurrogateFC`
and :class:`~snnbook.models.surrogate.SurrogateConv` (or any ``nn.Sequential`` of the same modules)
one module to one node, in a chain ``input -> "0" -> "1" -> ... -> output`` (node names are the
module indices):

==========================  ================================================================
ours                        NIR node
==========================  ================================================================
``nn.Linear``               ``nir.Affine(weight, bias)`` (``nir.Linear`` without bias)
``nn.Conv2d``               ``nir.Conv2d(input_shape=(H, W), weight, stride, padding, ...)``
``nn.AvgPool2d``            ``nir.AvgPool2d(kernel_size, stride, padding)``
``nn.Flatten``              ``nir.Flatten(start_dim - 1, end_dim)`` (NIR shapes have no batch)
:class:`~.surrogate.LIF`
                            ``nir.LIF(tau = dt / (1 - beta), r = tau / dt, v_leak = 0,
                            v_threshold = threshold, v_reset = 0)``
==========================  ================================================================

**The LIF mapping** is snnTorch's (``snntorch.export_nir``, with its ``dt = 1e-4`` s): NIR's LIF is
``tau dv/dt = (v_leak - v) + r I``; one forward-Euler step of length ``dt`` gives ``v <- (1 - dt/tau)
v + (r dt / tau) I = beta v + I`` exactly when ``tau = dt / (1 - beta)`` and ``r = tau / dt``. Any
``dt`` works if the reader uses the same one; snnTorch's importer assumes ``dt = 1e-4`` (the
default :data:`DT`). ``beta = 1`` (no leak) has ``tau = inf``: it is exported as ``nir.IF`` with
``r = 1``.

What NIR cannot say, and the round trip exposes (``tests/test_interop.py``):

* **Reset.** NIR's LIF resets *to* ``v_reset`` (here 0) when it fires; ours (snnTorch's ``Leaky``
  default) resets *by subtraction* of the threshold, keeping the overshoot ``v - threshold``. NIR
  1.0 has no subtractive reset, so each LIF node carries ``metadata = {"reset": "subtract", "beta":
  beta, "dt": dt}``; :func:`from_nir` reads it, but a reader that ignores metadata (snnTorch's
  ``import_from_nir`` builds ``Leaky(reset_mechanism="zero", reset_delay=False)``) runs a different
  neuron: in the first layer every neuron agrees up to and including its first spike, later spikes
  differ, and the difference propagates to the next layers. The direction depends on ``beta``: ours
  subtracts the threshold from the *decayed* potential (``beta v + I - threshold``), which lies
  below the zero-reset value ``I`` whenever ``beta v < threshold``, so with ``beta = 0.5`` the
  zero-reset import fires more, not less. :func:`run_snntorch` can switch the imported neurons to
  our reset; then the two simulators agree to float rounding.
* **Time step.** NIR is continuous-time; the discretisation (forward Euler, the ``dt`` above,
  input held constant over a step) is the reader's. With the same ``dt`` it is exact.
* **Batch.** NIR shapes have no batch axis; snnTorch's importer passes ``nir.Flatten.start_dim`` to
  ``torch.nn.Flatten`` unchanged, which then counts the batch: feed it one digit at a time.
* **Readers differ** in what of NIR they implement. Norse 1.1.0's ``norse.torch.from_nir(graph)``,
  with its defaults, runs another network than the graph says, for four reasons: (1) its Euler
  step defaults to ``dt = 1e-3``, ten times the graph's (``metadata["dt"]``), so a neuron decays
  by ``1 - 1e-3 / tau = 1 - 10 (1 - beta)`` per step (0.5 for ``beta = 0.95``, -4 for ``beta =
  0.5``); (2) it ignores ``r`` (it builds ``tau dv/dt = (v_leak - v) + I`` and logs a warning), so
  the input gain is ``dt / tau`` instead of ``r dt / tau = 1``; (3) it has no ``nir.AvgPool2d``
  (a graph with one fails with a ``KeyError``); (4) it ignores ``v_reset`` (always 0, which is
  what :func:`to_nir` writes). No setting of ``from_nir`` restores ``r`` or adds the pooling:
  ``from_nir(graph, dt=graph.metadata["dt"])`` runs the graph's neurons only where ``r = 1`` and
  there is no ``AvgPool2d``, and :func:`to_nir` writes ``r = 1 / (1 - beta)``. :func:`run_norse`
  therefore reads with ``dt = metadata["dt"]``, multiplies each neuron's input by ``r``, maps
  ``nir.AvgPool2d`` to ``torch.nn.AvgPool2d`` and otherwise keeps Norse's modules. Then Norse and
  snnTorch agree: ``run_norse(graph, x)`` equals ``run_snntorch(graph, x)`` (both NIR's reset to
  0 at once), and with ``reset_mechanism="subtract"`` both equal :func:`run_sequential`
  (identical spikes on the book's networks). Our ``beta = 1`` (``nir.IF``) runs as exported in
  neither reader: snnTorch 1.0.0 builds it as ``Leaky(beta=0.9)``, and Norse's ``IAFCell``
  always resets to 0 (:func:`run_norse` runs NIR's IF, but refuses ``reset_mechanism=
  "subtract"`` for it).
* **Read-out and input coding** are not part of the graph: the rate coding of SurrogateFC's input
  and the mean over steps of SurrogateConv's last ``Linear`` (its logits) are applied outside
  (graph ``metadata["readout"]``). ``nn.MaxPool2d`` and ``nn.BatchNorm2d`` are refused: NIR 1.0 has
  no max pooling, and batch norm must be folded into the convolution first
  (:meth:`~snnbook.models.surrogate.SurrogateConv.fold_batchnorm`).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from ._checks import check_int, check_real, check_tensor

__all__ = ["DT", "to_nir", "from_nir", "run_sequential", "run_snntorch", "run_norse"]

#: Time step (s) of the LIF mapping: snnTorch's export/import convention.
DT = 1e-4


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - nir is in requirements.txt
        raise ImportError("snnbook.interop needs the 'nir' package (pip install nir)") from e
    return nir


def _sequential(fn: str, model) -> nn.Sequential:
    net = getattr(model, "net", model)
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"{fn}: model must be an nn.Sequential or a network with an nn.Sequential 'net' "
                        f"(SurrogateFC, SurrogateConv), got {type(model).__name__}")
    return net


def _shape_after(fn: str, where: str, module: nn.Module, shape: tuple) -> tuple:
    """The shape (without batch) that ``module`` makes of inputs of ``shape``, run on zeros."""
    try:
        with torch.no_grad():
            return tuple(module(torch.zeros(1, *shape)).shape[1:])
    except RuntimeError as err:  # the checks of _shape_through should have caught it
        raise ValueError(f"{fn}: {where} cannot take inputs of shape {shape} ({err})") from None


def _conv_out(fn: str, where: str, size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
              ceil: bool = False, axis: str = "height") -> int:
    """Output size of a convolution or pooling along one axis (torch's rule, ``ceil_mode`` too);
    ``ValueError`` where the (padded) input is too small for one window."""
    if stride < 1 or kernel < 1 or padding < 0 or dilation < 1:
        raise ValueError(f"{fn}: {where} has kernel {kernel}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}; expected a kernel, stride and dilation >= 1 and padding >= 0")
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + padding:  # the last window must start inside the input
        out -= 1
    if out < 1 or (not ceil and span < 0):
        raise ValueError(f"{fn}: {where} needs inputs of at least {dilation * (kernel - 1) + 1 - 2 * padding} along "
                         f"the {axis} (kernel {kernel}, dilation {dilation}, padding {padding}), got {size}")
    return out


def _flatten_out(fn: str, where: str, start: int, end: int, shape: tuple) -> tuple:
    """Shape after flattening axes ``start..end`` (counted without the batch axis) of ``shape``."""
    rank = len(shape)
    s, e = (start + rank if start < 0 else start), (end + rank if end < 0 else end)
    if not (0 <= s < rank and 0 <= e < rank) or s > e:
        raise ValueError(f"{fn}: {where} flattens axes {start}..{end} (without the batch axis), which inputs of "
                         f"shape {shape} do not have")
    return shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:]


#: Modules that keep the shape of their input (the neuron, activations, dropout).
_ELEMENTWISE = (nn.Identity, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus,
                nn.Hardtanh, nn.Dropout, nn.Dropout1d, nn.Dropout2d)


def _shape_through(fn: str, where: str, m: nn.Module, shape: tuple) -> tuple | None:
    """The shape (without batch and time) that module ``m`` makes of inputs of ``shape``; a
    ``ValueError`` naming ``where`` if it cannot take them; None for a module whose shapes are not
    known here."""
    from .models.surrogate import LIF
    name = type(m).__name__
    if isinstance(m, nn.Linear):
        if shape[-1] != m.in_features:
            raise ValueError(f"{fn}: {where} (Linear, in_features={m.in_features}) gets inputs of shape {shape} "
                             f"(without batch and time), whose last axis must be {m.in_features}")
        return shape[:-1] + (m.out_features,)
    if isinstance(m, nn.Conv2d):
        if len(shape) != 3 or shape[0] != m.in_channels:
            raise ValueError(f"{fn}: {where} (Conv2d, in_channels={m.in_channels}) needs inputs of shape "
                             f"(channel={m.in_channels}, height, width) without batch and time, got {shape}")
        if isinstance(m.padding, str):
            pads = (0, 0) if m.padding == "valid" else None
        else:
            pads = m.padding
        if pads is None:  # 'same'
            return (m.out_channels,) + shape[1:]
        return (m.out_channels,) + tuple(_conv_out(fn, f"{where} (Conv2d)", shape[1 + i], m.kernel_size[i],
                                                   m.stride[i], pads[i], m.dilation[i], axis=("height", "width")[i])
                                         for i in range(2))
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
        if len(shape) not in (2, 3):
            raise ValueError(f"{fn}: {where} ({name}) needs inputs of shape (channel, height, width) or (height, "
                             f"width) without batch and time, got {shape}")
        pair = nn.modules.utils._pair
        k, pad = pair(m.kernel_size), pair(m.padding)
        st = pair(m.stride if m.stride is not None else m.kernel_size)
        dil = pair(getattr(m, "dilation", 1))
        if pad[0] * 2 > k[0] or pad[1] * 2 > k[1]:
            raise ValueError(f"{fn}: {where} ({name}) has padding {pad}; expected at most half of the kernel {k}")
        out = tuple(_conv_out(fn, f"{where} ({name})", shape[-2 + i], k[i], st[i], pad[i], dil[i], m.ceil_mode,
                              ("height", "width")[i]) for i in range(2))
        return shape[:-2] + out
    if isinstance(m, nn.Flatten):
        if m.start_dim == 0 or (m.start_dim < 0 and m.start_dim + len(shape) + 1 <= 0):
            raise ValueError(f"{fn}: {where} (Flatten, start_dim={m.start_dim}) would flatten the batch axis; "
                             "expected start_dim >= 1")
        start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
        end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
        if m.end_dim == 0:
            raise ValueError(f"{fn}: {where} (Flatten, end_dim=0) would flatten the batch axis")
        return _flatten_out(fn, f"{where} (Flatten)", start, end, shape)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if (isinstance(m, nn.BatchNorm2d) and len(shape) != 3) or shape[0] != m.num_features:
            raise ValueError(f"{fn}: {where} ({name}, num_features={m.num_features}) gets inputs of shape {shape} "
                             f"(without batch and time), whose first axis must be {m.num_features}")
        return shape
    if isinstance(m, (LIF,) + _ELEMENTWISE):
        return shape
    return None


@contextlib.contextmanager
def _fitting(fn: str, what: str, network: str):
    """Re-raise a shape error of the block as ``{fn}: {what} does not fit {network}: ...``, so that
    the message names the argument that brought the shape."""
    try:
        yield
    except ValueError as err:
        text = str(err)
        text = text[len(fn) + 2:] if text.startswith(f"{fn}: ") else text
        raise ValueError(f"{fn}: {what} does not fit {network}: {text}") from None


def _walk(fn: str, net: nn.Sequential, shape: tuple, where: str = "module {i}") -> None:
    """Check that inputs of ``shape`` (without batch and time) pass through every module of
    ``net``; stops at a module whose shapes are not known here."""
    for i, m in enumerate(net):
        shape = _shape_through(fn, where.format(i=i), m, shape)
        if shape is None:
            return


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


def _np(fn: str, what: str, t: torch.Tensor) -> np.ndarray:
    """``t`` as a float32 array (NIR's dtype); ``ValueError`` for NaN, inf or a value beyond float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        a = t.detach().cpu().double().numpy().astype(np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{fn}: {what} has NaN, infinite or values beyond float32 (largest "
                         f"{np.finfo(np.float32).max:.3g}), which NIR's float32 arrays cannot hold")
    return a


def _float32(fn: str, what: str, value: float) -> float:
    """``ValueError`` if the number ``value`` is not finite in float32 (NIR's dtype); else ``value``."""
    with np.errstate(over="ignore"):
        finite = np.isfinite(np.float32(value))
    if not finite:
        raise ValueError(f"{fn}: {what}={value!r} is not finite in float32, the dtype of NIR's arrays")
    return value


def _input_shape(fn: str, input_shape) -> tuple:
    """A checked shape of one input step: a non-empty tuple of ints >= 1 (no batch, no time)."""
    if isinstance(input_shape, torch.Tensor) or not isinstance(input_shape, (tuple, list, torch.Size)):
        raise TypeError(f"{fn}: input_shape must be a tuple of positive ints (no batch axis), e.g. (784,) or "
                        f"(1, 28, 28), got {type(input_shape).__name__}")
    if not input_shape:
        raise ValueError(f"{fn}: input_shape must be a tuple of positive ints (no batch axis), got {input_shape!r}")
    return tuple(check_int(fn, "input_shape", v, minimum=1) for v in input_shape)


def to_nir(model, input_shape, dt: float = DT):
    """Export a spiking ``nn.Sequential`` (or a network's ``net``) to a ``nir.NIRGraph``.

    Args:
        model: :class:`~snnbook.models.surrogate.SurrogateFC`, a batch-norm-free
            :class:`~snnbook.models.surrogate.SurrogateConv` (``fold_batchnorm()``), or an
            ``nn.Sequential`` of ``nn.Linear``, ``nn.Conv2d``, ``nn.AvgPool2d``, ``nn.Flatten`` and
            :class:`~snnbook.models.surrogate.LIF`.
        input_shape: shape of one input step without batch and time, e.g. ``(784,)`` or
            ``(1, 28, 28)``.
        dt: the time step (s) that maps ``beta`` to ``tau = dt / (1 - beta)`` (module docstring).

    Returns:
        ``nir.NIRGraph`` with nodes ``"input"``, ``"0"``, ``"1"``, ..., ``"output"`` in a chain; LIF
        nodes carry ``metadata["reset"] = "subtract"``, ``"beta"`` and ``"dt"``.

    Shape:
        - input_shape: ``(features,)`` or ``(channel, height, width)``

    Raises:
        TypeError: a module without a NIR mapping, or a bad ``model`` or ``input_shape``.
        ValueError: ``input_shape`` does not fit a module (e.g. a ``Linear`` whose ``in_features``
            is not the last axis that reaches it), a parameter that is not finite in float32 (NIR's
            arrays), or a ``Flatten`` that would flatten the batch axis.

    Example:
        >>> from snnbook.models.surrogate import LIF
        >>> g = to_nir(nn.Sequential(nn.Linear(4, 3), LIF(beta=0.9)), (4,))
        >>> sorted(g.nodes), type(g.nodes["1"]).__name__
        (['0', '1', 'input', 'output'], 'LIF')
    """
    from .models.surrogate import LIF
    nir = _nir()
    fn = "to_nir"
    net = _sequential(fn, model)
    if len(net) == 0:
        raise ValueError(f"{fn}: model is an empty nn.Sequential; expected at least one module")
    shape = _input_shape(fn, input_shape)
    dt = _float32(fn, "dt", check_real(fn, "dt", dt, minimum=0.0, strict_min=True))
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)})}
    for i, m in enumerate(net):
        name, where = str(i), f"module {i}"
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.Flatten, LIF)):
            with _fitting(fn, f"input_shape={tuple(input_shape)}", "model"):  # a clear error, not torch's
                _shape_through(fn, where, m, shape)
        if isinstance(m, nn.Linear):
            weight = _np(fn, f"{where} (Linear) weight", m.weight)
            nodes[name] = (nir.Affine(weight=weight, bias=_np(fn, f"{where} (Linear) bias", m.bias))
                           if m.bias is not None else nir.Linear(weight=weight))
        elif isinstance(m, nn.Conv2d):
            if isinstance(m.padding, str):
                raise ValueError(f"{fn}: module {i} (Conv2d) has padding={m.padding!r}; export needs "
                                 "numeric padding")
            bias = (_np(fn, f"{where} (Conv2d) bias", m.bias) if m.bias is not None
                    else np.zeros(m.out_channels, dtype=np.float32))
            nodes[name] = nir.Conv2d(input_shape=tuple(shape[1:]), weight=_np(fn, f"{where} (Conv2d) weight", m.weight),
                                     stride=m.stride,
                                     padding=m.padding, dilation=m.dilation, groups=m.groups, bias=bias)
        elif isinstance(m, nn.AvgPool2d):
            if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
                raise ValueError(f"{fn}: module {i} (AvgPool2d) uses ceil_mode, count_include_pad=False "
                                 "or divisor_override, which nir.AvgPool2d cannot express")
            pair = nn.modules.utils._pair
            stride = m.stride if m.stride is not None else m.kernel_size
            nodes[name] = nir.AvgPool2d(kernel_size=np.array(pair(m.kernel_size)),
                                        stride=np.array(pair(stride)), padding=np.array(pair(m.padding)))
        elif isinstance(m, nn.Flatten):  # NIR counts axes without the batch; negative ones from the end alike
            nodes[name] = nir.Flatten(input_type={"input": np.array(shape)},
                                      start_dim=m.start_dim if m.start_dim < 0 else m.start_dim - 1,
                                      end_dim=m.end_dim if m.end_dim < 0 else m.end_dim - 1)
        elif isinstance(m, LIF):
            ones = np.ones(shape, dtype=np.float32)
            meta = {"reset": "subtract", "beta": float(m.beta), "dt": dt,
                    "source": "snnbook.models.surrogate.LIF"}
            _float32(fn, f"{where} (LIF) threshold", m.threshold)
            if m.beta >= 1.0:
                nodes[name] = nir.IF(r=ones, v_threshold=ones * m.threshold, v_reset=0 * ones, metadata=meta)
            else:
                tau = _float32(fn, f"{where} (LIF) tau = dt / (1 - beta)", dt / (1.0 - m.beta))
                nodes[name] = nir.LIF(tau=ones * tau, r=ones * (tau / dt), v_leak=0 * ones,
                                      v_threshold=ones * m.threshold, v_reset=0 * ones, metadata=meta)
        elif isinstance(m, nn.MaxPool2d):
            raise TypeError(f"{fn}: module {i} is nn.MaxPool2d, which NIR 1.0 cannot express (it has "
                            "SumPool2d and AvgPool2d); use nn.AvgPool2d before the neuron")
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            raise TypeError(f"{fn}: module {i} is {type(m).__name__}; fold it into the convolution first "
                            "(SurrogateConv.fold_batchnorm())")
        else:
            raise TypeError(f"{fn}: module {i} is {type(m).__name__}, which has no NIR mapping here "
                            "(expected Linear, Conv2d, AvgPool2d, Flatten or LIF)")
        if not isinstance(m, LIF):
            shape = _shape_after(fn, where, m, shape)
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    names = ["input"] + [str(i) for i in range(len(net))] + ["output"]
    readout = ("mean over steps of the last Linear (logits)" if not isinstance(net[-1], LIF)
               else "output spikes (class = most spikes)")
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])),
                         metadata={"source": "snnbook.interop.to_nir", "dt": dt, "readout": readout})
    return graph


def _chain(graph) -> tuple[str, list[str], str] | str:
    """``(input, middle, output)`` node names of a chain-shaped graph (one ``nir.Input``, one
    ``nir.Output``, every node on the one path between them), or a text that says why it is not one."""
    nir = _nir()
    nodes = graph.nodes if isinstance(graph.nodes, dict) else {}
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        return f"it has {len(inputs)} nir.Input and {len(outputs)} nir.Output nodes, expected one of each"
    edges = list(graph.edges) if isinstance(graph.edges, (list, tuple)) else []
    if not all(isinstance(e, (tuple, list)) and len(e) == 2 for e in edges):
        return f"its edges {graph.edges!r} are not pairs (source, target)"
    unknown = sorted({str(n) for e in edges for n in e if n not in nodes})
    if unknown:
        return f"its edges name nodes it does not have: {unknown}"
    succ = dict((a, b) for a, b in edges)
    if len(succ) != len(edges) or len({b for _, b in edges}) != len(edges):
        return "a node has several successors or predecessors (a branch)"
    order, name = [], inputs[0]
    while name != outputs[0]:
        if name not in succ:
            return f"the path from {inputs[0]!r} ends at {name!r}, before the output {outputs[0]!r}"
        name = succ[name]
        if name in order:
            return f"it has a cycle through {name!r}"
        order.append(name)
    if len(order) + 1 != len(nodes):
        return f"nodes {sorted(set(map(str, nodes)) - set(map(str, order)) - {str(inputs[0])})} are not on the path"
    return inputs[0], order[:-1], outputs[0]


def _graph_input_shape(graph, name: str) -> tuple | None:
    """The input shape (without batch and time) the ``nir.Input`` node ``name`` declares, or None."""
    types = getattr(graph.nodes[name], "input_type", None)
    if not isinstance(types, dict) or len(types) != 1:
        return None
    try:
        shape = tuple(int(v) for v in np.asarray(next(iter(types.values()))).reshape(-1))
    except (TypeError, ValueError):
        return None
    return shape if shape and all(v >= 1 for v in shape) else None


def _array(fn: str, where: str, value, ndim: int | None = None) -> np.ndarray:
    """A node's parameter as a finite floating-point array (integers become float32)."""
    a = np.asarray(value)
    if a.dtype.kind in "iub":
        a = a.astype(np.float32)
    if a.dtype.kind != "f":
        raise TypeError(f"{fn}: {where} must be an array of real numbers, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}: {where} must have {ndim} dimensions, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{fn}: {where} holds NaN or infinite values")
    return a


def _node_shape(fn: str, where: str, node, shape: tuple) -> tuple | None:
    """The shape (without batch and time) that the NIR ``node`` makes of inputs of ``shape``
    (what snnTorch's and Norse's importers build); ``ValueError`` naming ``where`` where the inputs
    do not fit; None for a node whose shapes are not known here."""
    nir = _nir()
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise ValueError(f"{fn}: {where} has a weight of shape {w.shape}; expected [out, in]")
        if shape[-1] != w.shape[1]:
            raise ValueError(f"{fn}: {where} has a weight [out={w.shape[0]}, in={w.shape[1]}] and gets inputs of "
                             f"shape {shape} (without batch and time), whose last axis must be {w.shape[1]}")
        return shape[:-1] + (w.shape[0],)
    if isinstance(node, nir.Conv2d):
        w = np.asarray(node.weight)
        groups = int(node.groups)
        if w.ndim != 4:
            raise ValueError(f"{fn}: {where} has a weight of shape {w.shape}; expected [out, in / groups, kh, kw]")
        if len(shape) != 3 or shape[0] != w.shape[1] * groups:
            raise ValueError(f"{fn}: {where} has {w.shape[1] * groups} input channels and needs inputs of shape "
                             f"(channel={w.shape[1] * groups}, height, width) without batch and time, got {shape}")
        if isinstance(node.padding, str):
            if node.padding == "same":
                return (w.shape[0],) + shape[1:]
            pad = (0, 0)
        else:
            pad = _pair(node.padding)
        st, dil = _pair(node.stride), _pair(node.dilation)
        return (w.shape[0],) + tuple(_conv_out(fn, where, shape[1 + i], w.shape[2 + i], st[i], pad[i], dil[i],
                                               axis=("height", "width")[i]) for i in range(2))
    if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
        if len(shape) not in (2, 3):
            raise ValueError(f"{fn}: {where} needs inputs of shape (channel, height, width) without batch and "
                             f"time, got {shape}")
        k, st, pad = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
        if pad[0] * 2 > k[0] or pad[1] * 2 > k[1]:
            raise ValueError(f"{fn}: {where} has padding {pad}; expected at most half of the kernel {k}")
        return shape[:-2] + tuple(_conv_out(fn, where, shape[-2 + i], k[i], st[i], pad[i],
                                            axis=("height", "width")[i]) for i in range(2))
    if isinstance(node, nir.Flatten):
        return _flatten_out(fn, where, int(node.start_dim), int(node.end_dim), shape)
    if isinstance(node, (nir.LIF, nir.IF, nir.LI, nir.I, nir.CubaLIF, nir.CubaLI, nir.Threshold, nir.Scale)):
        for key, value in node.to_dict().items():
            if isinstance(value, np.ndarray) and value.ndim and key not in ("type",):
                try:
                    fits = np.broadcast_shapes(value.shape, shape) == shape
                except ValueError:
                    fits = False
                if not fits:
                    raise ValueError(f"{fn}: {where} has {key} of shape {value.shape}, which does not fit its "
                                     f"inputs of shape {shape} (without batch and time)")
        return shape
    return None


def _check_graph_input(fn: str, graph, x: torch.Tensor) -> None:
    """``ValueError`` if the steps of ``x`` ``[batch, time, *input_shape]`` do not fit the graph:
    the shape its ``nir.Input`` declares and, for a chain, every node on the way to the output."""
    nir = _nir()
    shape = tuple(x.shape[2:])
    inputs = [n for n, v in graph.nodes.items() if isinstance(v, nir.Input)]
    declared = _graph_input_shape(graph, inputs[0]) if len(inputs) == 1 else None
    if declared is not None and declared != shape:
        raise ValueError(f"{fn}: x does not fit graph: x has steps of shape {shape} (x is [batch, time, "
                         f"*input_shape] = {tuple(x.shape)}), but the graph's input node {inputs[0]!r} takes "
                         f"{declared}")
    chain = _chain(graph)
    if isinstance(chain, str):
        return  # not a chain: the reader checks the rest of its graph
    with _fitting(fn, f"x of shape {tuple(x.shape)} ([batch, time, *input_shape])", "graph"):
        for name in chain[1]:
            node = graph.nodes[name]
            shape = _node_shape(fn, f"node {name!r} ({type(node).__name__})", node, shape)
            if shape is None:
                return


def from_nir(graph, dt: float | None = None) -> nn.Sequential:
    """Rebuild an ``nn.Sequential`` of torch modules and :class:`~snnbook.models.surrogate.LIF` from
    a chain-shaped ``nir.NIRGraph`` (as :func:`to_nir` writes it, also after ``nir.write`` /
    ``nir.read``).

    Args:
        graph: the NIR graph (a chain from ``"input"`` to ``"output"``).
        dt: the time step (s) for ``beta = 1 - dt / tau``; None: the graph's ``metadata["dt"]``,
            else :data:`DT`. Where a node's ``metadata["beta"]`` agrees with that (to 1e-6), it is
            taken exactly (``tau`` is stored in float32).

    Returns:
        The network; run it with :func:`run_sequential`.

    Raises:
        ValueError: a LIF node whose dynamics our :class:`~snnbook.models.surrogate.LIF` cannot run
            (``v_leak != 0``, ``r dt / tau != 1``, ``tau < dt``, per-neuron parameters that differ,
            or a reset other than by subtraction: a node without ``metadata["reset"] ==
            "subtract"``); a graph that is not a chain; parameters with NaN/inf or of the wrong
            shape; nodes whose shapes do not fit the shape the input node declares.
        TypeError: a node that has no module here.

    Example:
        >>> from snnbook.models.surrogate import LIF
        >>> net = from_nir(to_nir(nn.Sequential(nn.Linear(4, 3), LIF(beta=0.9)), (4,)))
        >>> [type(m).__name__ for m in net], round(net[1].beta, 6)
        (['Linear', 'LIF'], 0.9)
    """
    nir = _nir()
    fn = "from_nir"
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"{fn}: graph must be a nir.NIRGraph, got {type(graph).__name__}")
    dt = _graph_dt(fn, graph, dt)
    chain = _chain(graph)
    if isinstance(chain, str):
        raise ValueError(f"{fn}: graph must be a chain from its input to its output node, but {chain}")
    first, middle, _ = chain
    shape = _graph_input_shape(graph, first)  # None: the graph does not say; no shape checks then
    modules = []
    for name in middle:
        node = graph.nodes[name]
        where = f"graph node {name!r} ({type(node).__name__})"
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = torch.as_tensor(_array(fn, f"{where} weight", node.weight, ndim=2))
            m = nn.Linear(w.shape[1], w.shape[0], bias=isinstance(node, nir.Affine))
            m.weight.data = w
            if isinstance(node, nir.Affine):
                b = _array(fn, f"{where} bias", node.bias)
                if b.shape != (w.shape[0],):
                    raise ValueError(f"{fn}: {where} bias must have shape ({w.shape[0]},), got {b.shape}")
                m.bias.data = torch.as_tensor(b)
        elif isinstance(node, nir.Conv2d):
            w = torch.as_tensor(_array(fn, f"{where} weight", node.weight, ndim=4))
            groups = check_int(fn, f"{where} groups", int(np.asarray(node.groups)), minimum=1)
            if w.shape[0] % groups:
                raise ValueError(f"{fn}: {where} has {w.shape[0]} output channels, not a multiple of groups={groups}")
            padding = node.padding if isinstance(node.padding, str) else _pair(node.padding)
            m = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=_pair(node.stride),
                          padding=padding, dilation=_pair(node.dilation), groups=groups)
            b = _array(fn, f"{where} bias", node.bias)
            if b.shape != (w.shape[0],):
                raise ValueError(f"{fn}: {where} bias must have shape ({w.shape[0]},), got {b.shape}")
            m.weight.data, m.bias.data = w, torch.as_tensor(b)
        elif isinstance(node, nir.AvgPool2d):
            m = nn.AvgPool2d(_pair(node.kernel_size), _pair(node.stride), _pair(node.padding))
        elif isinstance(node, nir.Flatten):  # NIR counts axes without the batch: positive ones move by one
            start, end = int(node.start_dim), int(node.end_dim)
            m = nn.Flatten(start if start < 0 else start + 1, end if end < 0 else end + 1)
        elif isinstance(node, (nir.LIF, nir.IF)):
            m = _lif_from_node(fn, name, node, dt)
        else:
            raise TypeError(f"{fn}: graph node {name!r} is {type(node).__name__}, which from_nir cannot build")
        if shape is not None:
            with _fitting(fn, f"the input shape {_graph_input_shape(graph, first)} of graph's node {first!r}",
                          "the graph's nodes"):
                shape = _shape_through(fn, f"graph node {name!r}", m, shape)
        modules.append(m)
    return nn.Sequential(*modules)


def _graph_dt(fn: str, graph, dt) -> float:
    """``dt`` checked, or (None) the graph's ``metadata["dt"]``, else :data:`DT`."""
    if dt is not None:
        return check_real(fn, "dt", dt, minimum=0.0, strict_min=True)
    if isinstance(graph.metadata, dict) and graph.metadata.get("dt") is not None:
        return check_real(fn, "graph.metadata['dt']", graph.metadata["dt"], minimum=0.0, strict_min=True)
    return DT


def _lif_from_node(fn: str, name: str, node, dt: float):
    """Our :class:`~snnbook.models.surrogate.LIF` for a ``nir.LIF`` or ``nir.IF`` node that resets by
    subtraction; ``ValueError`` for dynamics it cannot run."""
    from .models.surrogate import LIF
    nir = _nir()
    meta = node.metadata or {}
    if meta.get("reset") != "subtract":
        raise ValueError(f"{fn}: node {name!r} resets to v_reset (NIR's LIF); our LIF resets by "
                         "subtraction, so only nodes with metadata reset='subtract' import exactly")
    thr = np.unique(_array(fn, f"node {name!r} v_threshold", node.v_threshold))
    if thr.size != 1:
        raise ValueError(f"{fn}: node {name!r} has per-neuron thresholds; expected one value")
    if not thr[0] > 0:
        raise ValueError(f"{fn}: node {name!r} has v_threshold={float(thr[0])!r}; our LIF needs a threshold > 0")
    r = _array(fn, f"node {name!r} r", node.r)
    if isinstance(node, nir.IF):
        beta = 1.0
        gain = np.unique(r)
    else:
        if not np.allclose(_array(fn, f"node {name!r} v_leak", node.v_leak), 0.0):
            raise ValueError(f"{fn}: node {name!r} has v_leak != 0, which our LIF does not have")
        tau = np.asarray(node.tau)
        if tau.dtype.kind not in "iuf" or np.isnan(tau).any() or not (tau > 0).all():
            raise ValueError(f"{fn}: node {name!r} has tau {np.unique(tau)}; expected a time constant > 0")
        taus = np.unique(tau)
        if taus.size != 1:
            raise ValueError(f"{fn}: node {name!r} has per-neuron tau; expected one value")
        beta = 1.0 - dt / float(taus[0])
        if "beta" in meta and math.isclose(float(meta["beta"]), beta, abs_tol=1e-6):
            beta = float(meta["beta"])  # exact (tau is stored in float32)
        if beta < -1e-6:  # beyond float32 rounding of tau = dt
            raise ValueError(f"{fn}: node {name!r} has tau={float(taus[0])!r} < dt={dt!r}: its decay per step "
                             f"1 - dt / tau = {beta:.4g} is negative, which our LIF (beta in [0, 1]) cannot run; "
                             "pass the dt the graph was made with")
        gain = np.unique(r * dt / tau)
    if gain.size != 1 or not math.isclose(float(gain[0]), 1.0, rel_tol=1e-5):
        raise ValueError(f"{fn}: node {name!r} scales its input by r dt / tau = {gain}; expected 1 "
                         f"(dt={dt})")
    return LIF(beta=float(np.clip(beta, 0.0, 1.0)), threshold=float(thr[0]))


def run_sequential(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, list]:
    """Run a spiking ``nn.Sequential`` over the steps of ``x``: each stateless module on every step,
    each :class:`~snnbook.models.surrogate.LIF` from rest through the steps (the semantics of the
    surrogate networks' forward).

    Args:
        net: the network (e.g. ``model.net`` or :func:`from_nir`'s result).
        x: input per step.

    Shape:
        - x: ``[batch, time, *input_shape]``
        - Output: ``(out, spikes)``: the last module's output ``[batch, time, *]`` and the spikes of
          each LIF layer, a list of ``[batch, time, *]`` tensors.

    Raises:
        ValueError: ``input_shape`` does not fit a module (checked before anything runs), or ``x``
            is on another device than ``net``.
        TypeError: ``x`` is not floating-point or has another dtype than ``net``'s parameters.

    Example:
        >>> from snnbook.models.surrogate import LIF
        >>> net = nn.Sequential(nn.Identity(), LIF(beta=0.5))
        >>> out, spikes = run_sequential(net, torch.full((1, 4, 1), 0.6))
        >>> out[0, :, 0].tolist()
        [0.0, 0.0, 1.0, 0.0]
    """
    from .models.surrogate import LIF
    fn = "run_sequential"
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"{fn}: net must be an nn.Sequential, got {type(net).__name__}")
    _check_steps(fn, x)
    tensors = [t for t in list(net.parameters()) + list(net.buffers()) if t.is_floating_point()]
    if tensors and x.dtype != tensors[0].dtype:
        raise TypeError(f"{fn}: x must have the dtype of net's parameters ({tensors[0].dtype}), got {x.dtype}")
    if tensors and x.device != tensors[0].device:
        raise ValueError(f"{fn}: x must be on the device of net's parameters ({tensors[0].device}), got x on "
                         f"{x.device}")
    with _fitting(fn, f"x of shape {tuple(x.shape)} ([batch, time, *input_shape])", "net"):
        _walk(fn, net, tuple(x.shape[2:]))  # every module whose shapes are known takes what comes
    spikes = []
    with torch.no_grad():
        for i, m in enumerate(net):
            if isinstance(m, LIF):
                m.reset_state()
                x = m.run(x)[0]
                m.reset_state()
                spikes.append(x)
            else:
                b, t = x.shape[:2]
                try:
                    y = m(x.reshape(b * t, *x.shape[2:]))
                except RuntimeError as err:  # a module whose shapes _walk does not know
                    raise ValueError(f"{fn}: x does not fit net: module {i} ({type(m).__name__}) cannot take "
                                     f"inputs of shape {tuple(x.shape[2:])} (without batch and time): {err}"
                                     ) from None
                x = y.reshape(b, t, *y.shape[1:])
    return x, spikes


def _check_steps(fn: str, x) -> None:
    """``x``: a floating-point tensor ``[batch, time, *input_shape]``."""
    check_tensor(fn, "x", x, ndim=tuple(range(3, 8)), axes="[batch, time, *input_shape]")
    if not x.is_floating_point():
        raise TypeError(f"{fn}: x must be a floating-point tensor (input currents or spikes per step), got "
                        f"{x.dtype}")


def _check_imported(fn: str, module: nn.Module, x: torch.Tensor) -> None:
    """``x`` must have the dtype and device of the imported network's parameters."""
    tensors = [t for t in module.parameters() if t.is_floating_point()]
    if tensors and x.dtype != tensors[0].dtype:
        raise TypeError(f"{fn}: x must have the dtype of the imported network ({tensors[0].dtype}, from the "
                        f"graph's arrays), got {x.dtype}; convert it with x.to({tensors[0].dtype})")
    if x.device.type != "cpu":
        raise ValueError(f"{fn}: x must be on the CPU (where the imported network is built), got x on {x.device}")


def _check_reader_args(fn: str, graph, x, reset_mechanism):
    """The checks that :func:`run_snntorch` and :func:`run_norse` share; returns the nir module."""
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"{fn}: graph must be a nir.NIRGraph, got {type(graph).__name__}")
    _check_steps(fn, x)
    if reset_mechanism is not None and not isinstance(reset_mechanism, str):
        raise TypeError(f"{fn}: reset_mechanism must be None or 'subtract', got {reset_mechanism!r} "
                        f"({type(reset_mechanism).__name__})")
    if reset_mechanism not in (None, "subtract"):
        raise ValueError(f"{fn}: reset_mechanism must be None or 'subtract', got {reset_mechanism!r}")
    return nir


def run_snntorch(graph, x: torch.Tensor, reset_mechanism: str | None = None) -> torch.Tensor:
    """Import ``graph`` with snnTorch's NIR reader (``snntorch.import_nir.import_from_nir``) and run
    it over the steps of ``x``, one digit at a time from rest (NIR shapes have no batch axis, and
    the imported ``Flatten`` counts from the first axis).

    Args:
        graph: a ``nir.NIRGraph`` (e.g. from :func:`to_nir`).
        x: input per step.
        reset_mechanism: None runs snnTorch's neurons as its importer builds them (NIR's LIF:
            ``reset_mechanism="zero"``, ``reset_delay=False``); ``"subtract"`` switches every
            imported ``snn.Leaky`` to reset by subtraction at the next step, the neuron
            :func:`to_nir` exported (``metadata["reset"]``).

    Shape:
        - x: ``[batch, time, *input_shape]``
        - Output: ``[batch, time, *]``, the graph's output at each step.

    Raises:
        ImportError: snnTorch is not installed (it is in requirements.txt; ``pip install snntorch``).
        TypeError: ``graph`` is no ``nir.NIRGraph``; ``x`` is not of the imported network's dtype.
        ValueError: the steps of ``x`` do not have the shape of the graph's input node, or do not
            fit a node of a chain-shaped graph; a bad ``reset_mechanism``.
    """
    import contextlib
    import io
    fn = "run_snntorch"
    try:
        import snntorch as snn
        from snntorch.import_nir import import_from_nir
    except ImportError as e:  # pragma: no cover - snntorch is in requirements.txt
        raise ImportError(f"{fn}: needs snnTorch (pip install snntorch)") from e
    nir = _check_reader_args(fn, graph, x, reset_mechanism)
    _check_graph_input(fn, graph, x)
    with contextlib.redirect_stdout(io.StringIO()):  # the importer prints progress notes
        imported = import_from_nir(graph)
    _check_imported(fn, imported, x)
    leaky = [m for m in imported.modules() if isinstance(m, snn.Leaky)]
    if reset_mechanism is not None:
        for m in leaky:
            m.reset_mechanism = reset_mechanism  # updates reset_mechanism_val, but not ...
            m.state_function = m._base_sub  # ... the state function chosen at construction
            m.reset_delay = True
    outs = []
    with torch.no_grad():
        for digit in x:
            for m in leaky:
                m.mem = torch.zeros(0)  # from rest: re-initialised at the first step
            outs.append(torch.stack([imported(step)[0] for step in digit]))
    return torch.stack(outs)


class _InputGain(nn.Module):
    """A Norse cell whose input is multiplied by NIR's ``r`` first (Norse 1.1.0 drops ``r``)."""

    def __init__(self, cell: nn.Module, gain: torch.Tensor) -> None:
        super().__init__()
        self.cell = cell
        self.register_buffer("gain", gain)

    def forward(self, x, state=None):
        return self.cell(x * self.gain, state)


def _delayed_subtract(z, v, reset, th, beta):
    """Norse reset method of our neuron: Norse resets at once and decays the reset potential by
    ``beta`` at the next step; subtracting ``th / beta`` now subtracts ``th`` after that decay,
    our ``v <- beta v + I - th s`` (``reset`` is Norse's ``v_reset``, unused)."""
    return v - z * (th / beta)


#: NIR nodes that :func:`run_norse` runs (Norse 1.1.0's importer, plus nir.AvgPool2d).
_NORSE_NODES = ("Input", "Output", "Affine", "Linear", "Conv2d", "Flatten", "LIF", "IF", "AvgPool2d",
                "SumPool2d")


def run_norse(graph, x: torch.Tensor, reset_mechanism: str | None = None,
              dt: float | None = None) -> torch.Tensor:
    """Import ``graph`` with Norse's NIR reader (``norse.torch.from_nir``'s node mapping) and run it
    over the steps of ``x``, one digit at a time from rest (NIR shapes have no batch axis, and
    the imported ``Flatten`` counts from the first axis).

    Norse 1.1.0's ``from_nir`` alone runs another network (module docstring): it steps with ``dt
    = 1e-3``, ignores ``r`` and has no ``nir.AvgPool2d``. This reads with ``dt`` below, multiplies
    each LIF node's input by its ``r`` and builds ``torch.nn.AvgPool2d`` for ``nir.AvgPool2d``;
    every other module is Norse's own (``LIFBoxCell``, ``IAFCell``, ``Linear``, ``Conv2d``, ...).
    Then the result equals :func:`run_snntorch` with the same ``reset_mechanism``: with None
    NIR's neuron (reset to 0 in the step it fires), with ``"subtract"`` the neuron
    :func:`to_nir` exported, as :func:`run_sequential` runs it (to float rounding: Norse steps
    ``v + dt / tau (r I - v)``, we step ``beta v + I``; the spikes of the book's networks are
    identical).

    Args:
        graph: a ``nir.NIRGraph`` (e.g. from :func:`to_nir`) of ``Affine``, ``Linear``,
            ``Conv2d``, ``AvgPool2d``, ``SumPool2d``, ``Flatten``, ``LIF`` and ``IF`` nodes.
        x: input per step.
        reset_mechanism: None runs Norse's neurons as its importer builds them (reset to 0 in the
            step they fire, NIR's LIF); ``"subtract"`` gives each ``LIFBoxCell`` a reset method
            that subtracts the threshold at the next step, after the decay (needs ``0 < beta``
            for every LIF node, ``beta = 1 - dt / tau``, and no ``IF`` node: Norse's ``IAFCell``
            always resets to 0).
        dt: the Euler step (s) of Norse's neurons; None: the graph's ``metadata["dt"]``, else
            :data:`DT` (Norse's own default, 1e-3, is not the export's).

    Shape:
        - x: ``[batch, time, *input_shape]``
        - Output: ``[batch, time, *]``, the graph's output at each step.

    Raises:
        ImportError: Norse is not installed (it is in requirements-nodeps.txt; ``pip install
            --no-deps norse``).
        TypeError: ``graph`` is no ``nir.NIRGraph``, or has a node that Norse cannot import.
        ValueError: a bad ``x`` (also: steps that do not fit the graph's input node or a node of a
            chain, checked before Norse imports it), ``reset_mechanism`` or ``dt``, an ``IF`` node
            with ``r != 1``, or
            ``reset_mechanism="subtract"`` with an ``IF`` node or a LIF node with ``beta <= 0``.
    """
    import warnings
    from functools import partial
    fn = "run_norse"
    try:
        with warnings.catch_warnings():  # torch.jit.script is deprecated (at import)
            warnings.simplefilter("ignore", DeprecationWarning)
            import nirtorch
            from norse.torch.module.iaf import IAFCell
            from norse.torch.module.lif_box import LIFBoxCell
            from norse.torch.utils.import_nir import _import_norse_module
    except ImportError as e:  # pragma: no cover - norse is in requirements-nodeps.txt
        raise ImportError(f"{fn}: needs Norse (pip install --no-deps norse)") from e
    nir = _check_reader_args(fn, graph, x, reset_mechanism)
    dt = _graph_dt(fn, graph, dt)
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind not in _NORSE_NODES or not isinstance(node, getattr(nir, kind)):
            raise TypeError(f"{fn}: node {name!r} is {kind}; expected one of {', '.join(_NORSE_NODES)} "
                            "(what Norse's from_nir imports, plus AvgPool2d)")
        if isinstance(node, nir.IF) and not np.all(np.asarray(node.r) == 1):
            raise ValueError(f"{fn}: node {name!r} is nir.IF with r != 1; Norse's IAFCell adds its input "
                             "unscaled (r = 1, as to_nir writes it)")
        if reset_mechanism == "subtract" and isinstance(node, nir.IF):
            raise ValueError(f"{fn}: node {name!r} is nir.IF, which Norse builds as IAFCell; it always "
                             "resets to 0, so reset_mechanism='subtract' needs LIF nodes (0 < beta < 1)")

    def module(node):
        if isinstance(node, nir.AvgPool2d):  # not in Norse 1.1.0's importer
            return nn.AvgPool2d(_pair(node.kernel_size), _pair(node.stride), _pair(node.padding))
        m = _import_norse_module(node, ignore_warnings=True, dt=dt)
        if isinstance(node, nir.LIF):
            assert isinstance(m, LIFBoxCell)
            if reset_mechanism == "subtract":
                beta = 1.0 - dt * m.p.tau_mem_inv
                if not bool(torch.all(beta > 0)):
                    raise ValueError(f"{fn}: reset_mechanism='subtract' needs beta = 1 - dt / tau > 0 "
                                     f"(dt={dt}), got beta {float(beta.min()):.4g}; Norse's reset "
                                     "cannot delay a subtraction past a full decay")
                m.p = m.p._replace(reset_method=partial(_delayed_subtract, beta=beta))
            r = torch.as_tensor(np.asarray(node.r, dtype=np.float32))
            return m if bool(torch.all(r == 1)) else _InputGain(m, r)
        assert m is not None or isinstance(node, (nir.Input, nir.Output)), type(node)
        assert not isinstance(node, nir.IF) or isinstance(m, IAFCell)
        return m

    _check_graph_input(fn, graph, x)
    with warnings.catch_warnings():  # nirtorch.load is deprecated (Norse 1.1.0 calls it)
        warnings.simplefilter("ignore", DeprecationWarning)
        imported = nirtorch.load(graph, module)
    _check_imported(fn, imported, x)
    outs = []
    with torch.no_grad():
        for digit in x:
            state, steps = None, []
            for step in digit:  # state None: from rest
                out, state = imported(step, state)
                steps.append(out)
            outs.append(torch.stack(steps))
    return torch.stack(outs)
