"""Firing, lateral inhibition and k-winners-take-all on batched potentials.

Chapter: Competition and STDP (book/competition.md).

Potentials and spike-waves are ``[batch, time, feature, height, width]``; ``x[b]`` is exactly a
SpykeTorch ``[time, feature, height, width]`` tensor and every function here reproduces the
SpykeTorch routine of the same role (``functional.fire``, ``threshold``, ``pointwise_inhibition``,
``feature_inhibition``, ``get_k_winners``) on each sample, vectorised over the batch.

Winners format
--------------
:func:`k_winners` returns a ``torch.long`` tensor ``winners`` of shape ``[batch, k, 3]`` whose
rows are ``(feature, row, col)`` in selection order. A sample with fewer than ``k`` winners is
padded with rows of ``-1``; valid rows always form a prefix, so ``(winners[..., 0] >= 0)`` is the
mask and ``(winners[..., 0] >= 0).sum(1)`` the count. :func:`winners_to_lists` turns it into
SpykeTorch-style per-sample Python lists of ``(feature, row, col)`` tuples.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (HALF_DTYPES, INT_DTYPES, check_bool, check_float, check_int, check_real, check_same_device,
                      check_sum_bound, check_tensor, value_range)

__all__ = ["fire", "fire_", "threshold", "threshold_", "pointwise_inhibition", "feature_inhibition",
           "feature_inhibition_", "k_winners", "winners_to_lists", "Fire", "KWTA",
           "pointwise_inhibition_times", "k_winners_times"]

WAVE_AXES = "[batch, time, feature, height, width]"
#: Elements per batch chunk in :func:`pointwise_inhibition` and :func:`k_winners` (4 MiB of float32
#: temporaries, which stay in cache); every sample is computed exactly as on its own.
_CHUNK_ELEMENTS = 2 ** 20


def _check_potentials(fn: str, potentials, name: str = "potentials") -> None:
    check_tensor(fn, name, potentials, ndim=5, axes=WAVE_AXES)
    check_float(fn, name, potentials)


def _check_threshold(fn: str, threshold, potentials: torch.Tensor):
    """Return ``threshold`` as a float or as a finite tensor that broadcasts TO ``potentials``' shape
    (a 0-dim tensor becomes a float); None stays None."""
    if threshold is None:
        return None
    if isinstance(threshold, torch.Tensor):
        check_same_device(fn, potentials=potentials, threshold=threshold)
        check_tensor(fn, "threshold", threshold)
        if threshold.dtype == torch.bool:
            raise TypeError(f"{fn}: threshold must be a real tensor, got {threshold.dtype}")
        if threshold.dim() == 0:
            return _check_threshold(fn, check_real(fn, "threshold", threshold), potentials)
        try:
            shape = torch.broadcast_shapes(threshold.shape, potentials.shape)
        except RuntimeError:
            shape = None
        if shape != potentials.shape:
            raise ValueError(f"{fn}: threshold of shape {tuple(threshold.shape)} does not broadcast to "
                             f"potentials {tuple(potentials.shape)} (it must not enlarge them)")
        thr = threshold.to(potentials.dtype)
        if thr.dtype != threshold.dtype and not bool(torch.isfinite(thr).all()):
            raise ValueError(f"{fn}: threshold overflows potentials' dtype {potentials.dtype}")
        return thr
    if isinstance(threshold, (bool, str)):
        raise TypeError(f"{fn}: threshold must be a real number, a tensor or None, got {threshold!r}")
    thr = check_real(fn, "threshold", threshold)
    if abs(thr) > torch.finfo(potentials.dtype).max:  # beyond the dtype: nothing / everything is above it
        thr = math.copysign(math.inf, thr)
    return thr


def threshold_(potentials: torch.Tensor, threshold=None) -> torch.Tensor:
    r"""In-place version of :func:`threshold`; returns ``potentials``.

    Example:
        >>> p = torch.tensor([1., 2., 3.]).reshape(1, 3, 1, 1, 1)
        >>> threshold_(p, 2.0).flatten()
        tensor([0., 0., 3.])
    """
    fn = "threshold_"
    _check_potentials(fn, potentials)
    return _threshold_(potentials, _check_threshold(fn, threshold, potentials))


def _threshold_(potentials: torch.Tensor, thr) -> torch.Tensor:
    """:func:`threshold_` without the checks (``thr`` already checked)."""
    if thr is None:
        potentials[:, :-1] = 0
    elif isinstance(thr, float):
        F.threshold(potentials, thr, 0.0, inplace=True)  # keeps x > thr: one vectorised pass
    else:
        potentials.masked_fill_(potentials <= thr, 0)
    return potentials


def _thresholded(potentials: torch.Tensor, thr) -> torch.Tensor:
    """A thresholded copy of ``potentials`` (checked ``thr``), without a clone-then-fill pass."""
    if isinstance(thr, float):
        return F.threshold(potentials, thr, 0.0)
    return _threshold_(potentials.clone(), thr)


def threshold(potentials: torch.Tensor, threshold=None) -> torch.Tensor:
    r"""Keep potentials strictly above ``threshold``, zero the rest (SpykeTorch ``functional.threshold``).

    With ``threshold=None`` every time step except the last is zeroed and the last step is kept
    as-is (no thresholding at all, negatives included): the "fire at the end" readout of the
    2019 network's last layer.

    Args:
        potentials: membrane potentials (not cumulative sums; any real values).
        threshold: a real number, a tensor broadcastable to ``potentials`` (e.g. per feature
            ``[feature, 1, 1]``), or ``None``. Potentials EQUAL to the threshold are zeroed.

    Shape:
        - Input: ``[batch, time, feature, height, width]``
        - Output: same shape.

    Returns:
        A new tensor of thresholded potentials.

    Example:
        >>> p = torch.tensor([-1., 2., 3.]).reshape(1, 3, 1, 1, 1)
        >>> threshold(p, 2.0).flatten(), threshold(p).flatten()
        (tensor([0., 0., 3.]), tensor([0., 0., 3.]))
    """
    fn = "threshold"
    _check_potentials(fn, potentials)
    return _thresholded(potentials, _check_threshold(fn, threshold, potentials))


def fire_(potentials: torch.Tensor, threshold=None) -> torch.Tensor:
    r"""In-place version of :func:`fire`: ``potentials`` becomes the spike-wave; returns it.

    Example:
        >>> p = torch.tensor([1., 2., 3.]).reshape(1, 3, 1, 1, 1)
        >>> fire_(p, 1.5).flatten()
        tensor([0., 1., 1.])
    """
    fn = "fire_"
    _check_potentials(fn, potentials)
    _threshold_(potentials, _check_threshold(fn, threshold, potentials))
    return potentials.sign_()


def fire(potentials: torch.Tensor, threshold=None, return_thresholded_potentials: bool = False):
    r"""Spikes where the potential is strictly above the threshold (SpykeTorch ``functional.fire``).

    ``spikes = sign(threshold(potentials, threshold))``. If the potentials are monotone in time (the
    output of a convolution of a cumulative spike-wave), the spike-wave is cumulative. With
    ``threshold=None`` only the last step can spike and its spikes are the SIGN of the potential:
    ``-1`` for a negative potential, ``0`` for zero.

    Args:
        potentials: membrane potentials.
        threshold: a real number, a broadcastable tensor, or ``None`` (see :func:`threshold`).
        return_thresholded_potentials: also return the thresholded potentials.

    Shape:
        - Input: ``[batch, time, feature, height, width]``
        - Output: same shape (each returned tensor).

    Returns:
        ``spikes``, or ``(spikes, thresholded_potentials)`` in that order.

    Example:
        >>> p = torch.tensor([[1., 2.], [2., 4.], [3., -1.]]).reshape(1, 3, 2, 1, 1)
        >>> fire(p, 2.0)[0, :, :, 0, 0]
        tensor([[0., 0.],
                [0., 1.],
                [1., 0.]])
        >>> fire(p)[0, -1, :, 0, 0]
        tensor([ 1., -1.])
    """
    fn = "fire"
    _check_potentials(fn, potentials)
    check_bool(fn, "return_thresholded_potentials", return_thresholded_potentials)
    thresholded = _thresholded(potentials.detach(), _check_threshold(fn, threshold, potentials))
    spikes = thresholded.sign()
    if return_thresholded_potentials:
        return spikes, thresholded
    return spikes


def pointwise_inhibition(thresholded_potentials: torch.Tensor) -> torch.Tensor:
    r"""At each pixel only the earliest and strongest feature survives (SpykeTorch ``pointwise_inhibition``).

    Per sample and pixel: the first step is ``T - (number of steps whose feature-max is > 0)``,
    clamped to ``T - 1`` (correct for cumulative waves); the winner is the feature with the
    largest potential at that step (ties -> lowest feature index). The winner keeps its whole time
    course, every other feature is zeroed at every step, and pixels with nothing ``> 0`` at the
    last step are zeroed entirely.

    Args:
        thresholded_potentials: thresholded potentials (output of :func:`threshold` / :func:`fire`).

    Shape:
        - Input: ``[batch, time, feature, height, width]``
        - Output: same shape.

    Returns:
        The inhibited potentials (a new tensor).

    Example:
        >>> p = torch.zeros(1, 2, 3, 1, 1)
        >>> p[0, 1, 0] = 5.; p[0, :, 2] = 1.   # feature 2 fires first, feature 0 is larger later
        >>> pointwise_inhibition(p)[0, :, :, 0, 0]
        tensor([[0., 0., 1.],
                [0., 0., 1.]])
    """
    fn = "pointwise_inhibition"
    _check_potentials(fn, thresholded_potentials, "thresholded_potentials")
    x = thresholded_potentials
    if x.requires_grad and torch.is_grad_enabled():  # out= does not record autograd
        return x * _pointwise_coef(x.detach())
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    # a few samples at a time, so that the multiply finds its chunk of x still in cache
    chunk = max(1, _CHUNK_ELEMENTS // x[0].numel())
    for lo in range(0, x.shape[0], chunk):
        hi = min(lo + chunk, x.shape[0])
        torch.mul(x[lo:hi], _pointwise_coef(x[lo:hi]), out=out[lo:hi])
    return out


def _pointwise_coef(x: torch.Tensor) -> torch.Tensor:
    """``[B, 1, F, H, W]`` 0/1 mask of :func:`pointwise_inhibition` (SpykeTorch's ``coef``)."""
    steps = x.shape[1]
    maximum, argmax = torch.max(x, dim=2, keepdim=True)  # [B, T, 1, H, W]
    clamp_pot = maximum.sign()
    first = (steps - clamp_pot.sum(dim=1, keepdim=True)).long().clamp_(0, steps - 1)  # [B, 1, 1, H, W]
    last = clamp_pot[:, -1:]
    winners = argmax.gather(1, first)
    coef = torch.zeros_like(x[:, :1])
    coef.scatter_(2, winners, last)
    return coef


def _feature_mask(fn: str, potentials: torch.Tensor, features) -> torch.Tensor:
    """Bool mask ``[batch, feature]`` of the features to inhibit."""
    batch, nfeat = potentials.shape[0], potentials.shape[2]
    if isinstance(features, torch.Tensor):
        check_same_device(fn, potentials=potentials, features=features)
        check_tensor(fn, "features", features, nonempty=False)
        if features.dtype not in INT_DTYPES:
            raise TypeError(f"{fn}: features must be an integer tensor, got {features.dtype}")
        idx = features.long()
        if idx.dim() == 1:
            idx = idx.unsqueeze(0).expand(batch, -1)
        elif idx.dim() != 2 or idx.shape[0] != batch:
            raise ValueError(f"{fn}: features must have shape [n] or [batch={batch}, n], "
                             f"got {tuple(features.shape)}")
    else:
        if not isinstance(features, Sequence) or isinstance(features, str):
            raise TypeError(f"{fn}: features must be a sequence of ints or a LongTensor, got {features!r}")
        ints = [check_int(fn, "features", f, minimum=0) for f in features]
        idx = torch.tensor(ints, dtype=torch.long, device=potentials.device).reshape(1, -1).expand(batch, -1)
    if idx.numel() and (bool((idx >= nfeat).any()) or bool((idx < -1).any())):
        raise ValueError(f"{fn}: features must lie in [0, {nfeat - 1}] (or -1 for padding), "
                         f"got {idx.unique().tolist()}")
    idx = torch.where(idx < 0, nfeat, idx)
    mask = torch.zeros(batch, nfeat + 1, dtype=torch.bool, device=potentials.device)
    mask.scatter_(1, idx, True)
    return mask[:, :nfeat]


def feature_inhibition_(potentials: torch.Tensor, features) -> torch.Tensor:
    r"""In-place version of :func:`feature_inhibition`; returns ``potentials``.

    Example:
        >>> p = torch.ones(1, 1, 3, 1, 1)
        >>> feature_inhibition_(p, [1]).flatten()
        tensor([1., 0., 1.])
    """
    return _feature_inhibition_("feature_inhibition_", potentials, features)


def _feature_inhibition_(fn: str, potentials: torch.Tensor, features) -> torch.Tensor:
    _check_potentials(fn, potentials)
    mask = _feature_mask(fn, potentials, features)
    potentials.masked_fill_(mask[:, None, :, None, None], 0)
    return potentials


def feature_inhibition(potentials: torch.Tensor, features) -> torch.Tensor:
    r"""Zero whole feature maps at every time step (SpykeTorch ``feature_inhibition``).

    Args:
        potentials: potentials or spikes.
        features: the features to zero: a sequence of ints or a 1-D LongTensor (the same for every
            sample), or a LongTensor ``[batch, n]`` per sample where ``-1`` entries are ignored
            (so ``winners[..., 0]`` of :func:`k_winners` can be passed directly). Empty -> copy.

    Shape:
        - Input: ``[batch, time, feature, height, width]``
        - Output: same shape.

    Returns:
        A new tensor.

    Example:
        >>> p = torch.ones(2, 1, 3, 1, 1)
        >>> feature_inhibition(p, torch.tensor([[0, -1], [1, 2]]))[:, 0, :, 0, 0]
        tensor([[0., 1., 1.],
                [1., 0., 0.]])
    """
    _check_potentials("feature_inhibition", potentials)
    return _feature_inhibition_("feature_inhibition", potentials.clone(), features)


def k_winners(potentials: torch.Tensor, k: int = 1, inhibition_radius: int = 0,
              spikes: torch.Tensor | None = None) -> torch.Tensor:
    r"""k-winners-take-all with feature and local inhibition (SpykeTorch ``get_k_winners``), batched.

    For each sample, every neuron gets the score
    ``n * (p_first + T * max(spikes * p_first))`` (computed in SpykeTorch's order, in the
    potentials' dtype -- float32 for float16/bfloat16 potentials, whose scores overflow -- so ties
    and ordering match exactly), where ``n`` is its number of spiking
    steps and ``p_first`` its potential at the first-spike step ``T - n`` (clamped to ``T - 1``).
    So an earlier first spike always wins and, among equal first-spike times, the larger
    potential. Winners are picked one at a time (exact ties -> lowest flat index in
    ``(feature, row, col)`` order); after each pick the winner's whole feature map is removed and,
    if ``inhibition_radius > 0``, the clipped ``(2r+1) x (2r+1)`` square around it in ALL
    features. A sample stops early when its best remaining score is 0. The loop runs over ``k``
    only; each pick is vectorised across the batch.

    Args:
        potentials: (thresholded / inhibited) potentials.
        k: the maximum number of winners per sample; at most ``feature * height * width``.
        inhibition_radius: ``r >= 0``; 0 switches local inhibition off.
        spikes: the spike-wave (cumulative); ``None`` means ``sign(potentials)``, so every step with
            a positive potential counts as a spike.

    Shape:
        - Input ``potentials`` and ``spikes``: ``[batch, time, feature, height, width]``
        - Output: ``[batch, k, 3]``

    Returns:
        ``winners``: a LongTensor of ``(feature, row, col)`` rows in selection order, padded with
        ``-1`` rows (see the module docstring and :func:`winners_to_lists`).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> p = torch.rand(2, 4, 3, 5, 5, generator=g).cumsum(1)
        >>> p[1] = 0                                   # a silent sample gets no winner
        >>> k_winners(p, k=2, inhibition_radius=1, spikes=fire(p, 2.0))
        tensor([[[ 1,  2,  4],
                 [ 0,  3,  2]],
        <BLANKLINE>
                [[-1, -1, -1],
                 [-1, -1, -1]]])
    """
    fn = "k_winners"
    check_same_device(fn, potentials=potentials, spikes=spikes)
    check_tensor(fn, "potentials", potentials, ndim=5, axes=WAVE_AXES, finite=False)
    check_float(fn, "potentials", potentials)
    lo, hi = value_range(fn, "potentials", potentials)
    batch, steps, nfeat, height, width = potentials.shape
    k = check_int(fn, "k", k, minimum=1, maximum=nfeat * height * width)
    radius = check_int(fn, "inhibition_radius", inhibition_radius, minimum=0)
    # float16/bfloat16 scores overflow and round ties differently: they are computed in float32
    work = torch.float32 if potentials.dtype in HALF_DTYPES else potentials.dtype
    spike_max = 1.0
    if spikes is None:
        spikes = potentials.sign()
    else:
        check_tensor(fn, "spikes", spikes, ndim=5, axes=WAVE_AXES, finite=False)
        if spikes.shape != potentials.shape:
            raise ValueError(f"{fn}: spikes must have the shape of potentials {tuple(potentials.shape)}, "
                             f"got {tuple(spikes.shape)}")
        if spikes.is_floating_point() and spikes.dtype != potentials.dtype:
            raise TypeError(f"{fn}: spikes must have the dtype of potentials ({potentials.dtype}), "
                            f"got {spikes.dtype}")
        s_lo, s_hi = value_range(fn, "spikes", spikes)
        spike_max = max(abs(s_lo), abs(s_hi))
        spikes = spikes.to(potentials.dtype)
    # |score| <= T * max|s| * (max|p| + T * max|s| * max|p|)
    p_max = max(abs(lo), abs(hi))
    check_sum_bound(fn, steps * spike_max * (p_max + steps * spike_max * p_max), work,
                    "the k-WTA scores (time steps x spikes x potentials)")
    if work != potentials.dtype:
        potentials, spikes = potentials.to(work), spikes.to(work)
    device = potentials.device
    # --- score, in SpykeTorch's arithmetic order, a few samples at a time ---------------------
    # (the [chunk, T, F, H, W] temporaries stay in cache instead of a [B, T, F, H, W] one)
    total = torch.empty(batch, nfeat * height * width, dtype=work, device=device)
    chunk = max(1, _CHUNK_ELEMENTS // potentials[0].numel())
    for lo in range(0, batch, chunk):
        hi = min(lo + chunk, batch)
        total[lo:hi] = _scores(potentials[lo:hi], spikes[lo:hi]).reshape(hi - lo, -1)
    # --- sequential picks, vectorised over the batch -------------------------------------------
    winners = torch.full((batch, k, 3), -1, dtype=torch.long, device=device)
    active = torch.ones(batch, dtype=torch.bool, device=device)
    feat_ids = torch.arange(nfeat, device=device)
    row_ids = torch.arange(height, device=device)
    col_ids = torch.arange(width, device=device)
    total3 = total.view(batch, nfeat, height, width)
    for i in range(k):
        max_val, idx = total.max(dim=1)
        active = active & (max_val != 0)
        f = torch.div(idx, height * width, rounding_mode="floor")
        r = torch.div(idx, width, rounding_mode="floor") % height
        c = idx % width
        winners[:, i] = torch.where(active[:, None], torch.stack((f, r, c), dim=1), -1)
        remove = (feat_ids[None, :] == f[:, None])[:, :, None, None]  # [B, F, 1, 1]
        if radius > 0:
            rows = (row_ids[None, :] - r[:, None]).abs() <= radius  # [B, H]
            cols = (col_ids[None, :] - c[:, None]).abs() <= radius  # [B, W]
            remove = remove | (rows[:, :, None] & cols[:, None, :])[:, None]
        total3.masked_fill_(remove & active[:, None, None, None], 0)
    return winners


def _scores(potentials: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
    """SpykeTorch's ``get_k_winners`` score ``[batch, F, H, W]``, in its arithmetic order."""
    steps = potentials.shape[1]
    first = (steps - spikes.sum(dim=1, keepdim=True)).long().clamp_(0, steps - 1)  # [B,1,F,H,W]
    values = potentials.gather(1, first)
    truncated = spikes * values
    v = truncated.amax(dim=(1, 2, 3, 4), keepdim=True) * steps
    truncated.addcmul_(spikes, v)
    return truncated.sum(dim=1)


def _check_winner_rows(fn: str, name: str, winners: torch.Tensor, limits=None) -> None:
    """Every row of the integer ``winners`` ``[batch, k, 3]`` is either padding (all ``-1``) or a
    winner with all three entries ``>= 0`` (and below ``limits = (features, rows, cols)`` if given):
    a half-padded row such as ``(3, -1, 0)`` would otherwise be read as row 0. One pass."""
    if winners.numel() == 0:
        return
    w = winners.long()
    pad = (w == -1).all(-1)
    ok = (w >= 0).all(-1)
    if limits is not None:
        ok &= (w < torch.tensor(limits, device=w.device)).all(-1)
    bad = ~(pad | ok)
    if bool(bad.any()):
        b, i = (int(v) for v in bad.nonzero()[0])
        within = "" if limits is None else f" below {tuple(limits)}"
        raise ValueError(f"{fn}: every row of {name} must be a winner (feature, row, col) >= 0{within} or "
                         f"padding (-1, -1, -1), got {w[b, i].tolist()} at [{b}, {i}]")


def winners_to_lists(winners: torch.Tensor) -> list[list[tuple[int, int, int]]]:
    r"""Convert batched winners to per-sample Python lists of ``(feature, row, col)`` tuples.

    Padding rows (``-1``) are dropped, so ``winners_to_lists(w)[b]`` is exactly SpykeTorch's
    ``get_k_winners`` result for sample ``b`` (with Python ints).

    Args:
        winners: output of :func:`k_winners`.

    Shape:
        - Input: ``[batch, k, 3]``

    Returns:
        A list (one entry per sample) of lists of tuples.

    Example:
        >>> winners_to_lists(torch.tensor([[[2, 0, 1], [-1, -1, -1]], [[-1, -1, -1], [-1, -1, -1]]]))
        [[(2, 0, 1)], []]
    """
    fn = "winners_to_lists"
    check_tensor(fn, "winners", winners, ndim=3, axes="[batch, k, 3]", nonempty=False)
    if winners.dtype not in INT_DTYPES or winners.shape[-1] != 3:
        raise ValueError(f"{fn}: winners must be an integer tensor [batch, k, 3], "
                         f"got {winners.dtype} {tuple(winners.shape)}")
    _check_winner_rows(fn, "winners", winners)
    return [[tuple(int(v) for v in row) for row in sample if row[0] >= 0] for sample in winners.tolist()]


class Fire(nn.Module):
    r"""Threshold firing as a module; see :func:`fire`.

    Args:
        threshold: a real number (stored as a buffer) or ``None`` (fire at the last step only).
        return_thresholded_potentials: return ``(spikes, thresholded_potentials)``.

    Shape:
        - Input: ``[batch, time, feature, height, width]``
        - Output: same shape.

    Example:
        >>> Fire(15.0)
        Fire(threshold=15.0)
        >>> Fire(1.0)(torch.full((1, 1, 1, 1, 1), 2.0)).item()
        1.0
    """

    def __init__(self, threshold: float | None, return_thresholded_potentials: bool = False):
        super().__init__()
        if threshold is not None:
            threshold = torch.tensor(check_real("Fire", "threshold", threshold))
        self.register_buffer("threshold", threshold)
        self.return_thresholded_potentials = check_bool("Fire", "return_thresholded_potentials",
                                                        return_thresholded_potentials)

    def forward(self, potentials: torch.Tensor):
        return fire(potentials, self.threshold, self.return_thresholded_potentials)

    def extra_repr(self) -> str:
        thr = None if self.threshold is None else float(self.threshold)
        return f"threshold={thr}" + (", return_thresholded_potentials=True"
                                     if self.return_thresholded_potentials else "")


class KWTA(nn.Module):
    r"""k-winners-take-all as a module; see :func:`k_winners`.

    Args:
        k: the maximum number of winners per sample.
        inhibition_radius: radius of the local inhibition square (0: off).

    Shape:
        - Input ``potentials`` (and optional ``spikes``): ``[batch, time, feature, height, width]``
        - Output: ``[batch, k, 3]`` winners, ``-1``-padded.

    Example:
        >>> kwta = KWTA(2, inhibition_radius=1)
        >>> kwta
        KWTA(k=2, inhibition_radius=1)
        >>> p = torch.zeros(1, 1, 2, 3, 3); p[0, 0, 1, 1, 1] = 1.
        >>> kwta(p)
        tensor([[[ 1,  1,  1],
                 [-1, -1, -1]]])
    """

    def __init__(self, k: int = 1, inhibition_radius: int = 0):
        super().__init__()
        self.k = check_int("KWTA", "k", k, minimum=1)
        self.inhibition_radius = check_int("KWTA", "inhibition_radius", inhibition_radius, minimum=0)

    def forward(self, potentials: torch.Tensor, spikes: torch.Tensor | None = None) -> torch.Tensor:
        return k_winners(potentials, self.k, self.inhibition_radius, spikes)

    def extra_repr(self) -> str:
        return f"k={self.k}, inhibition_radius={self.inhibition_radius}"


# ---------------------------------------------------------------------------------------------
# the same competition on first-spike times (event-driven)
# ---------------------------------------------------------------------------------------------
def _check_times_pot(fn: str, first, potentials, time_steps, engine):
    from .layers import _check_engine, _check_times
    engine = _check_engine(fn, engine)
    check_same_device(fn, first=first, potentials=potentials)
    steps = _check_times(fn, "first", first, time_steps)
    check_tensor(fn, "potentials", potentials, ndim=4, axes="[batch, feature, height, width]")
    if potentials.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{fn}: potentials must be float32 or float64, got {potentials.dtype}")
    if potentials.shape != first.shape:
        raise ValueError(f"{fn}: potentials must have the shape of first {tuple(first.shape)}, "
                         f"got {tuple(potentials.shape)}")
    if bool(((potentials <= 0) & (first < steps)).any()):
        raise ValueError(f"{fn}: potentials must be > 0 where first < time_steps (every spiking neuron has a "
                         f"positive potential at its first spike: thresholds >= 0, weights >= 0)")
    return engine, steps


def _dense_potentials(first, potentials, steps):
    """The dense thresholded potentials these compact ones stand for: the potential at the first
    spike, held at every later step (k-WTA and inhibition only read that step)."""
    from .coding import times_to_wave
    wave = times_to_wave(first, steps, potentials.dtype)
    return wave * potentials.unsqueeze(1), wave


def pointwise_inhibition_times(first: torch.Tensor, potentials: torch.Tensor, time_steps: int,
                               engine: str = "event"):
    r"""Pointwise inhibition on first-spike times (see :func:`pointwise_inhibition`), event-driven.

    Per pixel the earliest feature wins, then the largest potential at that step (ties -> lowest
    feature index); every other feature at that pixel is silenced.

    Args:
        first: ``uint8`` first-spike times of the features (``time_steps`` = never).
        potentials: each neuron's thresholded potential at its first spike (0 where silent), as
            returned by :func:`snnbook.layers.conv_fire_times`.
        time_steps: ``T``.
        engine: ``"event"`` or ``"dense"`` (through :func:`pointwise_inhibition`).

    Shape:
        - Input: ``[batch, feature, height, width]`` each
        - Output: ``[batch, feature, height, width]`` each

    Returns:
        ``(first, potentials)`` after inhibition.

    Example:
        >>> first = torch.tensor([[[[1]], [[0]], [[0]]]], dtype=torch.uint8)
        >>> pot = torch.tensor([[[[9.]], [[2.]], [[3.]]]])
        >>> f, p = pointwise_inhibition_times(first, pot, 2)
        >>> f.flatten().tolist(), p.flatten().tolist()
        ([2, 2, 0], [0.0, 0.0, 3.0])
    """
    fn = "pointwise_inhibition_times"
    engine, steps = _check_times_pot(fn, first, potentials, time_steps, engine)
    if engine == "event":
        from . import _engine
        return _engine.inhibit(first, potentials.detach(), steps)
    from .coding import wave_to_times
    dense, _ = _dense_potentials(first, potentials, steps)
    inhibited = pointwise_inhibition(dense)
    new_first = wave_to_times(inhibited.sign())
    return new_first, potentials * (new_first < steps)


def k_winners_times(first: torch.Tensor, potentials: torch.Tensor, time_steps: int, k: int = 1,
                    inhibition_radius: int = 0, engine: str = "event") -> torch.Tensor:
    r"""k-winners-take-all on first-spike times (see :func:`k_winners`), event-driven.

    Same winners as ``k_winners(dense_potentials, k, inhibition_radius, spikes)`` for the dense wave
    these times stand for, including SpykeTorch's float score ``n * (p + T * max p)`` (computed in
    ``potentials``' dtype, in the same order), its ties (lowest flat index) and early stop. Only
    neurons that fired are looked at.

    Args:
        first: ``uint8`` first-spike times (``time_steps`` = never).
        potentials: each neuron's (thresholded, inhibited) potential at its first spike.
        time_steps: ``T``.
        k: the maximum number of winners per sample.
        inhibition_radius: ``r >= 0``.
        engine: ``"event"`` or ``"dense"`` (through :func:`k_winners`).

    Shape:
        - Input ``first``, ``potentials``: ``[batch, feature, height, width]``
        - Output: ``[batch, k, 3]`` (``-1``-padded)

    Returns:
        ``winners``, as :func:`k_winners`.

    Example:
        >>> first = torch.tensor([[[[1, 0]], [[0, 2]]]], dtype=torch.uint8)
        >>> pot = torch.tensor([[[[5., 2.]], [[3., 0.]]]])
        >>> k_winners_times(first, pot, 2, k=2).tolist()   # earliest first, then the larger potential
        [[[1, 0, 0], [0, 0, 1]]]
    """
    fn = "k_winners_times"
    engine, steps = _check_times_pot(fn, first, potentials, time_steps, engine)
    _, nfeat, height, width = first.shape
    k = check_int(fn, "k", k, minimum=1, maximum=nfeat * height * width)
    radius = check_int(fn, "inhibition_radius", inhibition_radius, minimum=0)
    if engine == "event":
        from . import _engine
        return _engine.kwta(first, potentials.detach(), steps, k, radius)
    dense, wave = _dense_potentials(first, potentials, steps)
    return k_winners(dense, k, radius, wave)
