"""Spike-timing-dependent plasticity: first-spike STDP, reward-modulated STDP and trace-based pair STDP.

Chapter: Competition and STDP (book/competition.md).

The convolutional rules reproduce SpykeTorch's ``snn.STDP`` (Kheradpisheh et al. 2018; Mozafari
et al. 2019) on batched ``[batch, time, channel, height, width]`` spike-waves: for each winner
``(feature, row, col)`` of :func:`snnbook.competition.k_winners`, the weights of that feature are
potentiated where the input spiked no later than the winner (spike COUNTS of cumulative waves
compared, ``in_count >= out_count``) and depressed elsewhere. The per-sample updates of a batch are
applied one after the other, in batch order, exactly as SpykeTorch's training loops feed one
sample at a time; within a sample the update is vectorised over winners.

Learning rates use SpykeTorch's signed-pair form ``(a_ltp, a_ltd)``: ordinary STDP has
``a_ltp >= 0 >= a_ltd``; anti-STDP (the punishment of R-STDP) has ``a_ltp <= 0 <= a_ltd``. The
functions accept any signs; the modules :class:`STDP` and :class:`RSTDP` check them.

The trace-based pair rule with weight normalisation of Diehl & Cook (2015) for fully-connected
layers is at the end (:func:`trace_step`, :func:`pair_stdp_update`, :func:`normalize_weights`),
after the classic pair window of Bi & Poo (1998) and Song, Miller & Abbott (2000),
:func:`stdp_window`.
"""
from __future__ import annotations

import math
import torch
from torch import nn

from ._checks import (HALF_DTYPES, INT_DTYPES, check_bool, check_finite_result, check_fits, check_float, check_int,
                      check_real, check_representable, check_same_device, check_tensor, value_range)
from .competition import _check_winner_rows, k_winners

__all__ = ["pre_post_ordering", "stdp_update", "rstdp_update", "stdp_update_times", "rstdp_update_times", "reward_signal", "adapt_rstdp_rates",
           "STDP", "RSTDP", "trace_step", "pair_stdp_update", "normalize_weights",
           "STDP_LEARNING_RATE", "ANTI_STDP_LEARNING_RATE", "MAX_A_LTP", "LTD_RATIO", "ADAPT_EVERY",
           "DC_ETA_PRE", "DC_ETA_POST", "stdp_window", "SONG2000_TAU_PLUS", "SONG2000_TAU_MINUS",
           "SONG2000_A_RATIO"]

WAVE_AXES = "[batch, time, channel, height, width]"

#: ``(a_ltp, a_ltd)`` of the 2019 network's STDP and R-STDP reward (Mozafari et al. 2019).
STDP_LEARNING_RATE = (0.004, -0.003)
#: ``(a_ltp, a_ltd)`` of the 2019 network's anti-STDP (R-STDP punishment).
ANTI_STDP_LEARNING_RATE = (-0.004, 0.0005)
#: Cap of the adaptive ``a_ltp`` in the 2019 MNIST example.
MAX_A_LTP = 0.15
#: ``a_ltd = LTD_RATIO * a_ltp`` in the adaptive schedule of the 2019 MNIST example.
LTD_RATIO = -0.75
#: The 2019 MNIST example doubles ``a_ltp`` every ``ADAPT_EVERY`` training samples.
ADAPT_EVERY = 500
#: Time constant of the potentiation half of the STDP window, in ms (Song, Miller & Abbott 2000).
SONG2000_TAU_PLUS = 20.0
#: Time constant of the depression half of the STDP window, in ms (Song, Miller & Abbott 2000).
SONG2000_TAU_MINUS = 20.0
#: Ratio ``A- / A+`` of the STDP window, slightly above 1 (Song, Miller & Abbott 2000).
SONG2000_A_RATIO = 1.05
#: Diehl & Cook (2015) learning rate on a presynaptic spike (depression).
DC_ETA_PRE = 0.0001
#: Diehl & Cook (2015) learning rate on a postsynaptic spike (potentiation).
DC_ETA_POST = 0.01


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------
def _check_winners(fn: str, winners, batch: int) -> torch.Tensor:
    if not isinstance(winners, torch.Tensor):
        raise TypeError(f"{fn}: winners must be a LongTensor [batch, k, 3] (from k_winners), "
                        f"got {type(winners).__name__}")
    check_tensor(fn, "winners", winners, finite=False, nonempty=False)
    if winners.dim() != 3 or winners.shape[-1] != 3 or winners.shape[0] != batch:
        raise ValueError(f"{fn}: winners must have shape [batch={batch}, k, 3], got {tuple(winners.shape)}")
    if winners.dtype not in INT_DTYPES:
        raise TypeError(f"{fn}: winners must be an integer tensor, got {winners.dtype}")
    return winners.long()


def _kernel(fn: str, kernel_size) -> tuple[int, int]:
    if isinstance(kernel_size, (tuple, list, torch.Size)) and len(kernel_size) == 2:
        return (check_int(fn, "kernel_size", kernel_size[0], minimum=1),
                check_int(fn, "kernel_size", kernel_size[1], minimum=1))
    k = check_int(fn, "kernel_size", kernel_size, minimum=1)
    return k, k


def _rate(fn: str, name: str, value, nfeat: int, batch: int, like: torch.Tensor) -> torch.Tensor:
    """A learning rate (real, or tensor [], [F] or [B, F]) as a [B, F] tensor in like's dtype."""
    if isinstance(value, torch.Tensor):
        check_same_device(fn, weight=like, **{name: value})
        check_tensor(fn, name, value)
        if value.dtype == torch.bool:
            raise TypeError(f"{fn}: {name} must be a real tensor, got {value.dtype}")
        if value.shape not in (torch.Size([]), torch.Size([nfeat]), torch.Size([batch, nfeat])):
            raise ValueError(f"{fn}: {name} must be a scalar or have shape [{nfeat}] or [{batch}, {nfeat}], "
                             f"got {tuple(value.shape)}")
        check_fits(fn, name, value, like.dtype)  # cast to the weight's dtype below
        return value.to(like.dtype).expand(batch, nfeat)
    value = check_representable(fn, name, check_real(fn, name, value), like.dtype)
    return torch.full((batch, nfeat), value, dtype=like.dtype, device=like.device)


def _bounds(fn: str, lower_bound, upper_bound, dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    lb = check_representable(fn, "lower_bound", check_real(fn, "lower_bound", lower_bound), dtype)
    ub = check_representable(fn, "upper_bound", check_real(fn, "upper_bound", upper_bound), dtype)
    if lb > ub:
        raise ValueError(f"{fn}: lower_bound must be <= upper_bound, got lower_bound={lb}, upper_bound={ub}")
    return lb, ub


def _check_stdp_inputs(fn: str, weight, input_spikes, output_spikes, winners):
    check_same_device(fn, weight=weight, input_spikes=input_spikes, output_spikes=output_spikes,
                      winners=winners)
    check_tensor(fn, "weight", weight, ndim=4, axes="[feature, channel, kh, kw]")
    check_float(fn, "weight", weight)
    check_tensor(fn, "input_spikes", input_spikes, ndim=5, axes=WAVE_AXES)
    check_tensor(fn, "output_spikes", output_spikes, ndim=5, axes="[batch, time, feature, height, width]")
    if input_spikes.shape[2] != weight.shape[1]:
        raise ValueError(f"{fn}: input_spikes has {input_spikes.shape[2]} channels, expected "
                         f"{weight.shape[1]} (weight {tuple(weight.shape)})")
    if output_spikes.shape[2] != weight.shape[0]:
        raise ValueError(f"{fn}: output_spikes has {output_spikes.shape[2]} features, expected "
                         f"{weight.shape[0]} (weight {tuple(weight.shape)})")


# ---------------------------------------------------------------------------------------------
# first-spike STDP (SpykeTorch)
# ---------------------------------------------------------------------------------------------
def pre_post_ordering(input_spikes: torch.Tensor, output_spikes: torch.Tensor, winners: torch.Tensor,
                      kernel_size) -> torch.Tensor:
    r"""Which inputs of each winner's receptive field fired no later than the winner (SpykeTorch
    ``STDP.get_pre_post_ordering``).

    Latencies are spike COUNTS over time (for cumulative waves, ``T - first spike time``; 0 if
    silent). For winner ``(f, r, c)`` the receptive field is ``input[:, r:r+kh, c:c+kw]`` (top-left
    anchored: the convolution has no padding). The result is True where
    ``in_count >= out_count``: pre before post, or simultaneous -> LTP. Silent inputs -> LTD.

    Args:
        input_spikes: cumulative input spike-wave of the convolution.
        output_spikes: cumulative output spike-wave.
        winners: ``[batch, k, 3]`` ``(feature, row, col)`` rows, ``-1``-padded (from
            :func:`snnbook.competition.k_winners`).
        kernel_size: the convolution kernel, an int or ``(kh, kw)``.

    Shape:
        - Input ``input_spikes``: ``[batch, time, channel, height, width]``
        - Input ``output_spikes``: ``[batch, time, feature, out_height, out_width]``
        - Input ``winners``: ``[batch, k, 3]``
        - Output: ``[batch, k, channel, kh, kw]``

    Returns:
        A bool tensor; rows of padding winners are all False.

    Example:
        >>> x = torch.zeros(1, 3, 1, 3, 3); x[0, :, 0, 0, 0] = 1.; x[0, 2:, 0, 1, 1] = 1.
        >>> y = torch.zeros(1, 3, 1, 2, 2); y[0, 1:, 0, 0, 0] = 1.   # fires at step 1
        >>> pre_post_ordering(x, y, torch.tensor([[[0, 0, 0]]]), 2)[0, 0, 0]
        tensor([[ True, False],
                [False, False]])
    """
    winners, kh, kw = _ordering_checks("pre_post_ordering", input_spikes, output_spikes, winners, kernel_size)
    return _ordering(input_spikes, output_spikes, winners, kh, kw)


def _ordering(input_spikes, output_spikes, winners, kh: int, kw: int) -> torch.Tensor:
    """:func:`pre_post_ordering` after its checks."""
    batch = input_spikes.shape[0]
    device = input_spikes.device
    in_counts = input_spikes.sum(dim=1)                  # [B, C, H, W]
    valid = winners[..., 0] >= 0                         # [B, K]
    f, r, c = winners.clamp(min=0).unbind(-1)            # [B, K] each
    bidx = torch.arange(batch, device=device)[:, None]
    # only the winners' output counts: gather their [T] time courses instead of summing the whole wave
    out_at = output_spikes[bidx, :, f, r, c].sum(dim=-1)  # [B, K]
    rows = r[:, :, None] + torch.arange(kh, device=device)   # [B, K, kh]
    cols = c[:, :, None] + torch.arange(kw, device=device)   # [B, K, kw]
    fields = in_counts.permute(0, 2, 3, 1)[bidx[:, :, None, None], rows[:, :, :, None], cols[:, :, None, :]]
    fields = fields.permute(0, 1, 4, 2, 3)               # [B, K, C, kh, kw]
    return (fields >= out_at[:, :, None, None, None]) & valid[:, :, None, None, None]


def _ordering_checks(fn: str, input_spikes, output_spikes, winners, kernel_size, finite: bool = True):
    """The checks of :func:`pre_post_ordering`; returns ``(winners as long, kh, kw)``.

    ``finite=False`` skips the finiteness passes over the spike-waves (for callers that ran them)."""
    check_tensor(fn, "input_spikes", input_spikes, ndim=5, axes=WAVE_AXES, finite=finite)
    check_tensor(fn, "output_spikes", output_spikes, ndim=5, axes="[batch, time, feature, height, width]",
                 finite=finite)
    batch = input_spikes.shape[0]
    if output_spikes.shape[0] != batch:
        raise ValueError(f"{fn}: output_spikes has batch {output_spikes.shape[0]}, expected {batch}")
    if output_spikes.shape[1] != input_spikes.shape[1]:
        raise ValueError(f"{fn}: output_spikes has {output_spikes.shape[1]} time steps, expected "
                         f"{input_spikes.shape[1]} (the time steps of input_spikes)")
    check_same_device(fn, input_spikes=input_spikes, output_spikes=output_spikes, winners=winners)
    winners = _check_winners(fn, winners, batch)
    kh, kw = _kernel(fn, kernel_size)
    _, _, nfeat, oh, ow = output_spikes.shape
    if kh > input_spikes.shape[-2] or kw > input_spikes.shape[-1]:
        raise ValueError(f"{fn}: kernel_size {(kh, kw)} is larger than the input {tuple(input_spikes.shape[-2:])}")
    if oh + kh - 1 > input_spikes.shape[-2] or ow + kw - 1 > input_spikes.shape[-1]:
        raise ValueError(f"{fn}: output_spikes {(oh, ow)} with kernel_size {(kh, kw)} needs an input of at "
                         f"least {(oh + kh - 1, ow + kw - 1)}, got {tuple(input_spikes.shape[-2:])}")
    _check_winner_rows(fn, "winners", winners, (nfeat, oh, ow))
    return winners, kh, kw


def _stabilizer_overflows(weight: torch.Tensor, lb: float, ub: float, *rates: torch.Tensor) -> bool:
    """Whether ``a * (W - lb) * (ub - W)`` can overflow ``weight``'s dtype (weights far outside the
    bounds): then ``0 * inf`` would give NaN instead of the documented clamp. One pass over ``weight``."""
    lo, hi = value_range("stdp", "weight", weight)
    big = max(abs(lo), abs(hi))
    rate = max(float(r.abs().max()) for r in rates) if rates else 1.0
    return not (big + abs(lb)) * (big + abs(ub)) * max(rate, 1.0) < torch.finfo(weight.dtype).max / 4


def _sequential_update(weight, ordering, winners, a_ltp, a_ltd, use_stabilizer, lb, ub, skip=None,
                       guard: bool = False):
    """Apply the per-sample updates in batch order. a_ltp/a_ltd are [B, F]; skip is [B] bool or None.

    ``guard`` (weights far outside the bounds, see :func:`_stabilizer_overflows`): a zero rate
    times an infinite stabiliser term counts as no change, so such weights are clamped as documented."""
    nfeat = weight.shape[0]
    batch, k = winners.shape[:2]
    f = winners[..., 0]
    valid = f >= 0
    fc = f.clamp(min=0)
    ltp = a_ltp.gather(1, fc)[:, :, None, None, None]    # [B, K, 1, 1, 1]
    ltd = a_ltd.gather(1, fc)[:, :, None, None, None]
    rates = torch.where(ordering, ltp, ltd)              # [B, K, C, kh, kw]
    # SpykeTorch sets lr[f] winner after winner, so a feature that wins again later in the same
    # sample keeps only its last rates; earlier duplicates (and padding) go to a dummy row.
    later = torch.ones(k, k, dtype=torch.bool, device=f.device).triu_(1)   # [i, j]: j after i
    superseded = ((f[:, :, None] == f[:, None, :]) & later).any(2)
    rows = torch.where(valid & ~superseded, f, nfeat)    # [B, K]
    # every sample's learning-rate tensor at once (0 for non-winner features), one scatter
    lr = torch.zeros((batch, nfeat + 1) + tuple(weight.shape[1:]), dtype=weight.dtype, device=weight.device)
    lr[torch.arange(batch, device=f.device)[:, None], rows] = rates
    lr = lr[:, :nfeat]
    w = weight.detach().clone()
    delta = torch.empty_like(w)
    other = torch.empty_like(w)
    for b in range(batch):
        if use_stabilizer:  # w + lr * ((w - lb) * (ub - w)), in that order, without new tensors
            torch.sub(w, lb, out=delta)
            torch.sub(ub, w, out=other)
            delta.mul_(other)
            torch.mul(lr[b], delta, out=delta)
            if guard:
                torch.nan_to_num(delta, nan=0.0, posinf=float("inf"), neginf=float("-inf"), out=delta)
            new = torch.add(w, delta, out=other)
        else:
            new = torch.add(w, lr[b], out=other)
        new.clamp_(lb, ub)
        if skip is None:
            w, other = new, w
        else:
            w = torch.where(skip[b], w, new)
            other = torch.empty_like(w)
    return w


def stdp_update(weight: torch.Tensor, input_spikes: torch.Tensor, output_spikes: torch.Tensor,
                winners: torch.Tensor, a_ltp, a_ltd, use_stabilizer: bool = True,
                lower_bound: float = 0.0, upper_bound: float = 1.0) -> torch.Tensor:
    r"""One first-spike STDP step of a convolution's weights (SpykeTorch ``snn.STDP.forward``).

    For each sample ``b`` in batch order, each winner ``(f, r, c)`` sets the rate of row ``f`` to
    ``a_ltp[f]`` where :func:`pre_post_ordering` is True and ``a_ltd[f]`` elsewhere (non-winner
    features get 0), then

    .. math:: W \leftarrow \mathrm{clamp}\big(W + a \cdot (W - lb)(ub - W),\ lb,\ ub\big)

    (``W + a`` without the stabilizer). The clamp hits the WHOLE tensor, so non-winner weights
    outside the bounds are clamped too; with the stabilizer, weights exactly on a bound never move.
    A sample without winners changes nothing but that clamp.

    Args:
        weight: the convolution weights (not modified).
        input_spikes: cumulative input spike-wave of the convolution.
        output_spikes: cumulative output spike-wave (e.g. after pointwise inhibition).
        winners: ``-1``-padded winners from :func:`snnbook.competition.k_winners`.
        a_ltp: potentiation rate(s): a real, or a tensor ``[feature]`` or ``[batch, feature]``.
            Signed-pair form: any sign is accepted here (anti-STDP has ``a_ltp <= 0``).
        a_ltd: depression rate(s), same forms (usually ``<= 0``).
        use_stabilizer: multiply by ``(W - lb)(ub - W)``.
        lower_bound: ``lb``.
        upper_bound: ``ub``.

    Shape:
        - Input ``weight``: ``[feature, channel, kh, kw]``
        - Input ``input_spikes``: ``[batch, time, channel, height, width]``
        - Input ``output_spikes``: ``[batch, time, feature, height - kh + 1, width - kw + 1]``
        - Input ``winners``: ``[batch, k, 3]``
        - Output: ``[feature, channel, kh, kw]``

    Returns:
        The new weight tensor.

    Example:
        >>> x = torch.zeros(1, 2, 1, 2, 2); x[0, :, 0, 0, 0] = 1.   # one input fires at step 0
        >>> y = torch.zeros(1, 2, 1, 1, 1); y[0, 1:] = 1.           # the output fires at step 1
        >>> w = torch.full((1, 1, 2, 2), 0.5)
        >>> stdp_update(w, x, y, torch.tensor([[[0, 0, 0]]]), 0.004, -0.003)[0, 0]
        tensor([[0.5010, 0.4992],
                [0.4992, 0.4992]])
    """
    fn = "stdp_update"
    _check_stdp_inputs(fn, weight, input_spikes, output_spikes, winners)
    check_bool(fn, "use_stabilizer", use_stabilizer)
    lb, ub = _bounds(fn, lower_bound, upper_bound, weight.dtype)
    batch, nfeat = input_spikes.shape[0], weight.shape[0]
    ltp = _rate(fn, "a_ltp", a_ltp, nfeat, batch, weight)
    ltd = _rate(fn, "a_ltd", a_ltd, nfeat, batch, weight)
    winners = _check_winners(fn, winners, batch)
    with torch.no_grad():
        winners, kh, kw = _ordering_checks(fn, input_spikes, output_spikes, winners, weight.shape[-2:], finite=False)
        guard = use_stabilizer and _stabilizer_overflows(weight, lb, ub, ltp, ltd)
        ordering = _ordering(input_spikes, output_spikes, winners, kh, kw)
        return check_finite_result(fn, _sequential_update(weight, ordering, winners, ltp, ltd, use_stabilizer,
                                                          lb, ub, guard=guard), "the updated weight")


def _pair_rates(fn: str, name: str, pair):
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{fn}: {name} must be a pair (a_ltp, a_ltd), got {pair!r}")
    return pair


def rstdp_update(weight: torch.Tensor, input_spikes: torch.Tensor, output_spikes: torch.Tensor,
                 winners: torch.Tensor, reward: torch.Tensor, reward_rate=STDP_LEARNING_RATE,
                 punish_rate=ANTI_STDP_LEARNING_RATE, use_stabilizer: bool = False,
                 lower_bound: float = 0.2, upper_bound: float = 0.8) -> torch.Tensor:
    r"""Reward-modulated STDP (Mozafari et al. 2018/2019): STDP on reward, anti-STDP on punishment.

    Per sample, in batch order: ``reward > 0`` applies :func:`stdp_update` with ``reward_rate``,
    ``reward < 0`` applies it with ``punish_rate`` (anti-STDP, signed pair such as
    ``(-0.004, 0.0005)``), and ``reward == 0`` (e.g. a silent network) leaves the weights
    untouched (not even clamped), as in the 2019 MNIST example.

    Args:
        weight: the convolution weights (not modified).
        input_spikes: cumulative input spike-wave.
        output_spikes: cumulative output spike-wave.
        winners: ``-1``-padded winners (usually ``k = 1``).
        reward: ``+1`` reward, ``-1`` punishment, ``0`` nothing; see :func:`reward_signal`.
        reward_rate: ``(a_ltp, a_ltd)`` of the reward (reals or ``[feature]`` tensors).
        punish_rate: ``(a_ltp, a_ltd)`` of the punishment.
        use_stabilizer: see :func:`stdp_update` (off in the 2019 network).
        lower_bound: weight lower bound (0.2 in the 2019 network).
        upper_bound: weight upper bound (0.8 in the 2019 network).

    Shape:
        - Input ``reward``: ``[batch]``; the others as in :func:`stdp_update`.
        - Output: ``[feature, channel, kh, kw]``

    Returns:
        The new weight tensor.

    Example:
        >>> x = torch.ones(2, 1, 1, 1, 1); y = torch.ones(2, 1, 1, 1, 1)
        >>> win = torch.zeros(2, 1, 3, dtype=torch.long)
        >>> w = torch.full((1, 1, 1, 1), 0.5)
        >>> rstdp_update(w, x, y, win, torch.tensor([1, -1])).flatten()   # +0.004 then -0.004
        tensor([0.5000])
        >>> rstdp_update(w, x, y, win, torch.tensor([1, 0])).flatten()
        tensor([0.5040])
    """
    fn = "rstdp_update"
    check_same_device(fn, weight=weight, reward=reward)
    _check_stdp_inputs(fn, weight, input_spikes, output_spikes, winners)
    batch, nfeat = input_spikes.shape[0], weight.shape[0]
    _check_reward(fn, reward, batch)
    check_bool(fn, "use_stabilizer", use_stabilizer)
    lb, ub = _bounds(fn, lower_bound, upper_bound, weight.dtype)
    r_ltp, r_ltd = _pair_rates(fn, "reward_rate", reward_rate)
    p_ltp, p_ltd = _pair_rates(fn, "punish_rate", punish_rate)
    r_ltp = _rate(fn, "reward_rate", r_ltp, nfeat, batch, weight)
    r_ltd = _rate(fn, "reward_rate", r_ltd, nfeat, batch, weight)
    p_ltp = _rate(fn, "punish_rate", p_ltp, nfeat, batch, weight)
    p_ltd = _rate(fn, "punish_rate", p_ltd, nfeat, batch, weight)
    winners = _check_winners(fn, winners, batch)
    rewarded = (reward > 0)[:, None]
    ltp = torch.where(rewarded, r_ltp, p_ltp)
    ltd = torch.where(rewarded, r_ltd, p_ltd)
    with torch.no_grad():
        winners, kh, kw = _ordering_checks(fn, input_spikes, output_spikes, winners, weight.shape[-2:], finite=False)
        guard = use_stabilizer and _stabilizer_overflows(weight, lb, ub, ltp, ltd)
        ordering = _ordering(input_spikes, output_spikes, winners, kh, kw)
        return check_finite_result(fn, _sequential_update(weight, ordering, winners, ltp, ltd, use_stabilizer, lb, ub,
                                                          skip=reward == 0, guard=guard), "the updated weight")


def _check_reward(fn: str, reward, batch: int) -> None:
    check_tensor(fn, "reward", reward, ndim=1, axes="[batch]")
    if reward.dtype == torch.bool:
        raise TypeError(f"{fn}: reward must be a real tensor of +1 / -1 / 0, got {reward.dtype}")
    if reward.shape[0] != batch:
        raise ValueError(f"{fn}: reward must have shape [batch={batch}], got {tuple(reward.shape)}")
    bad = (reward != 1) & (reward != -1) & (reward != 0)
    if bool(bad.any()):
        raise ValueError(f"{fn}: reward must hold +1 (reward), -1 (punishment) or 0 (nothing), got "
                         f"{reward[bad][0].item()!r}")


def reward_signal(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""R-STDP reward: ``+1`` for a correct decision, ``-1`` for a wrong one, ``0`` for silence.

    Args:
        predictions: predicted classes, ``-1`` where the network stayed silent.
        targets: true classes.

    Shape:
        - Input: ``[batch]`` each.
        - Output: ``[batch]``

    Returns:
        A LongTensor of ``+1 / -1 / 0``.

    Example:
        >>> reward_signal(torch.tensor([3, 1, -1]), torch.tensor([3, 2, 0]))
        tensor([ 1, -1,  0])
    """
    fn = "reward_signal"
    check_same_device(fn, predictions=predictions, targets=targets)
    check_tensor(fn, "predictions", predictions, ndim=1, axes="[batch]")
    check_tensor(fn, "targets", targets, ndim=1, axes="[batch]")
    if predictions.shape != targets.shape:
        raise ValueError(f"{fn}: targets must have the shape of predictions {tuple(predictions.shape)}, "
                         f"got {tuple(targets.shape)}")
    for name, t in (("predictions", predictions), ("targets", targets)):
        if t.dtype not in INT_DTYPES:
            raise TypeError(f"{fn}: {name} must be an integer tensor of classes, got {t.dtype}")
    out = torch.where(predictions == targets, 1, -1)
    return torch.where(predictions < 0, 0, out).long()


def adapt_rstdp_rates(reward_rate, punish_rate, hit_rate: float, miss_rate: float,
                      minimum: float = 0.0, interval: float = 1.0):
    r"""Adaptive R-STDP learning rates of Mozafari et al. (2019, Pattern Recognition).

    The reward pair is scaled by the miss rate and the punishment pair by the hit rate of the
    previous batch/epoch: ``a_r <- a_r * (miss_rate * interval + minimum)``,
    ``a_p <- a_p * (hit_rate * interval + minimum)`` (``hit_rate = N_hit / N``,
    ``miss_rate = N_miss / N``; silent samples count in ``N`` only). Pass the BASE rates each time
    (the 2019 MNIST example rescales its initial rates; it uses ``minimum=0``, ``interval=1``).

    Args:
        reward_rate: base ``(a_ltp, a_ltd)`` of the reward.
        punish_rate: base ``(a_ltp, a_ltd)`` of the punishment.
        hit_rate: fraction of correct decisions, in ``[0, 1]``.
        miss_rate: fraction of wrong decisions, in ``[0, 1]``.
        minimum: floor of the scale factor.
        interval: range of the scale factor.

    Returns:
        ``(reward_rate, punish_rate)``, two tuples of floats.

    Example:
        >>> adapt_rstdp_rates((0.004, -0.003), (-0.004, 0.0005), hit_rate=0.75, miss_rate=0.25)
        ((0.001, -0.00075), (-0.003, 0.000375))
    """
    fn = "adapt_rstdp_rates"
    r_ltp, r_ltd = (check_real(fn, "reward_rate", v) for v in _pair_rates(fn, "reward_rate", reward_rate))
    p_ltp, p_ltd = (check_real(fn, "punish_rate", v) for v in _pair_rates(fn, "punish_rate", punish_rate))
    hit = check_real(fn, "hit_rate", hit_rate, minimum=0.0, maximum=1.0)
    miss = check_real(fn, "miss_rate", miss_rate, minimum=0.0, maximum=1.0)
    if hit + miss > 1.0 + 1e-12:
        raise ValueError(f"{fn}: hit_rate + miss_rate must be <= 1, got hit_rate={hit}, miss_rate={miss}")
    minimum = check_real(fn, "minimum", minimum, minimum=0.0)
    interval = check_real(fn, "interval", interval, minimum=0.0)
    fr = miss * interval + minimum
    fp = hit * interval + minimum
    out = (r_ltp * fr, r_ltd * fr), (p_ltp * fp, p_ltd * fp)
    if not all(math.isfinite(v) for pair in out for v in pair):
        raise ValueError(f"{fn}: the adapted reward_rate/punish_rate overflow: {out}; expected smaller rates, "
                         "minimum or interval")
    return out


def _signed_rates(fn: str, name: str, pair, nfeat: int, anti: bool,
                  store: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a learning-rate pair (or a list of pairs, one per feature) and its signs; -> two [F]
    tensors of the default dtype (each value representable there and in ``store``, the dtype of
    the buffers they are written into)."""
    if isinstance(pair, (tuple, list)) and len(pair) == nfeat and all(isinstance(p, (tuple, list)) for p in pair):
        pairs = [_pair_rates(fn, name, p) for p in pair]
    else:
        pairs = [_pair_rates(fn, name, pair)] * nfeat

    def value(v):
        v = check_representable(fn, name, check_real(fn, name, v), torch.get_default_dtype())
        return v if store is None else check_representable(fn, name, v, store)

    ltp = torch.tensor([value(p[0]) for p in pairs], dtype=torch.get_default_dtype())
    ltd = torch.tensor([value(p[1]) for p in pairs], dtype=torch.get_default_dtype())
    if anti:
        if bool((ltp > 0).any()) or bool((ltd < 0).any()):
            raise ValueError(f"{fn}: anti-STDP {name} must have a_ltp <= 0 and a_ltd >= 0, got {pair!r}")
    elif bool((ltp < 0).any()) or bool((ltd > 0).any()):
        raise ValueError(f"{fn}: {name} must have a_ltp >= 0 and a_ltd <= 0, got {pair!r}")
    return ltp, ltd


def _weight_of(fn: str, layer) -> torch.Tensor:
    w = getattr(layer, "weight", None)
    if not isinstance(w, torch.Tensor) or w.dim() != 4:
        raise TypeError(f"{fn}: layer must have a 4-D weight [feature, channel, kh, kw] "
                        f"(e.g. snnbook.layers.Convolution), got {type(layer).__name__}")
    return w


def _init_stabilizer_and_bounds(module: nn.Module, fn: str, use_stabilizer, lower_bound, upper_bound) -> None:
    """Check and store the settings STDP and RSTDP share: the stabiliser flag and the weight bounds
    (as float64 buffers, so that they move with the module and are saved in its state)."""
    module.use_stabilizer = check_bool(fn, "use_stabilizer", use_stabilizer)
    lb, ub = _bounds(fn, lower_bound, upper_bound)
    module.register_buffer("lower_bound", torch.tensor(lb, dtype=torch.float64))
    module.register_buffer("upper_bound", torch.tensor(ub, dtype=torch.float64))


class STDP(nn.Module):
    r"""First-spike STDP of a convolution layer (SpykeTorch ``snn.STDP``); see :func:`stdp_update`.

    Learning happens only in training mode and under ``torch.no_grad()``; in eval mode
    :meth:`forward` only returns the winners and nothing (weights, schedule) changes.

    Args:
        layer: the layer whose ``weight`` ``[feature, channel, kh, kw]`` learns
            (:class:`snnbook.layers.Convolution`).
        learning_rate: ``(a_ltp, a_ltd)`` for every feature, or a list of pairs, one per feature.
            STDP needs ``a_ltp >= 0 >= a_ltd``; with ``anti=True`` ``a_ltp <= 0 <= a_ltd``.
        use_stabilizer: multiply the update by ``(W - lb)(ub - W)``.
        lower_bound: ``lb``.
        upper_bound: ``ub``.
        anti: anti-STDP (reversed signs), e.g. ``(-0.004, 0.0005)``.
        adaptive_every: if given, every that many training samples ``a_ltp`` of feature 0 doubles
            (capped at ``max_a_ltp``), and every feature gets ``(a_ltp, ltd_ratio * a_ltp)``:
            the schedule of the 2019 MNIST example (:data:`ADAPT_EVERY` = 500). Not with ``anti``.
        max_a_ltp: the cap (:data:`MAX_A_LTP`).
        ltd_ratio: :data:`LTD_RATIO`.

    Shape:
        - Input ``input_spikes``: ``[batch, time, channel, height, width]``
        - Input ``potentials``, ``output_spikes``: ``[batch, time, feature, out_height, out_width]``
        - Output: winners ``[batch, k, 3]``

    Example:
        >>> from snnbook.layers import Convolution
        >>> from snnbook.competition import fire
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = Convolution(2, 4, 3, generator=g)
        >>> stdp = STDP(layer, (0.004, -0.003))
        >>> stdp
        STDP(
          features=4, use_stabilizer=True, lower_bound=0, upper_bound=1, anti=False
          (layer): Convolution(in_channels=2, out_channels=4, kernel_size=(3, 3))
        )
        >>> x = (torch.rand(3, 5, 2, 6, 6, generator=g) > 0.7).float().cumsum(1).clamp(max=1)
        >>> spikes, pot = fire(layer(x), 5.0, True)
        >>> before = layer.weight.clone()
        >>> winners = stdp(x, pot, spikes, k=2)
        >>> winners.shape, bool((layer.weight != before).any())
        (torch.Size([3, 2, 3]), True)
    """

    def __init__(self, layer: nn.Module, learning_rate=STDP_LEARNING_RATE, use_stabilizer: bool = True,
                 lower_bound: float = 0.0, upper_bound: float = 1.0, anti: bool = False,
                 adaptive_every: int | None = None, max_a_ltp: float = MAX_A_LTP, ltd_ratio: float = LTD_RATIO):
        super().__init__()
        fn = "STDP"
        weight = _weight_of(fn, layer)
        self.layer = layer
        self.anti = check_bool(fn, "anti", anti)
        _init_stabilizer_and_bounds(self, fn, use_stabilizer, lower_bound, upper_bound)
        ltp, ltd = _signed_rates(fn, "learning_rate", learning_rate, weight.shape[0], self.anti)
        self.register_buffer("a_ltp", ltp.to(weight.device))
        self.register_buffer("a_ltd", ltd.to(weight.device))
        if adaptive_every is not None:
            adaptive_every = check_int(fn, "adaptive_every", adaptive_every, minimum=1)
            if self.anti:
                raise ValueError(f"{fn}: adaptive_every is for STDP, not anti-STDP; got anti=True")
        self.adaptive_every = adaptive_every
        dtype = torch.get_default_dtype()  # of the buffers below
        self.register_buffer("max_a_ltp", torch.tensor(check_representable(
            fn, "max_a_ltp", check_real(fn, "max_a_ltp", max_a_ltp, minimum=0.0), dtype)))
        self.register_buffer("ltd_ratio", torch.tensor(check_representable(
            fn, "ltd_ratio", check_real(fn, "ltd_ratio", ltd_ratio, maximum=0.0), dtype)))
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.long))

    def update_learning_rate(self, a_ltp: float, a_ltd: float, feature: int | None = None) -> None:
        """Set ``(a_ltp, a_ltd)`` for every feature (SpykeTorch ``update_all_learning_rate``) or one."""
        fn = "STDP.update_learning_rate"
        ltp, ltd = _signed_rates(fn, "learning_rate", (a_ltp, a_ltd), 1, self.anti, self.a_ltp.dtype)
        index = slice(None) if feature is None else check_int(fn, "feature", feature, minimum=0,
                                                               maximum=self.a_ltp.shape[0] - 1)
        self.a_ltp[index] = ltp[0]
        self.a_ltd[index] = ltd[0]

    def _advance_schedule(self, batch: int) -> None:
        seen = self.samples_seen + batch
        doublings = torch.div(seen, self.adaptive_every, rounding_mode="floor")
        self.samples_seen.copy_(seen % self.adaptive_every)
        ap = torch.minimum(self.a_ltp[0] * torch.pow(2.0, doublings.to(self.a_ltp.dtype)),
                           self.max_a_ltp.to(self.a_ltp.dtype))
        an = ap * self.ltd_ratio.to(self.a_ltp.dtype)
        change = doublings > 0
        self.a_ltp.copy_(torch.where(change, ap, self.a_ltp))
        self.a_ltd.copy_(torch.where(change, an, self.a_ltd))

    def forward(self, input_spikes: torch.Tensor, potentials: torch.Tensor | None, output_spikes: torch.Tensor,
                winners: torch.Tensor | None = None, k: int = 1, inhibition_radius: int = 0) -> torch.Tensor:
        """Learn from one batch (training mode only); return the winners used.

        If ``winners`` is None they are ``k_winners(potentials, k, inhibition_radius, output_spikes)``.
        """
        if winners is None:
            if potentials is None:
                raise ValueError("STDP.forward: potentials is needed when winners is None, got None")
            winners = k_winners(potentials, k, inhibition_radius, output_spikes)
        if self.training:
            with torch.no_grad():
                if self.adaptive_every is not None:
                    check_tensor("STDP.forward", "input_spikes", input_spikes, ndim=5, axes=WAVE_AXES)
                    self._advance_schedule(input_spikes.shape[0])
                new = stdp_update(self.layer.weight, input_spikes, output_spikes, winners, self.a_ltp,
                                  self.a_ltd, self.use_stabilizer, float(self.lower_bound),
                                  float(self.upper_bound))
                self.layer.weight.copy_(new)
        return winners

    def extra_repr(self) -> str:
        s = (f"features={self.a_ltp.shape[0]}, use_stabilizer={self.use_stabilizer}, "
             f"lower_bound={float(self.lower_bound):g}, upper_bound={float(self.upper_bound):g}, anti={self.anti}")
        if self.adaptive_every is not None:
            s += f", adaptive_every={self.adaptive_every}"
        return s


class RSTDP(nn.Module):
    r"""Reward-modulated STDP of a convolution layer (Mozafari et al. 2018/2019); see :func:`rstdp_update`.

    Learning happens only in training mode and under ``torch.no_grad()``.

    Args:
        layer: the layer whose ``weight`` learns.
        reward_rate: STDP pair ``(a_ltp >= 0, a_ltd <= 0)`` (or one pair per feature).
        punish_rate: anti-STDP pair ``(a_ltp <= 0, a_ltd >= 0)`` (or one pair per feature).
        use_stabilizer: off in the 2019 network.
        lower_bound: 0.2 in the 2019 network.
        upper_bound: 0.8 in the 2019 network.

    Shape:
        - Input ``input_spikes``: ``[batch, time, channel, height, width]``
        - Input ``output_spikes``: ``[batch, time, feature, out_height, out_width]``
        - Input ``winners``: ``[batch, k, 3]``; ``reward``: ``[batch]``

    Example:
        >>> from snnbook.layers import Convolution
        >>> layer = Convolution(1, 1, 1); _ = layer.load_weight(torch.full((1, 1, 1, 1), 0.5))
        >>> rstdp = RSTDP(layer)
        >>> rstdp
        RSTDP(
          features=1, use_stabilizer=False, lower_bound=0.2, upper_bound=0.8
          (layer): Convolution(in_channels=1, out_channels=1, kernel_size=(1, 1))
        )
        >>> x = torch.ones(1, 1, 1, 1, 1)
        >>> rstdp(x, x, torch.zeros(1, 1, 3, dtype=torch.long), torch.tensor([1]))
        >>> layer.weight.flatten()
        tensor([0.5040])
    """

    def __init__(self, layer: nn.Module, reward_rate=STDP_LEARNING_RATE, punish_rate=ANTI_STDP_LEARNING_RATE,
                 use_stabilizer: bool = False, lower_bound: float = 0.2, upper_bound: float = 0.8):
        super().__init__()
        fn = "RSTDP"
        weight = _weight_of(fn, layer)
        self.layer = layer
        _init_stabilizer_and_bounds(self, fn, use_stabilizer, lower_bound, upper_bound)
        nfeat = weight.shape[0]
        r_ltp, r_ltd = _signed_rates(fn, "reward_rate", reward_rate, nfeat, anti=False)
        p_ltp, p_ltd = _signed_rates(fn, "punish_rate", punish_rate, nfeat, anti=True)
        for name, t in (("reward_ltp", r_ltp), ("reward_ltd", r_ltd), ("punish_ltp", p_ltp), ("punish_ltd", p_ltd)):
            self.register_buffer(name, t.to(weight.device))

    def update_learning_rates(self, reward_rate, punish_rate) -> None:
        """Set both pairs for every feature, e.g. from :func:`adapt_rstdp_rates`."""
        fn = "RSTDP.update_learning_rates"
        r_ltp, r_ltd = _signed_rates(fn, "reward_rate", reward_rate, 1, anti=False, store=self.reward_ltp.dtype)
        p_ltp, p_ltd = _signed_rates(fn, "punish_rate", punish_rate, 1, anti=True, store=self.punish_ltp.dtype)
        self.reward_ltp.fill_(float(r_ltp[0])); self.reward_ltd.fill_(float(r_ltd[0]))
        self.punish_ltp.fill_(float(p_ltp[0])); self.punish_ltd.fill_(float(p_ltd[0]))

    def forward(self, input_spikes: torch.Tensor, output_spikes: torch.Tensor, winners: torch.Tensor,
                reward: torch.Tensor) -> None:
        """Learn from one batch in training mode (``reward`` +1 / -1 / 0 per sample)."""
        if not self.training:
            return None
        with torch.no_grad():
            new = rstdp_update(self.layer.weight, input_spikes, output_spikes, winners, reward,
                               (self.reward_ltp, self.reward_ltd), (self.punish_ltp, self.punish_ltd),
                               self.use_stabilizer, float(self.lower_bound), float(self.upper_bound))
            self.layer.weight.copy_(new)
        return None

    def extra_repr(self) -> str:
        return (f"features={self.reward_ltp.shape[0]}, use_stabilizer={self.use_stabilizer}, "
                f"lower_bound={float(self.lower_bound):g}, upper_bound={float(self.upper_bound):g}")


# ---------------------------------------------------------------------------------------------
# the classic STDP window (Bi & Poo 1998; Song, Miller & Abbott 2000)
# ---------------------------------------------------------------------------------------------
def stdp_window(dt: torch.Tensor, a_plus: float, a_minus: float, tau_plus: float = SONG2000_TAU_PLUS,
                tau_minus: float = SONG2000_TAU_MINUS) -> torch.Tensor:
    r"""The weight change of one pre/post spike pair against ``dt = t_post - t_pre`` (ms).

    ``a_plus * exp(-dt / tau_plus)`` for ``dt > 0`` (pre before post: potentiation),
    ``-a_minus * exp(dt / tau_minus)`` for ``dt < 0`` (post before pre: depression), and 0 at
    ``dt = 0``: the exponential window fitted to Bi & Poo's (1998) recordings and used by Song,
    Miller & Abbott (2000). Both amplitudes are magnitudes, ``>= 0``.

    Args:
        dt (Tensor): spike-time differences ``t_post - t_pre``, in ms.
        a_plus (float): amplitude of potentiation, ``>= 0``.
        a_minus (float): amplitude of depression, ``>= 0``.
        tau_plus (float): time constant of potentiation, in ms, ``> 0``. Default: 20.
        tau_minus (float): time constant of depression, in ms, ``> 0``. Default: 20.

    Shape:
        - Input: ``dt``: ``[*]`` (any shape).
        - Output: ``[*]``, the shape of ``dt``.

    Returns:
        Tensor: the weight change of each pair, in ``dt``'s dtype.

    Example:
        >>> stdp_window(torch.tensor([-20.0, 0.0, 20.0]), a_plus=1.0, a_minus=0.5)
        tensor([-0.1839,  0.0000,  0.3679])
    """
    fn = "stdp_window"
    check_tensor(fn, "dt", dt, axes="[*]", nonempty=False)
    check_float(fn, "dt", dt)
    a_plus = check_real(fn, "a_plus", a_plus, minimum=0.0)
    a_minus = check_real(fn, "a_minus", a_minus, minimum=0.0)
    tau_plus = check_real(fn, "tau_plus", tau_plus, minimum=0.0, strict_min=True)
    tau_minus = check_real(fn, "tau_minus", tau_minus, minimum=0.0, strict_min=True)
    ltp = a_plus * torch.exp(-dt.clamp(min=0) / tau_plus)
    ltd = -a_minus * torch.exp(dt.clamp(max=0) / tau_minus)
    out = torch.where(dt > 0, ltp, torch.where(dt < 0, ltd, torch.zeros_like(dt)))
    return check_finite_result(fn, out, "the weight change", "a_plus or a_minus is too large")


# ---------------------------------------------------------------------------------------------
# trace-based pair STDP for fully-connected layers (Diehl & Cook 2015)
# ---------------------------------------------------------------------------------------------
def trace_step(trace: torch.Tensor, spikes: torch.Tensor, tau: float, dt: float = 1.0,
               increment: float = 1.0, reset: bool = False) -> torch.Tensor:
    r"""One step of an exponentially decaying spike trace.

    ``x <- x * exp(-dt / tau)``, then ``x <- x + increment * s`` (or, with ``reset=True``,
    ``x <- increment`` where ``s > 0``, the "set to 1" trace of Diehl & Cook's code).

    Args:
        trace: the trace before the step (not modified).
        spikes: spikes of this step (0/1).
        tau: time constant (ms), > 0.
        dt: time step (ms), > 0.
        increment: jump on a spike.
        reset: set instead of add.

    Shape:
        - Input: ``[batch, neuron]`` (any shape; ``spikes`` has the shape of ``trace``)
        - Output: same shape.

    Returns:
        The new trace.

    Example:
        >>> x = trace_step(torch.zeros(1, 2), torch.tensor([[1., 0.]]), tau=20.0)
        >>> trace_step(x, torch.zeros(1, 2), tau=20.0, dt=20.0)
        tensor([[0.3679, 0.0000]])
    """
    fn = "trace_step"
    check_same_device(fn, trace=trace, spikes=spikes)
    check_tensor(fn, "trace", trace)
    check_float(fn, "trace", trace)
    check_tensor(fn, "spikes", spikes)
    if spikes.shape != trace.shape:
        raise ValueError(f"{fn}: spikes must have the shape of trace {tuple(trace.shape)}, got {tuple(spikes.shape)}")
    tau = check_real(fn, "tau", tau, minimum=0.0, strict_min=True)
    dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True)
    increment = check_representable(fn, "increment", check_real(fn, "increment", increment), trace.dtype)
    check_bool(fn, "reset", reset)
    check_fits(fn, "spikes", spikes, trace.dtype)  # cast to trace's dtype below
    decayed = trace * math.exp(-dt / tau)
    s = spikes.to(trace.dtype)
    if reset:
        out = torch.where(s > 0, torch.full_like(decayed, increment), decayed)
    else:
        out = decayed + increment * s
    return check_finite_result(fn, out, "the new trace", "increment or the spikes are too large")


def _as_batch(fn: str, name: str, x: torch.Tensor, n: int) -> torch.Tensor:
    check_tensor(fn, name, x, ndim=(1, 2), axes="[batch, neuron] or [neuron]")
    x2 = x.unsqueeze(0) if x.dim() == 1 else x
    if x2.shape[1] != n:
        raise ValueError(f"{fn}: {name} must have {n} neurons on its last axis, got shape {tuple(x.shape)}")
    return x2


def pair_stdp_update(weight: torch.Tensor, pre_trace: torch.Tensor, post_trace: torch.Tensor,
                     pre_spikes: torch.Tensor, post_spikes: torch.Tensor, eta_pre: float = DC_ETA_PRE,
                     eta_post: float = DC_ETA_POST, w_max: float = 1.0) -> torch.Tensor:
    r"""Trace-based pair STDP of a fully-connected layer (Diehl & Cook 2015), summed over the batch.

    .. math::
        \Delta W_{ji} = \eta_{post}\, s^{post}_j\, x^{pre}_i - \eta_{pre}\, x^{post}_j\, s^{pre}_i,
        \qquad W \leftarrow \mathrm{clamp}(W + \Delta W, 0, w_{max})

    A postsynaptic spike potentiates by the presynaptic trace; a presynaptic spike depresses by
    the postsynaptic trace. Pass the traces as the spikes see them (usually before this step's
    spikes are added, see :func:`trace_step`).

    Args:
        weight: weights, row ``j`` holds the inputs of post neuron ``j`` (not modified).
        pre_trace: presynaptic traces.
        post_trace: postsynaptic traces.
        pre_spikes: presynaptic spikes of this step.
        post_spikes: postsynaptic spikes of this step.
        eta_pre: depression rate, >= 0 (:data:`DC_ETA_PRE`).
        eta_post: potentiation rate, >= 0 (:data:`DC_ETA_POST`).
        w_max: upper weight bound, > 0.

    Shape:
        - Input ``weight``: ``[out, in]``
        - Input ``pre_trace``, ``pre_spikes``: ``[batch, in]`` or ``[in]``
        - Input ``post_trace``, ``post_spikes``: ``[batch, out]`` or ``[out]``
        - Output: ``[out, in]``

    Returns:
        The new weights.

    Example:
        >>> w = torch.full((1, 2), 0.5)
        >>> pair_stdp_update(w, torch.tensor([0.5, 0.]), torch.tensor([0.2]), torch.tensor([0., 1.]),
        ...                  torch.tensor([1.]), eta_pre=0.1, eta_post=0.1)
        tensor([[0.5500, 0.4800]])
    """
    fn = "pair_stdp_update"
    check_same_device(fn, weight=weight, pre_trace=pre_trace, post_trace=post_trace,
                      pre_spikes=pre_spikes, post_spikes=post_spikes)
    check_tensor(fn, "weight", weight, ndim=2, axes="[out, in]")
    check_float(fn, "weight", weight)
    n_out, n_in = weight.shape
    pre_trace = _as_batch(fn, "pre_trace", pre_trace, n_in)
    pre_spikes = _as_batch(fn, "pre_spikes", pre_spikes, n_in)
    post_trace = _as_batch(fn, "post_trace", post_trace, n_out)
    post_spikes = _as_batch(fn, "post_spikes", post_spikes, n_out)
    check_same_device(fn, weight=weight, pre_trace=pre_trace, post_trace=post_trace,
                      pre_spikes=pre_spikes, post_spikes=post_spikes)
    if len({pre_trace.shape[0], pre_spikes.shape[0], post_trace.shape[0], post_spikes.shape[0]}) != 1:
        raise ValueError(f"{fn}: pre_trace, post_trace, pre_spikes and post_spikes must share the batch size")
    dt = torch.float32 if weight.dtype in HALF_DTYPES else weight.dtype  # float16 sums in float32
    eta_pre = check_representable(fn, "eta_pre", check_real(fn, "eta_pre", eta_pre, minimum=0.0), dt)
    eta_post = check_representable(fn, "eta_post", check_real(fn, "eta_post", eta_post, minimum=0.0), dt)
    w_max = check_representable(fn, "w_max", check_real(fn, "w_max", w_max, minimum=0.0, strict_min=True), dt)
    for name, t in (("pre_trace", pre_trace), ("post_trace", post_trace)):
        check_float(fn, name, t)
    for name, t in (("pre_trace", pre_trace), ("post_trace", post_trace), ("pre_spikes", pre_spikes),
                    ("post_spikes", post_spikes)):
        check_fits(fn, name, t, dt)  # each is cast to dt below
    with torch.no_grad():
        dw = eta_post * post_spikes.to(dt).T @ pre_trace.to(dt) - eta_pre * post_trace.to(dt).T @ pre_spikes.to(dt)
        out = (weight.to(dt) + dw).clamp(0.0, w_max)
        # inf - inf (huge rates or traces) is NaN, which the clamp keeps
        return check_finite_result(fn, out, "the updated weight", "eta_pre, eta_post or the traces are too large"
                                   ).to(weight.dtype)


def normalize_weights(weight: torch.Tensor, total: float) -> torch.Tensor:
    r"""Scale each post neuron's incoming weights to sum to ``total`` (Diehl & Cook 2015).

    Diehl & Cook store weights ``[in, out]`` and normalise columns; here the layout is
    ``[out, in]`` (as :class:`torch.nn.Linear`), so each ROW (one post neuron) is scaled. Rows that
    sum to 0 are left unchanged.

    Args:
        weight: non-negative weights (not modified).
        total: the target sum per post neuron (78 for 784 inputs in Diehl & Cook), > 0.

    Shape:
        - Input: ``[out, in]``
        - Output: ``[out, in]``

    Returns:
        The normalised weights.

    Example:
        >>> normalize_weights(torch.tensor([[1., 3.], [0., 0.]]), 2.0)
        tensor([[0.5000, 1.5000],
                [0.0000, 0.0000]])
    """
    fn = "normalize_weights"
    check_tensor(fn, "weight", weight, ndim=2, axes="[out, in]", finite=False)
    check_float(fn, "weight", weight)
    total = check_real(fn, "total", total, minimum=0.0, strict_min=True)
    lo, hi = value_range(fn, "weight", weight)
    if lo < 0:
        raise ValueError(f"{fn}: weight must be non-negative, got minimum {lo}")
    if total > torch.finfo(weight.dtype).max:
        raise ValueError(f"{fn}: total={total!r} overflows weight's dtype {weight.dtype}")
    if hi * weight.shape[1] < torch.finfo(weight.dtype).max / 4 and weight.dtype not in HALF_DTYPES:
        sums = weight.sum(dim=1, keepdim=True)
        factor = torch.where(sums != 0, total / torch.where(sums != 0, sums, 1), 1)
        return weight * factor
    # row sums that would overflow (or float16): scale each row by its maximum first, in float32 or wider
    w = weight.float() if weight.dtype in HALF_DTYPES else weight
    top = w.amax(dim=1, keepdim=True)
    scaled = w / torch.where(top > 0, top, 1)
    sums = scaled.sum(dim=1, keepdim=True)  # >= 1 where the row is not all zero
    return torch.where(top > 0, scaled * (total / torch.where(top > 0, sums, 1)), w).to(weight.dtype)


# ---------------------------------------------------------------------------------------------
# the same rules on first-spike times (event-driven)
# ---------------------------------------------------------------------------------------------
def _times_stdp_checks(fn, weight, input_times, output_times, winners, time_steps, engine):
    from .layers import _check_engine, _check_times
    engine = _check_engine(fn, engine)
    check_same_device(fn, weight=weight, input_times=input_times, output_times=output_times, winners=winners)
    steps = _check_times(fn, "input_times", input_times, time_steps)
    _check_times(fn, "output_times", output_times, steps)
    check_tensor(fn, "weight", weight, ndim=4, axes="[feature, channel, kh, kw]")
    if weight.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{fn}: weight must be float32 or float64, got {weight.dtype}")
    batch = input_times.shape[0]
    if output_times.shape[0] != batch:
        raise ValueError(f"{fn}: output_times has batch {output_times.shape[0]}, expected {batch}")
    if input_times.shape[1] != weight.shape[1] or output_times.shape[1] != weight.shape[0]:
        raise ValueError(f"{fn}: input_times {tuple(input_times.shape)} and output_times "
                         f"{tuple(output_times.shape)} do not match weight {tuple(weight.shape)}")
    winners = _check_winners(fn, winners, batch)
    kh, kw = weight.shape[-2:]
    oh, ow = output_times.shape[-2:]
    if oh + kh - 1 > input_times.shape[-2] or ow + kw - 1 > input_times.shape[-1]:
        raise ValueError(f"{fn}: output_times {(oh, ow)} with kernel {(kh, kw)} needs an input of at least "
                         f"{(oh + kh - 1, ow + kw - 1)}, got {tuple(input_times.shape[-2:])}")
    _check_winner_rows(fn, "winners", winners, (weight.shape[0], oh, ow))
    return engine, steps, winners


def stdp_update_times(weight: torch.Tensor, input_times: torch.Tensor, output_times: torch.Tensor,
                      winners: torch.Tensor, time_steps: int, a_ltp, a_ltd, use_stabilizer: bool = True,
                      lower_bound: float = 0.0, upper_bound: float = 1.0, engine: str = "event") -> torch.Tensor:
    r"""First-spike STDP on first-spike times (see :func:`stdp_update`), event-driven.

    For cumulative waves the spike-count comparison ``in_count >= out_count`` of
    :func:`pre_post_ordering` is ``input_time <= output_time``, so only the winners' receptive
    fields are read and only their rows are written (plus the clamp of the whole tensor, as the
    dense path does). The update repeats the dense path's float operations in the same order.

    Args:
        weight: the convolution weights (not modified), float32 or float64.
        input_times: ``uint8`` input first-spike times of the convolution.
        output_times: ``uint8`` output first-spike times (e.g. after inhibition).
        winners: ``-1``-padded winners (from :func:`snnbook.competition.k_winners_times`).
        time_steps: ``T``.
        a_ltp: potentiation rate(s): a real, or a tensor ``[feature]`` or ``[batch, feature]``.
        a_ltd: depression rate(s), same forms.
        use_stabilizer: multiply by ``(W - lb)(ub - W)``.
        lower_bound: ``lb``.
        upper_bound: ``ub``.
        engine: ``"event"`` or ``"dense"`` (through :func:`stdp_update`).

    Shape:
        - Input ``weight``: ``[feature, channel, kh, kw]``
        - Input ``input_times``: ``[batch, channel, height, width]``
        - Input ``output_times``: ``[batch, feature, height - kh + 1, width - kw + 1]``
        - Input ``winners``: ``[batch, k, 3]``
        - Output: ``[feature, channel, kh, kw]``

    Returns:
        The new weight tensor.

    Example:
        >>> x = torch.tensor([[[[0, 2], [2, 2]]]], dtype=torch.uint8)   # one input fires at step 0
        >>> y = torch.tensor([[[[1]]]], dtype=torch.uint8)              # the output at step 1
        >>> w = torch.full((1, 1, 2, 2), 0.5)
        >>> stdp_update_times(w, x, y, torch.tensor([[[0, 0, 0]]]), 2, 0.004, -0.003)[0, 0]
        tensor([[0.5010, 0.4992],
                [0.4992, 0.4992]])
    """
    fn = "stdp_update_times"
    engine, steps, winners = _times_stdp_checks(fn, weight, input_times, output_times, winners, time_steps,
                                                engine)
    check_bool(fn, "use_stabilizer", use_stabilizer)
    lb, ub = _bounds(fn, lower_bound, upper_bound, weight.dtype)
    batch, nfeat = input_times.shape[0], weight.shape[0]
    ltp = _rate(fn, "a_ltp", a_ltp, nfeat, batch, weight)
    ltd = _rate(fn, "a_ltd", a_ltd, nfeat, batch, weight)
    if use_stabilizer and _stabilizer_overflows(weight, lb, ub, ltp, ltd):
        engine = "dense"  # weights far outside the bounds: the dense path's guarded update clamps them
    if engine == "dense":
        from .coding import times_to_wave
        return stdp_update(weight, times_to_wave(input_times, steps, weight.dtype),
                           times_to_wave(output_times, steps, weight.dtype), winners, ltp, ltd,
                           use_stabilizer, lb, ub)
    from . import _engine
    skip = torch.zeros(batch, dtype=torch.bool)
    return _engine.stdp(weight.detach(), input_times, output_times, winners, ltp, ltd, skip,
                        use_stabilizer, lb, ub)


def rstdp_update_times(weight: torch.Tensor, input_times: torch.Tensor, output_times: torch.Tensor,
                       winners: torch.Tensor, reward: torch.Tensor, time_steps: int,
                       reward_rate=STDP_LEARNING_RATE, punish_rate=ANTI_STDP_LEARNING_RATE,
                       use_stabilizer: bool = False, lower_bound: float = 0.2, upper_bound: float = 0.8,
                       engine: str = "event") -> torch.Tensor:
    r"""Reward-modulated STDP on first-spike times (see :func:`rstdp_update`), event-driven.

    Args:
        weight: the convolution weights (not modified).
        input_times: ``uint8`` input first-spike times.
        output_times: ``uint8`` output first-spike times.
        winners: ``-1``-padded winners (usually ``k = 1``).
        reward: ``+1`` reward, ``-1`` punishment, ``0`` nothing (not even the clamp).
        time_steps: ``T``.
        reward_rate: ``(a_ltp, a_ltd)`` of the reward.
        punish_rate: ``(a_ltp, a_ltd)`` of the punishment.
        use_stabilizer: off in the 2019 network.
        lower_bound: 0.2 in the 2019 network.
        upper_bound: 0.8 in the 2019 network.
        engine: ``"event"`` or ``"dense"`` (through :func:`rstdp_update`).

    Shape:
        - Input ``reward``: ``[batch]``; the others as in :func:`stdp_update_times`.
        - Output: ``[feature, channel, kh, kw]``

    Returns:
        The new weight tensor.

    Example:
        >>> x = torch.zeros(2, 1, 1, 1, dtype=torch.uint8); y = torch.zeros(2, 1, 1, 1, dtype=torch.uint8)
        >>> win = torch.zeros(2, 1, 3, dtype=torch.long)
        >>> w = torch.full((1, 1, 1, 1), 0.5)
        >>> rstdp_update_times(w, x, y, win, torch.tensor([1, 0]), 1).flatten()
        tensor([0.5040])
    """
    fn = "rstdp_update_times"
    engine, steps, winners = _times_stdp_checks(fn, weight, input_times, output_times, winners, time_steps,
                                                engine)
    batch, nfeat = input_times.shape[0], weight.shape[0]
    check_same_device(fn, weight=weight, reward=reward)
    _check_reward(fn, reward, batch)
    check_bool(fn, "use_stabilizer", use_stabilizer)
    lb, ub = _bounds(fn, lower_bound, upper_bound, weight.dtype)
    if use_stabilizer and _stabilizer_overflows(weight, lb, ub):
        engine = "dense"  # weights far outside the bounds: the dense path's guarded update clamps them
    if engine == "dense":
        from .coding import times_to_wave
        return rstdp_update(weight, times_to_wave(input_times, steps, weight.dtype),
                            times_to_wave(output_times, steps, weight.dtype), winners, reward, reward_rate,
                            punish_rate, use_stabilizer, lb, ub)
    r_ltp, r_ltd = _pair_rates(fn, "reward_rate", reward_rate)
    p_ltp, p_ltd = _pair_rates(fn, "punish_rate", punish_rate)
    rewarded = (reward > 0)[:, None]
    ltp = torch.where(rewarded, _rate(fn, "reward_rate", r_ltp, nfeat, batch, weight),
                      _rate(fn, "punish_rate", p_ltp, nfeat, batch, weight))
    ltd = torch.where(rewarded, _rate(fn, "reward_rate", r_ltd, nfeat, batch, weight),
                      _rate(fn, "punish_rate", p_ltd, nfeat, batch, weight))
    from . import _engine
    return _engine.stdp(weight.detach(), input_times, output_times, winners, ltp, ltd, reward == 0,
                        use_stabilizer, lb, ub)
