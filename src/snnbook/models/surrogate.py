"""Spiking networks trained by backpropagation through time with surrogate gradients.

Chapter: Learning by gradient (book/gradient.md).

Three surrogate spike functions (each forward a Heaviside ``x > 0``, each backward a stated smooth
derivative), a leaky integrate-and-fire layer :class:`LIF` with reset by subtraction (snnTorch's
``Leaky``), and two networks: :class:`SurrogateFC` (snnTorch tutorial 5: 784-1000-10, beta 0.95,
25 steps) and :class:`SurrogateConv` (a small convolutional LIF network for MNIST).

Interface (for export, e.g. to NIR, the Neuromorphic Intermediate Representation)
---------------------------------------------------------------------------------
Both networks hold their layers, in order, in an ``nn.Sequential`` named ``net`` that contains only
``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm2d`` (SurrogateConv before folding only),
``nn.AvgPool2d``, ``nn.Flatten`` and :class:`LIF` modules:

- :class:`LIF` has plain float attributes ``beta`` (membrane decay per step), ``threshold`` and
  ``reset = "subtract"``; its discrete-time dynamics per step ``t`` (``I`` the input current, i.e.
  the previous module's output at step ``t``) are::

      v[t] = beta * v[t-1] + I[t] - threshold * s[t-1]        (v[-1] = 0, s[-1] = 0)
      s[t] = H(v[t] - threshold)                               (H(x) = 1 if x > 0 else 0)

  i.e. snnTorch's ``Leaky(beta, threshold, reset_mechanism="subtract")``; no bias current, no
  refractory period, no synaptic current (NIR: an LIF with ``v_leak = 0``, ``r = 1`` and
  ``tau = dt / (1 - beta)``, followed by the subtractive reset, or a CubaLIF without synapse).
- :meth:`SurrogateConv.fold_batchnorm` returns a copy whose ``net`` has every ``BatchNorm2d``
  folded into the ``Conv2d`` before it (an ``AvgPool2d`` sits between them; it commutes with the
  fold), with identical outputs in eval mode (``tests/test_gradient.py``):
  export that copy.
- Stateless modules are applied at every step to that step's input (the network is feedforward, so
  the library evaluates them layer by layer on all steps at once, which gives the same numbers).
- Input: :class:`SurrogateConv` takes the analog image (direct coding, pixels in ``[0, 1]``) as the
  same input current at each of ``time_steps`` steps; :class:`SurrogateFC` takes Bernoulli rate-coded
  spikes (``p = pixel``) by default (``coding="direct"``: the analog image at every step).
- Output: :class:`SurrogateConv`'s last module is an ``nn.Linear`` (no neuron after it): the logits
  are its outputs averaged over the steps (a non-leaky, non-spiking integrator read at the end,
  divided by ``time_steps``). :class:`SurrogateFC` ends in a :class:`LIF`; its class is the output
  neuron with most spikes, and its loss reads the membrane potentials of that layer.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from .._checks import check_bool, check_int, check_pixels, check_real, check_tensor
from ..coding import poisson_spikes
from ..neurons import ArctanSpike, FastSigmoidSpike, SigmoidSpike
from ._devices import check_generator, check_module_device, seeded_generator

__all__ = ["SURROGATES", "spike_function", "surrogate_derivative", "LIF", "SurrogateFC",
           "SurrogateConv", "FC_BETA", "FC_TIME_STEPS", "CONV_BETA", "CONV_TIME_STEPS", "images_to_float"]

#: Membrane decay per step of the fully connected network (snnTorch tutorial 5).
FC_BETA = 0.95
#: Time steps of the fully connected network (snnTorch tutorial 5).
FC_TIME_STEPS = 25
#: Membrane decay per step of the convolutional network (our choice).
CONV_BETA = 0.5
#: Time steps of the convolutional network (our choice: accuracy per CPU-second).
CONV_TIME_STEPS = 4


#: The surrogates by name: ``(autograd Function, default shape parameter, derivative formula)``.
SURROGATES = {
    "fast_sigmoid": (FastSigmoidSpike, 25.0, "1 / (slope |x| + 1)^2"),
    "arctan": (ArctanSpike, 2.0, "(alpha / 2) / (1 + (pi / 2 * alpha * x)^2)"),
    "sigmoid": (SigmoidSpike, 25.0, "slope * sigmoid(slope x) * (1 - sigmoid(slope x))"),
}


def _check_surrogate(fn: str, surrogate) -> str:
    if not isinstance(surrogate, str) or surrogate not in SURROGATES:
        raise ValueError(f"{fn}: surrogate must be one of {sorted(SURROGATES)}, got {surrogate!r}")
    return surrogate


def _surrogate_and_scale(fn: str, surrogate, scale):
    """The autograd Function of ``surrogate`` and its shape parameter (``None``: the default)."""
    function, default, _ = SURROGATES[_check_surrogate(fn, surrogate)]
    k = default if scale is None else check_real(fn, "scale", scale, minimum=0.0, strict_min=True)
    return function, k


def spike_function(surrogate: str = "fast_sigmoid", scale: float | None = None):
    """A spike function ``spikes = f(v - threshold)``: Heaviside forward, the named surrogate backward.

    Args:
        surrogate: ``"fast_sigmoid"`` (slope, default 25), ``"arctan"`` (alpha, default 2) or
            ``"sigmoid"`` (slope, default 25); see :data:`SURROGATES` for each derivative.
        scale: the surrogate's shape parameter (slope or alpha, > 0); ``None``: its default.

    Returns:
        A callable mapping a tensor to 0/1 spikes of the same shape and dtype.

    Example:
        >>> x = torch.tensor([-0.1, 0.0, 0.2], requires_grad=True)
        >>> spike_function("fast_sigmoid", 10.0)(x).sum().backward()
        >>> x.grad.tolist()  # 1 / (10 |x| + 1)^2
        [0.25, 1.0, 0.1111111119389534]
    """
    fn = "spike_function"
    function, scale = _surrogate_and_scale(fn, surrogate, scale)
    return lambda x: function.apply(x, scale)


def surrogate_derivative(surrogate: str, x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """The closed-form derivative each surrogate's backward applies (for tests and plots).

    Args:
        surrogate: a name of :data:`SURROGATES`.
        x: points ``v - threshold``.
        scale: shape parameter (``None``: the default).

    Shape:
        - Input: any. Output: same (elementwise).

    Returns:
        ``d spikes / d x`` as the backward pass uses it.
    """
    fn = "surrogate_derivative"
    _, k = _surrogate_and_scale(fn, surrogate, scale)
    check_tensor(fn, "x", x)
    if not x.is_floating_point():
        raise TypeError(f"{fn}: x must be a floating-point tensor (points v - threshold), got {x.dtype}")
    if surrogate == "fast_sigmoid":
        return 1.0 / (k * x.abs() + 1.0) ** 2
    if surrogate == "arctan":
        return (k / 2) / (1 + (math.pi / 2 * k * x) ** 2)
    s = torch.sigmoid(k * x)
    return k * s * (1 - s)


def surrogate_primitive(surrogate: str, x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """A smooth function whose derivative is the surrogate's (``gradcheck`` compares against it).

    fast sigmoid: ``x / (1 + slope |x|)``; arctan: ``arctan(pi / 2 * alpha * x) / pi``; sigmoid:
    ``sigmoid(slope x)``.

    Args:
        surrogate: a name of :data:`SURROGATES`.
        x: points ``v - threshold``.
        scale: shape parameter (``None``: the default).

    Shape:
        - Input: any. Output: same (elementwise).

    Returns:
        The primitive at ``x``.
    """
    fn = "surrogate_primitive"
    _, k = _surrogate_and_scale(fn, surrogate, scale)
    check_tensor(fn, "x", x)
    if not x.is_floating_point():
        raise TypeError(f"{fn}: x must be a floating-point tensor (points v - threshold), got {x.dtype}")
    if surrogate == "fast_sigmoid":
        return x / (1 + k * x.abs())
    if surrogate == "arctan":
        return torch.atan(math.pi / 2 * k * x) / math.pi
    return torch.sigmoid(k * x)


#: The image shapes the MNIST networks take (after the batch axis).
_IMAGE_SHAPES = ((28, 28), (1, 28, 28), (784,))


def images_to_float(fn: str, images, network: str | None = None) -> torch.Tensor:
    """MNIST digits as float32 in ``[0, 1]``: uint8 (0..255) is divided by 255, floats are checked.

    The convention of the gradient networks (:class:`SurrogateFC`, :class:`SurrogateConv`,
    :class:`~snnbook.models.chevalier.ChevalierSpiking`, ...): floating-point pixels in ``[0, 1]``
    (torchvision's ``ToTensor``), or ``uint8`` 0..255, divided by 255 here. Floats outside
    ``[0, 1]`` (e.g. 0..255 floats), NaN, other integer dtypes and other sizes are refused.

    Args:
        fn: the calling function's name (for error messages).
        images: uint8 or floating-point images ``[batch, 28, 28]``, ``[batch, 1, 28, 28]`` or
            ``[batch, 784]``.
        network: the network named in a convention error (default: the class in ``fn``).

    Returns:
        float32 ``[batch, 1, 28, 28]`` in ``[0, 1]``.
    """
    check_tensor(fn, "images", images, ndim=(2, 3, 4),
                 axes="[batch, 28, 28], [batch, 1, 28, 28] or [batch, 784]", finite=False)
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"{fn}: images must be uint8 (0..255) or floating point in [0, 1], "
                        f"got {images.dtype}")
    if tuple(images.shape[1:]) not in _IMAGE_SHAPES:
        raise ValueError(f"{fn}: images must be 28 x 28 digits, [batch, 28, 28], [batch, 1, 28, 28] or "
                         f"[batch, 784] (784 pixels per digit), got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        x = images.float() / 255.0
    else:
        check_pixels(fn, "images", images, 1, network or fn.split(".")[0])
        x = images.float()
    return x.reshape(x.shape[0], 1, 28, 28)


def _to_model_dtype(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """``x`` in the floating-point dtype of ``module``'s parameters (float32 input of a model
    converted with ``.double()``, say); unchanged where they agree."""
    first = next(module.parameters(), None)
    if first is not None and first.is_floating_point() and x.dtype != first.dtype:
        return x.to(first.dtype)
    return x


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons with reset by subtraction, trained through a surrogate.

    Per step ``t``: ``v[t] = beta v[t-1] + I[t] - threshold s[t-1]``, ``s[t] = H(v[t] - threshold)``
    (snnTorch's ``Leaky``; the reset term is detached from the graph, as snnTorch does by default).
    The state ``(v, s)`` is kept between calls until :meth:`reset_state`; the networks reset it at
    the start of each forward. The kept state follows the module's device and dtype (``.to``,
    ``.cuda``, ``.double``, ...); currents on another device than a kept state raise a ``ValueError``.

    Args:
        beta: membrane decay per step, in ``[0, 1]``.
        threshold: firing threshold (> 0).
        surrogate: name of the surrogate derivative (:data:`SURROGATES`).
        scale: its shape parameter (``None``: default).
        detach_reset: detach the reset term from the graph (snnTorch's default).

    Shape:
        - Input: ``[batch, time, *]`` input currents.
        - Output: ``[batch, time, *]`` spikes (0/1, not cumulative).

    Example:
        >>> lif = LIF(beta=0.5, threshold=1.0)
        >>> lif(torch.tensor([[[0.6], [0.6], [0.6], [0.6]]]))[0, :, 0].tolist()
        [0.0, 0.0, 1.0, 0.0]
    """

    reset = "subtract"

    def __init__(self, beta: float, threshold: float = 1.0, surrogate: str = "fast_sigmoid",
                 scale: float | None = None, detach_reset: bool = True) -> None:
        super().__init__()
        fn = "LIF"
        self.beta = check_real(fn, "beta", beta, minimum=0.0, maximum=1.0)
        self.threshold = check_real(fn, "threshold", threshold, minimum=0.0, strict_min=True)
        self.surrogate = _check_surrogate(fn, surrogate)
        self.scale = (SURROGATES[surrogate][1] if scale is None
                      else check_real(fn, "scale", scale, minimum=0.0, strict_min=True))
        self.detach_reset = check_bool(fn, "detach_reset", detach_reset)
        self.spike_fn = spike_function(surrogate, self.scale)
        self.v: torch.Tensor | None = None
        self.s: torch.Tensor | None = None

    def reset_state(self) -> None:
        """Forget the state: the next call starts from ``v = 0``, no spike."""
        self.v, self.s = None, None

    def run(self, currents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run over ``currents`` ``[batch, time, *]`` from the kept state.

        Returns:
            ``(spikes, potentials)``, both ``[batch, time, *]`` (potentials after integration, before
            the reset of the next step).
        """
        check_tensor("LIF.run", "currents", currents, ndim=tuple(range(2, 8)), axes="[batch, time, *]",
                     finite=False)
        if self.v is not None and self.v.device != currents.device:
            raise ValueError(f"LIF.run: currents must be on the device of the kept state {self.v.device}, got "
                             f"currents on {currents.device}; call reset_state() first or move the module "
                             "(the state follows .to())")
        steps = currents.unbind(1)  # (one backward node for all steps, unlike currents[:, t])
        v = self.v if self.v is not None else torch.zeros_like(steps[0])
        s = self.s if self.s is not None else torch.zeros_like(steps[0])
        spikes, potentials = [], []
        for current in steps:
            reset = s.detach() if self.detach_reset else s
            v = self.beta * v + current - self.threshold * reset
            s = self.spike_fn(v - self.threshold)
            spikes.append(s)
            potentials.append(v)
        self.v, self.s = v, s
        return torch.stack(spikes, 1), torch.stack(potentials, 1)

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        """Spikes ``[batch, time, *]`` of :meth:`run`."""
        return self.run(currents)[0]

    def _apply(self, fn, *args, **kwargs):
        # .to / .cuda / .double ... convert the kept state too (it is no parameter or buffer:
        # it holds the graph of the last steps, so it is converted like any tensor, differentiably)
        super()._apply(fn, *args, **kwargs)
        if self.v is not None:
            self.v = fn(self.v)
        if self.s is not None:
            self.s = fn(self.s)
        return self

    def extra_repr(self) -> str:
        return (f"beta={self.beta:g}, threshold={self.threshold:g}, reset=subtract, "
                f"surrogate={self.surrogate}({self.scale:g})")


def _per_step(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a stateless module to every step of ``x`` ``[batch, time, *]`` at once."""
    b, t = x.shape[:2]
    y = module(x.reshape(b * t, *x.shape[2:]))
    return y.reshape(b, t, *y.shape[1:])


def _fanout(module: nn.Module, shape: tuple[int, ...], device=None) -> torch.Tensor:
    """Synapses leaving each input of ``module`` (``nn.Linear`` or ``nn.Conv2d``); ``shape``: one
    input's shape (no batch); ``device``: where to count them (default: the CPU)."""
    if isinstance(module, nn.Linear):
        return torch.full(shape, float(module.out_features), device=device)
    ones_out = torch.ones(1, module.out_channels, *_conv_out(module, shape[1:]), device=device)
    ones_w = torch.ones(module.out_channels, module.in_channels // module.groups, *module.kernel_size,
                        device=device)
    counts = nn.functional.conv_transpose2d(ones_out, ones_w, stride=module.stride, padding=module.padding,
                                            dilation=module.dilation, groups=module.groups)
    return counts[0, :, :shape[1], :shape[2]]


def _conv_out(m: nn.Conv2d, hw: tuple[int, int]) -> tuple[int, int]:
    return tuple((hw[i] + 2 * m.padding[i] - m.dilation[i] * (m.kernel_size[i] - 1) - 1) // m.stride[i] + 1
                 for i in range(2))


class _SpikingSequential(nn.Module):
    """Shared forward of the networks: walk ``self.net`` layer by layer over all time steps."""

    net: nn.Sequential

    def reset_state(self) -> None:
        """Reset every :class:`LIF` of ``net``."""
        for m in self.net:
            if isinstance(m, LIF):
                m.reset_state()

    def _run(self, x: torch.Tensor, constant: bool) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """``x``: ``[batch, *]`` (``constant``: the same input at every step) or ``[batch, time, *]``.

        Returns ``(output, last potentials, record)``: the last module's output ``[batch, time, *]``,
        the potentials of the last LIF, and per LIF layer its spikes per digit ``[batch]`` plus the
        synaptic operations its spikes cause in the next synaptic layer, per digit ``[batch]``.
        """
        self.reset_state()
        record, potentials, pending = {}, None, None
        for i, m in enumerate(self.net):
            if isinstance(m, LIF):
                if constant:  # the prefix before the first neuron ran once; repeat its output in time
                    x = x.unsqueeze(1).expand(x.shape[0], self.time_steps, *x.shape[1:])
                    constant = False
                x, potentials = m.run(x)
                pending = f"lif{sum(isinstance(n, LIF) for n in self.net[:i + 1])}"
                record[pending] = {"spikes": x.detach().flatten(2).sum((1, 2))}
                continue
            if isinstance(m, (nn.Linear, nn.Conv2d)) and pending is not None:
                fanout = _fanout(m, tuple(x.shape[2:]), x.device)
                record[pending]["synops"] = (x.detach() * fanout).flatten(1).sum(1)
                pending = None
            x = m(x) if constant else _per_step(m, x)
        self.reset_state()  # keep no state (nor graph) between calls: forward has no side effects
        return x, potentials, record


class SurrogateFC(_SpikingSequential):
    """Fully connected LIF network 784 -> hidden -> 10 of snnTorch's tutorial 5.

    ``net = Sequential(Linear(784, hidden), LIF, Linear(hidden, 10), LIF)``; default PyTorch init.

    Args:
        hidden: hidden neurons (1000 in the tutorial).
        beta: membrane decay per step (0.95).
        time_steps: steps per digit (25).
        coding: ``"rate"``: Bernoulli spikes with probability = pixel at each step;
            ``"direct"``: the analog image at every step (what the tutorial's code feeds).
        surrogate: surrogate derivative name (``"fast_sigmoid"``, slope 25; the tutorial's
            ``snn.Leaky`` uses snnTorch's default, ``"arctan"`` with alpha 2).
        eval_seed: seed of the input spikes in eval mode when no generator is given (so that eval
            is deterministic).

    Devices: the network computes on the device of its parameters (``net.to(device)``); the images
    must be on it (else ``ValueError``), the input spikes are drawn there: from ``generator``,
    which must be on the images' device, else in eval mode from a generator created on that device
    and seeded ``eval_seed``, else from that device's global generator (on the CPU the same draws
    as before devices were supported).

    Images: pixel values as floats in ``[0, 1]`` (torchvision's ``ToTensor``) or as ``uint8``
    0..255 (divided by 255: what :func:`snnbook.data.mnist_tensors` returns), 28 x 28 digits
    (:func:`images_to_float`). Floats outside ``[0, 1]`` (0..255 floats: divide by 255 or pass
    uint8), NaN and other sizes raise ``ValueError``.

    Shape:
        - Input: ``[batch, 28, 28]`` (uint8 0..255 or float in [0, 1]), ``[batch, 1, 28, 28]`` or
          ``[batch, 784]``.
        - Output: ``(spikes, potentials)`` of the output layer, each ``[batch, time, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = SurrogateFC(hidden=20, time_steps=5).eval()
        >>> spikes, potentials = net(torch.rand(3, 28, 28))
        >>> tuple(spikes.shape), tuple(potentials.shape)
        ((3, 5, 10), (3, 5, 10))
    """

    def __init__(self, hidden: int = 1000, beta: float = FC_BETA, time_steps: int = FC_TIME_STEPS,
                 coding: str = "rate", surrogate: str = "fast_sigmoid", eval_seed: int = 0) -> None:
        super().__init__()
        fn = "SurrogateFC"
        self.hidden = check_int(fn, "hidden", hidden, minimum=1)
        self.time_steps = check_int(fn, "time_steps", time_steps, minimum=1)
        if not isinstance(coding, str) or coding not in ("rate", "direct"):
            raise ValueError(f"{fn}: coding must be 'rate' or 'direct', got {coding!r}")
        beta = check_real(fn, "beta", beta, minimum=0.0, maximum=1.0)
        _check_surrogate(fn, surrogate)
        self.coding = coding
        self.eval_seed = check_int(fn, "eval_seed", eval_seed, minimum=0)
        self.net = nn.Sequential(nn.Linear(784, hidden), LIF(beta, 1.0, surrogate),
                                 nn.Linear(hidden, 10), LIF(beta, 1.0, surrogate))

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Input of the first layer: rate-coded spikes ``[batch, time, 784]`` or the image
        ``[batch, 784]``, on the images' device (``generator``, if given, must be on it; in eval mode
        without one, a generator seeded ``eval_seed`` is created there)."""
        fn = "SurrogateFC.encode"
        x = images_to_float(fn, images, "SurrogateFC").flatten(1)
        check_generator(fn, "generator", generator, x, "images")
        if self.coding == "direct":
            return x
        if generator is None and not self.training:
            generator = seeded_generator(self.eval_seed, x.device)
        return poisson_spikes(x, self.time_steps, max_rate=1000.0, dt=1.0, generator=generator)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None,
                return_record: bool = False):
        """Output spikes and potentials ``[batch, time, 10]`` (and, with ``return_record``, per LIF
        layer its spikes and synaptic operations per digit, see ``_run``)."""
        fn = "SurrogateFC.forward"
        check_generator(fn, "generator", generator, images, "images")
        check_bool(fn, "return_record", return_record)
        x = self.encode(images, generator)
        check_module_device(fn, "images", x, self)
        x = _to_model_dtype(x, self)
        spikes, potentials, record = self._run(x, constant=self.coding == "direct")
        if self.coding == "rate":  # the input spikes are synaptic events too
            record = {"input": {"spikes": x.flatten(1).sum(1), "synops": x.flatten(1).sum(1) * self.hidden},
                      **record}
        else:  # the analog image: the first layer multiplies it once per digit (784 x hidden MACs)
            macs = float(self.net[0].in_features * self.net[0].out_features)
            record = {"input_layer_macs": torch.full((x.shape[0],), macs, device=x.device), **record}
        return (spikes, potentials, record) if return_record else (spikes, potentials)

    def extra_repr(self) -> str:
        return f"time_steps={self.time_steps}, coding={self.coding}"


class SurrogateConv(_SpikingSequential):
    """Convolutional LIF network for MNIST with direct (analog) input.

    ``net = Sequential(Conv2d(1, c1, 3, padding=1), AvgPool2d(2), BatchNorm2d(c1), LIF,
    Conv2d(c1, c2, 3, padding=1), AvgPool2d(2), BatchNorm2d(c2), LIF, Flatten,
    Linear(c2 * 7 * 7, hidden), LIF, Linear(hidden, 10))``.

    The image enters as the same input current at each step, so the first convolution (and its
    batch norm and pooling) is computed once per digit and reused at every step. Pooling is an
    average of currents before the neuron (linear, so it exports as NIR ``AvgPool2d``). The logits
    are the last Linear's outputs averaged over the steps.

    Args:
        channels: ``(c1, c2)`` feature maps of the two convolutions.
        hidden: LIF neurons of the hidden fully connected layer.
        beta: membrane decay per step.
        time_steps: steps per digit.
        surrogate: surrogate derivative name; ``scale`` its shape parameter.
        batchnorm: insert ``BatchNorm2d`` after each convolution (fold them with :meth:`fold_batchnorm`).

    Devices: the network computes on the device of its parameters (``net.to(device)``); the images
    must be on it (else ``ValueError``); it draws nothing at random.

    Images: as :class:`SurrogateFC`: floats in ``[0, 1]`` or ``uint8`` 0..255 (divided by 255),
    28 x 28 digits; floats outside ``[0, 1]``, NaN and other sizes raise ``ValueError``.

    Shape:
        - Input: ``[batch, 28, 28]`` (uint8 0..255 or float in [0, 1]), ``[batch, 1, 28, 28]`` or
          ``[batch, 784]``.
        - Output: logits ``[batch, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = SurrogateConv(channels=(4, 8), hidden=16).eval()
        >>> tuple(net(torch.rand(2, 28, 28)).shape)
        (2, 10)
    """

    def __init__(self, channels: tuple[int, int] = (32, 64), hidden: int = 128, beta: float = CONV_BETA,
                 time_steps: int = CONV_TIME_STEPS, surrogate: str = "arctan", scale: float | None = None,
                 batchnorm: bool = True) -> None:
        super().__init__()
        fn = "SurrogateConv"
        if not (isinstance(channels, (tuple, list)) and len(channels) == 2):
            raise TypeError(f"{fn}: channels must be a pair (c1, c2), got {channels!r}")
        c1, c2 = (check_int(fn, "channels", c, minimum=1) for c in channels)
        self.channels = (c1, c2)
        self.hidden = check_int(fn, "hidden", hidden, minimum=1)
        self.time_steps = check_int(fn, "time_steps", time_steps, minimum=1)
        check_bool(fn, "batchnorm", batchnorm)
        beta = check_real(fn, "beta", beta, minimum=0.0, maximum=1.0)
        _surrogate_and_scale(fn, surrogate, scale)

        def block(c_in, c_out):
            # batch norm after the pooling: 4x fewer values to normalise, and it still folds into the conv
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.AvgPool2d(2),
                    *([nn.BatchNorm2d(c_out)] if batchnorm else []), LIF(beta, 1.0, surrogate, scale)]

        self.net = nn.Sequential(*block(1, c1), *block(c1, c2), nn.Flatten(),
                                 nn.Linear(c2 * 7 * 7, hidden), LIF(beta, 1.0, surrogate, scale),
                                 nn.Linear(hidden, 10))

    def forward(self, images: torch.Tensor, return_record: bool = False):
        """Logits ``[batch, 10]`` (and, with ``return_record``, per LIF layer its spikes and
        synaptic operations per digit ``[batch]``, plus the MACs of the analog input layer)."""
        fn = "SurrogateConv.forward"
        check_bool(fn, "return_record", return_record)
        x = images_to_float(fn, images, "SurrogateConv")
        check_module_device(fn, "images", x, self)
        x = _to_model_dtype(x, self)
        out, _, record = self._run(x, constant=True)
        logits = out.mean(1)
        if not return_record:
            return logits
        conv1 = self.net[0]
        macs = float(_fanout(conv1, (1, 28, 28)).sum()) * conv1.in_channels  # each pixel x its synapses
        record = {"input_layer_macs": torch.full((x.shape[0],), macs, device=x.device), **record}
        return logits, record

    @torch.no_grad()
    def fold_batchnorm(self) -> "SurrogateConv":
        """A copy with every ``BatchNorm2d`` folded into the ``Conv2d`` before it (eval-mode statistics).

        ``w' = w * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``; an
        ``AvgPool2d`` between the two commutes with the per-channel affine map, so it may stay between.
        The copy's ``net`` holds only Conv2d, AvgPool2d, LIF, Flatten and Linear; in eval mode it
        gives the same outputs as this network (up to float rounding).

        Returns:
            The folded network, in eval mode.
        """
        folded = copy.deepcopy(self).eval()
        layers = []
        for m in folded.net:
            if isinstance(m, nn.BatchNorm2d):
                k = len(layers) - 1
                while k > 0 and isinstance(layers[k], nn.AvgPool2d):
                    k -= 1
                conv = layers[k]
                if not isinstance(conv, nn.Conv2d):
                    raise ValueError("SurrogateConv.fold_batchnorm: a BatchNorm2d follows "
                                     f"{type(conv).__name__}, "
                                     "expected a Conv2d (and average pooling only in between)")
                scale = m.weight / torch.sqrt(m.running_var + m.eps)
                bias = conv.bias if conv.bias is not None else torch.zeros_like(m.running_mean)
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias = nn.Parameter((bias - m.running_mean) * scale + m.bias)
                continue
            layers.append(m)
        folded.net = nn.Sequential(*layers)
        return folded

    def extra_repr(self) -> str:
        return (f"time_steps={self.time_steps}, input=direct (analog image every step), "
                "logits=mean of last Linear")
