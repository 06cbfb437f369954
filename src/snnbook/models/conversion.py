"""The third road to a trained spiking network: train an ordinary ReLU network, then convert it.

Chapter: The third road: converting a trained ANN (book/conversion.md).

An integrate-and-fire (IF) neuron without leak, with reset by subtraction and threshold 1, driven
by a constant current ``I`` fires ``floor(T I)`` times in ``T`` steps (starting from ``v = 0``):
its rate tends to ``clip(I, 0, 1)``, a ReLU clipped at one spike per step. So a trained ReLU
network becomes a spiking one by replacing each ReLU with IF neurons, once every layer's weights
are scaled so that its activations rarely exceed 1 (weight/threshold balancing, Diehl, Neil,
Binas, Cook, Liu & Pfeiffer 2015, data-based normalisation; the robust percentile of Rueckauer,
Lungu, Hu, Pfeiffer & Liu 2017):

    lambda_l = p-th percentile of the positive activations of ReLU layer l on training digits
    W_l <- W_l * lambda_{l-1} / lambda_l,   b_l <- b_l / lambda_l       (lambda_0 = 1: pixels)

and the last (read-out) layer ``W_L <- W_L * lambda_{L-1}``, ``b_L`` unchanged: its output current
averaged over the steps then approximates the ANN's logits.

Contents:

- :class:`ReLUFC` (784-hidden-10) and :class:`ReLUConv` (the convolutional architecture of
  :class:`~snnbook.models.surrogate.SurrogateConv`) with ReLU in place of the spiking neurons: the
  ANN baselines of the same size as the book's surrogate-gradient networks.
- :func:`activations` and :func:`layer_scales`: the activations of every ReLU layer and their
  percentiles (the balancing scales).
- :class:`IF`: the IF neuron with reset by subtraction; :class:`ConvertedSNN`: the converted network,
  run for any number of time steps (:meth:`ConvertedSNN.simulate` reads the output at several
  step counts in one run); :func:`convert`: ANN + training digits -> :class:`ConvertedSNN`.
- :func:`ann_macs`: multiply-accumulates of one ANN inference, per layer.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .._checks import check_bool, check_int, check_real, check_tensor
from ._devices import check_generator, check_module_device, seeded_generator
from .surrogate import _fanout, images_to_float

__all__ = ["ReLUFC", "ReLUConv", "IF", "ConvertedSNN", "activations", "layer_scales", "convert",
           "balance", "fold_batchnorm", "ann_macs", "CODINGS"]

#: Input codings of :class:`ConvertedSNN`: the pixel as a constant current at every step
#: (``"direct"``), or Bernoulli spikes with probability = pixel at every step (``"poisson"``).
CODINGS = ("direct", "poisson")
_SYNAPTIC = (nn.Linear, nn.Conv2d)
_ALLOWED = (nn.Linear, nn.Conv2d, nn.ReLU, nn.AvgPool2d, nn.BatchNorm2d, nn.Flatten)


class ReLUFC(nn.Module):
    """The fully connected ANN 784 -> hidden -> 10 (ReLU), the twin of
    :class:`~snnbook.models.surrogate.SurrogateFC`.

    ``net = Sequential(Flatten, Linear(784, hidden), ReLU, Linear(hidden, 10))``; PyTorch's default
    initialisation.

    Args:
        hidden: hidden neurons (1000, as the surrogate-gradient network).

    Shape:
        - Input: digits ``[batch, 28, 28]``, ``[batch, 1, 28, 28]`` or ``[batch, 784]``, uint8
          0..255 or float in ``[0, 1]`` (:func:`~snnbook.models.surrogate.images_to_float`).
        - Output: logits ``[batch, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> tuple(ReLUFC(hidden=20)(torch.rand(3, 28, 28)).shape)
        (3, 10)
    """

    def __init__(self, hidden: int = 1000) -> None:
        super().__init__()
        self.hidden = check_int("ReLUFC", "hidden", hidden, minimum=1)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, 10]``."""
        x = images_to_float("ReLUFC.forward", images, "ReLUFC")
        check_module_device("ReLUFC.forward", "images", x, self)
        return self.net(x.to(self.net[1].weight.dtype))


class ReLUConv(nn.Module):
    """The convolutional ANN twin of :class:`~snnbook.models.surrogate.SurrogateConv` (ReLU for LIF).

    ``net = Sequential(Conv2d(1, c1, 3, padding=1), AvgPool2d(2), BatchNorm2d(c1), ReLU,
    Conv2d(c1, c2, 3, padding=1), AvgPool2d(2), BatchNorm2d(c2), ReLU, Flatten,
    Linear(c2 * 7 * 7, hidden), ReLU, Linear(hidden, 10))``.

    Args:
        channels: ``(c1, c2)`` feature maps.
        hidden: neurons of the hidden fully connected layer.
        batchnorm: insert the ``BatchNorm2d`` layers (folded into the convolutions by
            :func:`convert`).

    Shape:
        - Input: as :class:`ReLUFC`. Output: logits ``[batch, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> tuple(ReLUConv(channels=(4, 8), hidden=16).eval()(torch.rand(2, 28, 28)).shape)
        (2, 10)
    """

    def __init__(self, channels: tuple[int, int] = (32, 64), hidden: int = 128,
                 batchnorm: bool = True) -> None:
        super().__init__()
        fn = "ReLUConv"
        if not (isinstance(channels, (tuple, list)) and len(channels) == 2):
            raise TypeError(f"{fn}: channels must be a pair (c1, c2), got {channels!r}")
        c1, c2 = (check_int(fn, "channels", c, minimum=1) for c in channels)
        self.channels = (c1, c2)
        self.hidden = check_int(fn, "hidden", hidden, minimum=1)
        check_bool(fn, "batchnorm", batchnorm)

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.AvgPool2d(2),
                    *([nn.BatchNorm2d(c_out)] if batchnorm else []), nn.ReLU()]

        self.net = nn.Sequential(*block(1, c1), *block(c1, c2), nn.Flatten(),
                                 nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, 10]``."""
        x = images_to_float("ReLUConv.forward", images, "ReLUConv")
        check_module_device("ReLUConv.forward", "images", x, self)
        return self.net(x.to(self.net[0].weight.dtype))


def _sequential(fn: str, ann) -> nn.Sequential:
    """The ``nn.Sequential`` of ``ann`` (``ann`` itself or its ``net``), checked: only the layers
    conversion knows, at least one ReLU, a synaptic layer last."""
    if isinstance(ann, nn.Sequential):
        net = ann
    elif isinstance(ann, nn.Module) and isinstance(getattr(ann, "net", None), nn.Sequential):
        net = ann.net
    else:
        raise TypeError(f"{fn}: ann must be an nn.Sequential or a module with an nn.Sequential 'net' "
                        f"(ReLUFC, ReLUConv), got {type(ann).__name__}")
    for m in net:
        if not isinstance(m, _ALLOWED):
            raise ValueError(f"{fn}: ann may hold only Linear, Conv2d, ReLU, AvgPool2d, BatchNorm2d and "
                             f"Flatten layers, got a {type(m).__name__}")
    if not any(isinstance(m, nn.ReLU) for m in net):
        raise ValueError(f"{fn}: ann must have at least one ReLU (nothing to convert), got {net}")
    if not isinstance(net[-1], _SYNAPTIC):
        raise ValueError(f"{fn}: the last layer of ann must be a Linear or Conv2d (the read-out), got "
                         f"{type(net[-1]).__name__}")
    return net


@torch.no_grad()
def fold_batchnorm(net: nn.Sequential) -> nn.Sequential:
    """A copy of ``net`` with every ``BatchNorm2d`` folded into the ``Conv2d`` before it (running
    statistics; average pooling in between commutes with the per-channel affine map).

    Args:
        net: an ``nn.Sequential``; each ``BatchNorm2d`` must follow a ``Conv2d`` (with only
            ``AvgPool2d`` in between).

    Returns:
        The folded copy (no ``BatchNorm2d``), in eval mode; the same outputs as ``net.eval()``.
    """
    fn = "fold_batchnorm"
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"{fn}: net must be an nn.Sequential, got {type(net).__name__}")
    layers = []
    for m in copy.deepcopy(net).eval():
        if isinstance(m, nn.BatchNorm2d):
            k = len(layers) - 1
            while k > 0 and isinstance(layers[k], nn.AvgPool2d):
                k -= 1
            if k < 0 or not isinstance(layers[k], nn.Conv2d):
                raise ValueError(f"{fn}: a BatchNorm2d must follow a Conv2d (average pooling only in "
                                 f"between), got it after {type(layers[k]).__name__ if k >= 0 else 'nothing'}")
            conv = layers[k]
            scale = m.weight / torch.sqrt(m.running_var + m.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(m.running_mean)
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias = nn.Parameter((bias - m.running_mean) * scale + m.bias)
            continue
        layers.append(m)
    return nn.Sequential(*layers).eval()


@torch.no_grad()
def activations(ann, images: torch.Tensor, batch_size: int = 1000) -> list[torch.Tensor]:
    """The outputs of every ReLU of ``ann`` (in eval mode, batch norm folded) on ``images``.

    Args:
        ann: a :class:`ReLUFC`, :class:`ReLUConv` or an ``nn.Sequential`` of the layers they use.
        images: digits (uint8 0..255 or float in ``[0, 1]``), ``[batch, 28, 28]`` (or
            ``[batch, 1, 28, 28]``, ``[batch, 784]``).
        batch_size: digits per forward pass.

    Returns:
        One tensor per ReLU layer, ``[batch, *layer shape]`` (float32, on the CPU).
    """
    fn = "activations"
    net = fold_batchnorm(_sequential(fn, ann))
    x = images_to_float(fn, images, "the ANN")
    batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
    check_module_device(fn, "images", x, net)
    x = x.to(next(net.parameters()).dtype)
    out: list[list[torch.Tensor]] = []
    for lo in range(0, x.shape[0], batch_size):
        h, k = x[lo:lo + batch_size], 0
        for m in net:
            h = m(h)
            if isinstance(m, nn.ReLU):
                if len(out) <= k:
                    out.append([])
                out[k].append(h.float().cpu())
                k += 1
    return [torch.cat(a) for a in out]


def _percentile(values: torch.Tensor, percentile: float) -> float:
    """The ``percentile`` (0..100] of the positive entries of ``values`` (linear interpolation
    between order statistics, numpy's default); 1.0 when no entry is positive."""
    v = values.reshape(-1)
    v = v[v > 0].double()
    if v.numel() == 0:
        return 1.0
    if percentile >= 100.0:
        return float(v.max())
    v, _ = torch.sort(v)
    pos = percentile / 100.0 * (v.numel() - 1)
    lo = int(pos)
    hi = min(lo + 1, v.numel() - 1)
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def layer_scales(ann, images: torch.Tensor, percentile: float = 99.9, batch_size: int = 1000) -> list[float]:
    """The balancing scale ``lambda_l`` of every ReLU layer: the ``percentile`` of its positive
    activations on ``images`` (100: the maximum, Diehl et al. 2015; 99.9: Rueckauer et al. 2017).

    Pass training digits, never test digits: the scales are part of the converted network.

    Args:
        ann: the ANN (as :func:`activations`).
        images: training digits ``[batch, 28, 28]`` (uint8 or float in ``[0, 1]``).
        percentile: in ``(0, 100]``.
        batch_size: digits per forward pass.

    Returns:
        ``[lambda_1, ..., lambda_L]``, one float per ReLU layer (1.0 for a layer that is never
        active).

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.ReLU(), nn.Linear(3, 10))
        >>> len(layer_scales(net, torch.rand(5, 28, 28), 100.0))
        1
    """
    fn = "layer_scales"
    percentile = check_real(fn, "percentile", percentile, minimum=0.0, maximum=100.0, strict_min=True)
    return [_percentile(a, percentile) for a in activations(ann, images, batch_size)]


@torch.no_grad()
def balance(net: nn.Sequential, scales) -> nn.Sequential:
    """Weight/threshold balancing: a copy of ``net`` (batch norm folded) with the synaptic layer
    before ReLU layer ``l`` scaled ``W * lambda_{l-1} / lambda_l``, ``b / lambda_l``, and the
    read-out layer ``W * lambda_L`` (``lambda_0 = 1``), so that activations of 1 mean a rate of one
    spike per step.

    Args:
        net: the ANN's ``nn.Sequential`` (as :func:`activations`).
        scales: one positive number per ReLU layer (:func:`layer_scales`).

    Returns:
        The balanced copy (ReLUs kept): the same decisions as ``net``, activations divided by
        ``lambda_l``.
    """
    fn = "balance"
    net = fold_batchnorm(_sequential(fn, net))
    n_relu = sum(isinstance(m, nn.ReLU) for m in net)
    if not isinstance(scales, (list, tuple)) or len(scales) != n_relu:
        raise ValueError(f"{fn}: scales must be a list of {n_relu} numbers (one per ReLU layer), got "
                         f"{scales!r}")
    lam = [1.0] + [check_real(fn, "scales", s, minimum=0.0, strict_min=True) for s in scales]
    k, pending = 0, None
    for m in net:
        if isinstance(m, _SYNAPTIC):
            pending = m
        elif isinstance(m, nn.ReLU):
            pending.weight.mul_(lam[k] / lam[k + 1])
            if pending.bias is not None:
                pending.bias.div_(lam[k + 1])
            k, pending = k + 1, None
    net[-1].weight.mul_(lam[k])
    return net


class IF(nn.Module):
    """Integrate-and-fire neurons without leak, with reset by subtraction.

    Per step: ``v <- v + I``; ``s = 1 if v >= threshold else 0``; ``v <- v - threshold * s``,
    starting from ``v = v_init * threshold``. For a constant current ``I`` and ``v_init = 0`` the
    neuron fires ``floor(T I / threshold)`` times in ``T`` steps (``I`` in ``[0, threshold]``).

    Args:
        threshold: firing threshold (> 0).
        v_init: initial potential as a fraction of the threshold, in ``[0, 1)``.

    Shape:
        - :meth:`step`: currents ``[batch, *]`` -> spikes ``[batch, *]`` (0/1, the currents' dtype).

    Example:
        >>> neuron = IF()
        >>> [int(neuron.step(torch.tensor([0.4]))) for _ in range(5)]
        [0, 0, 1, 0, 1]
    """

    def __init__(self, threshold: float = 1.0, v_init: float = 0.0) -> None:
        super().__init__()
        self.threshold = check_real("IF", "threshold", threshold, minimum=0.0, strict_min=True)
        self.v_init = check_real("IF", "v_init", v_init, minimum=0.0, maximum=1.0, strict_max=True)
        self.v: torch.Tensor | None = None

    def reset_state(self) -> None:
        """Forget the potential: the next step starts from ``v_init * threshold``."""
        self.v = None

    def step(self, current: torch.Tensor) -> torch.Tensor:
        """One step: integrate ``current``, fire, subtract the threshold where a spike was fired."""
        if self.v is None:
            self.v = torch.full_like(current, self.v_init * self.threshold)
        self.v = self.v + current
        spikes = (self.v >= self.threshold).to(current.dtype)
        self.v = self.v - self.threshold * spikes
        return spikes

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:g}, v_init={self.v_init:g}, reset=subtract"


class ConvertedSNN(nn.Module):
    """A ReLU network converted to IF neurons (made by :func:`convert`).

    ``net`` holds the balanced synaptic layers with an :class:`IF` layer in place of every ReLU;
    the last synaptic layer is the read-out, whose output current averaged over the steps are the
    logits. With ``"direct"`` coding the layers before the first IF layer receive the same analog
    image at every step, so they run once per digit (their multiply-accumulates are counted as
    MACs); with ``"poisson"`` coding they receive Bernoulli spikes (probability = pixel) at every
    step, counted as synaptic operations.

    Args:
        net: the balanced ``nn.Sequential`` with :class:`IF` layers.
        coding: ``"direct"`` or ``"poisson"`` (:data:`CODINGS`).
        scales: the balancing scales used (recorded).
        percentile: the percentile they came from (recorded).
        eval_seed: seed of the Poisson input when no generator is given.

    Shape:
        - Input: digits ``[batch, 28, 28]`` (or ``[batch, 1, 28, 28]``, ``[batch, 784]``), uint8 or
          float in ``[0, 1]``.
        - Output of ``forward(images, time_steps)``: logits ``[batch, 10]``.
    """

    def __init__(self, net: nn.Sequential, coding: str = "direct", scales=None, percentile=None,
                 eval_seed: int = 0) -> None:
        super().__init__()
        fn = "ConvertedSNN"
        if not isinstance(net, nn.Sequential) or not any(isinstance(m, IF) for m in net):
            raise TypeError(f"{fn}: net must be an nn.Sequential with IF layers (use convert), got "
                            f"{type(net).__name__}")
        if coding not in CODINGS:
            raise ValueError(f"{fn}: coding must be one of {CODINGS}, got {coding!r}")
        self.net, self.coding = net, coding
        self.scales = None if scales is None else [float(s) for s in scales]
        self.percentile = percentile
        self.eval_seed = check_int(fn, "eval_seed", eval_seed, minimum=0)
        self.eval()

    def reset_state(self) -> None:
        """Reset every :class:`IF` layer."""
        for m in self.net:
            if isinstance(m, IF):
                m.reset_state()

    @torch.no_grad()
    def simulate(self, images: torch.Tensor, time_steps: int, read_at=None,
                 generator: torch.Generator | None = None) -> dict:
        """Run the network for ``time_steps`` steps and read it out after each step count of
        ``read_at``.

        Args:
            images: digits ``[batch, 28, 28]`` (uint8 or float in ``[0, 1]``).
            time_steps: steps to simulate (>= 1).
            read_at: increasing step counts in ``[1, time_steps]`` at which to read the logits
                (default: ``[time_steps]``).
            generator: source of the Poisson input (default in eval mode: seeded ``eval_seed``).

        Returns:
            ``{"read_at": [T...], "logits": [len(read_at), batch, 10]`` (mean output current over
            the first T steps), ``"spikes"``: ``{"if1": [len(read_at), batch], ...}`` (spikes of
            each IF layer up to T), ``"synops"``: the same shape (spikes x fan-out into the next
            synaptic layer; for Poisson input also ``"input"``), ``"input_macs"``: ``[batch]``
            (direct coding: multiply-accumulates of the layers before the first IF layer, once
            per digit; 0 for Poisson input), ``"rates"``: per IF layer its spike counts / T at the
            last step, ``[batch, *layer shape]``}.
        """
        fn = "ConvertedSNN.simulate"
        x = images_to_float(fn, images, "ConvertedSNN")
        time_steps = check_int(fn, "time_steps", time_steps, minimum=1)
        read_at = [time_steps] if read_at is None else list(read_at)
        if (not read_at or any(isinstance(t, bool) or not isinstance(t, int) for t in read_at)
                or read_at != sorted(set(read_at)) or read_at[0] < 1 or read_at[-1] > time_steps):
            raise ValueError(f"{fn}: read_at must be increasing ints in [1, time_steps={time_steps}], got "
                             f"{read_at!r}")
        check_generator(fn, "generator", generator, x, "images")
        check_module_device(fn, "images", x, self)
        x = x.to(next(self.net.parameters()).dtype)
        if generator is None and self.coding == "poisson":
            generator = seeded_generator(self.eval_seed, x.device)
        first_if = next(i for i, m in enumerate(self.net) if isinstance(m, IF))
        prefix, rest = self.net[:first_if], self.net[first_if:]
        b = x.shape[0]
        names = [f"if{k + 1}" for k in range(sum(isinstance(m, IF) for m in self.net))]
        fanouts: dict[str, torch.Tensor] = {}
        counts = {n: None for n in names}
        spikes_total = {n: torch.zeros(b, dtype=torch.float64, device=x.device) for n in names}
        synops_total = {n: torch.zeros(b, dtype=torch.float64, device=x.device) for n in names}
        input_synops = torch.zeros(b, dtype=torch.float64, device=x.device)
        syn0 = next(m for m in prefix if isinstance(m, _SYNAPTIC))
        shape0 = nn.Flatten()(x).shape[1:] if isinstance(syn0, nn.Linear) else x.shape[1:]
        fan0 = _fanout(syn0, tuple(shape0), x.device)
        if self.coding == "direct":
            constant = prefix(x)
            input_macs = torch.full((b,), float(fan0.sum()), dtype=torch.float64, device=x.device)
        else:
            input_macs = torch.zeros(b, dtype=torch.float64, device=x.device)
        out_sum = None
        logits, spikes_at, synops_at = [], {n: [] for n in names}, {n: [] for n in names}
        self.reset_state()
        for t in range(1, time_steps + 1):
            if self.coding == "direct":
                h = constant
            else:
                s_in = (torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) < x).to(x.dtype)
                flat = s_in.reshape(b, -1) if isinstance(syn0, nn.Linear) else s_in
                input_synops += (flat.reshape(b, *fan0.shape) * fan0).reshape(b, -1).sum(1).double()
                h = prefix(s_in)
            k, pending = 0, None
            for m in rest:
                if isinstance(m, IF):
                    h = m.step(h)
                    pending = names[k]
                    counts[pending] = h.clone() if counts[pending] is None else counts[pending] + h
                    spikes_total[pending] += h.reshape(b, -1).sum(1).double()
                    k += 1
                    continue
                if isinstance(m, _SYNAPTIC) and pending is not None:
                    if pending not in fanouts:
                        fanouts[pending] = _fanout(m, tuple(h.shape[1:]), h.device)
                    synops_total[pending] += (h * fanouts[pending]).reshape(b, -1).sum(1).double()
                    pending = None
                h = m(h)
            out_sum = h.double() if out_sum is None else out_sum + h.double()
            if t in read_at:
                logits.append((out_sum / t).to(x.dtype))
                for n in names:
                    spikes_at[n].append(spikes_total[n].clone())
                    synops_at[n].append(synops_total[n].clone())
        self.reset_state()
        synops = {n: torch.stack(v) for n, v in synops_at.items()}
        if self.coding == "poisson":
            synops = {"input": input_synops.unsqueeze(0).expand(len(read_at), b).clone(), **synops}
        return {"read_at": read_at, "logits": torch.stack(logits),
                "spikes": {n: torch.stack(v) for n, v in spikes_at.items()}, "synops": synops,
                "input_macs": input_macs, "rates": [c / time_steps for c in counts.values()]}

    def forward(self, images: torch.Tensor, time_steps: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits ``[batch, 10]``: the read-out's current averaged over ``time_steps`` steps."""
        return self.simulate(images, time_steps, generator=generator)["logits"][-1]

    def train(self, mode: bool = True):
        """A converted network is not trained: it stays in eval mode (``train(True)`` raises)."""
        if not isinstance(mode, bool):
            raise TypeError(f"ConvertedSNN.train: mode must be a bool, got {mode!r}")
        if mode:
            raise ValueError("ConvertedSNN.train: a converted network is frozen (it is made from a "
                             "trained ANN by convert); train the ANN and convert it again")
        return super().train(False)

    def extra_repr(self) -> str:
        return f"coding={self.coding}, percentile={self.percentile}"


def convert(ann, images: torch.Tensor, percentile: float = 99.9, coding: str = "direct",
            v_init: float = 0.0, batch_size: int = 1000, eval_seed: int = 0) -> ConvertedSNN:
    """Convert a trained ReLU network into a spiking one (Diehl et al. 2015; Rueckauer et al. 2017).

    Folds batch norm, computes the balancing scales on ``images`` (:func:`layer_scales`), scales
    the weights (:func:`balance`) and puts :class:`IF` neurons (threshold 1, reset by subtraction)
    in place of every ReLU. The ANN is not changed; its parameters' gradients are detached.

    Args:
        ann: a trained :class:`ReLUFC`, :class:`ReLUConv` or ``nn.Sequential`` of ``Linear``,
            ``Conv2d``, ``ReLU``, ``AvgPool2d``, ``BatchNorm2d``, ``Flatten`` ending in a synaptic
            layer.
        images: TRAINING digits for the scales ``[batch, 28, 28]`` (uint8 or float in ``[0, 1]``).
        percentile: percentile of the positive activations that becomes 1 (``(0, 100]``).
        coding: input coding, ``"direct"`` or ``"poisson"``.
        v_init: initial potential of the IF neurons, a fraction of the threshold in ``[0, 1)``.
        batch_size: digits per forward pass while measuring the activations.
        eval_seed: seed of the Poisson input when no generator is given.

    Returns:
        A :class:`ConvertedSNN` in eval mode; ``snn(images, time_steps)`` gives logits.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> snn = convert(ReLUFC(hidden=8), torch.rand(20, 28, 28), percentile=100.0)
        >>> tuple(snn(torch.rand(2, 28, 28), time_steps=5).shape)
        (2, 10)
    """
    fn = "convert"
    net = _sequential(fn, ann)
    check_tensor(fn, "images", images, ndim=(2, 3, 4), axes="[batch, 28, 28]", finite=False)
    if coding not in CODINGS:
        raise ValueError(f"{fn}: coding must be one of {CODINGS}, got {coding!r}")
    v_init = check_real(fn, "v_init", v_init, minimum=0.0, maximum=1.0, strict_max=True)
    scales = layer_scales(net, images, percentile, batch_size)
    balanced = balance(net, scales)
    layers = [IF(1.0, v_init) if isinstance(m, nn.ReLU) else m for m in balanced]
    for p in balanced.parameters():
        p.requires_grad_(False)
    return ConvertedSNN(nn.Sequential(*layers), coding=coding, scales=scales,
                        percentile=float(percentile), eval_seed=eval_seed)


def ann_macs(ann, input_shape=(1, 28, 28)) -> dict:
    """Multiply-accumulates of one inference of ``ann``, per synaptic layer (every input of a
    ``Linear``/``Conv2d`` times its fan-out; batch norm folded, pooling and ReLU not counted).

    Args:
        ann: as :func:`activations`.
        input_shape: shape of one input (no batch axis).

    Returns:
        ``{"layer1": ..., "layer2": ..., "total": ...}`` (floats).

    Example:
        >>> ann_macs(ReLUFC(hidden=1000))["total"]
        794000.0
    """
    fn = "ann_macs"
    net = fold_batchnorm(_sequential(fn, ann))
    x = torch.zeros(1, *input_shape, dtype=next(net.parameters()).dtype,
                    device=next(net.parameters()).device)
    out, k = {}, 0
    with torch.no_grad():
        for m in net:
            if isinstance(m, _SYNAPTIC):
                k += 1
                fan = _fanout(m, tuple(x.shape[1:]), x.device)
                out[f"layer{k}"] = float(fan.sum())
            x = m(x)
    out["total"] = sum(out.values())
    return out
