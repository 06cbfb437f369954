"""SpikeProp: gradient descent on spike TIMES (Bohte, Kok & La Poutré 2002).

Chapter: Learning by gradient (book/gradient.md).

The first gradient rule for spiking networks learned *when* neurons fire. Each neuron is a
spike-response model (SRM) neuron without leak of its own: its membrane potential is a weighted sum
of post-synaptic potentials, one per input spike,

    V_j(t) = sum_i w_ji eps(t - t_i),      eps(s) = (s / tau) exp(1 - s / tau) for s > 0, else 0,

(``eps`` peaks at 1 when ``s = tau``), and it fires once, at the first time ``t_j`` with
``V_j(t_j) = threshold``. Only that first spike counts (a time-to-first-spike code, so no reset or
refractoriness is needed). The error of one pattern is

    E = 1/2 sum_j (t_j - t_j^d)^2       (actual minus desired output spike times, in ms).

The derivation (Bohte et al. 2002)
----------------------------------
``t_j`` is defined implicitly by ``V_j(t_j; w) = threshold``. Differentiate both sides with respect
to a weight ``w_ji``: ``dV/dw_ji + dV/dt * dt_j/dw_ji = 0``, so, at the crossing,

    dt_j/dw_ji = -(dV_j/dw_ji) / (dV_j/dt) = -eps(t_j - t_i) / V_j'(t_j),
    dt_j/dt_i  = -(dV_j/dt_i)  / (dV_j/dt) =  w_ji eps'(t_j - t_i) / V_j'(t_j),

with ``V_j'(t) = sum_i w_ji eps'(t - t_i)`` and ``eps'(s) = (1/tau) exp(1 - s/tau) (1 - s/tau)``.
This is the "-1 / (dV/dt) at the crossing" of the rule: raising an excitatory weight raises
the potential near the crossing, so the neuron fires earlier (``dt_j/dw_ji < 0``), and the
steeper the potential crosses the threshold, the less a change of it moves the spike. The chain
rule through ``dt_j/dt_i`` carries the error into earlier layers (:class:`SpikeTime` returns
both), so ``loss.backward()`` on ``E`` is SpikeProp for any depth.

Contrast with surrogate gradients (:mod:`snnbook.models.surrogate`): those differentiate the spike
*count* (or the membrane) through a smooth stand-in for the step function at every time step, and
use the exact forward pass; SpikeProp's gradient is exact (for the first spike) but exists only
where a neuron fires: a silent neuron has no spike time to move.

Numerics and the two special cases
----------------------------------
* The first crossing is found on a time grid of step ``dt`` (first grid point with ``V >=
  threshold``), then refined inside that grid interval on the exact, continuous ``V``: linear
  interpolation, then :data:`REFINE_STEPS` Newton steps ``t -= (V(t) - threshold) / V'(t)``,
  each replaced by a bisection step where it would leave the bracket (so it converges even at the
  kinks where an input's PSP starts); the result is exact to ~1e-12 ms. A crossing that goes
  up and back down within one grid step is missed; keep ``dt`` well below ``tau``.
* **No spike.** A neuron that stays below threshold until ``t_max`` is given the time ``t_max`` and
  a zero gradient (its spike time does not depend on the weights there). The trainer
  :func:`train_spikeprop` therefore pushes its weights up instead: after each step, every weight
  into a neuron that was silent on some pattern of the batch grows by ``silent_push`` times the
  largest PSP of that input in ``[0, t_max]``, averaged over the batch (0 for an input that never
  fires). The push is ours, not part of SpikeProp; the history counts how often it acted.
* **Shallow crossings.** ``V'(t_j)`` can be close to 0 when the potential barely reaches threshold;
  the rule then divides by almost nothing and one step can overshoot so far that the neuron falls
  silent. The slope in the gradient is therefore bounded below: ``V' >= min_slope``
  (:data:`MIN_SLOPE`, per ms; ``tests/test_spikeprop.py`` checks the unbounded rule against
  finite differences). Targets on the rising side of the PSPs, well before their peak, learn best.

Times are in ms, float64 throughout (the crossing is refined to far below float32's resolution).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_bool, check_int, check_pixels, check_real, check_tensor, value_range

#: PSP time constant tau (ms).
TAU_MS = 7.0
#: Firing threshold (dimensionless, eps peaks at 1).
THRESHOLD = 1.0
#: End of the simulated interval (ms); a neuron silent until then "fires" at T_MAX_MS.
T_MAX_MS = 30.0
#: Time grid step for finding the first crossing (ms), before refinement.
DT_MS = 0.1
#: Safeguarded Newton steps refining the crossing inside its grid interval.
REFINE_STEPS = 8
#: Lower bound of V'(t_j) in the gradient (per ms).
MIN_SLOPE = 0.2

__all__ = ["TAU_MS", "THRESHOLD", "T_MAX_MS", "DT_MS", "REFINE_STEPS", "MIN_SLOPE", "srm_kernel",
           "srm_kernel_derivative", "potentials", "first_spike_times", "SpikeTime", "SpikePropLayer",
           "SpikePropNet", "spike_time_error", "latency_times", "ttfs_targets", "ttfs_classify",
           "train_spikeprop", "quickstart", "ttfs_digits"]


def _psp(s: torch.Tensor, tau: float) -> torch.Tensor:
    sp = s.clamp(min=0.0)  # s <= 0 (and s = -inf, a silent input) give exactly 0
    return torch.where(s > 0, sp / tau * torch.exp(1.0 - sp / tau), torch.zeros_like(sp))


def _psp_slope(s: torch.Tensor, tau: float) -> torch.Tensor:
    sp = s.clamp(min=0.0)
    return torch.where(s > 0, torch.exp(1.0 - sp / tau) * (1.0 - sp / tau) / tau, torch.zeros_like(sp))


def srm_kernel(s: torch.Tensor, tau: float = TAU_MS) -> torch.Tensor:
    """The spike-response kernel ``eps(s) = (s / tau) exp(1 - s / tau)`` for ``s > 0``, else 0.

    Args:
        s: time since the input spike (ms); ``-inf`` (an input that never fired) gives 0.
        tau: time constant (ms), > 0; the kernel peaks at 1 when ``s = tau``.

    Shape:
        - Input: any shape.
        - Output: same shape as ``s``.

    Example:
        >>> srm_kernel(torch.tensor([-1.0, 0.0, 7.0]), tau=7.0)
        tensor([0., 0., 1.])
    """
    fn = "srm_kernel"
    check_tensor(fn, "s", s, finite=False, nonempty=False)
    tau = check_real(fn, "tau", tau, minimum=0.0, strict_min=True)
    if s.is_floating_point() and bool(torch.isnan(s).any()):
        raise ValueError(f"{fn}: s contains NaN values")
    return _psp(s if s.is_floating_point() else s.double(), tau)


def srm_kernel_derivative(s: torch.Tensor, tau: float = TAU_MS) -> torch.Tensor:
    """``d eps / ds = (1 / tau) exp(1 - s / tau) (1 - s / tau)`` for ``s > 0``, else 0 (per ms).

    Args:
        s: time since the input spike (ms).
        tau: time constant (ms), > 0.

    Shape:
        - Input: any shape.
        - Output: same shape as ``s``.

    Example:
        >>> srm_kernel_derivative(torch.tensor([7.0]), tau=7.0)
        tensor([0.])
    """
    fn = "srm_kernel_derivative"
    check_tensor(fn, "s", s, finite=False, nonempty=False)
    tau = check_real(fn, "tau", tau, minimum=0.0, strict_min=True)
    if s.is_floating_point() and bool(torch.isnan(s).any()):
        raise ValueError(f"{fn}: s contains NaN values")
    return _psp_slope(s if s.is_floating_point() else s.double(), tau)


def _check_input_times(fn: str, input_times, axes: str = "[batch, n_in]") -> None:
    """Spike times (ms) ``[batch, n_in]``: floating point, each ``>= 0`` (the simulation starts at
    0, where every potential is 0) or ``+inf`` (no spike); one reduction."""
    check_tensor(fn, "input_times", input_times, ndim=2, axes=axes, finite=False)
    if not input_times.is_floating_point():
        raise TypeError(f"{fn}: input_times must be a floating-point tensor (ms; inf = no spike), "
                        f"got {input_times.dtype}")
    lo = float(input_times.detach().amin())  # NaN propagates into the minimum
    if math.isnan(lo):
        raise ValueError(f"{fn}: input_times must be spike times >= 0 ms or +inf (no spike), got NaN")
    if lo < 0:
        raise ValueError(f"{fn}: input_times must be spike times >= 0 ms (the simulation starts at 0) or +inf "
                         f"(no spike), got values down to {lo:g}")


def _check_times_weight(fn: str, input_times, weight) -> None:
    _check_input_times(fn, input_times)
    check_tensor(fn, "weight", weight, ndim=2, axes="[n_out, n_in]")
    if not weight.is_floating_point():
        raise TypeError(f"{fn}: weight must be a floating-point tensor, got {weight.dtype}")
    if input_times.shape[1] != weight.shape[1]:
        raise ValueError(f"{fn}: input_times has {input_times.shape[1]} inputs but weight expects "
                         f"{weight.shape[1]} (weight shape {tuple(weight.shape)})")
    if input_times.device != weight.device:
        raise ValueError(f"{fn}: tensors must be on the same device, got input_times on "
                         f"{input_times.device}, weight on {weight.device}")


def potentials(input_times: torch.Tensor, weight: torch.Tensor, t: torch.Tensor,
               tau: float = TAU_MS) -> torch.Tensor:
    """Membrane potentials ``V_j(t) = sum_i w_ji eps(t - t_i)`` on a time grid.

    Args:
        input_times: input spike times (ms), ``inf`` where an input does not fire.
        weight: synaptic weights.
        t: the times (ms) at which to evaluate the potentials.
        tau: PSP time constant (ms).

    Shape:
        - input_times: ``[batch, n_in]``
        - weight: ``[n_out, n_in]``
        - t: ``[steps]``
        - Output: ``[batch, steps, n_out]``, float64.

    Example:
        >>> v = potentials(torch.tensor([[0.0]]), torch.tensor([[2.0]]), torch.tensor([0.0, 7.0]))
        >>> v.squeeze()
        tensor([0., 2.], dtype=torch.float64)
    """
    fn = "potentials"
    _check_times_weight(fn, input_times, weight)
    check_tensor(fn, "t", t, ndim=1, axes="[steps]")
    if t.dtype == torch.bool:
        raise TypeError(f"{fn}: t must hold times (ms), got {t.dtype}")
    tau = check_real(fn, "tau", tau, minimum=0.0, strict_min=True)
    return _grid_potentials(input_times.double(), weight.double(), t.double().to(weight.device), tau)


def _grid_potentials(times, w, t, tau):
    kernel = _psp(t[None, :, None] - times[:, None, :], tau)  # [batch, steps, n_in]
    return kernel @ w.t()  # [batch, steps, n_out]


def _potential_and_slope(t, times, w, tau):
    """V and dV/dt at one time per (pattern, neuron): t [batch, n_out] -> two [batch, n_out]."""
    s = t[:, :, None] - times[:, None, :]  # [batch, n_out, n_in]
    sp = s.clamp(min=0.0)
    e = torch.where(s > 0, torch.exp(1.0 - sp / tau), torch.zeros_like(sp))
    return (sp / tau * e * w).sum(-1), (e * (1.0 - sp / tau) / tau * w).sum(-1)


def _first_crossing(times, w, tau, threshold, t_max, dt):
    """Exact first threshold crossing: [batch, n_out] times (t_max where silent) and fired mask."""
    steps = int(math.floor(t_max / dt + 1e-9)) + 1
    grid = torch.arange(steps, dtype=torch.float64, device=w.device) * dt
    if grid[-1] < t_max:
        grid = torch.cat([grid, grid.new_tensor([t_max])])
    v_grid = _grid_potentials(times, w, grid, tau)  # [batch, steps, n_out]
    above = v_grid >= threshold
    fired = above.any(1)
    k = above.to(torch.uint8).argmax(1, keepdim=True)  # first grid index at or above threshold
    # V(0) = 0 < threshold (threshold > 0), so k >= 1 wherever the neuron fired.
    k_lo = (k - 1).clamp(min=0)
    lo, hi = grid[k_lo.squeeze(1)], grid[k.squeeze(1)]
    v_lo, v_hi = v_grid.gather(1, k_lo).squeeze(1), v_grid.gather(1, k).squeeze(1)
    # linear interpolation inside the bracket, then safeguarded Newton steps (a step that leaves
    # the bracket [lo, hi], which always holds the crossing, is replaced by bisection)
    t = lo + ((threshold - v_lo) / (v_hi - v_lo).clamp(min=1e-300)).clamp(0.0, 1.0) * (hi - lo)
    for _ in range(REFINE_STEPS):
        v, slope = _potential_and_slope(t, times, w, tau)
        up = v >= threshold
        hi, lo = torch.where(up, t, hi), torch.where(up, lo, t)
        newton = t - (v - threshold) / torch.where(slope > 0, slope, torch.ones_like(slope))
        ok = (slope > 0) & (newton >= lo) & (newton <= hi)
        t = torch.where(ok, newton, 0.5 * (lo + hi))
    return torch.where(fired, t, torch.full_like(t, t_max)), fired


class SpikeTime(torch.autograd.Function):
    """First-spike time of SRM neurons with the SpikeProp gradient (module docstring).

    ``SpikeTime.apply(input_times, weight, tau, threshold, t_max, dt, min_slope)`` returns the
    first-spike times ``[batch, n_out]`` (float64, ms; ``t_max`` where silent). Backward:
    ``dt_j/dw_ji = -eps(t_j - t_i) / V'``, ``dt_j/dt_i = w_ji eps'(t_j - t_i) / V'`` with ``V' =
    max(V_j'(t_j), min_slope)``; zero for a silent neuron and for an input that did not fire.
    Call it through :func:`first_spike_times`, which checks the arguments.
    """

    @staticmethod
    def forward(ctx, input_times, weight, tau, threshold, t_max, dt, min_slope):
        times, w = input_times.detach().double(), weight.detach().double()
        t, fired = _first_crossing(times, w, tau, threshold, t_max, dt)
        ctx.save_for_backward(times, w, t, fired)
        ctx.consts = (tau, min_slope, input_times.dtype, weight.dtype)
        return t

    @staticmethod
    def backward(ctx, grad_t):
        times, w, t, fired = ctx.saved_tensors
        tau, min_slope, in_dtype, w_dtype = ctx.consts
        s = t[:, :, None] - times[:, None, :]  # [batch, n_out, n_in]
        eps, deps = _psp(s, tau), _psp_slope(s, tau)
        slope = (deps * w[None]).sum(-1).clamp(min=min_slope)  # V'(t_j) [batch, n_out]
        g = torch.where(fired, grad_t.double() / slope, torch.zeros_like(slope))  # dE/dt_j / V'
        grad_w = grad_in = None
        if ctx.needs_input_grad[1]:
            grad_w = -(g[:, :, None] * eps).sum(0).to(w_dtype)
        if ctx.needs_input_grad[0]:
            grad_in = (g[:, :, None] * w[None] * deps).sum(1).to(in_dtype)
        return grad_in, grad_w, None, None, None, None, None


def first_spike_times(input_times: torch.Tensor, weight: torch.Tensor, tau: float = TAU_MS,
                      threshold: float = THRESHOLD, t_max: float = T_MAX_MS, dt: float = DT_MS,
                      min_slope: float = MIN_SLOPE) -> torch.Tensor:
    """First threshold crossing of ``V_j(t) = sum_i w_ji eps(t - t_i)``, differentiable by SpikeProp.

    Args:
        input_times: input spike times (ms), ``inf`` where an input does not fire.
        weight: synaptic weights (may require grad).
        tau: PSP time constant (ms), > 0.
        threshold: firing threshold, > 0.
        t_max: end of the simulated interval (ms); a neuron silent until then gets ``t_max`` and
            a zero gradient.
        dt: grid step (ms) for locating the crossing before refinement, 0 < dt <= t_max.
        min_slope: lower bound of ``V'(t_j)`` in the gradient (per ms), > 0.

    Shape:
        - input_times: ``[batch, n_in]``
        - weight: ``[n_out, n_in]``
        - Output: ``[batch, n_out]`` spike times (ms), float64.

    Example:
        >>> t = first_spike_times(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        >>> round(float(t), 4)
        2.1648
    """
    fn = "first_spike_times"
    _check_times_weight(fn, input_times, weight)
    tau = check_real(fn, "tau", tau, minimum=0.0, strict_min=True)
    threshold = check_real(fn, "threshold", threshold, minimum=0.0, strict_min=True)
    t_max = check_real(fn, "t_max", t_max, minimum=0.0, strict_min=True)
    dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True, maximum=t_max)
    min_slope = check_real(fn, "min_slope", min_slope, minimum=0.0, strict_min=True)
    return SpikeTime.apply(input_times, weight, tau, threshold, t_max, dt, min_slope)


class SpikePropLayer(nn.Module):
    """A fully connected layer of SRM neurons that each fire once; forward gives their spike times.

    Args:
        n_in: inputs; n_out: neurons.
        tau, threshold, t_max, dt, min_slope: as in :func:`first_spike_times`.
        weight_scale: initial weights are uniform in ``[0, weight_scale)`` (positive, so that the
            neurons fire); None: ``4 * threshold / n_in``.
        seed: seed of the initialisation.

    Shape:
        - Input: ``[batch, n_in]`` spike times (ms, ``inf`` = no spike)
        - Output: ``[batch, n_out]`` spike times (ms, float64)

    Example:
        >>> layer = SpikePropLayer(4, 2, weight_scale=1.0, seed=0)
        >>> layer(torch.zeros(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(self, n_in: int, n_out: int, tau: float = TAU_MS, threshold: float = THRESHOLD,
                 t_max: float = T_MAX_MS, dt: float = DT_MS, min_slope: float = MIN_SLOPE,
                 weight_scale: float | None = None, seed: int = 0):
        super().__init__()
        fn = "SpikePropLayer"
        n_in = check_int(fn, "n_in", n_in, minimum=1)
        n_out = check_int(fn, "n_out", n_out, minimum=1)
        self.tau = check_real(fn, "tau", tau, minimum=0.0, strict_min=True)
        self.threshold = check_real(fn, "threshold", threshold, minimum=0.0, strict_min=True)
        self.t_max = check_real(fn, "t_max", t_max, minimum=0.0, strict_min=True)
        self.dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True, maximum=self.t_max)
        self.min_slope = check_real(fn, "min_slope", min_slope, minimum=0.0, strict_min=True)
        if weight_scale is None:
            weight_scale = 4.0 * self.threshold / n_in
        weight_scale = check_real(fn, "weight_scale", weight_scale, minimum=0.0, strict_min=True)
        seed = check_int(fn, "seed", seed)
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.rand(n_out, n_in, generator=g, dtype=torch.float64) * weight_scale)

    def forward(self, input_times: torch.Tensor) -> torch.Tensor:
        """Spike times ``[batch, n_out]`` of the layer for input times ``[batch, n_in]`` (ms, >= 0;
        ``inf`` = no spike)."""
        fn = "SpikePropLayer.forward"
        _check_input_times(fn, input_times)
        if input_times.shape[1] != self.weight.shape[1]:
            raise ValueError(f"{fn}: input_times must have n_in={self.weight.shape[1]} inputs, got shape "
                             f"{tuple(input_times.shape)}")
        if input_times.device != self.weight.device:
            raise ValueError(f"{fn}: input_times must be on the layer's device {self.weight.device}, got "
                             f"{input_times.device}")
        return first_spike_times(input_times, self.weight, self.tau, self.threshold, self.t_max,
                                 self.dt, self.min_slope)

    def extra_repr(self) -> str:
        n_out, n_in = self.weight.shape
        return (f"n_in={n_in}, n_out={n_out}, tau={self.tau}, threshold={self.threshold}, "
                f"t_max={self.t_max}, dt={self.dt}")


class SpikePropNet(nn.Sequential):
    """A stack of :class:`SpikePropLayer` (``sizes = (n_in, hidden..., n_out)``); each layer's
    spike times are the next layer's input times (a silent neuron passes ``t_max`` on).

    Shape:
        - Input: ``[batch, sizes[0]]`` spike times (ms)
        - Output: ``[batch, sizes[-1]]`` spike times (ms)

    Example:
        >>> net = SpikePropNet((4, 3, 2), seed=0)
        >>> net(torch.zeros(5, 4)).shape
        torch.Size([5, 2])
    """

    def __init__(self, sizes, seed: int = 0, **layer_kwargs):
        fn = "SpikePropNet"
        if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
            raise ValueError(f"{fn}: sizes must be a tuple of at least two layer sizes, got {sizes!r}")
        sizes = [check_int(fn, "sizes", n, minimum=1) for n in sizes]
        seed = check_int(fn, "seed", seed)
        super().__init__(*[SpikePropLayer(a, b, seed=seed + i, **layer_kwargs)
                           for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))])


def spike_time_error(times: torch.Tensor, target_times: torch.Tensor) -> torch.Tensor:
    """SpikeProp's error ``E = 1/2 sum_j (t_j - t_j^d)^2``, summed over neurons, averaged over the
    batch (ms^2).

    Shape:
        - times, target_times: ``[batch, n_out]``
        - Output: scalar.

    Example:
        >>> spike_time_error(torch.tensor([[3.0, 5.0]]), torch.tensor([[4.0, 5.0]]))
        tensor(0.5000)
    """
    fn = "spike_time_error"
    check_tensor(fn, "times", times, ndim=2, axes="[batch, n_out]")
    check_tensor(fn, "target_times", target_times, ndim=2, axes="[batch, n_out]")
    if times.shape != target_times.shape:
        raise ValueError(f"{fn}: target_times must have the shape of times {tuple(times.shape)}, "
                         f"got {tuple(target_times.shape)}")
    return 0.5 * ((times - target_times.to(times.dtype)) ** 2).sum(1).mean()


def latency_times(images: torch.Tensor, t_code: float = 10.0) -> torch.Tensor:
    """Latency code: a pixel of intensity ``x`` in ``[0, 1]`` (or 0..255 for uint8) fires once at
    ``(1 - x) * t_code`` ms; a black pixel (``x = 0``) never fires (``inf``). Floats outside
    ``[0, 1]`` (0..255 floats: divide by 255 or pass uint8), NaN and other integer dtypes raise.

    Shape:
        - Input: ``[batch, ...]`` (flattened after the batch axis)
        - Output: ``[batch, n_in]`` float64 times (ms)

    Example:
        >>> latency_times(torch.tensor([[0, 255, 51]], dtype=torch.uint8), t_code=10.0)
        tensor([[inf, 0., 8.]], dtype=torch.float64)
    """
    fn = "latency_times"
    check_tensor(fn, "images", images, ndim=(2, 3, 4), axes="[batch, ...]")
    t_code = check_real(fn, "t_code", t_code, minimum=0.0, strict_min=True)
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"{fn}: images must be uint8 (0..255) or floating point (0..1), got {images.dtype}")
    check_pixels(fn, "images", images, 1, "latency_times")
    x = images.reshape(images.shape[0], -1).double()
    if images.dtype == torch.uint8:
        x = x / 255.0
    return torch.where(x > 0, (1.0 - x) * t_code, torch.full_like(x, math.inf))


def ttfs_targets(labels: torch.Tensor, n_classes: int, early: float, late: float) -> torch.Tensor:
    """Target times for a time-to-first-spike classifier: the neuron of the label fires at ``early``
    ms, every other one at ``late`` ms (the scheme of Bohte et al. 2002).

    Shape:
        - labels: ``[batch]`` ints in ``[0, n_classes)``
        - Output: ``[batch, n_classes]`` float64 target times (ms)

    Example:
        >>> ttfs_targets(torch.tensor([1]), 3, early=10.0, late=16.0)
        tensor([[16., 10., 16.]], dtype=torch.float64)
    """
    fn = "ttfs_targets"
    check_tensor(fn, "labels", labels, ndim=1, axes="[batch]")
    n_classes = check_int(fn, "n_classes", n_classes, minimum=2)
    early = check_real(fn, "early", early, minimum=0.0)
    late = check_real(fn, "late", late, minimum=0.0)
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"{fn}: labels must be an integer tensor, got {labels.dtype}")
    lo, hi = value_range(fn, "labels", labels)
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"{fn}: labels must lie in [0, {n_classes}) (n_classes={n_classes}), got values in "
                         f"[{lo:.0f}, {hi:.0f}]")
    if not early < late:
        raise ValueError(f"{fn}: early must be < late, got early={early}, late={late}")
    out = torch.full((labels.shape[0], n_classes), late, dtype=torch.float64, device=labels.device)
    out[torch.arange(labels.shape[0], device=labels.device), labels.long()] = early
    return out


def ttfs_classify(times: torch.Tensor, t_max: float = T_MAX_MS) -> torch.Tensor:
    """The class of each pattern is its earliest output spike; -1 where every output is silent
    (time ``>= t_max``).

    Shape:
        - times: ``[batch, n_out]`` (ms)
        - Output: ``[batch]`` int64

    Example:
        >>> ttfs_classify(torch.tensor([[12.0, 9.0], [30.0, 30.0]]), t_max=30.0)
        tensor([ 1, -1])
    """
    fn = "ttfs_classify"
    check_tensor(fn, "times", times, ndim=2, axes="[batch, n_out]")
    if times.dtype == torch.bool:
        raise TypeError(f"{fn}: times must be spike times (ms), got {times.dtype}")
    t_max = check_real(fn, "t_max", t_max, minimum=0.0, strict_min=True)
    best, idx = times.min(1)
    return torch.where(best < t_max, idx, torch.full_like(idx, -1))


def _silent_push(model: nn.Module, x: torch.Tensor, amount: float) -> int:
    """Raise the weights into neurons silent on some pattern of ``x``; return how many were."""
    pushed = 0
    with torch.no_grad():
        h = x
        for layer in model.modules():
            if not isinstance(layer, SpikePropLayer):
                continue
            t, fired = _first_crossing(h.double(), layer.weight.double(), layer.tau, layer.threshold,
                                       layer.t_max, layer.dt)
            silent = (~fired).any(0)  # [n_out]
            if bool(silent.any()):
                grid = torch.linspace(0, layer.t_max, 64, dtype=torch.float64, device=h.device)
                peak = _psp(grid[None, :, None] - h.double()[:, None, :], layer.tau).amax(1).mean(0)
                layer.weight[silent] += amount * peak.to(layer.weight.dtype)
                pushed += int(silent.sum())
            h = t
    return pushed


def train_spikeprop(model: nn.Module, input_times: torch.Tensor, target_times: torch.Tensor,
                    epochs: int = 50, lr: float = 0.01, batch_size: int | None = None,
                    silent_push: float = 0.05, seed: int = 0, record: bool = True) -> dict:
    """Train ``model`` (a :class:`SpikePropLayer` or :class:`SpikePropNet`) by SpikeProp: plain
    gradient descent on :func:`spike_time_error`, weights updated after each mini-batch.

    Args:
        model: the network; its weights are updated in place.
        input_times: input spike times (ms, >= 0; ``inf`` = no spike).
        target_times: desired output spike times (ms, finite, >= 0).
        epochs: passes over the patterns.
        lr: learning rate (weight per ms^2 of error gradient).
        batch_size: patterns per update (all of them when None).
        silent_push: after each update, weights into a neuron that stayed silent on some pattern of
            the batch grow by this times the input's largest PSP (module docstring); 0 disables it.
        seed: seed of the pattern order.
        record: keep every epoch's output times of all patterns in the history.

    Shape:
        - input_times: ``[patterns, n_in]``
        - target_times: ``[patterns, n_out]``

    Returns:
        ``{"error": [E before training, after epoch 1, ...], "times": [patterns, n_out] tensor per
        entry of "error" (when ``record``), "silent_pushes": neurons pushed per epoch}``.

    Example:
        >>> layer = SpikePropLayer(3, 1, weight_scale=1.0, seed=0)
        >>> x, target = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[6.0]])
        >>> h = train_spikeprop(layer, x, target, epochs=20, lr=0.01)
        >>> h["error"][-1] < h["error"][0]
        True
    """
    fn = "train_spikeprop"
    if not isinstance(model, nn.Module) or not any(isinstance(m, SpikePropLayer) for m in model.modules()):
        raise TypeError(f"{fn}: model must be a SpikePropLayer or SpikePropNet, got {type(model).__name__}")
    _check_input_times(fn, input_times, "[patterns, n_in]")
    check_tensor(fn, "target_times", target_times, ndim=2, axes="[patterns, n_out]")
    if not target_times.is_floating_point():
        raise TypeError(f"{fn}: target_times must be a floating-point tensor (ms), got {target_times.dtype}")
    lo, _ = value_range(fn, "target_times", target_times)
    if lo < 0:
        raise ValueError(f"{fn}: target_times must be spike times >= 0 ms (a neuron cannot fire before the "
                         f"simulation starts), got values down to {lo:g}")
    if input_times.shape[0] != target_times.shape[0]:
        raise ValueError(f"{fn}: input_times has {input_times.shape[0]} patterns but target_times has "
                         f"{target_times.shape[0]}")
    epochs = check_int(fn, "epochs", epochs, minimum=0)
    lr = check_real(fn, "lr", lr, minimum=0.0, strict_min=True)
    silent_push = check_real(fn, "silent_push", silent_push, minimum=0.0)
    seed = check_int(fn, "seed", seed)
    record = check_bool(fn, "record", record)
    n = input_times.shape[0]
    batch_size = n if batch_size is None else check_int(fn, "batch_size", batch_size, minimum=1)
    targets = target_times.double()
    params = [p for p in model.parameters() if p.requires_grad]
    g = torch.Generator().manual_seed(seed)

    def measure():
        with torch.no_grad():
            out = model(input_times)
        if out.shape != targets.shape:
            raise ValueError(f"{fn}: the model gives times of shape {tuple(out.shape)}, target_times "
                             f"has shape {tuple(targets.shape)}")
        return out, float(spike_time_error(out, targets))

    out, err = measure()
    history = {"error": [err], "times": [out] if record else [], "silent_pushes": []}
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        pushes = 0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = spike_time_error(model(input_times[idx]), targets[idx])
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            with torch.no_grad():
                for p, gr in zip(params, grads):
                    if gr is not None:
                        p -= lr * gr
            if silent_push > 0:
                pushes += _silent_push(model, input_times[idx], silent_push)
        out, err = measure()
        history["error"].append(err)
        history["silent_pushes"].append(pushes)
        if record:
            history["times"].append(out)
    return history


def quickstart(epochs: int = 60, seed: int = 0) -> tuple[SpikePropLayer, dict]:
    """The worked example: one layer of 3 SRM neurons learns to fire at 9, 11 and 13 ms in
    response to one fixed pattern of 20 input spikes in [0, 10) ms. Runs in well under a second.

    Returns:
        ``(layer, history)``: the trained layer and :func:`train_spikeprop`'s history, with
        ``history["targets"]`` (``[1, 3]``) added; ``history["times"]`` holds ``[1, 3]`` times per
        epoch, converging to the targets.

    Example:
        >>> layer, h = quickstart()
        >>> bool((h["times"][-1] - h["targets"]).abs().max() < 0.1)
        True
    """
    fn = "quickstart"
    epochs = check_int(fn, "epochs", epochs, minimum=0)
    seed = check_int(fn, "seed", seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 20, generator=g, dtype=torch.float64) * 10.0
    targets = torch.tensor([[9.0, 11.0, 13.0]], dtype=torch.float64)
    layer = SpikePropLayer(20, 3, weight_scale=0.2, seed=seed)
    history = train_spikeprop(layer, x, targets, epochs=epochs, lr=0.001, seed=seed)
    history["targets"] = targets
    history["input_times"] = x
    return layer, history


def ttfs_digits(classes=(0, 1, 2), n_train: int = 300, n_test: int = 300, hidden: int | None = None,
                epochs: int = 8, lr: float = 0.001, early: float = 6.0, late: float = 9.0,
                seed: int = 0) -> dict:
    """A time-to-first-spike digit classifier trained by SpikeProp: 14 x 14 (2x2-averaged) MNIST
    digits of a few ``classes``, latency coded (:func:`latency_times`, 10 ms), one output neuron per
    class, trained to fire at ``early`` ms for its class and ``late`` ms otherwise; the earliest
    output spike is the answer (:func:`ttfs_classify`). The neurons simulate 20 ms on a 0.25 ms
    grid before refinement (the targets lie well inside). Training digits are the first ``n_train``
    of the classes in the training set, test digits the first ``n_test`` in the test set.

    Returns:
        ``{"model", "history", "train_accuracy", "test_accuracy", "classes", "test_times"
        [n_test, n_classes], "test_labels" [n_test] (indices into classes)}``.
    """
    from .. import data
    fn = "ttfs_digits"
    if not isinstance(classes, (tuple, list)) or len(classes) < 2 or len(set(classes)) != len(classes) \
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 9 for c in classes):
        raise ValueError(f"{fn}: classes must be at least two distinct digits 0..9, got {classes!r}")
    n_train = check_int(fn, "n_train", n_train, minimum=1)
    n_test = check_int(fn, "n_test", n_test, minimum=1)
    seed = check_int(fn, "seed", seed)
    # the arguments of the later steps, checked before any digit is loaded
    check_int(fn, "epochs", epochs, minimum=0)
    check_real(fn, "lr", lr, minimum=0.0, strict_min=True)
    if hidden is not None:
        check_int(fn, "hidden", hidden, minimum=1)
    early = check_real(fn, "early", early, minimum=0.0)
    late = check_real(fn, "late", late, minimum=0.0)
    if not early < late:
        raise ValueError(f"{fn}: early must be < late, got early={early}, late={late}")

    def pick(train, n):
        images, labels = data.mnist_tensors(train=train)
        keep = torch.isin(labels, torch.tensor(classes))
        images, labels = images[keep][:n], labels[keep][:n]
        small = torch.nn.functional.avg_pool2d(images.float().unsqueeze(1) / 255.0, 2).squeeze(1)
        remap = torch.tensor([classes.index(int(c)) for c in labels], dtype=torch.long)
        return latency_times(small.clamp(0, 1), t_code=10.0), remap

    x_train, y_train = pick(True, n_train)
    x_test, y_test = pick(False, n_test)
    k = len(classes)
    sizes = (196, k) if hidden is None else (196, check_int(fn, "hidden", hidden, minimum=1), k)
    model = SpikePropNet(sizes, seed=seed, weight_scale=0.1, t_max=20.0, dt=0.25)
    targets = ttfs_targets(y_train, k, early=early, late=late)
    history = train_spikeprop(model, x_train, targets, epochs=epochs, lr=lr, batch_size=10,
                              seed=seed, record=False)
    with torch.no_grad():
        train_pred = ttfs_classify(model(x_train), t_max=20.0)
        test_times = model(x_test)
    test_pred = ttfs_classify(test_times, t_max=20.0)
    return {"model": model, "history": history, "classes": tuple(classes),
            "train_accuracy": float((train_pred == y_train).double().mean()),
            "test_accuracy": float((test_pred == y_test).double().mean()),
            "test_times": test_times, "test_labels": y_test}
