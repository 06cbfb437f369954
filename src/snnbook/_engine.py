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
one weight column ``weight[:, c, dy, dx]`` (all features at once, contiguous) to the
``kh * kw`` output positions it reaches; only the positions touched at step ``t`` are compared
with the threshold. k-WTA looks only at the neurons that fired; STDP touches only the winners'
rows. Everything runs in numba-compiled loops, parallel over the batch where samples are
independent.

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
    from numba import njit, prange
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
def _conv_fire_one(tin, steps, wt, thr, has_thr, first, pfirst, plast, want_last, cast):
    """IF convolution of one sample. ``tin`` uint8 [C, H, W] (steps = never); ``wt`` [C, kh, kw, F];
    writes ``first`` uint8 [F, OH, OW] (steps = never), ``pfirst`` (rounded potential at the first
    spike, 0 if silent) and, if ``want_last``, ``plast`` (potential at the last step).
    ``cast`` is a 1-element array of the output dtype (rounding buffer). Without a threshold only
    the last step fires (SpykeTorch ``fire(x, None)``): first = steps - 1 where plast > 0."""
    c_n, kh, kw, f_n = wt.shape
    oh = tin.shape[1] - kh + 1
    ow = tin.shape[2] - kw + 1
    start, chan, row, col = _bucket(tin, steps)
    pot = np.zeros((oh, ow, f_n), np.float64)
    dirty = np.zeros((oh, ow), np.bool_)
    dlist = np.empty(oh * ow, np.int64)
    for f in range(f_n):
        for y in range(oh):
            for x in range(ow):
                first[f, y, x] = steps
                pfirst[f, y, x] = 0
    for t in range(steps):
        nd = 0
        for s in range(start[t], start[t + 1]):
            c = chan[s]
            i = row[s]
            j = col[s]
            for dy in range(kh):
                y = i - dy
                if y < 0 or y >= oh:
                    continue
                for dx in range(kw):
                    x = j - dx
                    if x < 0 or x >= ow:
                        continue
                    wrow = wt[c, dy, dx]
                    prow = pot[y, x]
                    for f in range(f_n):
                        prow[f] += wrow[f]
                    if not dirty[y, x]:
                        dirty[y, x] = True
                        dlist[nd] = y * ow + x
                        nd += 1
        for d in range(nd):
            y = dlist[d] // ow
            x = dlist[d] - y * ow
            dirty[y, x] = False
            if has_thr:
                prow = pot[y, x]
                for f in range(f_n):
                    if first[f, y, x] == steps:
                        cast[0] = prow[f]
                        if cast[0] > thr:
                            first[f, y, x] = t
                            pfirst[f, y, x] = cast[0]
    if want_last or not has_thr:
        for y in range(oh):
            for x in range(ow):
                for f in range(f_n):
                    plast[f, y, x] = pot[y, x, f]
    if not has_thr:
        for f in range(f_n):
            for y in range(oh):
                for x in range(ow):
                    if plast[f, y, x] > 0:
                        first[f, y, x] = steps - 1
                        pfirst[f, y, x] = plast[f, y, x]


@njit(cache=True, parallel=True)
def _conv_fire_batch(tin, steps, wt, thr, has_thr, first, pfirst, plast, want_last, cast_proto):
    for b in prange(tin.shape[0]):
        cast = cast_proto.copy()
        _conv_fire_one(tin[b], steps, wt, thr, has_thr, first[b], pfirst[b], plast[b], want_last, cast)


@njit(cache=True, nogil=True)
def _conv_fire_serial(tin, steps, wt, thr, has_thr, first, pfirst, plast, want_last, cast_proto):
    for b in range(tin.shape[0]):
        _conv_fire_one(tin[b], steps, wt, thr, has_thr, first[b], pfirst[b], plast[b], want_last, cast_proto)


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
def _kwta_one(first, pfirst, steps, k, radius, tarr, out):
    """k-winners of one sample with SpykeTorch's float score ``n * (p + T * max p)`` computed in the
    potentials' dtype (``tarr`` = [T] in that dtype), as a sequential sum of ``n`` equal terms.
    Writes ``out`` [k, 3] (-1 rows where no winner); returns the number of winners."""
    f_n, h, w = first.shape
    # candidates: spiking neurons, in flat (feature, row, col) order
    n_c = 0
    for f in range(f_n):
        for y in range(h):
            for x in range(w):
                if first[f, y, x] < steps:
                    n_c += 1
    cf = np.empty(n_c, np.int32)
    cy = np.empty(n_c, np.int32)
    cx = np.empty(n_c, np.int32)
    score = np.empty(n_c, pfirst.dtype)
    q = 0
    maxp = tarr[0] - tarr[0]  # zero in the potentials' dtype (tarr[0] * 0 would be float64)
    for f in range(f_n):
        for y in range(h):
            for x in range(w):
                if first[f, y, x] < steps:
                    cf[q] = f
                    cy[q] = y
                    cx[q] = x
                    if pfirst[f, y, x] > maxp:
                        maxp = pfirst[f, y, x]
                    q += 1
    v = maxp * tarr[0]
    for q in range(n_c):
        f = cf[q]
        y = cy[q]
        x = cx[q]
        term = pfirst[f, y, x] + v
        s = term
        for _ in range(steps - first[f, y, x] - 1):
            s = s + term
        score[q] = s
    for i in range(k):
        out[i, 0] = -1
        out[i, 1] = -1
        out[i, 2] = -1
    count = 0
    zero = tarr[0] - tarr[0]
    for i in range(k):
        best = -1
        for q in range(n_c):
            if score[q] > zero and (best < 0 or score[q] > score[best]):
                best = q
        if best < 0:
            break
        f = cf[best]
        y = cy[best]
        x = cx[best]
        out[i, 0] = f
        out[i, 1] = y
        out[i, 2] = x
        count += 1
        for q in range(n_c):
            if cf[q] == f:
                score[q] = zero
            elif radius > 0 and abs(cy[q] - y) <= radius and abs(cx[q] - x) <= radius:
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
def _stdp_one(w, wt, tin, tout_first, winners, ltp, ltd, stabilizer, bounds, in_bounds):
    """One sample's STDP update of ``w`` [F, C, kh, kw] in place (and of its transposed copy ``wt``
    [C, kh, kw, F] if it has elements). ``ltp``/``ltd`` [F] in w's dtype. Repeats the dense path's
    operations: ``d = (w - lb) * (ub - w); d = a * d; w = w + d`` (or ``w + a``), then clamp; the
    whole tensor is clamped once when ``in_bounds[0]`` is False. Later duplicates of a feature in
    ``winners`` supersede earlier ones (SpykeTorch sets lr[f] winner after winner)."""
    f_n, c_n, kh, kw = w.shape
    lb = bounds[0]
    ub = bounds[1]
    sync = wt.size > 0
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
                        wt[c, dy, dx, f] = x
    if not in_bounds[0]:  # the dense path clamps the WHOLE tensor (idempotent afterwards)
        _clamp_all(w, bounds)
        if sync:
            for f in range(f_n):
                for c in range(c_n):
                    for dy in range(kh):
                        for dx in range(kw):
                            wt[c, dy, dx, f] = w[f, c, dy, dx]
        in_bounds[0] = True


@njit(cache=True, nogil=True)
def _stdp_batch(w, wt, tin, tout_first, winners, ltp, ltd, skip, stabilizer, bounds, in_bounds):
    """Sequential per-sample updates in batch order; ``ltp``/``ltd`` are [B, F]; skip [B] bool."""
    for b in range(tin.shape[0]):
        if skip[b]:
            continue
        _stdp_one(w, wt, tin[b], tout_first[b], winners[b], ltp[b], ltd[b], stabilizer, bounds, in_bounds)


# ---------------------------------------------------------------------------------------------
# fused training steps and whole passes
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _stdp_layer_step(tin, steps, w, wt, thr, k, radius, ltp, ltd, stabilizer, bounds, in_bounds,
                     tarr, winners, inhibit):
    """One unsupervised training step of a convolutional STDP layer on one sample: IF convolution
    with threshold, pointwise inhibition (if ``inhibit``), k-WTA, STDP (``w`` and ``wt`` in place).
    Writes ``winners`` [k, 3]; returns the output first-spike times (after inhibition)."""
    f_n = w.shape[0]
    oh = tin.shape[1] - w.shape[2] + 1
    ow = tin.shape[2] - w.shape[3] + 1
    first = np.empty((f_n, oh, ow), np.uint8)
    pfirst = np.empty((f_n, oh, ow), w.dtype)
    plast = np.empty((0, 0, 0), w.dtype)
    cast = np.zeros(1, w.dtype)
    _conv_fire_one(tin, steps, wt, thr, True, first, pfirst, plast, False, cast)
    if inhibit:
        f2 = np.empty_like(first)
        p2 = np.empty_like(pfirst)
        _inhibit_one(first, pfirst, steps, f2, p2)
        first = f2
        pfirst = p2
    _kwta_one(first, pfirst, steps, k, radius, tarr, winners)
    _stdp_one(w, wt, tin, first, winners, ltp, ltd, stabilizer, bounds, in_bounds)
    return first


@njit(cache=True, nogil=True)
def _stdp_layer_pass(tins, steps, w, wt, thr, k, radius, ltp, ltd, stabilizer, bounds, in_bounds,
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
        first = _stdp_layer_step(tins[n], steps, w, wt, thr, k, radius, ltp, ltd, stabilizer, bounds,
                                 in_bounds, tarr, winners_out[n], inhibit)
        if first_out.shape[0] == tins.shape[0]:
            first_out[n] = first


# ---------------------------------------------------------------------------------------------
# the last layer of the 2019 network: binary input, decision at the last step, R-STDP
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _readout_one(active, pad, wt, steps, tarr, pot, cast):
    """Final potentials of a no-threshold layer whose input ``active`` is a bool map [C, H, W] of
    the inputs that spiked by the last step (before ``pad`` zero padding on each side). Returns
    the winner ``(feature, row, col)`` of k-WTA with k = 1 as a flat index into [F, OH, OW] (-1:
    silent). ``pot`` [OH, OW, F] float64 scratch; ``cast`` a 1-element array of the dtype."""
    c_n, kh, kw, f_n = wt.shape
    oh, ow = pot.shape[0], pot.shape[1]
    h, w = active.shape[1], active.shape[2]
    # output-stationary: each position's feature vector stays in cache while its inputs are added
    # (exact float64 sums of float32 weights, so the order does not matter)
    for y in range(oh):
        for x in range(ow):
            acc = pot[y, x]
            acc[:] = 0.0
            for c in range(c_n):
                for dy in range(kh):
                    i0 = y + dy - pad
                    if i0 < 0 or i0 >= h:
                        continue
                    for dx in range(kw):
                        j0 = x + dx - pad
                        if j0 < 0 or j0 >= w:
                            continue
                        if active[c, i0, j0]:
                            wrow = wt[c, dy, dx]
                            for f in range(f_n):
                                acc[f] += wrow[f]
    zero = tarr[0] - tarr[0]
    maxp = zero
    for y in range(oh):
        for x in range(ow):
            for f in range(f_n):
                cast[0] = pot[y, x, f]
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
                cast[0] = pot[y, x, f]
                p = cast[0]
                if p > zero:
                    s = p + v
                    idx = (f * oh + y) * ow + x
                    if s > best_s or (s == best_s and idx < best):
                        best_s = s
                        best = idx
    return best


@njit(cache=True, parallel=True)
def _readout_batch(active, pad, wt, steps, tarr, out_h, out_w, cast_proto, winners):
    f_n = wt.shape[3]
    for b in prange(active.shape[0]):
        pot = np.empty((out_h, out_w, f_n), np.float64)
        cast = cast_proto.copy()
        winners[b] = _readout_one(active[b], pad, wt, steps, tarr, pot, cast)


@njit(cache=True, nogil=True)
def _rstdp_readout_pass(actives, labels, pad, w, wt, steps, tarr, per_class, r_base, p_base,
                        rates, bounds, in_bounds, block, block_stats, decisions, adapt):
    """Sequential R-STDP training of the decision layer over ``actives`` [N, C, H, W] (bool) with
    labels [N]. Per sample: readout winner (k = 1), decision = feature // per_class (-1 silent),
    reward +1 / -1 -> STDP with ``rates[0:2]`` / anti-STDP with ``rates[2:4]`` on the winner's row
    (no stabilizer: LTP where the input spiked at all, LTD where silent), then clamp. With
    ``adapt``, after every ``block`` samples the rates become the base rates times that block's
    miss rate (reward) and hit rate (punishment). ``block_stats`` [3] = hits, misses, count of the
    current block; ``rates`` [4] in w's dtype are updated in place so a pass can resume."""
    f_n, c_n, kh, kw = w.shape
    oh = actives.shape[2] + 2 * pad - kh + 1
    ow = actives.shape[3] + 2 * pad - kw + 1
    pot = np.empty((oh, ow, f_n), np.float64)
    cast = np.zeros(1, w.dtype)
    ltp = np.empty(f_n, w.dtype)
    ltd = np.empty(f_n, w.dtype)
    win = np.empty((1, 3), np.int64)
    tout = np.full((f_n, oh, ow), steps, np.uint8)
    tin = np.empty((c_n, actives.shape[2] + 2 * pad, actives.shape[3] + 2 * pad), np.uint8)
    for n in range(actives.shape[0]):
        best = _readout_one(actives[n], pad, wt, steps, tarr, pot, cast)
        if best < 0:
            decisions[n] = -1
        else:
            f = best // (oh * ow)
            rem = best - f * oh * ow
            y = rem // ow
            x = rem - y * ow
            d = f // per_class
            decisions[n] = d
            if d == labels[n]:
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
            tin[:] = steps
            for c in range(c_n):
                for i in range(actives.shape[2]):
                    for j in range(actives.shape[3]):
                        if actives[n, c, i, j]:
                            tin[c, i + pad, j + pad] = 0
            tout[f, y, x] = steps - 1
            win[0, 0] = f
            win[0, 1] = y
            win[0, 2] = x
            _stdp_one(w, wt, tin, tout, win, ltp, ltd, False, bounds, in_bounds)
            tout[f, y, x] = steps
        block_stats[2] += 1
        if adapt and block_stats[2] >= block:
            hit = block_stats[0] / block_stats[2]
            miss = block_stats[1] / block_stats[2]
            rates[0] = r_base[0] * miss
            rates[1] = r_base[1] * miss
            rates[2] = p_base[0] * hit
            rates[3] = p_base[1] * hit
            block_stats[0] = 0
            block_stats[1] = 0
            block_stats[2] = 0


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
_pool_batch = _keep_torch_threads(_pool_batch)
_inhibit_batch = _keep_torch_threads(_inhibit_batch)
_kwta_batch = _keep_torch_threads(_kwta_batch)
_readout_batch = _keep_torch_threads(_readout_batch)


# ---------------------------------------------------------------------------------------------
# torch <-> numpy glue (no checks here: the public wrappers check)
# ---------------------------------------------------------------------------------------------
#: Batches smaller than this run on one thread (a parallel launch costs more than it saves).
PARALLEL_MIN_BATCH = 8


def np_of(x: torch.Tensor) -> np.ndarray:
    """A NumPy view of a contiguous CPU tensor (a copy only when it is not contiguous)."""
    return x.detach().contiguous().numpy()


def transposed(weight: torch.Tensor) -> np.ndarray:
    """``[F, C, kh, kw]`` -> contiguous ``[C, kh, kw, F]`` (one weight column per input position)."""
    return np.ascontiguousarray(np_of(weight).transpose(1, 2, 3, 0))


def tarr_of(steps: int, dtype: torch.dtype) -> np.ndarray:
    return np.array([steps], dtype=np.float32 if dtype == torch.float32 else np.float64)


def np_dtype(dtype: torch.dtype):
    return {torch.float32: np.float32, torch.float64: np.float64}[dtype]


def conv_fire(times: torch.Tensor, steps: int, weight: torch.Tensor, threshold, want_last: bool = False):
    """Batched IF convolution on times -> (first uint8, pfirst, plast or None) as tensors."""
    tin = np_of(times)
    b, _, h, w = tin.shape
    f_n, _, kh, kw = weight.shape
    oh, ow = h - kh + 1, w - kw + 1
    dt = np_dtype(weight.dtype)
    first = np.empty((b, f_n, oh, ow), np.uint8)
    pfirst = np.empty((b, f_n, oh, ow), dt)
    need_last = want_last or threshold is None
    plast = np.empty((b, f_n, oh, ow) if need_last else (b, 0, 0, 0), dt)
    thr = 0.0 if threshold is None else float(torch.tensor(threshold, dtype=weight.dtype))
    run = _conv_fire_batch if b >= PARALLEL_MIN_BATCH else _conv_fire_serial
    run(tin, steps, transposed(weight), thr, threshold is not None, first, pfirst, plast, need_last, np.zeros(1, dt))
    return (torch.from_numpy(first), torch.from_numpy(pfirst),
            torch.from_numpy(plast) if want_last else None)


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
    _inhibit_batch(f_np, p_np, steps, out_f, out_p)
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
