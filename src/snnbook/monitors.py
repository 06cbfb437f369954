"""Monitors of STDP training: the numbers that tell whether a network is learning anything.

Chapter: When STDP learns nothing (book/stdp_failures.md).

Each failure of unsupervised STDP has a monitor that shows it long before the accuracy does:

* a **silent** layer: :func:`silent_fraction` of neurons (or digits) without a spike;
* **one neuron winning everything**: :func:`winners` per digit and their :func:`winner_histogram`,
  summarised by :func:`top_share` (the share of digits won by the most frequent winner);
* **weights collapsing to a bound**: :func:`weight_histogram` snapshots over training;
* **adaptive thresholds** running away or never moving: :func:`quantiles` of ``theta`` over time;
* **features that never specialise**: :func:`feature_similarity`, the mean cosine similarity
  of the features' weight vectors (1 when they all learned the same thing);
* **re-presentations** piling up (a digit shown again and again because nothing spikes): the
  attempts per digit that :meth:`snnbook.models.diehl_cook2015.DiehlCook2015.learn` returns.

The functions are pure (they never modify their inputs) and take whole batches. A
:class:`Monitor` accumulates them over the digits of a training loop and records a snapshot every
``every`` digits as a plain, JSON-able dict; ``python -m snnbook.train diehl_cook2015
--monitor-every N`` writes these snapshots into the results JSON under ``"monitors"``.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch

from ._checks import check_int, check_real, check_tensor, value_range

__all__ = ["spike_counts", "silent_fraction", "winners", "winner_histogram", "winner_counts",
           "top_share", "weight_histogram", "feature_similarity", "quantiles", "Monitor", "QUANTILES", "SERIES"]

#: The quantiles of ``theta`` (and of any per-neuron quantity) a :class:`Monitor` records.
QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)


#: The quantities a :class:`Monitor` snapshot may hold (:meth:`Monitor.series` takes these names).
SERIES = ("digits", "interval_digits", "spikes_per_digit", "silent_neurons", "silent_digits", "distinct_winners",
          "top_winner_share", "spikes_per_neuron", "wins_per_neuron", "attempts_mean", "attempts_max",
          "weight_histogram", "weight_mean", "theta_quantiles")

#: Largest number of bins of a weight histogram (its counts are kept and written to JSON).
MAX_BINS = 1_000_000

#: Largest input of ``torch.quantile`` (larger ones are computed with numpy).
_QUANTILE_MAX = 2 ** 24

#: Largest count a float tensor of counts may hold: float64 holds every integer up to it exactly.
_MAX_FLOAT_COUNT = 2.0 ** 53


def _counts_arg(fn: str, counts, name: str = "counts", *, ndim: int = 2, axes: str = "[digits, neurons]",
                minimum: int = 0) -> torch.Tensor:
    """Check a tensor of counts: integer, bool or integral floating-point values ``>= minimum``
    (spike counts are whole numbers: a fractional count is refused, not summed), finite and not
    beyond what int64 sums hold; one reduction pass where the counts are valid. Bool counts
    become int64."""
    check_tensor(fn, name, counts, ndim=ndim, axes=axes, finite=False)
    if counts.dtype == torch.bool:
        counts = counts.long()
    if counts.is_floating_point():
        # non-integral values become NaN, so that the one (min, max) pass finds them as well
        whole = torch.where(counts == counts.trunc(), counts, float("nan"))
        lo, hi = torch.aminmax(whole.detach().reshape(-1))
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            value_range(fn, name, counts)  # NaN or inf in counts: its message
            bad = counts[counts != counts.trunc()].reshape(-1)[0].item()
            raise ValueError(f"{fn}: {name} must hold whole counts (integers, or floats with integer values), "
                             f"got the fractional value {bad!r}; round them or pass an integer tensor")
        if hi > _MAX_FLOAT_COUNT:
            raise ValueError(f"{fn}: {name} holds {hi:.3g}, beyond the counts a float holds exactly "
                             f"(2**53); pass an int64 tensor")
    else:
        lo, hi = value_range(fn, name, counts)
    if lo < minimum:
        what = "spike counts >= 0" if minimum == 0 else f"counts >= {minimum}"
        raise ValueError(f"{fn}: {name} must be {what}, got a minimum of {lo:g}")
    if counts.dim() == 2 and hi * counts.shape[0] >= 2.0 ** 63:
        raise ValueError(f"{fn}: {name} holds counts up to {hi:.3g}; summed over {counts.shape[0]} digits they "
                         "overflow int64")
    return counts


def spike_counts(counts: torch.Tensor) -> torch.Tensor:
    """Total spikes of each neuron over the digits of ``counts``.

    Args:
        counts: spike counts per digit and neuron (``DiehlCook2015.learn`` or ``.responses``).

    Shape:
        - Input: ``counts`` ``[digits, neurons]`` (int or float, ``>= 0``)
        - Output: ``[neurons]`` int64 (float64 for float counts)

    Example:
        >>> spike_counts(torch.tensor([[0, 2, 1], [0, 3, 0]])).tolist()
        [0, 5, 1]
    """
    counts = _counts_arg("spike_counts", counts)
    return counts.sum(0, dtype=torch.float64 if counts.is_floating_point() else torch.int64)


def silent_fraction(counts: torch.Tensor, over: str = "neurons", min_spikes: int = 1) -> float:
    """The fraction of neurons that never fire over these digits (``over="neurons"``), or of digits
    that evoke fewer than ``min_spikes`` spikes in the whole layer (``over="digits"``).

    Args:
        counts: spike counts ``[digits, neurons]``.
        over: ``"neurons"`` or ``"digits"``.
        min_spikes: with ``over="digits"``, a digit with fewer spikes than this is silent
            (Diehl & Cook re-present a digit that evokes fewer than 5).

    Returns:
        A float in ``[0, 1]``.

    Example:
        >>> c = torch.tensor([[0, 2, 0], [0, 0, 0]])
        >>> silent_fraction(c), silent_fraction(c, over="digits")
        (0.6666666666666666, 0.5)
    """
    fn = "silent_fraction"
    counts = _counts_arg(fn, counts)
    min_spikes = check_int(fn, "min_spikes", min_spikes, minimum=1)
    if not isinstance(over, str):
        raise TypeError(f"{fn}: over must be 'neurons' or 'digits', got {over!r} ({type(over).__name__})")
    if over == "neurons":
        return float((counts.sum(0) == 0).double().mean())
    if over == "digits":
        return float((counts.sum(1) < min_spikes).double().mean())
    raise ValueError(f"{fn}: over must be 'neurons' or 'digits', got over={over!r}")


def winners(counts: torch.Tensor) -> torch.Tensor:
    """The winner of each digit: the neuron with the most spikes (the lowest index among equals),
    ``-1`` for a digit that evokes no spike.

    Shape:
        - Input: ``counts`` ``[digits, neurons]``
        - Output: ``[digits]`` int64 in ``-1 .. neurons - 1``

    Example:
        >>> winners(torch.tensor([[0, 2, 1], [0, 0, 0], [3, 3, 0]])).tolist()
        [1, -1, 0]
    """
    counts = _counts_arg("winners", counts)
    best = counts.argmax(1)
    return torch.where(counts.sum(1) > 0, best, torch.full_like(best, -1))


def winner_histogram(winner: torch.Tensor, n_neurons: int) -> torch.Tensor:
    """How many digits each neuron won (``-1``, no winner, is not counted).

    Args:
        winner: the winner of each digit (:func:`winners`), ``-1`` for none.
        n_neurons: the number of neurons (the histogram's length).

    Shape:
        - Input: ``winner`` ``[digits]`` int
        - Output: ``[n_neurons]`` int64

    Example:
        >>> winner_histogram(torch.tensor([1, -1, 1, 0]), 3).tolist()
        [1, 2, 0]
    """
    fn = "winner_histogram"
    n_neurons = check_int(fn, "n_neurons", n_neurons, minimum=1)
    check_tensor(fn, "winner", winner, ndim=1, axes="[digits]", nonempty=False)
    if winner.is_floating_point() or winner.dtype == torch.bool:
        raise TypeError(f"{fn}: winner must be an integer tensor, got {winner.dtype}")
    if winner.numel() and (int(winner.min()) < -1 or int(winner.max()) >= n_neurons):
        raise ValueError(f"{fn}: winner must hold neuron indices in -1..{n_neurons - 1}, got range "
                         f"[{int(winner.min())}, {int(winner.max())}]")
    w = winner.long()
    return torch.bincount(w[w >= 0], minlength=n_neurons)


def winner_counts(winner: torch.Tensor, n_features: int) -> torch.Tensor:
    """k-WTA winners of a convolutional layer as win counts per digit and feature (each feature
    wins at most once per digit under k-WTA, so the counts are 0 or 1).

    Args:
        winner: ``-1``-padded winners ``(feature, row, col)`` from
            :func:`snnbook.competition.k_winners` or ``k_winners_times``.
        n_features: the layer's features.

    Shape:
        - Input: ``winner`` ``[digits, k, 3]`` int
        - Output: ``[digits, n_features]`` int64, a ``counts`` for the other monitors

    Example:
        >>> w = torch.tensor([[[2, 0, 0], [0, 1, 1]], [[2, 3, 3], [-1, -1, -1]]])
        >>> winner_counts(w, 3).tolist()
        [[1, 0, 1], [0, 0, 1]]
    """
    fn = "winner_counts"
    n_features = check_int(fn, "n_features", n_features, minimum=1)
    check_tensor(fn, "winner", winner, ndim=3, axes="[digits, k, 3]")
    if winner.is_floating_point() or winner.dtype == torch.bool:
        raise TypeError(f"{fn}: winner must be an integer tensor [digits, k, 3] of (feature, row, col), "
                        f"got dtype {winner.dtype}")
    if winner.shape[2] != 3:
        raise ValueError(f"{fn}: winner must be an integer tensor [digits, k, 3] of (feature, row, col), "
                         f"got shape {tuple(winner.shape)}")
    w = winner.long()
    f = w[:, :, 0]
    if int(f.min()) < -1 or int(f.max()) >= n_features:
        raise ValueError(f"{fn}: winner features must lie in -1..{n_features - 1}, got range "
                         f"[{int(f.min())}, {int(f.max())}]")
    # a row is a winner (feature, row, col >= 0) or padding (-1, -1, -1), nothing in between
    if bool(((w < 0).any(2) & (w != -1).any(2)).any()):
        raise ValueError(f"{fn}: winner rows must be (feature, row, col) with all three >= 0, or the padding "
                         "(-1, -1, -1) of k_winners; got a row that mixes them")
    out = torch.zeros(f.shape[0], n_features + 1, dtype=torch.int64, device=f.device)
    out.scatter_add_(1, f.clamp(min=-1) % (n_features + 1), torch.ones_like(f))
    return out[:, :n_features]


def top_share(histogram: torch.Tensor) -> float:
    """The share of all wins (or spikes) taken by the single most frequent neuron: ``1 / neurons``
    when the wins are spread evenly, 1 when one neuron wins everything, 0 for an empty histogram.

    Shape:
        - Input: ``histogram`` ``[neurons]`` (counts ``>= 0``)

    Example:
        >>> top_share(torch.tensor([1, 6, 1, 0]))
        0.75
    """
    fn = "top_share"
    histogram = _counts_arg(fn, histogram, "histogram", ndim=1, axes="[neurons]")
    total = float(histogram.double().sum())
    return float(histogram.max()) / total if total > 0 else 0.0


def weight_histogram(weight: torch.Tensor, bins: int = 20, low: float = 0.0,
                     high: float = 1.0) -> torch.Tensor:
    """Histogram of all the weights of a layer on ``bins`` equal bins over ``[low, high]`` (values
    outside are counted in the first or last bin, so nothing is lost).

    Args:
        weight: any weight tensor (``DiehlCook2015.weight`` ``[784, N]``, a convolution's
            ``[feature, channel, kh, kw]``).
        bins: the number of bins.
        low: left edge of the first bin.
        high: right edge of the last bin.

    Shape:
        - Output: ``[bins]`` int64, summing to ``weight.numel()``

    Example:
        >>> weight_histogram(torch.tensor([0.0, 0.1, 0.5, 0.99, 1.0]), bins=4).tolist()
        [2, 0, 1, 2]
    """
    fn = "weight_histogram"
    bins, low, high = _histogram_settings(fn, bins, low, high)
    return _weight_histogram(fn, "weight", weight, bins, low, high)


def _weight_histogram(fn: str, name: str, weight, bins: int, low: float, high: float) -> torch.Tensor:
    """:func:`weight_histogram` with checked settings; ``weight`` is checked here (as ``name`` of ``fn``)."""
    check_tensor(fn, name, weight, axes="(any shape)")
    x = weight.detach().reshape(-1).double()
    idx = ((x - low) / (high - low) * bins).floor().clamp(0, bins - 1).long()
    return torch.bincount(idx, minlength=bins)


def _histogram_settings(fn: str, bins, low, high) -> tuple[int, float, float]:
    """Checked ``(bins, low, high)`` of a weight histogram."""
    bins = check_int(fn, "bins", bins, minimum=1, maximum=MAX_BINS)
    low = check_real(fn, "low", low)
    high = check_real(fn, "high", high)
    if not high > low:
        raise ValueError(f"{fn}: high must be > low, got low={low!r}, high={high!r}")
    if not math.isfinite(high - low):
        raise ValueError(f"{fn}: high - low must be finite (the bin width), got low={low!r}, high={high!r}")
    return bins, low, high


def feature_similarity(weight: torch.Tensor, dim: int = 0) -> float:
    """Mean cosine similarity between the weight vectors of all pairs of distinct features: near
    1 when every feature learned the same pattern, lower when they specialised.

    Args:
        weight: the layer's weights; the features lie along ``dim`` (0 for a convolution's
            ``[feature, channel, kh, kw]``, 1 for Diehl & Cook's ``[784, N]``).
        dim: the feature axis.

    Shape:
        - Input: ``weight`` ``[feature, ...]`` (feature axis ``dim``), at least 2 features

    Example:
        >>> feature_similarity(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        0.3333333333333333
    """
    fn = "feature_similarity"
    check_tensor(fn, "weight", weight, axes="[feature, ...]")
    dim = check_int(fn, "dim", dim, minimum=-weight.dim(), maximum=weight.dim() - 1)
    if weight.dim() < 2 or weight.shape[dim] < 2:
        raise ValueError(f"{fn}: weight must have at least 2 features along dim={dim} and at least 2 "
                         f"dimensions, got shape {tuple(weight.shape)}")
    x = weight.detach().movedim(dim, 0).reshape(weight.shape[dim], -1).double()
    top = x.abs().amax(dim=1)
    if bool(((top > 1e150) | ((top < 1e-150) & (top > 0))).any()):
        # squares that over- or underflow float64: scale each feature by a power of two first (exact)
        _, exponent = torch.frexp(torch.where(top > 0, top, 1.0))
        x = torch.ldexp(x, -exponent[:, None])
    x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-300)
    sim = x @ x.T
    off = ~torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    return float(sim[off].mean())


def quantiles(values: torch.Tensor, q=QUANTILES) -> list[float]:
    """Quantiles of a per-neuron quantity (``theta``, spike counts), as a list of floats.

    Args:
        values: any real tensor, read flat.
        q: the quantiles, each in ``[0, 1]``. Default: :data:`QUANTILES` (min, 10 %, median,
            90 %, max).

    Example:
        >>> quantiles(torch.arange(11.0), q=(0.0, 0.5, 1.0))
        [0.0, 5.0, 10.0]
    """
    return _quantiles("quantiles", "values", values, q)


def _quantiles(fn: str, name: str, values, q) -> list[float]:
    """:func:`quantiles`, its errors naming ``name`` of ``fn``."""
    check_tensor(fn, name, values, axes="(any shape)")
    if isinstance(q, torch.Tensor):
        if q.dim() != 1:
            raise ValueError(f"{fn}: q must be a non-empty sequence or 1-D tensor of numbers in [0, 1], got a "
                             f"tensor of shape {tuple(q.shape)}")
        q = list(q.unbind(0))
    if isinstance(q, (Real, str, bytes, dict, set)) or not hasattr(q, "__iter__") or not hasattr(q, "__len__"):
        raise TypeError(f"{fn}: q must be a non-empty sequence of numbers in [0, 1], got {q!r}")
    if not len(q):
        raise ValueError(f"{fn}: q must be a non-empty sequence of numbers in [0, 1], got {q!r}")
    qs = [check_real(fn, "q", v, minimum=0.0, maximum=1.0) for v in q]
    x = values.detach().reshape(-1).double()
    if x.numel() > _QUANTILE_MAX:  # torch.quantile refuses larger inputs; numpy's linear method is the same
        return [float(v) for v in np.quantile(x.cpu().numpy(), qs)]
    return [float(v) for v in torch.quantile(x, torch.tensor(qs, dtype=torch.float64, device=x.device))]


def _mean(x: torch.Tensor) -> float:
    """The mean of the checked, finite tensor ``x`` in float64 (scaled first where the sum would overflow)."""
    x = x.detach().double()
    mean = float(x.mean())
    if not math.isfinite(mean):
        top = float(x.abs().max())
        mean = float((x / top).mean()) * top
    return mean


class Monitor:
    """Records the monitors of a training loop every ``every`` digits, as plain dicts.

    Call :meth:`update` after each batch of training digits with their spike counts (and the
    attempts per digit, where the network re-presents digits), and :meth:`snapshot` whenever the
    number of digits seen reaches a multiple of ``every`` (:meth:`due` says when). Each snapshot
    covers the digits since the previous one and holds:

    ``digits`` (seen so far), ``spikes_per_digit`` (mean), ``silent_neurons`` (fraction of
    neurons without a spike in the interval), ``silent_digits`` (fraction of digits without a
    spike), ``distinct_winners`` and ``top_winner_share`` (:func:`top_share` of the winner
    histogram), ``weight_histogram`` (``bins`` bins over ``[low, high]``), ``weight_mean``,
    ``theta_quantiles`` (:data:`QUANTILES` of ``theta``, when given), ``attempts_mean`` and
    ``attempts_max`` (when attempts are given), and, for layers of at most ``per_neuron_max``
    neurons, the vectors ``spikes_per_neuron`` and ``wins_per_neuron``.

    Monitoring only reads: it never changes the network or its random numbers.

    Args:
        every: digits between snapshots.
        bins: bins of the weight histogram.
        low: left edge of the weight histogram.
        high: right edge of the weight histogram.
        per_neuron_max: record per-neuron vectors only up to this many neurons (JSON size).

    Example:
        >>> mon = Monitor(every=2, bins=2)
        >>> mon.update(torch.tensor([[3, 0], [1, 0]]))
        >>> mon.due(2)
        True
        >>> snap = mon.snapshot(2, weight=torch.tensor([0.1, 0.9, 0.8]))
        >>> snap["wins_per_neuron"], snap["weight_histogram"], snap["silent_neurons"]
        ([2, 0], [1, 2], 0.5)
    """

    def __init__(self, every: int = 1000, bins: int = 20, low: float = 0.0, high: float = 1.0,
                 per_neuron_max: int = 1000):
        fn = "Monitor"
        self.every = check_int(fn, "every", every, minimum=1)
        self.bins, self.low, self.high = _histogram_settings(fn, bins, low, high)
        self.per_neuron_max = check_int(fn, "per_neuron_max", per_neuron_max, minimum=0)
        self.snapshots: list[dict] = []
        self._reset_interval()

    def _reset_interval(self) -> None:
        self._spikes = None
        self._wins = None
        self._digits = 0
        self._silent_digits = 0
        self._attempts_sum = 0
        self._attempts_max = 0
        self._attempts_n = 0

    def update(self, counts: torch.Tensor, attempts: torch.Tensor | None = None,
               wins: torch.Tensor | None = None) -> None:
        """Add a batch of training digits.

        Every argument is checked before anything is added (a refused batch changes nothing).

        Args:
            counts: their spike counts ``[digits, neurons]`` (whole numbers ``>= 0``).
            attempts: presentations of each digit ``[digits]`` (whole numbers ``>= 1``; 1 = shown
                once), or None.
            wins: win counts ``[digits, neurons]`` where a layer has several winners per digit
                (k-WTA: :func:`winner_counts`); None: one winner per digit, the neuron with the
                most spikes (:func:`winners`).
        """
        fn = "Monitor.update"
        counts = _counts_arg(fn, counts)
        if self._spikes is not None and counts.shape[1] != self._spikes.shape[0]:
            raise ValueError(f"{fn}: counts must have {self._spikes.shape[0]} neurons as before, got shape "
                             f"{tuple(counts.shape)}")
        if attempts is not None:  # every argument is checked before anything is added
            attempts = _counts_arg(fn, attempts, "attempts", ndim=1, axes="[digits]", minimum=1)
            if attempts.shape[0] != counts.shape[0]:
                raise ValueError(f"{fn}: attempts must have shape [digits={counts.shape[0]}], got "
                                 f"{tuple(attempts.shape)}")
        if wins is not None:
            wins = _counts_arg(fn, wins, "wins")
            if wins.shape != counts.shape:
                raise ValueError(f"{fn}: wins must have the shape of counts {tuple(counts.shape)}, got "
                                 f"{tuple(wins.shape)}")
        if attempts is not None:
            self._attempts_sum += int(attempts.sum(dtype=torch.float64 if attempts.is_floating_point()
                                                   else torch.int64))
            self._attempts_max = max(self._attempts_max, int(attempts.max()))
            self._attempts_n += attempts.shape[0]
        n = counts.shape[1]
        if self._spikes is None:
            self._spikes = torch.zeros(n, dtype=torch.int64)
            self._wins = torch.zeros(n, dtype=torch.int64)
        self._spikes += counts.sum(0).long().cpu()  # the interval's sums live on the CPU, whatever the input
        if wins is None:
            self._wins += winner_histogram(winners(counts), n).cpu()
        else:
            self._wins += wins.sum(0).long().cpu()
        self._digits += counts.shape[0]
        self._silent_digits += int((counts.sum(1) == 0).sum())

    def due(self, digits: int) -> bool:
        """True when ``digits`` (digits seen so far) is a multiple of ``every``."""
        return check_int("Monitor.due", "digits", digits, minimum=0) % self.every == 0

    def snapshot(self, digits: int, weight: torch.Tensor | None = None,
                 theta: torch.Tensor | None = None) -> dict:
        """Close the interval: record (and return) the snapshot at ``digits`` digits seen.

        Args:
            digits: digits seen so far (the snapshot's x coordinate): more than at the previous
                snapshot, and at least that plus the digits added since (``ValueError`` otherwise).
            weight: the plastic weights now, or None.
            theta: adaptive thresholds ``[neurons]`` now, or None.
        """
        fn = "Monitor.snapshot"
        digits = check_int(fn, "digits", digits, minimum=0)
        last = self.snapshots[-1]["digits"] if self.snapshots else None
        if last is not None and digits <= last:
            raise ValueError(f"{fn}: digits must grow from snapshot to snapshot (digits seen so far), got "
                             f"digits={digits} after a snapshot at {last}")
        if digits < (last or 0) + self._digits:
            raise ValueError(f"{fn}: digits={digits} is fewer than the digits seen: {self._digits} since the "
                             f"{'snapshot at ' + str(last) if last is not None else 'start'}")
        # the weight and theta summaries first: a bad one is refused before anything is recorded
        hist = None if weight is None else _weight_histogram(fn, "weight", weight, self.bins, self.low, self.high)
        theta_q = None if theta is None else _quantiles(fn, "theta", theta, QUANTILES)
        snap: dict = {"digits": digits, "interval_digits": self._digits}
        if self._spikes is not None and self._digits:
            n = self._spikes.shape[0]
            snap["spikes_per_digit"] = round(float(self._spikes.sum()) / self._digits, 4)
            snap["silent_neurons"] = round(float((self._spikes == 0).double().mean()), 6)
            snap["silent_digits"] = round(self._silent_digits / self._digits, 6)
            snap["distinct_winners"] = int((self._wins > 0).sum())
            snap["top_winner_share"] = round(top_share(self._wins), 6)
            if n <= self.per_neuron_max:
                snap["spikes_per_neuron"] = self._spikes.tolist()
                snap["wins_per_neuron"] = self._wins.tolist()
        if self._attempts_n:
            snap["attempts_mean"] = round(self._attempts_sum / self._attempts_n, 4)
            snap["attempts_max"] = self._attempts_max
        if weight is not None:
            snap["weight_histogram"] = hist.tolist()
            snap["weight_mean"] = round(_mean(weight), 6)
        if theta is not None:
            snap["theta_quantiles"] = [round(v, 6) for v in theta_q]
        self.snapshots.append(snap)
        self._reset_interval()
        return snap

    def to_dict(self) -> dict:
        """Everything recorded, JSON-able: the settings and the list of snapshots."""
        return {"every": self.every, "bins": self.bins, "low": self.low, "high": self.high,
                "quantiles": list(QUANTILES), "snapshots": [dict(s) for s in self.snapshots]}

    def state_dict(self) -> dict:
        """:meth:`to_dict` plus the open interval (for checkpoints: resuming continues exactly)."""
        return {**self.to_dict(), "open": {
            "spikes": None if self._spikes is None else self._spikes.clone(),
            "wins": None if self._wins is None else self._wins.clone(), "digits": self._digits,
            "silent_digits": self._silent_digits, "attempts": [self._attempts_sum, self._attempts_max,
                                                               self._attempts_n]}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (checked whole before anything changes:
        ``TypeError``/``ValueError`` for a state that no :meth:`state_dict` makes)."""
        fn = "Monitor.load_state_dict"
        if not isinstance(state, dict) or "snapshots" not in state or "open" not in state:
            raise TypeError(f"{fn}: state must be a dict from Monitor.state_dict(), got {type(state).__name__}"
                            + (f" with keys {sorted(map(str, state))}" if isinstance(state, dict) else ""))
        for key, mine in (("every", self.every), ("bins", self.bins), ("low", self.low), ("high", self.high)):
            if key in state and state[key] != mine:
                raise ValueError(f"{fn}: state was recorded with {key}={state[key]!r}, this Monitor has "
                                 f"{key}={mine!r}; create the Monitor with the same settings")
        snaps = state["snapshots"]
        if not isinstance(snaps, (list, tuple)) or not all(isinstance(x, dict) and isinstance(x.get("digits"), int)
                                                             for x in snaps):
            raise TypeError(f"{fn}: state['snapshots'] must be a list of snapshot dicts (each with int 'digits'), "
                            f"got {type(snaps).__name__}")
        marks = [x["digits"] for x in snaps]
        if any(b <= a for a, b in zip(marks, marks[1:])):
            raise ValueError(f"{fn}: state['snapshots'] must have growing digits, got {marks}")
        o = state["open"]
        keys = ("spikes", "wins", "digits", "silent_digits", "attempts")
        if not isinstance(o, dict) or any(k not in o for k in keys):
            raise TypeError(f"{fn}: state['open'] must be a dict with keys {list(keys)}, got "
                            f"{sorted(map(str, o)) if isinstance(o, dict) else type(o).__name__}")
        counts = {k: o[k] for k in ("digits", "silent_digits")}
        attempts = o["attempts"]
        if not isinstance(attempts, (list, tuple)) or len(attempts) != 3:
            raise TypeError(f"{fn}: state['open']['attempts'] must be [sum, max, count], got {attempts!r}")
        counts.update(zip(("attempts sum", "attempts max", "attempts count"), attempts))
        counts = {k: check_int(fn, f"state['open'] {k}", v, minimum=0) for k, v in counts.items()}
        spikes, wins = o["spikes"], o["wins"]
        if (spikes is None) != (wins is None):
            raise ValueError(f"{fn}: state['open'] must hold both spikes and wins, or neither")
        if spikes is not None:
            for name, t in (("spikes", spikes), ("wins", wins)):
                check_tensor(fn, f"state['open']['{name}']", t, ndim=1, axes="[neurons]")
                if t.dtype != torch.int64 or bool((t < 0).any()):
                    raise ValueError(f"{fn}: state['open']['{name}'] must be int64 counts >= 0, got dtype {t.dtype}")
            if spikes.shape != wins.shape:
                raise ValueError(f"{fn}: state['open'] spikes and wins must have one shape, got "
                                 f"{tuple(spikes.shape)} and {tuple(wins.shape)}")
        if counts["silent_digits"] > counts["digits"]:
            raise ValueError(f"{fn}: state['open'] has more silent digits ({counts['silent_digits']}) than digits "
                             f"({counts['digits']})")
        self.snapshots = [dict(x) for x in snaps]
        self._spikes = None if spikes is None else spikes.clone()
        self._wins = None if wins is None else wins.clone()
        self._digits, self._silent_digits = counts["digits"], counts["silent_digits"]
        self._attempts_sum, self._attempts_max, self._attempts_n = (
            counts["attempts sum"], counts["attempts max"], counts["attempts count"])

    def series(self, key: str) -> list:
        """One recorded quantity over the snapshots (``None`` where a snapshot lacks it).

        Args:
            key: the quantity, one of :data:`SERIES` (a ``ValueError`` names them for another).

        Example:
            >>> mon = Monitor(every=1)
            >>> for c in ([[1, 0]], [[0, 2]]):
            ...     mon.update(torch.tensor(c)); _ = mon.snapshot(len(mon.snapshots) + 1)
            >>> mon.series("wins_per_neuron")
            [[1, 0], [0, 1]]
        """
        fn = "Monitor.series"
        if not isinstance(key, str):
            raise TypeError(f"{fn}: key must be a str, got {type(key).__name__}")
        known = list(SERIES) + sorted({k for snap in self.snapshots for k in snap} - set(SERIES))
        if key not in known:
            raise ValueError(f"{fn}: key={key!r} is no recorded quantity; expected one of {', '.join(known)}")
        return [s.get(key) for s in self.snapshots]

    def __repr__(self) -> str:
        return f"Monitor(every={self.every}, bins={self.bins}, snapshots={len(self.snapshots)})"
