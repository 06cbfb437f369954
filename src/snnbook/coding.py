"""Coding: turn images into spike-waves (intensity-to-latency, Poisson rate coding, event-camera
coding), read spike times back, and convert to the time-first layout of other libraries.

Chapter: Spike coding (book/coding.md)

Spike-waves are ``[batch, time, channel, height, width]``; ``x[b]`` is a SpykeTorch
``[time, channel, height, width]`` wave. A *cumulative* wave keeps a neuron at 1 from its first
spike on (SpykeTorch's convention); a *non-cumulative* wave has a 1 only at the steps where a spike
happens.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import (FLOAT_DTYPES, HALF_DTYPES, INT_DTYPES, check_bool, check_finite_result, check_fits,
                      check_float, check_int, check_real, check_tensor, value_range)

__all__ = [
    "POISSON_MAX_RATE", "POISSON_DT", "DVS_THRESHOLD", "DVS_EPS", "SPIKE_DTYPES",
    "intensity_to_latency", "IntensityToLatency", "poisson_spikes", "PoissonEncoder", "first_spike_times",
    "dvs_events", "to_time_first", "to_batch_first", "MAX_TIME_STEPS", "wave_to_times", "times_to_wave",
    "latency_times",
]

#: Default maximum firing rate of :func:`poisson_spikes`, in Hz.
POISSON_MAX_RATE = 100.0
#: Default time step of :func:`poisson_spikes`, in ms.
POISSON_DT = 1.0
#: Default contrast threshold of :func:`dvs_events` (change of natural-log intensity).
DVS_THRESHOLD = 0.2
#: Default offset of :func:`dvs_events` inside the logarithm (``log(frame + eps)``).
DVS_EPS = 1e-3


#: Output dtypes of :func:`intensity_to_latency` besides the floating-point ones (spikes only).
SPIKE_DTYPES = (torch.bool, torch.uint8)
#: Largest number of time steps of a dense wave (the ranks and step indices are int32 there).
_MAX_STEPS = 2 ** 31 - 1


def _check_out_dtype(fn: str, dtype, to_spike: bool) -> None:
    """``dtype`` of a latency wave: None, a floating-point dtype, or (spikes only) uint8/bool."""
    if dtype is None:
        return
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES + SPIKE_DTYPES:
        raise TypeError(f"{fn}: dtype must be None, a floating-point dtype, torch.uint8 or torch.bool, "
                        f"got {dtype!r}")
    if dtype in SPIKE_DTYPES and not to_spike:
        raise TypeError(f"{fn}: dtype={dtype} holds spikes only; with to_spike=False expected a "
                        f"floating-point dtype or None")


def intensity_to_latency(x: torch.Tensor, time_steps: int, to_spike: bool = True,
                         cumulative: bool = True, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Intensity-to-latency coding, SpykeTorch's ``Intensity2Latency`` applied to every sample at once.

    For each sample separately, all values of all channels are ranked together in descending order
    (``torch.sort(descending=True, stable=True)``: among equal values the lower flat index comes
    first). With ``bin_size = (number of nonzero values) // time_steps``, step ``t`` holds the top
    ``(t + 1) * bin_size`` values, so the strongest values spike first and every step adds
    ``bin_size`` new neurons. The ``nonzero_count % time_steps`` weakest nonzero values never spike.
    A sample with fewer than ``time_steps`` nonzero values has ``bin_size = 0`` and stays silent
    (SpykeTorch raises an error there).

    Args:
        x (Tensor): intensities (usually non-negative, e.g. normalised filter responses).
        time_steps (int): number of time steps ``T`` (> 0).
        to_spike (bool): if ``True`` return ``sign`` of the values (a 0/1 spike-wave for non-negative
            input); if ``False`` carry the intensity values in the active positions. Default: ``True``.
        cumulative (bool): if ``True`` (SpykeTorch) a neuron stays active at every step after its
            first; if ``False`` it is active only at the step where it enters. Default: ``True``.
        dtype (torch.dtype, optional): dtype of the result: ``None`` (``x``'s dtype), a floating-point
            dtype, or, with ``to_spike=True`` only, ``torch.uint8`` (needs ``x >= 0``) or
            ``torch.bool``. The result always equals the floating-point one converted with
            ``.to(dtype)``; ``torch.uint8`` is 4x smaller than float32 and is what the 2019 MNIST
            example feeds its network (``Intensity2Latency`` -> ``sign`` -> ``uint8``).
            Default: ``None``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: ``[batch, time, channel, height, width]``.

    Returns:
        Tensor: the spike-wave (cumulative or not, as requested), in ``dtype``.

    Example:
        >>> x = torch.tensor([[[[4.0, 3.0], [2.0, 1.0]]]])
        >>> intensity_to_latency(x, 2)[0, :, 0].tolist()
        [[[1.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]]
        >>> intensity_to_latency(x, 2, cumulative=False)[0, 1, 0].tolist()
        [[0.0, 0.0], [1.0, 1.0]]
        >>> intensity_to_latency(x, 2, dtype=torch.uint8)[0, 0, 0].tolist()
        [[1, 1], [0, 0]]
    """
    fn = "intensity_to_latency"
    check_tensor(fn, "x", x, ndim=4, axes="[batch, channel, height, width]")
    check_float(fn, "x", x)
    time_steps = check_int(fn, "time_steps", time_steps, minimum=1, maximum=_MAX_STEPS)
    check_bool(fn, "to_spike", to_spike)
    check_bool(fn, "cumulative", cumulative)
    _check_out_dtype(fn, dtype, to_spike)
    if dtype is None:
        dtype = x.dtype
    elif not to_spike:
        check_fits(fn, "x", x, dtype)  # the intensities are carried in dtype: none may become inf
    b = x.shape[0]
    flat = x.reshape(b, -1)
    first, negative = _first_steps(flat, time_steps)  # [batch, n], time_steps where never
    steps = torch.arange(time_steps, dtype=first.dtype, device=x.device).view(1, -1, 1)
    # One broadcast compare writes the whole [batch, time, n] wave. Writing into a uint8 tensor
    # takes the vectorised kernel (a bool result does not) and needs no bool temporary.
    active = torch.empty((b, time_steps, flat.shape[1]), dtype=torch.uint8, device=x.device)
    (torch.ge if cumulative else torch.eq)(steps, first.unsqueeze(1), out=active)
    if dtype == torch.bool:
        out = active.view(torch.bool)
    elif dtype == torch.uint8:
        if negative:
            raise ValueError(f"{fn}: dtype=torch.uint8 needs non-negative x (a spike of a negative value "
                             f"is -1), got minimum {x.min().item()}; use a floating-point dtype or torch.bool")
        out = active
    else:
        out = active.to(dtype)
        if not to_spike:
            out.mul_(flat.to(dtype).unsqueeze(1))
        elif negative:  # active values are nonzero: sign is 1 unless negative
            out.mul_(flat.sign().to(dtype).unsqueeze(1))
        if negative:
            out.add_(0.0)  # 0 * negative value = -0.0 -> +0.0
    return out.reshape(b, time_steps, *x.shape[1:])


def _first_steps(flat: torch.Tensor, time_steps: int) -> tuple[torch.Tensor, bool]:
    """First active step of every value of ``flat`` ``[batch, n]`` under :func:`intensity_to_latency`.

    Returns ``(first, negative)``: ``first`` ``[batch, n]`` holds ``rank // bin_size`` (``time_steps``
    for values that never spike, zeros included), ``negative`` tells whether any value is negative.
    Only the nonzero values are ranked (zeros never spike: they sit between the positive and the
    negative values, so a negative value's rank grows by the number of zeros).
    For float32/float16/bfloat16 the descending stable ranking is ONE stable ascending sort of int64
    keys ``(sample << 32) | descending-order bits of the value`` (exact: float32 -> its bit pattern
    is order-preserving after the usual sign flip, and the stable sort keeps equal values in flat
    index order); float64 uses two stable sorts (value, then sample). Counts and ranks are int32
    where they fit (half the memory traffic of int64).
    """
    b, n = flat.shape
    device = flat.device
    nz = torch.nonzero(flat.reshape(-1)).squeeze(1)  # ascending flat indices of the nonzero values
    vals = flat.reshape(-1).index_select(0, nz)
    sample = torch.div(nz, n, rounding_mode="floor")  # non-decreasing
    negative = bool((vals < 0).any())
    if flat.dtype != torch.float64 and b < 2 ** 31:
        bits = vals.to(torch.float32).view(torch.int32)
        if negative:  # larger bits = larger positive value, but = more negative value
            bits = bits.to(torch.int64)
            desc = torch.where(bits >= 0, 0x7FFFFFFF - bits, bits + 2 ** 32).add_(sample << 32)
        else:  # ascending key = descending value
            desc = torch.sub(sample << 32, bits).add_(0x7FFFFFFF)
        order = torch.sort(desc, stable=True).indices
    else:
        by_value = torch.sort(vals, descending=True, stable=True).indices
        order = by_value[torch.sort(sample[by_value], stable=True).indices]
    # sorted element p belongs to sample[p] (the sort keeps every sample's block in place)
    count_dtype = torch.int32 if flat.numel() < 2 ** 31 else torch.int64
    sample = sample.to(count_dtype)
    nnz = torch.bincount(sample, minlength=b).to(count_dtype)  # [batch]
    start = torch.cumsum(nnz, 0, dtype=count_dtype) - nnz
    rank = torch.arange(nz.numel(), dtype=count_dtype, device=device) - start.index_select(0, sample)
    if negative:
        rank += torch.where(vals.index_select(0, order) < 0, (n - nnz).index_select(0, sample), 0)
    bin_size = (nnz // time_steps).index_select(0, sample)
    first_sorted = torch.where(rank < bin_size * time_steps, rank // bin_size.clamp(min=1), time_steps)
    index_dtype = torch.uint8 if time_steps < 256 else torch.int64
    first = torch.full((b * n,), time_steps, dtype=index_dtype, device=device)
    first[nz.index_select(0, order)] = first_sorted.to(index_dtype)
    return first.view(b, n), negative


class IntensityToLatency(nn.Module):
    """Module shell of :func:`intensity_to_latency`.

    Args:
        time_steps (int): number of time steps.
        to_spike (bool): spikes (``True``) or values (``False``). Default: ``True``.
        cumulative (bool): cumulative wave. Default: ``True``.
        dtype (torch.dtype, optional): dtype of the wave (``None``: the input's; ``torch.uint8`` or
            ``torch.bool`` for spikes). Default: ``None``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: ``[batch, time, channel, height, width]``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> spikes = IntensityToLatency(15)(torch.rand(4, 6, 28, 28, generator=g))
        >>> spikes.shape, int(spikes[:, -1].sum())  # 4 * (4704 - 4704 % 15) neurons spike
        (torch.Size([4, 15, 6, 28, 28]), 18780)
        >>> IntensityToLatency(15, dtype=torch.uint8)
        IntensityToLatency(time_steps=15, to_spike=True, cumulative=True, dtype=torch.uint8)
    """

    def __init__(self, time_steps: int, to_spike: bool = True, cumulative: bool = True, *,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        fn = "IntensityToLatency"
        self.time_steps = check_int(fn, "time_steps", time_steps, minimum=1, maximum=_MAX_STEPS)
        self.to_spike = check_bool(fn, "to_spike", to_spike)
        self.cumulative = check_bool(fn, "cumulative", cumulative)
        _check_out_dtype(fn, dtype, self.to_spike)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Code ``x`` ``[batch, channel, height, width]`` as a ``[batch, time, ...]`` wave."""
        return intensity_to_latency(x, self.time_steps, self.to_spike, self.cumulative, dtype=self.dtype)

    def extra_repr(self) -> str:
        s = f"time_steps={self.time_steps}, to_spike={self.to_spike}, cumulative={self.cumulative}"
        return s if self.dtype is None else s + f", dtype={self.dtype}"


def _check_wave(fn: str, name: str, x, min_ndim: int, axes: str, finite: bool = True) -> None:
    """``check_tensor`` for tensors of rank ``>= min_ndim`` (trailing axes free)."""
    check_tensor(fn, name, x, axes=axes, finite=finite)
    if x.dim() < min_ndim:
        raise ValueError(f"{fn}: {name} must have at least {min_ndim} dimensions {axes}, got shape {tuple(x.shape)}")


def _steps(fn: str, time_steps, duration, dt) -> int:
    if (time_steps is None) == (duration is None):
        raise ValueError(f"{fn}: give exactly one of time_steps and duration, got time_steps={time_steps!r}, "
                         f"duration={duration!r}")
    if time_steps is not None:
        return check_int(fn, "time_steps", time_steps, minimum=1, maximum=_MAX_STEPS)
    duration = check_real(fn, "duration", duration, minimum=0.0, strict_min=True)
    ratio = duration / dt
    if not ratio <= _MAX_STEPS:  # also catches an overflow to inf
        raise ValueError(f"{fn}: duration={duration} ms with dt={dt} ms gives {ratio:.3g} time steps, "
                         f"expected at most {_MAX_STEPS}")
    steps = int(round(ratio))
    if steps < 1:
        raise ValueError(f"{fn}: duration={duration} ms is shorter than one time step dt={dt} ms")
    return steps


def poisson_spikes(intensity: torch.Tensor, time_steps: int | None = None, *, duration: float | None = None,
                   max_rate: float = POISSON_MAX_RATE, dt: float = POISSON_DT,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Poisson (Bernoulli per step) rate coding: intensity 1 fires at ``max_rate``.

    Each neuron fires independently at each step with probability ``intensity * max_rate * dt / 1000``.
    The wave is NOT cumulative (a 1 marks each spike).

    Args:
        intensity (Tensor): intensities in ``[0, 1]``.
        time_steps (int, optional): number of steps ``T``. Give this or ``duration``.
        duration (float, optional): length of the wave in ms; ``T = round(duration / dt)``.
        max_rate (float): firing rate of intensity 1, in Hz. Default: 100.
        dt (float): time step in ms. Default: 1. ``max_rate * dt / 1000`` must be <= 1.
        generator (torch.Generator, optional): random source (on ``intensity``'s device) for
            reproducibility.

    Shape:
        - Input: ``[batch, *]`` (e.g. ``[batch, channel, height, width]``).
        - Output: ``[batch, time, *]``.

    Returns:
        Tensor: 0/1 spikes in ``intensity``'s dtype.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> s = poisson_spikes(torch.full((1, 1000), 0.5), 100, max_rate=200.0, generator=g)
        >>> s.shape, round(s.mean().item(), 2)  # 0.5 * 200 Hz * 1 ms = 0.1 spikes per step
        (torch.Size([1, 100, 1000]), 0.1)
    """
    fn = "poisson_spikes"
    _check_wave(fn, "intensity", intensity, 1, "[batch, ...]", finite=False)
    check_float(fn, "intensity", intensity)
    lo, hi = value_range(fn, "intensity", intensity)
    max_rate = check_real(fn, "max_rate", max_rate, minimum=0.0)
    dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True)
    steps = _steps(fn, time_steps, duration, dt)
    p_max = max_rate * dt / 1000.0
    if p_max > 1.0:
        raise ValueError(f"{fn}: max_rate * dt / 1000 must be <= 1 (a probability per step), got "
                         f"max_rate={max_rate} Hz, dt={dt} ms -> {p_max}")
    if lo < 0 or hi > 1:
        raise ValueError(f"{fn}: intensity must lie in [0, 1], got values in [{lo}, {hi}]")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"{fn}: generator must be a torch.Generator or None, got {type(generator).__name__}")
        if generator.device.type != intensity.device.type:
            raise ValueError(f"{fn}: generator is on {generator.device}, expected intensity's device "
                             f"{intensity.device}")
    p = (intensity * p_max).unsqueeze(1)
    shape = (intensity.shape[0], steps, *intensity.shape[1:])
    u = torch.rand(shape, generator=generator, dtype=intensity.dtype, device=intensity.device)
    return (u < p).to(intensity.dtype)


class PoissonEncoder(nn.Module):
    """Module shell of :func:`poisson_spikes`.

    Args:
        time_steps (int): number of steps.
        max_rate (float): rate of intensity 1, in Hz. Default: 100.
        dt (float): time step in ms. Default: 1.

    Shape:
        - Input: ``[batch, *]`` intensities in ``[0, 1]``.
        - Output: ``[batch, time, *]`` (not cumulative).

    Example:
        >>> enc = PoissonEncoder(20, max_rate=1000.0)
        >>> enc(torch.ones(2, 3), generator=torch.Generator().manual_seed(0)).sum().item()
        120.0
    """

    def __init__(self, time_steps: int, max_rate: float = POISSON_MAX_RATE, dt: float = POISSON_DT) -> None:
        super().__init__()
        self.time_steps = check_int("PoissonEncoder", "time_steps", time_steps, minimum=1, maximum=_MAX_STEPS)
        self.max_rate = check_real("PoissonEncoder", "max_rate", max_rate, minimum=0.0)
        self.dt = check_real("PoissonEncoder", "dt", dt, minimum=0.0, strict_min=True)
        if self.max_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(f"PoissonEncoder: max_rate * dt / 1000 must be <= 1 (a probability per step), got "
                             f"max_rate={self.max_rate} Hz, dt={self.dt} ms")

    def forward(self, intensity: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Encode ``intensity`` ``[batch, *]`` as ``[batch, time, *]`` spikes."""
        return poisson_spikes(intensity, self.time_steps, max_rate=self.max_rate, dt=self.dt, generator=generator)

    def extra_repr(self) -> str:
        return f"time_steps={self.time_steps}, max_rate={self.max_rate}, dt={self.dt}"


def first_spike_times(spikes: torch.Tensor) -> torch.Tensor:
    """Time-to-first-spike decoding: the first step at which each neuron is nonzero.

    Works for cumulative and non-cumulative waves (only the first nonzero step matters).

    Args:
        spikes (Tensor): spike-wave (any dtype; nonzero means a spike).

    Shape:
        - Input: ``[batch, time, *]``.
        - Output: ``[batch, *]``.

    Returns:
        Tensor: int64 step index of the first spike, ``T`` (the number of steps) for silent neurons.

    Example:
        >>> s = torch.tensor([[[0, 1, 0], [1, 1, 0], [1, 1, 0]]])  # [batch=1, time=3, neurons=3]
        >>> first_spike_times(s).tolist()
        [[1, 0, 3]]
    """
    fn = "first_spike_times"
    _check_wave(fn, "spikes", spikes, 2, "[batch, time, ...]")
    s = spikes != 0
    t = spikes.shape[1]
    first = s.to(torch.uint8).argmax(dim=1)  # first maximal index
    return torch.where(s.any(dim=1), first, torch.full_like(first, t))


def dvs_events(frames: torch.Tensor, threshold: float = DVS_THRESHOLD, eps: float = DVS_EPS, *,
               per_crossing: bool = False) -> torch.Tensor:
    """Event-camera (DVS) coding of a video: ON/OFF events where the log intensity changes.

    Each pixel keeps a reference level ``ref``, initialised to ``log(frames[:, 0] + eps)``. At every
    later step ``t`` the pixel emits an ON event if ``log(frames[:, t] + eps) - ref >= threshold``, an
    OFF event if it is ``<= -threshold``; when an event fires, ``ref`` is reset to the current log
    intensity. At most one event per pixel and step; step 0 has no events. The wave is not cumulative.

    With ``per_crossing=True`` the pixel instead emits ``n = floor(|change| / threshold)`` events
    per step and its reference moves by ``n`` steps of ``threshold`` (as ESIM and v2e do): the
    output counts events per step, equal to the event stream of :func:`snnbook.events.simulate`
    binned by frame. The full simulator (event times between frames, ON/OFF thresholds, mismatch,
    refractory period, noise) lives in :mod:`snnbook.events`.

    Args:
        frames (Tensor): non-negative intensities (any scale, e.g. 0..1 or 0..255).
        threshold (float): contrast threshold on the change of natural-log intensity (> 0). Default: 0.2.
        eps (float): offset inside the logarithm (> 0). Default: 1e-3.
        per_crossing (bool): emit ``floor(|change| / threshold)`` events per step instead of at
            most one. Default: False.

    Shape:
        - Input: ``[batch, time, height, width]`` or ``[batch, time, 1, height, width]``.
        - Output: ``[batch, time, 2, height, width]`` (channel 0: ON, channel 1: OFF).

    Returns:
        Tensor: 0/1 events (counts with ``per_crossing``) in ``frames``' dtype.

    Example:
        >>> video = torch.tensor([1.0, 1.0, 2.0, 2.0, 0.5]).view(1, 5, 1, 1)  # one pixel
        >>> ev = dvs_events(video, threshold=0.5)
        >>> ev[0, :, 0, 0, 0].tolist(), ev[0, :, 1, 0, 0].tolist()
        ([0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0])
        >>> ev = dvs_events(video, threshold=0.5, per_crossing=True)  # log 4 = 2.8 thresholds
        >>> ev[0, :, 0, 0, 0].tolist(), ev[0, :, 1, 0, 0].tolist()
        ([0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 2.0])
    """
    fn = "dvs_events"
    check_tensor(fn, "frames", frames, ndim=(4, 5), axes="[batch, time, height, width] or "
                 "[batch, time, 1, height, width]", finite=False)
    check_float(fn, "frames", frames)
    if frames.dim() == 5:
        if frames.shape[2] != 1:
            raise ValueError(f"{fn}: frames must have one channel, got shape {tuple(frames.shape)}")
        frames = frames[:, :, 0]
    threshold = check_real(fn, "threshold", threshold, minimum=0.0, strict_min=True)
    eps = check_real(fn, "eps", eps, minimum=0.0, strict_min=True)
    per_crossing = check_bool(fn, "per_crossing", per_crossing)
    lo, hi = value_range(fn, "frames", frames)
    if lo < 0:
        raise ValueError(f"{fn}: frames must be non-negative intensities, got minimum {lo}")
    work = torch.float32 if frames.dtype in HALF_DTYPES else frames.dtype  # logs of float16 in float32
    if not hi + eps < torch.finfo(work).max:
        raise ValueError(f"{fn}: frames + eps reaches {hi + eps:.3g}, beyond the largest {work}; "
                         "scale the frames or eps down")
    if torch.finfo(work).tiny > eps:
        raise ValueError(f"{fn}: eps={eps!r} is below the smallest normal {work} ({torch.finfo(work).tiny:.3g}); "
                         "the log of a dark pixel would be -inf")
    if not threshold >= torch.finfo(work).tiny:  # it would round to 0 (or a denormal) in work: events without change
        raise ValueError(f"{fn}: threshold={threshold!r} is below the smallest normal {work} "
                         f"({torch.finfo(work).tiny:.3g}); expected a contrast threshold such as 0.2")
    # the most crossings one step can have: log((hi + eps) / (lo + eps)) / threshold; where that
    # could overflow the counts' dtype, the counts are checked (one reduction) instead of becoming inf
    guard = per_crossing and (math.log(hi + eps) - math.log(lo + eps)) / threshold > torch.finfo(frames.dtype).max
    log_i = torch.log(frames.to(work) + eps)
    ref = log_i[:, 0]
    out = torch.zeros(frames.shape[0], frames.shape[1], 2, *frames.shape[2:], dtype=frames.dtype,
                      device=frames.device)
    if per_crossing:
        for t in range(1, frames.shape[1]):
            n = torch.floor((log_i[:, t] - ref).abs() / threshold)
            up = log_i[:, t] >= ref
            out[:, t, 0] = torch.where(up, n, 0).to(frames.dtype)
            out[:, t, 1] = torch.where(up, 0, n).to(frames.dtype)
            ref = ref + torch.where(up, n, -n) * threshold
        if guard:
            check_finite_result(fn, out, "the event counts", f"threshold={threshold!r} is too small for "
                                f"{frames.dtype} counts; raise it or use a wider dtype")
        return out
    for t in range(1, frames.shape[1]):
        diff = log_i[:, t] - ref
        on = diff >= threshold
        off = diff <= -threshold
        out[:, t, 0] = on.to(frames.dtype)
        out[:, t, 1] = off.to(frames.dtype)
        ref = torch.where(on | off, log_i[:, t], ref)
    return out


def to_time_first(x: torch.Tensor) -> torch.Tensor:
    """Convert a ``[batch, time, ...]`` wave to the time-first layout of snnTorch, Norse and SpikingJelly.

    Args:
        x (Tensor): batch-first wave.

    Shape:
        - Input: ``[batch, time, *]``.
        - Output: ``[time, batch, *]`` (a contiguous copy).

    Returns:
        Tensor: the time-first wave; :func:`to_batch_first` inverts it.

    Example:
        >>> to_time_first(torch.zeros(2, 15, 6, 28, 28)).shape
        torch.Size([15, 2, 6, 28, 28])
    """
    _check_wave("to_time_first", "x", x, 2, "[batch, time, ...]", finite=False)
    return x.transpose(0, 1).contiguous()


def to_batch_first(x: torch.Tensor) -> torch.Tensor:
    """Convert a time-first ``[time, batch, ...]`` wave back to snnbook's ``[batch, time, ...]``.

    Args:
        x (Tensor): time-first wave.

    Shape:
        - Input: ``[time, batch, *]``.
        - Output: ``[batch, time, *]`` (a contiguous copy).

    Returns:
        Tensor: the batch-first wave.

    Example:
        >>> x = torch.arange(6).view(2, 3)
        >>> torch.equal(to_batch_first(to_time_first(x)), x)
        True
    """
    _check_wave("to_batch_first", "x", x, 2, "[time, batch, ...]", finite=False)
    return x.transpose(0, 1).contiguous()


# ---------------------------------------------------------------------------------------------
# compact waves: first-spike times
# ---------------------------------------------------------------------------------------------
#: Largest ``time_steps`` a compact wave holds (times are ``uint8``; the value ``time_steps``
#: means "never").
MAX_TIME_STEPS = 254


def _check_steps(fn: str, time_steps) -> int:
    return check_int(fn, "time_steps", time_steps, minimum=1, maximum=MAX_TIME_STEPS)


def wave_to_times(spikes: torch.Tensor) -> torch.Tensor:
    """Compact a cumulative 0/1 spike-wave into its first-spike times (exact, see :func:`times_to_wave`).

    A cumulative wave is fully described by the step at which each neuron first spikes: it is 1 from
    that step on. The times are ``uint8`` with the value ``T`` (the number of steps) for neurons that
    never spike, so the compact form is ``T`` times smaller than a ``uint8`` wave (60x smaller than a
    float32 one for ``T = 15``). It is the native input of the event-driven functions
    (:func:`snnbook.layers.conv_fire_times` and the other ``*_times`` functions).

    Args:
        spikes (Tensor): a cumulative spike-wave with values 0 and 1 (any real, integer or bool dtype).
            A wave that is not 0/1 or not cumulative (a neuron that stops spiking) cannot be
            represented and raises ``ValueError``.

    Shape:
        - Input: ``[batch, time, channel, height, width]`` (any number of trailing axes).
        - Output: ``[batch, channel, height, width]``.

    Returns:
        Tensor: ``uint8`` first-spike times, ``time`` where silent.

    Example:
        >>> s = torch.tensor([[[0, 1, 0], [1, 1, 0], [1, 1, 0]]])   # [batch=1, time=3, neurons=3]
        >>> wave_to_times(s).tolist()
        [[1, 0, 3]]
    """
    fn = "wave_to_times"
    _check_wave(fn, "spikes", spikes, 2, "[batch, time, ...]")
    if spikes.shape[1] > MAX_TIME_STEPS:
        raise ValueError(f"{fn}: spikes has {spikes.shape[1]} time steps, expected at most {MAX_TIME_STEPS} "
                         "(uint8 first-spike times)")
    steps = _check_steps(fn, spikes.shape[1])
    s = spikes if spikes.dtype in (torch.bool, torch.uint8) else spikes.detach()
    if s.dtype != torch.bool:
        if bool(((s != 0) & (s != 1)).any()):
            raise ValueError(f"{fn}: spikes must hold only 0 and 1 (a spike-wave), got other values")
        s = s != 0
    counts = s.sum(dim=1, dtype=torch.int32)
    times = (steps - counts).to(torch.uint8)
    # cumulative <=> the wave equals the one rebuilt from its counts
    if not torch.equal(_wave_bool(times, steps), s):
        raise ValueError(f"{fn}: spikes must be a CUMULATIVE wave (once 1, stays 1); got a neuron "
                         f"that stops spiking; use first_spike_times for non-cumulative waves")
    return times


def _wave_bool(times: torch.Tensor, steps: int) -> torch.Tensor:
    t = torch.arange(steps, dtype=torch.uint8, device=times.device).view((1, steps) + (1,) * (times.dim() - 1))
    return t >= times.unsqueeze(1)


def times_to_wave(times: torch.Tensor, time_steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Expand first-spike times into the cumulative spike-wave (the inverse of :func:`wave_to_times`).

    ``wave[b, t, ...] = 1`` where ``t >= times[b, ...]``; a time ``>= time_steps`` never spikes.

    Args:
        times (Tensor): first-spike times, an integer tensor (usually ``uint8``) with values in
            ``[0, time_steps]``.
        time_steps (int): ``T``, the number of steps of the wave (at most :data:`MAX_TIME_STEPS`).
        dtype (torch.dtype): dtype of the wave: a floating-point dtype, ``torch.uint8`` or
            ``torch.bool``. Default: ``torch.float32``.

    Shape:
        - Input: ``[batch, channel, height, width]`` (any number of trailing axes).
        - Output: ``[batch, time, channel, height, width]``.

    Returns:
        Tensor: the cumulative 0/1 spike-wave.

    Example:
        >>> times_to_wave(torch.tensor([[1, 0, 3]], dtype=torch.uint8), 3, torch.uint8)[0].tolist()
        [[0, 1, 0], [1, 1, 0], [1, 1, 0]]
    """
    fn = "times_to_wave"
    check_tensor(fn, "times", times, axes="[batch, ...]", finite=False)
    if times.dim() < 1:
        raise ValueError(f"{fn}: times must have a batch axis, got shape {tuple(times.shape)}")
    if times.dtype not in INT_DTYPES:
        raise TypeError(f"{fn}: times must be an integer tensor (uint8 first-spike times), got {times.dtype}")
    steps = _check_steps(fn, time_steps)
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES + SPIKE_DTYPES:
        raise TypeError(f"{fn}: dtype must be a floating-point dtype, torch.uint8 or torch.bool, got {dtype!r}")
    lo, hi = torch.aminmax(times.reshape(-1).long())
    if int(lo) < 0 or int(hi) > steps:
        raise ValueError(f"{fn}: times must lie in [0, time_steps={steps}], got values in [{int(lo)}, {int(hi)}]")
    wave = _wave_bool(times.to(torch.uint8), steps)
    return wave if dtype == torch.bool else wave.to(dtype)


def latency_times(x: torch.Tensor, time_steps: int) -> torch.Tensor:
    """Intensity-to-latency coding straight to first-spike times, without the wave.

    ``times_to_wave(latency_times(x, T), T)`` equals ``intensity_to_latency(x, T)`` for
    non-negative ``x`` (the same ranking, ties and never-spiking remainder, see
    :func:`intensity_to_latency`), but only the ``uint8`` map of first steps is written: ``T``
    times less memory traffic, which is what makes encoding a whole dataset fast.

    Args:
        x (Tensor): non-negative intensities (e.g. normalised DoG responses), floating point.
        time_steps (int): ``T`` (1 to :data:`MAX_TIME_STEPS`).

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: ``[batch, channel, height, width]`` (``uint8``; ``T`` = never spikes).

    Returns:
        Tensor: first-spike times.

    Example:
        >>> latency_times(torch.tensor([[[[4.0, 3.0], [2.0, 1.0]]]]), 2).tolist()
        [[[[0, 0], [1, 1]]]]
    """
    fn = "latency_times"
    check_tensor(fn, "x", x, ndim=4, axes="[batch, channel, height, width]")
    check_float(fn, "x", x)
    steps = _check_steps(fn, time_steps)
    first, negative = _first_steps(x.reshape(x.shape[0], -1), steps)
    if negative:
        raise ValueError(f"{fn}: x must be non-negative (a negative value spikes as -1, which first-spike "
                         f"times cannot hold), got minimum {x.min().item()}")
    return first.view(x.shape)
