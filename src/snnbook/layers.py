"""Spiking convolution, pooling and padding on batched spike-waves.

Chapter: Competition and STDP (book/competition.md); the whole network that stacks them is in
A deep network that learns with spikes (book/mozafari2019.md).

All functions take ``[batch, time, channel, height, width]`` tensors and treat every
``(batch, time)`` pair as an independent image, exactly as SpykeTorch treats its time axis as the
convolution batch: ``conv(x, w)[b]`` equals SpykeTorch's ``Convolution(x[b])``. Cumulative
spike-waves stay meaningful through these layers: convolution of a cumulative wave gives
monotone potentials, and max pooling passes on the earliest spike in each window.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (HALF_DTYPES, check_bool, check_float, check_int, check_real, check_representable,
                      check_same_device, check_sum_bound, check_tensor, value_range)

__all__ = ["conv", "pool", "pad", "Convolution", "Pooling", "conv_fire_times", "pool_times", "pad_times",
           "WEIGHT_MEAN", "WEIGHT_STD"]

WAVE_AXES = "[batch, time, channel, height, width]"

#: Default mean of the initial convolution weights (SpykeTorch ``snn.Convolution``).
WEIGHT_MEAN = 0.8
#: Default standard deviation of the initial convolution weights (SpykeTorch ``snn.Convolution``).
WEIGHT_STD = 0.02


def _pair(fn: str, name: str, value, *, minimum: int) -> tuple[int, int]:
    """Turn an int or a pair of ints into a checked ``(height, width)`` tuple."""
    if not isinstance(value, (tuple, list, str)):
        v = check_int(fn, name, value, minimum=minimum)
        return v, v
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (check_int(fn, name, value[0], minimum=minimum),
                check_int(fn, name, value[1], minimum=minimum))
    raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")


def _pool_geometry(fn: str, x: torch.Tensor, kernel_size, stride, padding):
    """Checked ``(kernel, stride, padding)`` pairs of a max pooling over ``x``'s last two axes."""
    k = _pair(fn, "kernel_size", kernel_size, minimum=1)
    s = k if stride is None else _pair(fn, "stride", stride, minimum=1)
    p = _pair(fn, "padding", padding, minimum=0)
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"{fn}: padding must be at most half of kernel_size={k}, got padding={p}")
    if k[0] > x.shape[-2] + 2 * p[0] or k[1] > x.shape[-1] + 2 * p[1]:
        raise ValueError(f"{fn}: kernel_size {k} is larger than the padded input "
                         f"{(x.shape[-2] + 2 * p[0], x.shape[-1] + 2 * p[1])}")
    return k, s, p


def _fold(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, C, H, W]`` -> ``[B*T, C, H, W]``."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def _unfold_bt(y: torch.Tensor, batch: int, time: int) -> torch.Tensor:
    """``[B*T, C, H, W]`` -> ``[B, T, C, H, W]``."""
    return y.reshape(batch, time, *y.shape[1:])


def conv(spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Spiking convolution: plain cross-correlation of every time step, stride 1, no padding, no bias.

    This is SpykeTorch's ``snn.Convolution`` applied to each sample of the batch: the time axis is
    folded into the convolution batch, so each step is convolved independently. A cumulative
    input spike-wave gives potentials that are monotone in time.

    Args:
        spikes: input spike-wave (usually cumulative, 0/1). Integer or bool spikes are converted to
            ``weight``'s dtype; floating spikes must already have that dtype.
        weight: kernels, one per output feature.

    Shape:
        - Input ``spikes``: ``[batch, time, in_channels, height, width]``
        - Input ``weight``: ``[out_channels, in_channels, kh, kw]``
        - Output: ``[batch, time, out_channels, height - kh + 1, width - kw + 1]``

    Returns:
        The potentials (not cumulative sums over time: step ``t`` sees only ``spikes[:, t]``).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = (torch.rand(2, 3, 1, 5, 5, generator=g) > 0.5).float()
        >>> w = torch.ones(4, 1, 3, 3)
        >>> conv(x, w).shape
        torch.Size([2, 3, 4, 3, 3])
        >>> bool(conv(x, w)[0, 0, 0, 0, 0] == x[0, 0, 0, :3, :3].sum())
        True
    """
    fn = "conv"
    check_same_device(fn, spikes=spikes, weight=weight)
    check_tensor(fn, "weight", weight, ndim=4, axes="[out_channels, in_channels, kh, kw]")
    check_float(fn, "weight", weight)
    check_tensor(fn, "spikes", spikes, ndim=5, axes=WAVE_AXES, finite=False)
    if spikes.is_floating_point() and spikes.dtype != weight.dtype:
        raise TypeError(f"{fn}: spikes must have the dtype of weight ({weight.dtype}), got {spikes.dtype}")
    if spikes.shape[2] != weight.shape[1]:
        raise ValueError(f"{fn}: spikes has {spikes.shape[2]} channels (shape {tuple(spikes.shape)}), "
                         f"expected in_channels={weight.shape[1]} of weight {tuple(weight.shape)}")
    kh, kw = weight.shape[-2:]
    if kh > spikes.shape[-2] or kw > spikes.shape[-1]:
        raise ValueError(f"{fn}: weight kernel ({kh}, {kw}) is larger than the spikes' image "
                         f"{tuple(spikes.shape[-2:])}")
    lo, hi = value_range(fn, "spikes", spikes)
    work = torch.float32 if weight.dtype in HALF_DTYPES else weight.dtype  # float16 sums in float32
    check_sum_bound(fn, max(abs(lo), abs(hi)) * float(weight.detach().abs().sum(dim=(1, 2, 3)).max()), work,
                    "the potentials (|spikes| times the summed |weight| of a kernel)")
    b, t = spikes.shape[:2]
    if work != weight.dtype:
        out = F.conv2d(_fold(spikes).to(work), weight.to(work)).to(weight.dtype)
        return _unfold_bt(out, b, t)
    if not spikes.is_floating_point():
        spikes = spikes.to(weight.dtype)
    return _unfold_bt(F.conv2d(_fold(spikes), weight), b, t)


def pool(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    r"""2D max pooling of every time step and channel (SpykeTorch ``functional.pooling``).

    Padding acts as :math:`-\infty`, so negative potentials at the border survive; the output size
    is floored. On a cumulative spike-wave max pooling passes on the earliest spike in each window,
    so the output is cumulative too.

    Args:
        x: spike-wave or potentials.
        kernel_size: pooling window, an int or ``(kh, kw)``.
        stride: step of the window, an int or a pair; ``None`` means ``kernel_size``.
        padding: implicit :math:`-\infty` padding on each side, an int or a pair; at most half the
            kernel.

    Shape:
        - Input: ``[batch, time, channel, height, width]``
        - Output: ``[batch, time, channel, out_height, out_width]`` with
          ``out = floor((in + 2 * padding - kernel) / stride) + 1``

    Returns:
        The pooled tensor, same dtype as ``x``.

    Example:
        >>> x = torch.arange(16.).reshape(1, 1, 1, 4, 4)
        >>> pool(x, 2)[0, 0, 0]
        tensor([[ 5.,  7.],
                [13., 15.]])
    """
    fn = "pool"
    check_tensor(fn, "x", x, ndim=5, axes=WAVE_AXES)
    k, s, p = _pool_geometry(fn, x, kernel_size, stride, padding)
    if not x.is_floating_point():
        raise TypeError(f"{fn}: x must be a floating-point tensor, got {x.dtype}")
    b, t = x.shape[:2]
    return _unfold_bt(F.max_pool2d(_fold(x), k, s, p), b, t)


def pad(x: torch.Tensor, padding: Sequence[int], value: float = 0.0) -> torch.Tensor:
    r"""Constant padding of the two image axes (SpykeTorch ``functional.pad``).

    Args:
        x: spike-wave or potentials.
        padding: ``(left, right, top, bottom)``: width gets left/right, height gets top/bottom.
            Non-negative ints.
        value: the fill value.

    Shape:
        - Input: ``[batch, time, channel, height, width]``
        - Output: ``[batch, time, channel, height + top + bottom, width + left + right]``

    Returns:
        A new padded tensor.

    Example:
        >>> pad(torch.ones(1, 1, 1, 2, 2), (1, 0, 0, 1))[0, 0, 0]
        tensor([[0., 1., 1.],
                [0., 1., 1.],
                [0., 0., 0.]])
    """
    fn = "pad"
    check_tensor(fn, "x", x, ndim=5, axes=WAVE_AXES)
    if not isinstance(padding, (tuple, list)) or len(padding) != 4:
        raise TypeError(f"{fn}: padding must be a tuple (left, right, top, bottom) of 4 ints, got {padding!r}")
    pads = tuple(check_int(fn, "padding", v, minimum=0) for v in padding)
    value = check_real(fn, "value", value)
    if x.is_floating_point():
        if abs(value) > torch.finfo(x.dtype).max:
            raise ValueError(f"{fn}: value={value!r} overflows x's dtype {x.dtype}")
    elif x.dtype == torch.bool:
        if value not in (0.0, 1.0):
            raise ValueError(f"{fn}: value must be 0 or 1 for a bool x, got value={value!r}")
    elif value != int(value) or not torch.iinfo(x.dtype).min <= value <= torch.iinfo(x.dtype).max:
        raise ValueError(f"{fn}: value={value!r} is not an integer in the range of x's dtype {x.dtype}")
    return F.pad(x, pads, mode="constant", value=value)


class Convolution(nn.Module):
    r"""Spiking convolution layer (SpykeTorch ``snn.Convolution``): stride 1, no padding, no bias.

    Its weights are learned by STDP (:class:`snnbook.plasticity.STDP`), not by gradients, so the
    parameter does not require grad.

    Args:
        in_channels: number of input feature maps.
        out_channels: number of output feature maps (features).
        kernel_size: an int or ``(kh, kw)``.
        weight_mean: mean of the normal initial weights (default :data:`WEIGHT_MEAN`).
        weight_std: standard deviation of the initial weights (default :data:`WEIGHT_STD`).
        generator: optional ``torch.Generator`` for the initial weights.

    Shape:
        - Input: ``[batch, time, in_channels, height, width]``
        - Output: ``[batch, time, out_channels, height - kh + 1, width - kw + 1]``

    Attributes:
        weight: ``[out_channels, in_channels, kh, kw]`` parameter.

    Example:
        >>> layer = Convolution(2, 3, 3, generator=torch.Generator().manual_seed(0))
        >>> layer
        Convolution(in_channels=2, out_channels=3, kernel_size=(3, 3))
        >>> layer(torch.ones(1, 4, 2, 5, 5)).shape
        torch.Size([1, 4, 3, 3, 3])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, weight_mean: float = WEIGHT_MEAN,
                 weight_std: float = WEIGHT_STD, generator: torch.Generator | None = None):
        super().__init__()
        fn = "Convolution"
        self.in_channels = check_int(fn, "in_channels", in_channels, minimum=1)
        self.out_channels = check_int(fn, "out_channels", out_channels, minimum=1)
        self.kernel_size = _pair(fn, "kernel_size", kernel_size, minimum=1)
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels, *self.kernel_size),
                                   requires_grad=False)
        self.reset_weight(weight_mean, weight_std, generator)

    def reset_weight(self, weight_mean: float = WEIGHT_MEAN, weight_std: float = WEIGHT_STD,
                     generator: torch.Generator | None = None) -> None:
        """Draw the weights again from ``N(weight_mean, weight_std)``."""
        fn = "Convolution.reset_weight"
        mean = check_real(fn, "weight_mean", weight_mean)
        std = check_real(fn, "weight_std", weight_std, minimum=0.0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"{fn}: generator must be a torch.Generator or None, got {type(generator).__name__}")
        with torch.no_grad():
            w = torch.empty(self.weight.shape, dtype=self.weight.dtype)
            w.normal_(mean, std, generator=generator)
            if not bool(torch.isfinite(w).all()):
                raise ValueError(f"{fn}: weight_mean={mean!r}, weight_std={std!r} draw weights that overflow "
                                 f"{w.dtype}")
            self.weight.copy_(w)

    def load_weight(self, weight: torch.Tensor) -> None:
        """Copy ``weight`` (shape ``[out_channels, in_channels, kh, kw]``) into the layer (cast to the
        layer's dtype; ``ValueError`` where a value does not fit it, which the cast would make inf)."""
        fn = "Convolution.load_weight"
        check_tensor(fn, "weight", weight, ndim=4, axes="[out_channels, in_channels, kh, kw]", finite=False)
        check_float(fn, "weight", weight)
        if weight.shape != self.weight.shape:
            raise ValueError(f"Convolution.load_weight: weight must have shape {tuple(self.weight.shape)}, "
                             f"got {tuple(weight.shape)}")
        lo, hi = value_range(fn, "weight", weight)  # finite, in one pass
        check_representable(fn, "weight", lo if abs(lo) > abs(hi) else hi, self.weight.dtype)
        with torch.no_grad():
            self.weight.copy_(weight)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return conv(spikes, self.weight)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}")


class Pooling(nn.Module):
    r"""Max pooling of every time step (SpykeTorch ``snn.Pooling``); see :func:`pool`.

    Args:
        kernel_size: pooling window, an int or ``(kh, kw)``.
        stride: ``None`` means ``kernel_size``.
        padding: :math:`-\infty` padding on each side.

    Shape:
        - Input: ``[batch, time, channel, height, width]``
        - Output: ``[batch, time, channel, out_height, out_width]``

    Example:
        >>> Pooling(3, 2, 1)(torch.zeros(1, 2, 1, 6, 6)).shape
        torch.Size([1, 2, 1, 3, 3])
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        fn = "Pooling"
        self.kernel_size = _pair(fn, "kernel_size", kernel_size, minimum=1)
        self.stride = self.kernel_size if stride is None else _pair(fn, "stride", stride, minimum=1)
        self.padding = _pair(fn, "padding", padding, minimum=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pool(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# ---------------------------------------------------------------------------------------------
# the same layers on first-spike times (event-driven)
# ---------------------------------------------------------------------------------------------
TIMES_AXES = "[batch, channel, height, width]"
_ENGINES = ("event", "dense")


def _check_engine(fn: str, engine) -> str:
    if engine not in _ENGINES:
        raise ValueError(f"{fn}: engine must be 'event' (compiled, event-driven) or 'dense' (the readable "
                         f"torch functions), got {engine!r}")
    if engine == "event":
        from . import _engine
        _engine.require(fn)
    return engine


def _check_times(fn: str, name: str, times, time_steps) -> int:
    from .coding import MAX_TIME_STEPS
    check_tensor(fn, name, times, ndim=4, axes=TIMES_AXES, finite=False)
    if times.dtype != torch.uint8:
        raise TypeError(f"{fn}: {name} must be uint8 first-spike times (see coding.wave_to_times), got {times.dtype}")
    if times.device.type != "cpu":
        raise ValueError(f"{fn}: the event-driven functions run on the CPU, got {name} on {times.device}")
    steps = check_int(fn, "time_steps", time_steps, minimum=1, maximum=MAX_TIME_STEPS)
    if times.numel() and int(times.max()) > steps:
        raise ValueError(f"{fn}: {name} must lie in [0, time_steps={steps}], got maximum {int(times.max())}")
    return steps


def conv_fire_times(times: torch.Tensor, weight: torch.Tensor, threshold: float | None, time_steps: int,
                    return_last: bool = False, engine: str = "event"):
    r"""Integrate-and-fire convolution on first-spike times: :func:`conv` then
    :func:`snnbook.competition.fire`, event-driven.

    The potentials of a convolution fed a cumulative wave only change where NEW input spikes
    arrive: ``potential(t) = potential(t - 1) + conv(spikes new at t)``. The event-driven engine adds,
    for every input spike, its weight column to the output positions it reaches and compares only
    those with the threshold, so a digit costs the work of its spikes, not of ``T`` dense
    convolutions. Potentials are summed exactly (float64) and rounded once to ``weight``'s dtype.

    Equal to the dense path: ``first = wave_to_times(fire(conv(times_to_wave(times)), threshold))``
    and ``potentials`` = the thresholded potential at each neuron's first spike (0 if silent).
    ``threshold=None`` is the "fire at the last step" readout: neurons with a positive last-step
    potential spike at step ``T - 1``.

    Args:
        times: input first-spike times (``uint8``, ``time_steps`` = never).
        weight: kernels, float32 or float64, all ``>= 0`` (so potentials grow and the output wave is
            cumulative, which first-spike times require).
        threshold: a real ``>= 0`` (a neuron fires when its potential is strictly above it), or
            ``None``.
        time_steps: ``T``.
        return_last: also return the potentials at the last step.
        engine: ``"event"`` (compiled, needs numba) or ``"dense"`` (the readable torch functions).

    Shape:
        - Input ``times``: ``[batch, in_channels, height, width]``
        - Input ``weight``: ``[out_channels, in_channels, kh, kw]``
        - Output: ``[batch, out_channels, height - kh + 1, width - kw + 1]`` each

    Returns:
        ``(first, potentials)`` or ``(first, potentials, last_potentials)``: ``first`` ``uint8``
        output times, the others in ``weight``'s dtype.

    Example:
        >>> t = torch.tensor([[[[0, 1], [2, 3]]]], dtype=torch.uint8)   # 4 inputs, T = 3
        >>> first, pot = conv_fire_times(t, torch.ones(1, 1, 2, 2), 1.5, 3)
        >>> first.flatten().tolist(), pot.flatten().tolist()   # 2 > 1.5 at step 1
        ([1], [2.0])
    """
    fn = "conv_fire_times"
    engine = _check_engine(fn, engine)
    check_same_device(fn, times=times, weight=weight)
    steps = _check_times(fn, "times", times, time_steps)
    check_tensor(fn, "weight", weight, ndim=4, axes="[out_channels, in_channels, kh, kw]")
    if weight.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{fn}: weight must be float32 or float64 (the engine sums exactly in float64 and "
                        f"rounds once), got {weight.dtype}")
    if times.shape[1] != weight.shape[1]:
        raise ValueError(f"{fn}: times has {times.shape[1]} channels, expected in_channels={weight.shape[1]} "
                         f"of weight {tuple(weight.shape)}")
    if weight.shape[2] > times.shape[2] or weight.shape[3] > times.shape[3]:
        raise ValueError(f"{fn}: weight kernel {tuple(weight.shape[2:])} is larger than the image "
                         f"{tuple(times.shape[2:])}")
    if float(weight.min()) < 0:
        raise ValueError(f"{fn}: weight must be >= 0 (monotone potentials, cumulative output); got minimum "
                         f"{float(weight.min())}; use conv and fire on dense waves for signed weights")
    if threshold is not None:
        threshold = check_real(fn, "threshold", threshold, minimum=0.0)
    check_bool(fn, "return_last", return_last)
    if engine == "event":
        from . import _engine
        first, pot, last = _engine.conv_fire(times, steps, weight.detach(), threshold, return_last)
        return (first, pot, last) if return_last else (first, pot)
    from .coding import times_to_wave, wave_to_times
    from .competition import fire
    potentials = conv(times_to_wave(times, steps, weight.dtype), weight.detach())
    spikes, thresholded = fire(potentials, threshold, True)
    first = wave_to_times(spikes)
    idx = first.long().clamp(max=steps - 1).unsqueeze(1)
    pot = thresholded.gather(1, idx).squeeze(1) * (first < steps)
    return (first, pot, potentials[:, -1].clone()) if return_last else (first, pot)


def pool_times(times: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    r"""Max pooling of a cumulative wave on first-spike times: the earliest time in each window.

    Equals ``wave_to_times(pool(times_to_wave(times), ...))`` (padding never spikes).

    Args:
        times: first-spike times (``uint8``).
        kernel_size: an int or ``(kh, kw)``.
        stride: ``None`` means ``kernel_size``.
        padding: at most half the kernel.

    Shape:
        - Input: ``[batch, channel, height, width]``
        - Output: ``[batch, channel, out_height, out_width]`` (as :func:`pool`)

    Returns:
        The pooled times.

    Example:
        >>> pool_times(torch.tensor([[[[3, 2], [1, 3]]]], dtype=torch.uint8), 2).tolist()
        [[[[1]]]]
    """
    fn = "pool_times"
    check_tensor(fn, "times", times, ndim=4, axes=TIMES_AXES, finite=False)
    if times.dtype != torch.uint8:
        raise TypeError(f"{fn}: times must be uint8 first-spike times, got {times.dtype}")
    k, s, p = _pool_geometry(fn, times, kernel_size, stride, padding)
    from . import _engine
    if _engine.available() and times.device.type == "cpu":
        return _engine.pool(times, k, s, p)
    neg = -times.to(torch.int16).float()  # min of times = -max of -times
    out = F.max_pool2d(neg, k, s, p)
    return (-out).to(torch.uint8)


def pad_times(times: torch.Tensor, padding: Sequence[int], time_steps: int) -> torch.Tensor:
    r"""Zero padding of a spike-wave, on first-spike times: the new border never spikes.

    Equals ``wave_to_times(pad(times_to_wave(times, time_steps), padding))``.

    Args:
        times: first-spike times (``uint8``).
        padding: ``(left, right, top, bottom)``, non-negative ints.
        time_steps: ``T`` (the "never" value written in the border).

    Shape:
        - Input: ``[batch, channel, height, width]``
        - Output: ``[batch, channel, height + top + bottom, width + left + right]``

    Returns:
        The padded times.

    Example:
        >>> pad_times(torch.zeros(1, 1, 1, 1, dtype=torch.uint8), (1, 0, 0, 0), 15).tolist()
        [[[[15, 0]]]]
    """
    fn = "pad_times"
    check_tensor(fn, "times", times, ndim=4, axes=TIMES_AXES, finite=False)
    if times.dtype != torch.uint8:
        raise TypeError(f"{fn}: times must be uint8 first-spike times, got {times.dtype}")
    if not isinstance(padding, (tuple, list)) or len(padding) != 4:
        raise TypeError(f"{fn}: padding must be a tuple (left, right, top, bottom) of 4 ints, got {padding!r}")
    pads = tuple(check_int(fn, "padding", v, minimum=0) for v in padding)
    from .coding import MAX_TIME_STEPS
    steps = check_int(fn, "time_steps", time_steps, minimum=1, maximum=MAX_TIME_STEPS)
    if times.numel() and int(times.max()) > steps:
        raise ValueError(f"{fn}: times must lie in [0, time_steps={steps}] (time_steps: never), got maximum "
                         f"{int(times.max())}")
    return F.pad(times, pads, mode="constant", value=steps)
