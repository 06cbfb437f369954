"""The event-driven engine: compiled kernels on first-spike times (private).

Chapter: the whole-network chapter (book/mozafari2019.md) explains why it is fast; the readable,
dense functions of :mod:`snnbook.layers`, :mod:`snnbook.competition` and :mod:`snnbook.plasticity`
are the reference it is tested against (``tests/test_engine.py``).

Compact waves
-------------
A cumulative spike-wave ``[batch, time, channel, height, width]`` is stored as its first-spike
times ``uint8 [batch, channel, height, width]``, with ``time_steps`` meaning "never"
(:func:`snnbook.coding.wave_to_times` / :func:`snnbook.coding.times_to_wave` convert exactly).
15x smaller than a uint8 wave, 60x smaller than a float one.

Why it is fast
--------------
An integrate-and-fire convolution fed a cumulative wave only needs the work of its NEW input
spikes: ``potential(t) = potential(t - 1) + conv(spikes that are new at t)``. Each input spike adds
its weights to the ``kh * kw`` output positions it reaches. The weights are stored as "rows"
(:func:`weight_rows`: ``[channel * kh + dy, flipped dx * F + feature]``) and the potentials as
``[row, column * F + feature]``, so one kernel row of one spike is ONE contiguous run of
``kw * F`` additions (a long, vectorised loop). Only the positions touched at step ``t`` are
compared with the threshold, first against a float64 bound (:func:`threshold_bound`) so that only
candidates are rounded; a neuron that fired is not examined again, and with pointwise inhibition
fused (training) a position is dropped after its first spike. k-WTA looks only at the neurons that
fired; STDP touches only the winners' rows. Everything runs in numba-compiled loops, parallel over
the batch where samples are independent.

The decision layer of the 2019 network needs only its single winner, so its readout runs in two
passes (:func:`_screened_winner`): int8 copies of the weights, ``floor(w * 128)``, summed in int32
bound every neuron's exact potential from both sides, and exact float64 sums are computed only for
the few neurons those bounds cannot rule out. The winner is the same as with all sums exact (the
proof is in the docstring, the tests check it on ties); the screen follows every R-STDP update.

Arithmetic (what "equal to the dense path" means)
------------------------------------------------
Potentials are accumulated in float64 and rounded once to the weight dtype: the correctly rounded
exact sum, independent of the order of the spikes. For weights on a dyadic grid (the SpykeTorch
fixtures), for float64 weights and, in practice, for float32 weights, this is exactly what the
dense ``conv2d`` gives. In general oneDNN's float32 sums can differ from the exact sum in the last
bit, so a float32 potential within one rounding of the threshold, or two candidates whose k-WTA
scores differ by one rounding, may be decided differently by the two paths; tests compare both
paths bit for bit in float64 and with float32 on real digits. The threshold is compared with the
rounded potential (so the returned potentials and spikes agree), and every later step (scores
of k-WTA, the STDP update) repeats the dense path's float operations in its dtype and order.

Requirements of the engine (checked by the public wrappers): weights ``>= 0`` and thresholds
``>= 0`` (so potentials are monotone and spike-waves cumulative), cumulative 0/1 input waves,
padding with "no spike" only.
"""
from __future__ import annotations

import numpy as np
import torch

try:  # numba is a pinned dependency; the dense torch path works without it
    import numba
    from ._jit import njit, prange  # numba's, with snnbook's on-disk kernel cache
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

__all__ = ["available", "require"]


def available() -> bool:
    """True if numba imports (the event-driven engine can run)."""
    return numba is not None


def require(fn: str) -> None:
    """Raise a clear ImportError when the engine is asked for but numba is missing."""
    if numba is None:
        raise ImportError(f"{fn}: the event-driven engine needs numba (pinned in requirements.txt: "
                          f"pip install numba==0.68.1); use engine='dense' for the pure-torch path")


if numba is None:  # pragma: no cover
    def njit(*args, **kwargs):
        def wrap(f):
            return f
        return wrap if not (args and callable(args[0])) else args[0]
    prange = range


# ---------------------------------------------------------------------------------------------
# intensity-to-latency on first-spike times (float32, non-negative): a radix sort per sample
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _latency_one(bits, steps, keys, idx, keys2, idx2, out):
    """First-spike times of one sample under :func:`snnbook.coding.latency_times`: its nonzero
    values ranked in descending order (equal values in flat index order), bin ``rank // (nnz //
    steps)``, ranks beyond ``steps`` bins and zeros never spike. ``bits`` [n] int32: the float32
    values' bit patterns (non-negative values: the same order as the values). ``keys``, ``idx``,
    ``keys2``, ``idx2`` [n] scratch. A stable LSD radix sort (8-bit digits) of ``0x7FFFFFFF - bits``."""
    n = bits.shape[0]
    nnz = 0
    for i in range(n):
        out[i] = steps
        if bits[i] > 0:  # positive values (not +-0)
            keys[nnz] = 0x7FFFFFFF - bits[i]
            idx[nnz] = i
            nnz += 1
    bin_size = nnz // steps
    if bin_size == 0:
        return
    count = np.empty(256, np.int64)
    for shift in range(0, 32, 8):
        count[:] = 0
        for q in range(nnz):
            count[(keys[q] >> shift) & 255] += 1
        if count[(keys[0] >> shift) & 255] == nnz:
            continue  # every key has this digit: the pass would not move anything
        total = 0
        for d in range(256):
            c = count[d]
            count[d] = total
            total += c
        for q in range(nnz):
            d = (keys[q] >> shift) & 255
            p = count[d]
            count[d] = p + 1
            keys2[p] = keys[q]
            idx2[p] = idx[q]
        for q in range(nnz):
            keys[q] = keys2[q]
            idx[q] = idx2[q]
    last = bin_size * steps
    for r in range(last):
        out[idx[r]] = r // bin_size


@njit(cache=True, parallel=True)
def _latency_batch(bits, steps, out):
    n = bits.shape[1]
    for b in prange(bits.shape[0]):
        keys = np.empty(n, np.int32)
        idx = np.empty(n, np.int64)
        keys2 = np.empty(n, np.int32)
        idx2 = np.empty(n, np.int64)
        _latency_one(bits[b], steps, keys, idx, keys2, idx2, out[b])


@njit(cache=True, nogil=True)
def _latency_serial(bits, steps, out):
    n = bits.shape[1]
    keys = np.empty(n, np.int32)
    idx = np.empty(n, np.int64)
    keys2 = np.empty(n, np.int32)
    idx2 = np.empty(n, np.int64)
    for b in range(bits.shape[0]):
        _latency_one(bits[b], steps, keys, idx, keys2, idx2, out[b])


# ---------------------------------------------------------------------------------------------
# one sample: integrate-and-fire convolution on first-spike times
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _bucket(tin, steps):
    """Input spikes of one sample grouped by time: (start [T+1], chan, row, col) in raster order."""
    c_n, h, w = tin.shape
    start = np.zeros(steps + 1, np.int64)
    for c in range(c_n):
        for i in range(h):
            for j in range(w):
                t = tin[c, i, j]
                if t < steps:
                    start[t + 1] += 1
    for t in range(steps):
        start[t + 1] += start[t]
    n = start[steps]
    chan = np.empty(n, np.int32)
    row = np.empty(n, np.int32)
    col = np.empty(n, np.int32)
    fill = start[:steps].copy()
    for c in range(c_n):
        for i in range(h):
            for j in range(w):
                t = tin[c, i, j]
                if t < steps:
                    p = fill[t]
                    chan[p] = c
                    row[p] = i
                    col[p] = j
                    fill[t] = p + 1
    return start, chan, row, col


@njit(cache=True, nogil=True)
def _conv_fire_one(tin, steps, wr, kh, kw, mid, thr, has_thr, inhibit, first, pfirst, plast, want_last, cast,
                   spikes):
    """IF convolution of one sample. ``tin`` uint8 [C, H, W] (steps = never); ``wr`` the weight
    rows of :func:`weight_rows` ``[C * kh, kw * F]``; writes ``first`` uint8 [F, OH, OW]
    (steps = never), ``pfirst`` (rounded potential at the first spike, 0 if silent) and, if
    ``want_last``, ``plast`` (potential at the last step).

    ``thr`` is the threshold (a value of the output dtype) and ``mid`` a float64 bound such that
    ``potential < mid`` implies ``round(potential) <= thr`` (see :func:`threshold_bound`): the exact
    rounded comparison runs only for candidates. With ``inhibit``, pointwise inhibition is fused:
    per position only the earliest spike is kept (the largest potential at that step, lowest
    feature on ties) and the position is not examined again. ``cast`` is a 1-element array of the
    output dtype (rounding buffer). Without a threshold only the last step fires (SpykeTorch
    ``fire(x, None)``): first = steps - 1 where plast > 0. With ``inhibit``, the (feature, row,
    col) of every spike are also listed in ``spikes`` [OH * OW, 3] (if it has rows); returns
    their number."""
    f_n = first.shape[0]
    oh = tin.shape[1] - kh + 1
    ow = tin.shape[2] - kw + 1
    start, chan, row, col = _bucket(tin, steps)
    pot = np.zeros((oh, ow * f_n), np.float64)  # [row, col * F + feature]
    # per neuron: the bound its potential must reach to be examined (inf once it has fired)
    eff = np.full((oh, ow * f_n) if has_thr and not inhibit else (0, 0), mid, np.float64)
    stamp = np.full((oh, ow), -1, np.int64)  # last step at which a position received input
    done = np.zeros((oh, ow), np.bool_)      # inhibit: the position has its spike
    n_spikes = 0
    for f in range(f_n):
        for y in range(oh):
            for x in range(ow):
                first[f, y, x] = steps
                pfirst[f, y, x] = 0
    for t in range(steps):
        # each new input spike adds, for every kernel row it reaches, ONE contiguous run of weights
        # (the columns of kw positions x F features, dx flipped in weight_rows) to one contiguous
        # run of potentials
        for s in range(start[t], start[t + 1]):
            c = chan[s]
            i = row[s]
            j = col[s]
            x0 = max(0, j - kw + 1)
            x1 = min(ow - 1, j)
            e0 = kw - 1 - j + x0
            n = (x1 - x0 + 1) * f_n
            for y in range(max(0, i - kh + 1), min(oh - 1, i) + 1):
                prow = pot[y, x0 * f_n: x0 * f_n + n]
                wrow = wr[c * kh + i - y, e0 * f_n: e0 * f_n + n]
                for q in range(n):
                    prow[q] += wrow[q]
                srow = stamp[y]
                for x in range(x0, x1 + 1):
                    srow[x] = t
        if not has_thr:
            continue
        for y in range(oh):
            for x in range(ow):
                if stamp[y, x] != t:
                    continue
                prow = pot[y, x * f_n: (x + 1) * f_n]
                if inhibit:
                    if done[y, x]:
                        continue
                    cnt = 0
                    for f in range(f_n):
                        cnt += prow[f] >= mid
                    if cnt == 0:
                        continue
                    best = -1
                    bestp = cast[0]
                    for f in range(f_n):
                        if prow[f] >= mid:
                            cast[0] = prow[f]
                            if cast[0] > thr and (best < 0 or cast[0] > bestp):
                                best = f
                                bestp = cast[0]
                    if best >= 0:
                        first[best, y, x] = t
                        pfirst[best, y, x] = bestp
                        done[y, x] = True
                        if n_spikes < spikes.shape[0]:
                            spikes[n_spikes, 0] = best
                            spikes[n_spikes, 1] = y
                            spikes[n_spikes, 2] = x
                            n_spikes += 1
                else:
                    erow = eff[y, x * f_n: (x + 1) * f_n]
                    cnt = 0
                    for f in range(f_n):
                        cnt += prow[f] >= erow[f]
                    if cnt == 0:
                        continue
                    for f in range(f_n):
                        if prow[f] >= erow[f]:
                            cast[0] = prow[f]
                            if cast[0] > thr:
                                first[f, y, x] = t
                                pfirst[f, y, x] = cast[0]
                                erow[f] = np.inf
    if want_last or not has_thr:
        for y in range(oh):
            for x in range(ow):
                for f in range(f_n):
                    plast[f, y, x] = pot[y, x * f_n + f]
    if not has_thr:
        for f in range(f_n):
            for y in range(oh):
                for x in range(ow):
                    if plast[f, y, x] > 0:
                        first[f, y, x] = steps - 1
                        pfirst[f, y, x] = plast[f, y, x]
    return n_spikes


@njit(cache=True, parallel=True)
def _conv_fire_batch(tin, steps, wr, kh, kw, mid, thr, has_thr, inhibit, first, pfirst, plast, want_last,
                     cast_proto):
    for b in prange(tin.shape[0]):
        cast = cast_proto.copy()
        _conv_fire_one(tin[b], steps, wr, kh, kw, mid, thr, has_thr, inhibit, first[b], pfirst[b], plast[b],
                       want_last, cast, np.empty((0, 3), np.int64))


@njit(cache=True, nogil=True)
def _conv_fire_serial(tin, steps, wr, kh, kw, mid, thr, has_thr, inhibit, first, pfirst, plast, want_last,
                      cast_proto):
    for b in range(tin.shape[0]):
        _conv_fire_one(tin[b], steps, wr, kh, kw, mid, thr, has_thr, inhibit, first[b], pfirst[b], plast[b],
                       want_last, cast_proto, np.empty((0, 3), np.int64))


@njit(cache=True, nogil=True)
def _conv_pool_one(times, steps, wr, kh, kw, pad_in, mid, thr, pool_k, pool_s, pad_out, tin, first, pfirst,
                   plast, cast, out):
    """One sample through pad -> IF convolution (no inhibition) -> max pooling -> pad, on
    first-spike times: ``times`` [C, H, W] -> ``out`` [F, PH + 2 pad_out, PW + 2 pad_out] (the next
    layer's padded input). ``tin``, ``first``, ``pfirst``, ``plast`` are scratch of the padded
    input and of the convolution's output."""
    c_n, h, w = times.shape
    tin[:] = steps
    for c in range(c_n):
        for i in range(h):
            for j in range(w):
                tin[c, i + pad_in, j + pad_in] = times[c, i, j]
    _conv_fire_one(tin, steps, wr, kh, kw, mid, thr, True, False, first, pfirst, plast, False, cast,
                   np.empty((0, 3), np.int64))
    out[:] = steps
    inner = out[:, pad_out: out.shape[1] - pad_out, pad_out: out.shape[2] - pad_out]
    _pool_one(first, pool_k, pool_k, pool_s, pool_s, 0, 0, inner)


@njit(cache=True, parallel=True)
def _conv_pool_batch(times, steps, wr, kh, kw, pad_in, mid, thr, pool_k, pool_s, pad_out, cast_proto, out):
    c_n, h, w = times.shape[1], times.shape[2], times.shape[3]
    f_n = wr.shape[1] // kw
    oh = h + 2 * pad_in - kh + 1
    ow = w + 2 * pad_in - kw + 1
    for b in prange(times.shape[0]):
        tin = np.empty((c_n, h + 2 * pad_in, w + 2 * pad_in), np.uint8)
        first = np.empty((f_n, oh, ow), np.uint8)
        pfirst = np.empty((f_n, oh, ow), cast_proto.dtype)
        plast = np.empty((0, 0, 0), cast_proto.dtype)
        cast = cast_proto.copy()
        _conv_pool_one(times[b], steps, wr, kh, kw, pad_in, mid, thr, pool_k, pool_s, pad_out, tin, first, pfirst,
                       plast, cast, out[b])


@njit(cache=True, nogil=True)
def _conv_pool_serial(times, steps, wr, kh, kw, pad_in, mid, thr, pool_k, pool_s, pad_out, cast, out):
    c_n, h, w = times.shape[1], times.shape[2], times.shape[3]
    f_n = wr.shape[1] // kw
    oh = h + 2 * pad_in - kh + 1
    ow = w + 2 * pad_in - kw + 1
    tin = np.empty((c_n, h + 2 * pad_in, w + 2 * pad_in), np.uint8)
    first = np.empty((f_n, oh, ow), np.uint8)
    pfirst = np.empty((f_n, oh, ow), cast.dtype)
    plast = np.empty((0, 0, 0), cast.dtype)
    for b in range(times.shape[0]):
        _conv_pool_one(times[b], steps, wr, kh, kw, pad_in, mid, thr, pool_k, pool_s, pad_out, tin, first, pfirst,
                       plast, cast, out[b])


# ---------------------------------------------------------------------------------------------
# pooling and padding on times
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _pool_one(tin, k0, k1, s0, s1, p0, p1, out):
    """Max pooling of a cumulative wave = min of first-spike times (padding never spikes)."""
    c_n, h, w = tin.shape
    oh, ow = out.shape[1], out.shape[2]
    for c in range(c_n):
        for y in range(oh):
            for x in range(ow):
                m = 255
                for dy in range(k0):
                    i = y * s0 - p0 + dy
                    if i < 0 or i >= h:
                        continue
                    for dx in range(k1):
                        j = x * s1 - p1 + dx
                        if j < 0 or j >= w:
                            continue
                        v = tin[c, i, j]
                        if v < m:
                            m = v
                out[c, y, x] = m


@njit(cache=True, parallel=True)
def _pool_batch(tin, k0, k1, s0, s1, p0, p1, out):
    for b in prange(tin.shape[0]):
        _pool_one(tin[b], k0, k1, s0, s1, p0, p1, out[b])


@njit(cache=True, nogil=True)
def _pool_serial(tin, k0, k1, s0, s1, p0, p1, out):
    for b in range(tin.shape[0]):
        _pool_one(tin[b], k0, k1, s0, s1, p0, p1, out[b])


# ---------------------------------------------------------------------------------------------
# pointwise inhibition and k-WTA on (first, pfirst)
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _inhibit_one(first, pfirst, steps, out_first, out_p):
    """Pointwise inhibition: per pixel, the earliest feature, then the largest potential at that
    step (lowest index on ties), keeps its spike; every other feature is silenced."""
    f_n, h, w = first.shape
    for y in range(h):
        for x in range(w):
            tmin = steps
            for f in range(f_n):
                if first[f, y, x] < tmin:
                    tmin = first[f, y, x]
            best = -1
            for f in range(f_n):
                out_first[f, y, x] = steps
                out_p[f, y, x] = 0
                if tmin < steps and first[f, y, x] == tmin:
                    if best < 0 or pfirst[f, y, x] > pfirst[best, y, x]:
                        best = f
            if best >= 0:
                out_first[best, y, x] = tmin
                out_p[best, y, x] = pfirst[best, y, x]


@njit(cache=True, parallel=True)
def _inhibit_batch(first, pfirst, steps, out_first, out_p):
    for b in prange(first.shape[0]):
        _inhibit_one(first[b], pfirst[b], steps, out_first[b], out_p[b])


@njit(cache=True, nogil=True)
def _inhibit_serial(first, pfirst, steps, out_first, out_p):
    for b in range(first.shape[0]):
        _inhibit_one(first[b], pfirst[b], steps, out_first[b], out_p[b])


@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _kwta_one(first, pfirst, steps, k, radius, tarr, out):
    """k-winners of one sample with SpykeTorch's float score ``n * (p + T * max p)`` computed in the
    potentials' dtype (``tarr`` = [T] in that dtype), as a sequential sum of ``n`` equal terms.
    Writes ``out`` [k, 3] (-1 rows where no winner); returns the number of winners."""
    f_n, h, w = first.shape
    n_c = 0
    for f in range(f_n):
        for y in range(h):
            for x in range(w):
                if first[f, y, x] < steps:
                    n_c += 1
    cand = np.empty((n_c, 3), np.int64)
    q = 0
    for f in range(f_n):
        for y in range(h):
            for x in range(w):
                if first[f, y, x] < steps:
                    cand[q, 0] = f
                    cand[q, 1] = y
                    cand[q, 2] = x
                    q += 1
    return _kwta_select(first, pfirst, cand, n_c, steps, k, radius, tarr, out)


@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _kwta_inhibited(first, pfirst, spikes, n_spikes, steps, k, radius, tarr, out):
    """:func:`_kwta_one` after pointwise inhibition, from the list of the spiking neurons
    ``spikes`` [n, 3] = (feature, row, col), in any order (at most one per position), without
    scanning the whole [F, OH, OW] map."""
    return _kwta_select(first, pfirst, spikes, n_spikes, steps, k, radius, tarr, out)


@njit(cache=True, nogil=True)
def _kwta_select(first, pfirst, cand, n_c, steps, k, radius, tarr, out):
    """The k-WTA rule on the candidate neurons ``cand[:n_c]`` = (feature, row, col), listed in any
    order: score ``n * (p + T * max p)`` in the potentials' dtype (a sequential sum of ``n`` equal
    terms, as SpykeTorch's float arithmetic gives), then ``k`` rounds of "largest positive score
    wins, ties to the lowest flat (feature, row, col) index; its feature and its neighbours within
    ``radius`` drop out". Writes ``out`` [k, 3] (-1 rows where no winner); returns the count."""
    f_n, h, w = first.shape
    score = np.empty(n_c, pfirst.dtype)
    zero = tarr[0] - tarr[0]  # zero in the potentials' dtype (tarr[0] * 0 would be float64)
    maxp = zero
    for q in range(n_c):
        p = pfirst[cand[q, 0], cand[q, 1], cand[q, 2]]
        if p > maxp:
            maxp = p
    v = maxp * tarr[0]
    for q in range(n_c):
        f = cand[q, 0]
        y = cand[q, 1]
        x = cand[q, 2]
        term = pfirst[f, y, x] + v
        sc = term
        for _ in range(steps - first[f, y, x] - 1):
            sc = sc + term
        score[q] = sc
    for i in range(k):
        out[i, 0] = -1
        out[i, 1] = -1
        out[i, 2] = -1
    count = 0
    for i in range(k):
        best = -1
        best_idx = 0
        for q in range(n_c):
            if score[q] > zero:
                idx = (cand[q, 0] * h + cand[q, 1]) * w + cand[q, 2]
                if best < 0 or score[q] > score[best] or (score[q] == score[best] and idx < best_idx):
                    best = q
                    best_idx = idx
        if best < 0:
            break
        f = cand[best, 0]
        y = cand[best, 1]
        x = cand[best, 2]
        out[i, 0] = f
        out[i, 1] = y
        out[i, 2] = x
        count += 1
        for q in range(n_c):
            if cand[q, 0] == f:
                score[q] = zero
            elif radius > 0 and abs(cand[q, 1] - y) <= radius and abs(cand[q, 2] - x) <= radius:
                score[q] = zero
    return count


@njit(cache=True, parallel=True)
def _kwta_batch(first, pfirst, steps, k, radius, tarr, out):
    for b in prange(first.shape[0]):
        _kwta_one(first[b], pfirst[b], steps, k, radius, tarr, out[b])


# ---------------------------------------------------------------------------------------------
# STDP / R-STDP on times (sequential over the batch, in place)
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _clamp_all(w, bounds):
    flat = w.reshape(-1)
    lb = bounds[0]
    ub = bounds[1]
    for i in range(flat.size):
        v = flat[i]
        if v < lb:
            flat[i] = lb
        elif v > ub:
            flat[i] = ub


@njit(cache=True, nogil=True)
def _stdp_one(w, wt, tin, tout_first, winners, ltp, ltd, stabilizer, bounds, in_bounds, q, q_ok):
    """One sample's STDP update of ``w`` [F, C, kh, kw] in place (and of its weight rows ``wt``
    [C * kh, kw * F] of :func:`weight_rows`, if it has elements). ``ltp``/``ltd`` [F] in w's dtype. Repeats the dense path's
    operations: ``d = (w - lb) * (ub - w); d = a * d; w = w + d`` (or ``w + a``), then clamp; the
    whole tensor is clamped once when ``in_bounds[0]`` is False. Later duplicates of a feature in
    ``winners`` supersede earlier ones (SpykeTorch sets lr[f] winner after winner). ``q`` /
    ``q_ok``: an int8 screen of ``wt`` (:func:`screen_rows`) kept in sync, or size 0."""
    f_n, c_n, kh, kw = w.shape
    lb = bounds[0]
    ub = bounds[1]
    sync = wt.size > 0
    screen = sync and q.size > 0
    screen_bad = False
    qf = q.reshape(-1)
    q_cols = q.shape[1]
    k = winners.shape[0]
    for i in range(k):
        f = winners[i, 0]
        if f < 0:
            continue
        superseded = False
        for j in range(i + 1, k):
            if winners[j, 0] == f:
                superseded = True
        if superseded:
            continue
        r = winners[i, 1]
        cc = winners[i, 2]
        tpost = tout_first[f, r, cc]
        a_p = ltp[f]
        a_d = ltd[f]
        for c in range(c_n):
            for dy in range(kh):
                for dx in range(kw):
                    a = a_p if tin[c, r + dy, cc + dx] <= tpost else a_d
                    x = w[f, c, dy, dx]  # the update starts from the unclamped weight
                    if stabilizer:
                        d = (x - lb) * (ub - x)
                        d = a * d
                        x = x + d
                    else:
                        x = x + a
                    if x < lb:
                        x = lb
                    elif x > ub:
                        x = ub
                    w[f, c, dy, dx] = x
                    if sync:
                        wt[c * kh + dy, (kw - 1 - dx) * f_n + f] = x
                        if screen and not _screen_entry(x, qf, (c * kh + dy) * q_cols + (kw - 1 - dx) * f_n + f):
                            screen_bad = True
    if screen_bad:
        q_ok[0] = False
    if not in_bounds[0]:  # the dense path clamps the WHOLE tensor (idempotent afterwards)
        _clamp_all(w, bounds)
        if sync:
            for f in range(f_n):
                for c in range(c_n):
                    for dy in range(kh):
                        for dx in range(kw):
                            wt[c * kh + dy, (kw - 1 - dx) * f_n + f] = w[f, c, dy, dx]
            if screen:
                _screen_fill(wt, q, q_ok)
        in_bounds[0] = True


@njit(cache=True, nogil=True)
def _stdp_batch(w, wt, tin, tout_first, winners, ltp, ltd, skip, stabilizer, bounds, in_bounds):
    """Sequential per-sample updates in batch order; ``ltp``/``ltd`` are [B, F]; skip [B] bool."""
    no_screen = np.zeros((0, 0), np.int8)
    for b in range(tin.shape[0]):
        if skip[b]:
            continue
        _stdp_one(w, wt, tin[b], tout_first[b], winners[b], ltp[b], ltd[b], stabilizer, bounds, in_bounds,
                  no_screen, in_bounds)


# ---------------------------------------------------------------------------------------------
# fused training steps and whole passes
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _stdp_layer_step(tin, steps, w, wt, mid, thr, k, radius, ltp, ltd, stabilizer, bounds, in_bounds,
                     tarr, winners, inhibit):
    """One unsupervised training step of a convolutional STDP layer on one sample: IF convolution
    with threshold, pointwise inhibition (if ``inhibit``), k-WTA, STDP (``w`` and ``wt`` in place).
    Writes ``winners`` [k, 3]; returns the output first-spike times (after inhibition)."""
    f_n, _, kh, kw = w.shape
    oh = tin.shape[1] - kh + 1
    ow = tin.shape[2] - kw + 1
    first = np.empty((f_n, oh, ow), np.uint8)
    pfirst = np.empty((f_n, oh, ow), w.dtype)
    plast = np.empty((0, 0, 0), w.dtype)
    cast = np.zeros(1, w.dtype)
    spikes = np.empty((oh * ow if inhibit else 0, 3), np.int64)
    n = _conv_fire_one(tin, steps, wt, kh, kw, mid, thr, True, inhibit, first, pfirst, plast, False, cast, spikes)
    if inhibit:
        _kwta_inhibited(first, pfirst, spikes, n, steps, k, radius, tarr, winners)
    else:
        _kwta_one(first, pfirst, steps, k, radius, tarr, winners)
    _stdp_one(w, wt, tin, first, winners, ltp, ltd, stabilizer, bounds, in_bounds, np.zeros((0, 0), np.int8),
              in_bounds)
    return first


@njit(cache=True, nogil=True)
def _stdp_layer_pass(tins, steps, w, wt, mid, thr, k, radius, ltp, ltd, stabilizer, bounds, in_bounds,
                     tarr, inhibit, counter, every, max_ltp, ltd_ratio, winners_out, first_out):
    """Sequential STDP training over samples ``tins`` [N, C, H, W] with the 2019 example's adaptive
    schedule: before each sample the counter advances and, every ``every`` samples, ``a_ltp``
    doubles (capped at ``max_ltp``) and ``a_ltd = ltd_ratio * a_ltp`` (``every = 0``: off).
    ``ltp``/``ltd`` [F] and ``counter`` [1] are updated in place (so a pass can resume). Writes
    each sample's winners to ``winners_out`` [N, k, 3] and, if ``first_out`` has N rows, its output
    first-spike times (after inhibition) to ``first_out`` [N, F, OH, OW]."""
    for n in range(tins.shape[0]):
        if every > 0:
            counter[0] += 1
            if counter[0] >= every:
                counter[0] = 0
                ap = ltp[0] + ltp[0]  # exactly 2 * a_ltp, in the dtype
                if ap > max_ltp[0]:
                    ap = max_ltp[0]
                an = ap * ltd_ratio[0]
                for f in range(ltp.shape[0]):
                    ltp[f] = ap
                    ltd[f] = an
        first = _stdp_layer_step(tins[n], steps, w, wt, mid, thr, k, radius, ltp, ltd, stabilizer, bounds,
                                 in_bounds, tarr, winners_out[n], inhibit)
        if first_out.shape[0] == tins.shape[0]:
            fo = first_out[n]  # element by element: an array assignment would compile numba's shape check
            for f in range(first.shape[0]):  # and its error message (string formatting), ~2-3 s at first use
                for y in range(first.shape[1]):
                    for x in range(first.shape[2]):
                        fo[f, y, x] = first[f, y, x]


# ---------------------------------------------------------------------------------------------
# the last layer of the 2019 network: binary input, decision at the last step, R-STDP
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _readout_potentials(active, pad, wr, kh, kw, pot):
    """Final potentials ``pot`` [OH, OW * F] (float64, exact sums) of a no-threshold layer whose
    input ``active`` is a bool map [C, H, W] of the inputs that spiked by the last step (before
    ``pad`` zero padding on each side); ``wr`` the weight rows [C * kh, kw * F] of
    :func:`weight_rows`. The sums are exact (float32 weights in float64), so the order of the
    inputs does not matter. (:func:`_screened_winner` runs it on int8 rows into int32 sums.)"""
    c_n, h, w = active.shape
    oh = pot.shape[0]
    f_n = wr.shape[1] // kw
    ow = pot.shape[1] // f_n
    pot[:] = 0
    for c in range(c_n):
        for i in range(h):
            ip = i + pad
            for j in range(w):
                if not active[c, i, j]:
                    continue
                jp = j + pad
                x0 = max(0, jp - kw + 1)
                x1 = min(ow - 1, jp)
                e0 = kw - 1 - jp + x0
                n = (x1 - x0 + 1) * f_n
                for y in range(max(0, ip - kh + 1), min(oh - 1, ip) + 1):
                    prow = pot[y, x0 * f_n: x0 * f_n + n]
                    wrow = wr[c * kh + ip - y, e0 * f_n: e0 * f_n + n]
                    for q in range(n):
                        prow[q] += wrow[q]


@njit(cache=True, nogil=True)
def _readout_winner(pot, f_n, tarr, cast):
    """k-WTA with k = 1 on final potentials ``pot`` [OH, OW * F] as SpykeTorch scores them
    (``p + T * max p`` in the dtype of ``cast``/``tarr``, positive only, lowest flat index of
    [F, OH, OW] on ties). Returns that flat index, -1 if silent."""
    oh = pot.shape[0]
    ow = pot.shape[1] // f_n
    zero = tarr[0] - tarr[0]
    maxp = zero
    for y in range(oh):
        for q in range(ow * f_n):
            cast[0] = pot[y, q]
            if cast[0] > maxp:
                maxp = cast[0]
    if not maxp > zero:
        return -1
    v = maxp * tarr[0]
    best = -1
    best_s = zero
    for y in range(oh):
        for x in range(ow):
            for f in range(f_n):
                cast[0] = pot[y, x * f_n + f]
                p = cast[0]
                if p > zero:
                    s = p + v
                    idx = (f * oh + y) * ow + x
                    if s > best_s or (s == best_s and idx < best):
                        best_s = s
                        best = idx
    return best


@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _readout_one(active, pad, wr, kh, kw, steps, tarr, pot, cast):
    """The k = 1 winner (flat index into [F, OH, OW], -1 silent) of one sample's no-threshold
    layer (:func:`_readout_potentials` then :func:`_readout_winner`); ``pot`` [OH, OW * F] float64
    scratch, ``cast`` a 1-element array of the dtype."""
    _readout_potentials(active, pad, wr, kh, kw, pot)
    return _readout_winner(pot, wr.shape[1] // kw, tarr, cast)


@njit(cache=True, parallel=True)
def _readout_batch(active, pad, wr, kh, kw, steps, tarr, out_h, out_w, cast_proto, winners):
    f_n = wr.shape[1] // kw
    for b in prange(active.shape[0]):
        pot = np.empty((out_h, out_w * f_n), np.float64)
        cast = cast_proto.copy()
        winners[b] = _readout_one(active[b], pad, wr, kh, kw, steps, tarr, pot, cast)


# ---------------------------------------------------------------------------------------------
# inference without time: what spiked by the last step depends only on the final potentials
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _fire_final_pooled(active, pad, wr, kh, kw, mid, thr, pool_k, pool_s, pot, cast, out):
    """Which pooled neurons of an IF convolution spiked by the last step, from which inputs did.

    With weights >= 0 and cumulative input, potentials never decrease, so a neuron has spiked by
    the last step exactly when its FINAL potential (rounded) exceeds the threshold, and that
    potential is the sum of the weights of the inputs that spiked at all: no time steps are
    needed. ``active`` bool [C, H, W] (before ``pad`` zero padding on each side); writes ``out``
    bool [F, PH, PW] = max pooling (kernel ``pool_k``, stride ``pool_s``, no padding) of the
    output spikes; only the output positions that some pooling window reads are computed.
    ``pot`` float64 scratch with at least [uh, uw * F] elements (float64: exact sums of float32
    weights; float32 accumulation would save little, and trained weights near 0 and 1 put many
    potentials exactly ON the threshold, where its rounding error could not be told apart).
    """
    c_n, h, w = active.shape
    f_n = wr.shape[1] // kw
    ph, pw = out.shape[1], out.shape[2]
    uh = (ph - 1) * pool_s + pool_k  # output rows / columns read by the pooling
    uw = (pw - 1) * pool_s + pool_k
    for y in range(uh):
        for q in range(uw * f_n):
            pot[y, q] = 0.0
    for c in range(c_n):
        for i in range(h):
            ip = i + pad
            for j in range(w):
                if not active[c, i, j]:
                    continue
                jp = j + pad
                x0 = max(0, jp - kw + 1)
                x1 = min(uw - 1, jp)
                if x1 < x0:
                    continue
                e0 = kw - 1 - jp + x0
                n = (x1 - x0 + 1) * f_n
                for y in range(max(0, ip - kh + 1), min(uh - 1, ip) + 1):
                    prow = pot[y, x0 * f_n: x0 * f_n + n]
                    wrow = wr[c * kh + ip - y, e0 * f_n: e0 * f_n + n]
                    for q in range(n):
                        prow[q] += wrow[q]
    out[:] = False
    for y in range(uh):
        py0 = max(0, (y - pool_k + pool_s) // pool_s)  # windows py with py*s <= y < py*s + k
        py1 = min(ph - 1, y // pool_s)
        for x in range(uw):
            prow = pot[y, x * f_n: (x + 1) * f_n]
            cnt = 0
            for f in range(f_n):
                cnt += prow[f] >= mid
            if cnt == 0:
                continue
            px0 = max(0, (x - pool_k + pool_s) // pool_s)
            px1 = min(pw - 1, x // pool_s)
            for f in range(f_n):
                if prow[f] >= mid:
                    cast[0] = prow[f]
                    if cast[0] > thr:
                        for py in range(py0, py1 + 1):
                            for px in range(px0, px1 + 1):
                                out[f, py, px] = True


@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _s3_input_one(tin, steps, wr1, k1, mid1, thr1, wr2, k2, mid2, thr2, pads, pools, pot1, pot2, cast,
                  a1, a2, out):
    """The Mozafari 2019 network's S1 -> C1 -> S2 -> C2 on one digit's first-spike times ``tin``
    [6, H, W] (unpadded): ``out`` bool [F2, PH2, PW2], the C2 neurons that spiked by the last step
    (what the decision layer sees). ``pads`` = (S1, S2) padding, ``pools`` = (C1 kernel, C1 stride,
    C2 kernel, C2 stride); ``a1`` bool scratch [C0, H, W], ``a2`` bool [F1, PH1, PW1]."""
    c_n, h, w = tin.shape
    for c in range(c_n):
        for i in range(h):
            for j in range(w):
                a1[c, i, j] = tin[c, i, j] < steps
    _fire_final_pooled(a1, pads[0], wr1, k1, k1, mid1, thr1, pools[0], pools[1], pot1, cast, a2)
    _fire_final_pooled(a2, pads[1], wr2, k2, k2, mid2, thr2, pools[2], pools[3], pot2, cast, out)


@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _s3_input_scratch(tin, wr1, k1, wr2, k2, pads, pools):
    c0, h, w = tin.shape[1], tin.shape[2], tin.shape[3]
    f1 = wr1.shape[1] // k1
    f2 = wr2.shape[1] // k2
    ph1 = (h + 2 * pads[0] - k1 + 1 - pools[0]) // pools[1] + 1
    pw1 = (w + 2 * pads[0] - k1 + 1 - pools[0]) // pools[1] + 1
    pot1 = np.empty((h + 2 * pads[0], (w + 2 * pads[0]) * f1), np.float64)
    pot2 = np.empty((ph1 + 2 * pads[1], (pw1 + 2 * pads[1]) * f2), np.float64)
    return pot1, pot2, np.empty((c0, h, w), np.bool_), np.empty((f1, ph1, pw1), np.bool_)


@njit(cache=True, parallel=True)
def _s3_input_batch(tin, steps, wr1, k1, mid1, thr1, wr2, k2, mid2, thr2, pads, pools, cast_proto, out):
    for b in prange(tin.shape[0]):
        pot1, pot2, a1, a2 = _s3_input_scratch(tin, wr1, k1, wr2, k2, pads, pools)
        cast = cast_proto.copy()
        _s3_input_one(tin[b], steps, wr1, k1, mid1, thr1, wr2, k2, mid2, thr2, pads, pools, pot1, pot2, cast,
                      a1, a2, out[b])


@njit(cache=True, nogil=True)
def _s3_input_serial(tin, steps, wr1, k1, mid1, thr1, wr2, k2, mid2, thr2, pads, pools, cast, out):
    pot1, pot2, a1, a2 = _s3_input_scratch(tin, wr1, k1, wr2, k2, pads, pools)
    for b in range(tin.shape[0]):
        _s3_input_one(tin[b], steps, wr1, k1, mid1, thr1, wr2, k2, mid2, thr2, pads, pools, pot1, pot2, cast,
                      a1, a2, out[b])


@njit(cache=True, parallel=True)
def _readout_feature_max(active, pad, wr, kh, kw, out_h, out_w, out):
    """``out`` [B, F] (float64) = each feature's largest exact final potential over the positions
    of the no-threshold layer (:func:`_readout_potentials`), per sample of ``active`` [B, C, H, W]."""
    f_n = wr.shape[1] // kw
    for b in prange(active.shape[0]):
        pot = np.empty((out_h, out_w * f_n), np.float64)
        _readout_potentials(active[b], pad, wr, kh, kw, pot)
        for f in range(f_n):
            m = pot[0, f]
            for y in range(out_h):
                for x in range(out_w):
                    if pot[y, x * f_n + f] > m:
                        m = pot[y, x * f_n + f]
            out[b, f] = m


@njit(cache=True, nogil=True)
def _readout_serial(active, pad, wr, kh, kw, steps, tarr, out_h, out_w, cast, winners):
    pot = np.empty((out_h, out_w * (wr.shape[1] // kw)), np.float64)
    for b in range(active.shape[0]):
        winners[b] = _readout_one(active[b], pad, wr, kh, kw, steps, tarr, pot, cast)


# ---------------------------------------------------------------------------------------------
# the readout's winner in two passes: an int8 screen, then exact sums for the few candidates
# ---------------------------------------------------------------------------------------------
#: Bits of the screen: ``q = floor(w * 2**SCREEN_BITS)`` as int8, valid for weights in [-1, 1).
SCREEN_BITS = 7


@njit(cache=True, nogil=True)
def _screen_entry(v, qflat, k):
    """``qflat[k] = floor(v * 2**SCREEN_BITS)``; False (and ``qflat[k] = 0``) if that is outside
    int8 or NaN: the screen then cannot bound the weight. (The callers collect the flag in a
    local: a write to a flag array in the loop costs 20x.)"""
    s = np.floor(np.float64(v) * np.float64(2 ** SCREEN_BITS))
    if s >= -128.0 and s <= 127.0:
        qflat[k] = np.int8(s)
        return True
    qflat[k] = 0
    return False


@njit(cache=True, nogil=True)
def _screen_fill(wt, q, ok):
    """``q`` (int8, the shape of the weight rows ``wt``) = ``floor(wt * 2**SCREEN_BITS)``;
    ``ok[0]`` is False when some weight lies outside [-1, 1) (or is NaN)."""
    good = True
    wf = wt.reshape(-1)
    qf = q.reshape(-1)
    for k in range(wf.size):
        if not _screen_entry(wf[k], qf, k):
            good = False
    ok[0] = good


def screen_rows(wt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The int8 screen of float32 weight rows ``wt`` (:func:`weight_rows`) and its validity flag
    ``ok`` [1] (False: some weight outside [-1, 1); use the exact path). See
    :func:`_screened_winner`."""
    q = np.empty(wt.shape, np.int8)
    ok = np.array([False])
    _screen_fill(wt, q, ok)
    return q, ok


@njit(cache=True, nogil=True, inline="always")  # inlined into callers: faster first compile
def _screen_scratch(active, kh, kw, pad, f_n):
    """Scratch of :func:`_screened_winner` for inputs shaped like ``active`` [C, H, W]."""
    c_n, h, w = active.shape
    oh = h + 2 * pad - kh + 1
    ow = w + 2 * pad - kw + 1
    return (np.empty((oh, ow * f_n), np.int32), np.empty((h, w), np.int64), np.empty(oh * ow * f_n, np.int64),
            np.empty(c_n * h * w, np.int64))


@njit(cache=True, nogil=True)
def _screened_winner(active, pad, q, w, wr, kh, kw, tarr, qpot, count, cand, spiked, limit):
    """The winner of :func:`_readout_one` (the same flat index into [F, OH, OW], -1 silent) for
    float32 weights ``w`` [F, C, kh, kw] >= 0, in two passes; 1.3-2.3x as fast, depending on the
    load of the machine (``benchmarks/mozafari2019.py``).

    Pass 1 adds up the int8 screen ``q = floor(w * 2**s)`` (``s = SCREEN_BITS``, laid out as the
    weight rows) into int32 potentials ``qpot`` [OH, OW * F]: it reads a quarter of the bytes of
    the float32 rows, and int32 sums have twice the vector width of float64 ones. Since ``w * 2**s - 1 < q <= w * 2**s``, a
    neuron whose window holds ``n`` active inputs has an exact potential ``P`` with
    ``Q <= 2**s * P < Q + n``. The neuron with the largest screened sum ``Qmax`` has
    ``P >= Qmax / 2**s``, so every neuron with ``Q + n + M <= Qmax`` lies more than ``M / 2**s``
    below the top potential. ``M`` exceeds the float32 roundings of the winner rule (the cast of
    the potential and the score ``p + T * max p``, each at most ``2**-24`` relative, bounded
    through ``P <= (Qmax + n_max) / 2**s``), so such a neuron scores strictly below the winner:
    it can neither win nor tie. Pass 2 computes the exact float64 sums of the other neurons, the
    candidates (one to three per digit with trained MNIST weights), and applies the rule of
    :func:`_readout_winner` to them.

    When the screen leaves more than ``limit`` candidates (:func:`screen_limit`: more than the
    exact one-pass readout costs, ``kh * kw * F / 8``; weights far from trained, such as the S3 weights just after the first
    R-STDP update clamps them, where the screen rules out almost nothing), pass 2 is that readout,
    :func:`_readout_one` on the float32 weight rows ``wr`` (:func:`weight_rows`, in sync with
    ``w``): the same winner, at 1.25 times the one-pass cost instead of many times it.

    Scratch (:func:`_screen_scratch`): ``qpot`` int32 [OH, OW * F], ``count`` int64 [H, W]
    (active inputs per position), ``cand`` int64 [OH * OW * F], ``spiked`` int64 [C * H * W]."""
    c_n, h, wd = active.shape
    oh = qpot.shape[0]
    f_n = q.shape[1] // kw
    ow = qpot.shape[1] // f_n
    _readout_potentials(active, pad, q, kh, kw, qpot)  # the same accumulation, on the screen
    count[:] = 0
    n_in = 0
    for c in range(c_n):
        for i in range(h):
            for j in range(wd):
                if active[c, i, j]:
                    count[i, j] += 1
                    spiked[n_in] = (c * h + i) * wd + j
                    n_in += 1
    qmax = np.int64(qpot[0, 0])
    for y in range(oh):
        for t in range(ow * f_n):
            if qpot[y, t] > qmax:
                qmax = np.int64(qpot[y, t])
    n_max = 0
    for y in range(oh):
        for x in range(ow):
            n = 0
            for i in range(max(0, y - pad), min(h, y + kh - pad)):
                for j in range(max(0, x - pad), min(wd, x + kw - pad)):
                    n += count[i, j]
            n_max = max(n_max, n)
    # M > 2**-23 (T + 3) (|Qmax| + n_max): twice that, plus 2
    margin = np.int64(np.floor((abs(qmax) + n_max) * (abs(np.float64(tarr[0])) + 3.0) * 2.0 ** -22)) + 2
    n_c = 0
    for y in range(oh):
        for x in range(ow):
            n = 0
            for i in range(max(0, y - pad), min(h, y + kh - pad)):
                for j in range(max(0, x - pad), min(wd, x + kw - pad)):
                    n += count[i, j]
            lim = qmax - n - margin  # candidate: Q > lim
            for f in range(f_n):
                if np.int64(qpot[y, x * f_n + f]) > lim:
                    cand[n_c] = (f * oh + y) * ow + x
                    n_c += 1
    cast = np.zeros(1, tarr.dtype)
    if n_c > limit:  # the screen ruled out too little: the one-pass readout is cheaper
        pot = np.empty((oh, ow * f_n), np.float64)
        return _readout_one(active, pad, wr, kh, kw, 0, tarr, pot, cast)
    # pass 2: exact sums of the candidates, and the winner rule of _readout_winner on them
    zero = tarr[0] - tarr[0]
    maxp = zero
    exact = np.empty(n_c, np.float64)
    for k in range(n_c):
        exact[k] = _exact_potential(active, spiked, n_in, pad, w, cand[k], oh, ow)
        cast[0] = exact[k]
        if cast[0] > maxp:
            maxp = cast[0]
    if not maxp > zero:
        return -1
    v = maxp * tarr[0]
    best = -1
    best_s = zero
    for k in range(n_c):
        cast[0] = exact[k]
        p = cast[0]
        if p > zero:
            s = p + v
            idx = cand[k]
            if s > best_s or (s == best_s and idx < best):
                best_s = s
                best = idx
    return best


def screen_limit(kh: int, kw: int, features: int) -> int:
    """The most candidates :func:`_screened_winner` checks one by one: beyond ``kh * kw * F / 8``
    the exact one-pass readout (vectorised over the features) is the cheaper second pass."""
    return (kh * kw * features) // 8


@njit(cache=True, nogil=True)
def _exact_potential(active, spiked, n_in, pad, w, idx, oh, ow):
    """Exact float64 final potential of the neuron at flat index ``idx`` of [F, OH, OW] (float32
    weights summed in float64 need no rounding, so the order of the inputs does not matter)."""
    _, h, wd = active.shape
    kh = w.shape[2]
    kw = w.shape[3]
    f = idx // (oh * ow)
    rem = idx - f * oh * ow
    y = rem // ow
    x = rem - y * ow
    s = 0.0
    for k in range(n_in):
        flat = spiked[k]
        c = flat // (h * wd)
        ij = flat - c * h * wd
        i = ij // wd
        j = ij - i * wd
        dy = i + pad - y
        dx = j + pad - x
        if dy >= 0 and dy < kh and dx >= 0 and dx < kw:
            s += w[f, c, dy, dx]
    return s


@njit(cache=True, parallel=True)
def _screened_batch(active, pad, q, w, wr, kh, kw, tarr, winners, limit):
    for b in prange(active.shape[0]):
        qpot, count, cand, spiked = _screen_scratch(active[b], kh, kw, pad, w.shape[0])
        winners[b] = _screened_winner(active[b], pad, q, w, wr, kh, kw, tarr, qpot, count, cand, spiked, limit)


@njit(cache=True, nogil=True)
def _screened_serial(active, pad, q, w, wr, kh, kw, tarr, winners, limit):
    if active.shape[0] == 0:
        return
    qpot, count, cand, spiked = _screen_scratch(active[0], kh, kw, pad, w.shape[0])
    for b in range(active.shape[0]):
        winners[b] = _screened_winner(active[b], pad, q, w, wr, kh, kw, tarr, qpot, count, cand, spiked, limit)


@njit(cache=True, nogil=True)
def _rstdp_learn_one(best, active, label, pad, w, wt, steps, per_class, r_base, p_base, rates, bounds,
                     in_bounds, block, block_stats, adapt, floor, scratch_tin, scratch_tout, win, ltp, ltd, q, q_ok):
    """One digit's R-STDP given its readout winner ``best`` (flat index, -1 silent): decision,
    reward or punishment on the winner's row, the block statistics and (``adapt``) the rates.
    Returns ``(decision, updated feature or -1)``."""
    f_n, c_n, kh, kw = w.shape
    oh = scratch_tout.shape[1]
    ow = scratch_tout.shape[2]
    updated = -1
    if best < 0:
        d = -1
    else:
        f = best // (oh * ow)
        rem = best - f * oh * ow
        y = rem // ow
        x = rem - y * ow
        d = f // per_class
        if d == label:
            a_p = rates[0]
            a_d = rates[1]
            block_stats[0] += 1
        else:
            a_p = rates[2]
            a_d = rates[3]
            block_stats[1] += 1
        for ff in range(f_n):
            ltp[ff] = a_p
            ltd[ff] = a_d
        # padded input times: 0 where active (spiked by the last step), steps elsewhere; the
        # winner fired at the last step, so LTP exactly where the input spiked at all
        scratch_tin[:] = steps
        for c in range(c_n):
            for i in range(active.shape[1]):
                for j in range(active.shape[2]):
                    if active[c, i, j]:
                        scratch_tin[c, i + pad, j + pad] = 0
        scratch_tout[f, y, x] = steps - 1
        win[0, 0] = f
        win[0, 1] = y
        win[0, 2] = x
        _stdp_one(w, wt, scratch_tin, scratch_tout, win, ltp, ltd, False, bounds, in_bounds, q, q_ok)
        scratch_tout[f, y, x] = steps
        updated = f
    block_stats[2] += 1
    if adapt and block_stats[2] >= block:
        hit = block_stats[0] / block_stats[2]
        miss = block_stats[1] / block_stats[2]
        # floor = 0: exactly the base rate times the miss (hit) rate, as the reference port
        miss = floor + (1.0 - floor) * miss
        hit = floor + (1.0 - floor) * hit
        rates[0] = r_base[0] * miss
        rates[1] = r_base[1] * miss
        rates[2] = p_base[0] * hit
        rates[3] = p_base[1] * hit
        block_stats[0] = 0
        block_stats[1] = 0
        block_stats[2] = 0
    return d, updated


@njit(cache=True, nogil=True)
def _rstdp_readout_pass(actives, labels, pad, w, wt, steps, tarr, per_class, r_base, p_base,
                        rates, bounds, in_bounds, block, block_stats, decisions, adapt, floor, alive, q, q_ok):
    """Sequential R-STDP training of the decision layer over ``actives`` [N, C, H, W] (bool) with
    labels [N]. Per sample: readout winner (k = 1), decision = feature // per_class (-1 silent),
    reward +1 / -1 -> STDP with ``rates[0:2]`` / anti-STDP with ``rates[2:4]`` on the winner's row
    (no stabilizer: LTP where the input spiked at all, LTD where silent), then clamp. With
    ``adapt``, after every ``block`` samples the rates become the base rates times that block's
    miss rate (reward) and hit rate (punishment). ``block_stats`` [3] = hits, misses, count of the
    current block; ``rates`` [4] in w's dtype are updated in place so a pass can resume.

    Variants (the defaults give the reference): ``floor`` > 0 adapts to ``floor + (1 - floor) *``
    the miss (hit) rate instead; ``alive`` bool [F] with False entries drops those features for
    the whole pass (their potentials are set to 0 before the winner is chosen, SpykeTorch's
    ``feature_inhibition_``), dropout as in the 2018 paper's reference code.

    ``q`` / ``q_ok``: the int8 screen of ``wt`` and its flag (:func:`screen_rows`; ``q`` of size
    0 for float64 weights). While ``q_ok[0]`` holds, winners come from :func:`_screened_winner`
    (the same winner, faster) and the screen follows every update."""
    f_n, c_n, kh, kw = w.shape
    dropped = False
    for f in range(f_n):
        if not alive[f]:
            dropped = True
    oh = actives.shape[2] + 2 * pad - kh + 1
    ow = actives.shape[3] + 2 * pad - kw + 1
    pot = np.empty((oh, ow * f_n), np.float64)
    cast = np.zeros(1, w.dtype)
    ltp = np.empty(f_n, w.dtype)
    ltd = np.empty(f_n, w.dtype)
    win = np.empty((1, 3), np.int64)
    tout = np.full((f_n, oh, ow), steps, np.uint8)
    tin = np.empty((c_n, actives.shape[2] + 2 * pad, actives.shape[3] + 2 * pad), np.uint8)
    screen = q.size > 0 and not dropped
    if screen:
        qpot, count, cand, spiked = _screen_scratch(actives[0], kh, kw, pad, f_n)
    for n in range(actives.shape[0]):
        if screen and q_ok[0]:
            best = _screened_winner(actives[n], pad, q, w, wt, kh, kw, tarr, qpot, count, cand, spiked,
                                    (kh * kw * f_n) // 8)
        elif dropped:
            _readout_potentials(actives[n], pad, wt, kh, kw, pot)
            for f in range(f_n):
                if not alive[f]:
                    for y in range(oh):
                        for x in range(ow):
                            pot[y, x * f_n + f] = 0.0
            best = _readout_winner(pot, f_n, tarr, cast)
        else:
            best = _readout_one(actives[n], pad, wt, kh, kw, steps, tarr, pot, cast)
        decisions[n], _ = _rstdp_learn_one(best, actives[n], labels[n], pad, w, wt, steps, per_class, r_base,
                                           p_base, rates, bounds, in_bounds, block, block_stats, adapt, floor,
                                           tin, tout, win, ltp, ltd, q, q_ok)


# ---------------------------------------------------------------------------------------------
# numba's parallel launches can reset the OpenMP thread count that torch also uses (a chapter
# that set torch.set_num_threads(1) found 2 afterwards): every parallel kernel is called through
# a wrapper that restores torch's setting.
# ---------------------------------------------------------------------------------------------
def _keep_torch_threads(kernel):
    def call(*args):
        n = torch.get_num_threads()
        try:
            return kernel(*args)
        finally:
            if torch.get_num_threads() != n:
                torch.set_num_threads(n)
    call.__name__ = getattr(kernel, "__name__", "kernel")
    call.kernel = kernel
    return call


_conv_fire_batch = _keep_torch_threads(_conv_fire_batch)
_latency_batch = _keep_torch_threads(_latency_batch)
_conv_pool_batch = _keep_torch_threads(_conv_pool_batch)
_pool_batch = _keep_torch_threads(_pool_batch)
_inhibit_batch = _keep_torch_threads(_inhibit_batch)
_kwta_batch = _keep_torch_threads(_kwta_batch)
_readout_batch = _keep_torch_threads(_readout_batch)
_screened_batch = _keep_torch_threads(_screened_batch)
_readout_feature_max = _keep_torch_threads(_readout_feature_max)
_s3_input_batch = _keep_torch_threads(_s3_input_batch)


# ---------------------------------------------------------------------------------------------
# torch <-> numpy glue (no checks here: the public wrappers check)
# ---------------------------------------------------------------------------------------------
#: Batches smaller than this run on one thread (a parallel launch costs more than it saves).
PARALLEL_MIN_BATCH = 8


def np_of(x: torch.Tensor) -> np.ndarray:
    """A NumPy view of a contiguous CPU tensor (a copy only when it is not contiguous)."""
    return x.detach().contiguous().numpy()


def weight_rows(weight: torch.Tensor) -> np.ndarray:
    """``[F, C, kh, kw]`` -> contiguous ``[C * kh, kw * F]`` (same dtype) with ``dx`` flipped:
    ``rows[c * kh + dy, (kw - 1 - dx) * F + f] = weight[f, c, dy, dx]``. An input spike at column
    ``j`` reaches the output columns ``x = j - dx``, so in this layout the weights it adds to one
    output row are ONE contiguous run, matching the contiguous run of potentials ``[x, feature]``."""
    f_n, c_n, kh, kw = weight.shape
    w = np_of(weight)
    return np.ascontiguousarray(w.transpose(1, 2, 3, 0)[:, :, ::-1, :]).reshape(c_n * kh, kw * f_n)


def threshold_bound(thr: float, dtype) -> float:
    """A float64 ``mid`` with ``potential < mid  =>  round(potential to dtype) <= thr`` (``thr`` a
    value of ``dtype``): half way to the next representable value for float32, ``thr`` itself for
    float64. Kernels compare the exact float64 potential with ``mid`` first and round only the
    candidates (any smaller bound would be correct too, only slower)."""
    if np.dtype(dtype) == np.float32:
        t = np.float32(thr)
        up = np.nextafter(t, np.float32(np.inf))
        if np.isfinite(up):
            return (float(t) + float(up)) / 2
    return float(thr)


def tarr_of(steps: int, dtype: torch.dtype) -> np.ndarray:
    return np.array([steps], dtype=np.float32 if dtype == torch.float32 else np.float64)


def np_dtype(dtype: torch.dtype):
    return {torch.float32: np.float32, torch.float64: np.float64}[dtype]


def conv_fire(times: torch.Tensor, steps: int, weight: torch.Tensor, threshold, want_last: bool = False,
              inhibit: bool = False):
    """Batched IF convolution on times -> (first uint8, pfirst, plast or None) as tensors; with
    ``inhibit``, pointwise inhibition is applied (fused)."""
    tin = np_of(times)
    b, _, h, w = tin.shape
    f_n, _, kh, kw = weight.shape
    oh, ow = h - kh + 1, w - kw + 1
    dt = np_dtype(weight.dtype)
    first = np.empty((b, f_n, oh, ow), np.uint8)
    pfirst = np.empty((b, f_n, oh, ow), dt)
    need_last = want_last or threshold is None
    plast = np.empty((b, f_n, oh, ow) if need_last else (b, 0, 0, 0), dt)
    thr = 0.0 if threshold is None else float(np.array(threshold, dtype=dt))
    run = _conv_fire_batch if b >= PARALLEL_MIN_BATCH else _conv_fire_serial
    run(tin, steps, weight_rows(weight), kh, kw, threshold_bound(thr, dt), thr,
        threshold is not None, bool(inhibit), first, pfirst, plast, need_last, np.zeros(1, dt))
    return (torch.from_numpy(first), torch.from_numpy(pfirst),
            torch.from_numpy(plast) if want_last else None)


def s3_input(times: torch.Tensor, steps: int, w1: torch.Tensor, thr1: float, w2: torch.Tensor, thr2: float,
             pads: tuple, pools: tuple) -> torch.Tensor:
    """Bool [B, F2, PH2, PW2]: the C2 neurons of a conv-pool-conv-pool stack (Mozafari 2019's
    S1-C1-S2-C2) that spiked by the last step, from first-spike times ``times`` [B, C, H, W]
    (unpadded), without time steps (see :func:`_fire_final_pooled`). ``pads`` = (S1, S2) padding,
    ``pools`` = (C1 kernel, C1 stride, C2 kernel, C2 stride)."""
    tin = np_of(times)
    b, _, h, w = tin.shape
    k1, k2 = w1.shape[2], w2.shape[2]
    ph1 = (h + 2 * pads[0] - k1 + 1 - pools[0]) // pools[1] + 1
    pw1 = (w + 2 * pads[0] - k1 + 1 - pools[0]) // pools[1] + 1
    ph2 = (ph1 + 2 * pads[1] - k2 + 1 - pools[2]) // pools[3] + 1
    pw2 = (pw1 + 2 * pads[1] - k2 + 1 - pools[2]) // pools[3] + 1
    dt = np_dtype(w1.dtype)
    t1 = float(np.array(thr1, dtype=dt))
    t2 = float(np.array(thr2, dtype=dt))
    out = np.empty((b, w2.shape[0], ph2, pw2), np.bool_)
    run = _s3_input_batch if b >= PARALLEL_MIN_BATCH else _s3_input_serial
    run(tin, steps, weight_rows(w1), k1, threshold_bound(t1, dt), t1, weight_rows(w2), k2, threshold_bound(t2, dt),
        t2, np.array(pads, np.int64), np.array(pools, np.int64), np.zeros(1, dt), out)
    return torch.from_numpy(out)


def conv_pool(times: torch.Tensor, steps: int, weight: torch.Tensor, threshold: float, pad_in: int, pool_k: int,
              pool_s: int, pad_out: int, rows: np.ndarray | None = None) -> torch.Tensor:
    """pad -> IF convolution -> max pooling -> pad on first-spike times, in one compiled pass:
    [B, C, H, W] uint8 -> [B, F, PH + 2 pad_out, PW + 2 pad_out] uint8 (``rows``: the weight's
    :func:`weight_rows` if the caller keeps them)."""
    tin = np_of(times)
    b, _, h, w = tin.shape
    f_n, _, kh, kw = weight.shape
    ph = (h + 2 * pad_in - kh + 1 - pool_k) // pool_s + 1
    pw = (w + 2 * pad_in - kw + 1 - pool_k) // pool_s + 1
    dt = np_dtype(weight.dtype)
    thr = float(np.array(threshold, dtype=dt))
    out = np.empty((b, f_n, ph + 2 * pad_out, pw + 2 * pad_out), np.uint8)
    run = _conv_pool_batch if b >= PARALLEL_MIN_BATCH else _conv_pool_serial
    run(tin, steps, weight_rows(weight) if rows is None else rows, kh, kw, pad_in, threshold_bound(thr, dt), thr,
        pool_k, pool_s, pad_out, np.zeros(1, dt), out)
    return torch.from_numpy(out)


def latency_times(x: torch.Tensor, steps: int) -> torch.Tensor:
    """:func:`snnbook.coding.latency_times` of a NON-NEGATIVE float32 tensor [B, C, H, W] (the
    caller checks), by a radix sort per sample, parallel over the batch: the same times."""
    b = x.shape[0]
    bits = np_of(x).reshape(b, -1).view(np.int32)
    out = np.empty(bits.shape, np.uint8)
    run = _latency_batch if b >= PARALLEL_MIN_BATCH else _latency_serial
    run(bits, steps, out)
    return torch.from_numpy(out).view(x.shape)


def pool(times: torch.Tensor, kernel, stride, padding) -> torch.Tensor:
    tin = np_of(times)
    b, c, h, w = tin.shape
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    out = np.empty((b, c, oh, ow), np.uint8)
    run = _pool_batch if b >= PARALLEL_MIN_BATCH else _pool_serial
    run(tin, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], out)
    return torch.from_numpy(out)


def inhibit(first: torch.Tensor, pfirst: torch.Tensor, steps: int):
    f_np, p_np = np_of(first), np_of(pfirst)
    out_f = np.empty_like(f_np)
    out_p = np.empty_like(p_np)
    run = _inhibit_batch if f_np.shape[0] >= PARALLEL_MIN_BATCH else _inhibit_serial
    run(f_np, p_np, steps, out_f, out_p)
    return torch.from_numpy(out_f), torch.from_numpy(out_p)


def kwta(first: torch.Tensor, pfirst: torch.Tensor, steps: int, k: int, radius: int) -> torch.Tensor:
    out = np.empty((first.shape[0], k, 3), np.int64)
    _kwta_batch(np_of(first), np_of(pfirst), steps, k, radius, tarr_of(steps, pfirst.dtype), out)
    return torch.from_numpy(out)


def stdp(weight: torch.Tensor, tin: torch.Tensor, tout: torch.Tensor, winners: torch.Tensor,
         ltp: torch.Tensor, ltd: torch.Tensor, skip: torch.Tensor, stabilizer: bool, lb: float,
         ub: float) -> torch.Tensor:
    """Functional STDP on times: returns a new weight (``ltp``/``ltd`` [B, F])."""
    w = np_of(weight).copy()
    dt = w.dtype.type
    bounds = np.array([lb, ub], dtype=w.dtype)
    _stdp_batch(w, np.empty((0, 0, 0, 0), w.dtype), np_of(tin), np_of(tout), np_of(winners.long()),
                np_of(ltp.to(weight.dtype)), np_of(ltd.to(weight.dtype)), np_of(skip),
                bool(stabilizer), bounds, np.array([False]))
    del dt
    return torch.from_numpy(w)
