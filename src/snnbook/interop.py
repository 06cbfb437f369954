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
* **Read-out and input coding** are not part of the graph: the rate coding of SurrogateFC's input
  and the mean over steps of SurrogateConv's last ``Linear`` (its logits) are applied outside
  (graph ``metadata["readout"]``). ``nn.MaxPool2d`` and ``nn.BatchNorm2d`` are refused: NIR 1.0 has
  no max pooling, and batch norm must be folded into the convolution first
  (:meth:`~snnbook.models.surrogate.SurrogateConv.fold_batchnorm`).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ._checks import check_real, check_tensor

__all__ = ["DT", "to_nir", "from_nir", "run_sequential", "run_snntorch"]

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


def _shape_after(module: nn.Module, shape: tuple) -> tuple:
    with torch.no_grad():
        return tuple(module(torch.zeros(1, *shape)).shape[1:])


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy().astype(np.float32)


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
    if not isinstance(input_shape, (tuple, list, torch.Size)) or not input_shape \
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in input_shape):
        raise ValueError(f"{fn}: input_shape must be a tuple of positive ints (no batch axis), "
                         f"got {input_shape!r}")
    dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True)
    shape = tuple(input_shape)
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)})}
    for i, m in enumerate(net):
        name = str(i)
        if isinstance(m, nn.Linear):
            nodes[name] = (nir.Affine(weight=_np(m.weight), bias=_np(m.bias)) if m.bias is not None
                           else nir.Linear(weight=_np(m.weight)))
        elif isinstance(m, nn.Conv2d):
            if isinstance(m.padding, str):
                raise ValueError(f"{fn}: module {i} (Conv2d) has padding={m.padding!r}; export needs "
                                 "numeric padding")
            bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels, dtype=np.float32)
            nodes[name] = nir.Conv2d(input_shape=tuple(shape[1:]), weight=_np(m.weight), stride=m.stride,
                                     padding=m.padding, dilation=m.dilation, groups=m.groups, bias=bias)
        elif isinstance(m, nn.AvgPool2d):
            if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
                raise ValueError(f"{fn}: module {i} (AvgPool2d) uses ceil_mode, count_include_pad=False "
                                 "or divisor_override, which nir.AvgPool2d cannot express")
            pair = nn.modules.utils._pair
            stride = m.stride if m.stride is not None else m.kernel_size
            nodes[name] = nir.AvgPool2d(kernel_size=np.array(pair(m.kernel_size)),
                                        stride=np.array(pair(stride)), padding=np.array(pair(m.padding)))
        elif isinstance(m, nn.Flatten):
            nodes[name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=m.start_dim - 1,
                                      end_dim=m.end_dim if m.end_dim < 0 else m.end_dim - 1)
        elif isinstance(m, LIF):
            ones = np.ones(shape, dtype=np.float32)
            meta = {"reset": "subtract", "beta": float(m.beta), "dt": dt,
                    "source": "snnbook.models.surrogate.LIF"}
            if m.beta >= 1.0:
                nodes[name] = nir.IF(r=ones, v_threshold=ones * m.threshold, v_reset=0 * ones, metadata=meta)
            else:
                tau = dt / (1.0 - m.beta)
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
            shape = _shape_after(m, shape)
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    names = ["input"] + [str(i) for i in range(len(net))] + ["output"]
    readout = ("mean over steps of the last Linear (logits)" if not isinstance(net[-1], LIF)
               else "output spikes (class = most spikes)")
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])),
                         metadata={"source": "snnbook.interop.to_nir", "dt": dt, "readout": readout})
    return graph


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
            (``v_leak != 0``, ``r dt / tau != 1``, per-neuron parameters that differ, or a reset
            other than by subtraction: a node without ``metadata["reset"] == "subtract"``).

    Example:
        >>> from snnbook.models.surrogate import LIF
        >>> net = from_nir(to_nir(nn.Sequential(nn.Linear(4, 3), LIF(beta=0.9)), (4,)))
        >>> [type(m).__name__ for m in net], round(net[1].beta, 6)
        (['Linear', 'LIF'], 0.9)
    """
    from .models.surrogate import LIF
    nir = _nir()
    fn = "from_nir"
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"{fn}: graph must be a nir.NIRGraph, got {type(graph).__name__}")
    if dt is None:
        dt = float(graph.metadata.get("dt", DT)) if isinstance(graph.metadata, dict) else DT
    dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True)
    succ = dict(graph.edges)
    if len(succ) != len(graph.edges) or "input" not in graph.nodes:
        raise ValueError(f"{fn}: graph must be a chain from 'input' to 'output', got edges {graph.edges}")
    modules, name = [], succ.get("input")
    while name is not None and name != "output":
        node = graph.nodes[name]
        if isinstance(node, nir.Affine):
            m = nn.Linear(node.weight.shape[1], node.weight.shape[0])
            m.weight.data, m.bias.data = torch.tensor(node.weight), torch.tensor(node.bias)
        elif isinstance(node, nir.Linear):
            m = nn.Linear(node.weight.shape[1], node.weight.shape[0], bias=False)
            m.weight.data = torch.tensor(node.weight)
        elif isinstance(node, nir.Conv2d):
            w = torch.tensor(node.weight)
            m = nn.Conv2d(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]),
                          stride=_pair(node.stride), padding=_pair(node.padding),
                          dilation=_pair(node.dilation), groups=int(node.groups))
            m.weight.data, m.bias.data = w, torch.tensor(node.bias)
        elif isinstance(node, nir.AvgPool2d):
            m = nn.AvgPool2d(tuple(int(k) for k in node.kernel_size), tuple(int(s) for s in node.stride),
                             tuple(int(p) for p in node.padding))
        elif isinstance(node, nir.Flatten):
            end = int(node.end_dim)
            m = nn.Flatten(int(node.start_dim) + 1, end if end < 0 else end + 1)
        elif isinstance(node, (nir.LIF, nir.IF)):
            meta = node.metadata or {}
            if meta.get("reset") != "subtract":
                raise ValueError(f"{fn}: node {name!r} resets to v_reset (NIR's LIF); our LIF resets by "
                                 "subtraction, so only nodes with metadata reset='subtract' import exactly")
            thr = np.unique(node.v_threshold)
            if thr.size != 1:
                raise ValueError(f"{fn}: node {name!r} has per-neuron thresholds; expected one value")
            if isinstance(node, nir.IF):
                beta = 1.0
                gain = np.unique(node.r)
            else:
                if not np.allclose(node.v_leak, 0.0):
                    raise ValueError(f"{fn}: node {name!r} has v_leak != 0, which our LIF does not have")
                taus = np.unique(node.tau)
                if taus.size != 1:
                    raise ValueError(f"{fn}: node {name!r} has per-neuron tau; expected one value")
                beta = 1.0 - dt / float(taus[0])
                if "beta" in meta and math.isclose(float(meta["beta"]), beta, abs_tol=1e-6):
                    beta = float(meta["beta"])  # exact (tau is stored in float32)
                gain = np.unique(np.asarray(node.r) * dt / np.asarray(node.tau))
            if gain.size != 1 or not math.isclose(float(gain[0]), 1.0, rel_tol=1e-5):
                raise ValueError(f"{fn}: node {name!r} scales its input by r dt / tau = {gain}; expected 1 "
                                 f"(dt={dt})")
            m = LIF(beta=float(np.clip(beta, 0.0, 1.0)), threshold=float(thr[0]))
        else:
            raise TypeError(f"{fn}: node {name!r} is {type(node).__name__}, which from_nir cannot build")
        modules.append(m)
        name = succ.get(name)
    return nn.Sequential(*modules)


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
    check_tensor(fn, "x", x, ndim=tuple(range(3, 8)), axes="[batch, time, *input_shape]")
    spikes = []
    with torch.no_grad():
        for m in net:
            if isinstance(m, LIF):
                m.reset_state()
                x = m.run(x)[0]
                m.reset_state()
                spikes.append(x)
            else:
                b, t = x.shape[:2]
                y = m(x.reshape(b * t, *x.shape[2:]))
                x = y.reshape(b, t, *y.shape[1:])
    return x, spikes


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
    """
    import contextlib
    import io
    fn = "run_snntorch"
    try:
        import snntorch as snn
        from snntorch.import_nir import import_from_nir
    except ImportError as e:  # pragma: no cover - snntorch is in requirements.txt
        raise ImportError(f"{fn}: needs snnTorch (pip install snntorch)") from e
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"{fn}: graph must be a nir.NIRGraph, got {type(graph).__name__}")
    check_tensor(fn, "x", x, ndim=tuple(range(3, 8)), axes="[batch, time, *input_shape]")
    if reset_mechanism not in (None, "subtract"):
        raise ValueError(f"{fn}: reset_mechanism must be None or 'subtract', got {reset_mechanism!r}")
    with contextlib.redirect_stdout(io.StringIO()):  # the importer prints progress notes
        imported = import_from_nir(graph)
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
