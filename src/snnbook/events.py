"""Event cameras: a DVS pixel simulator, N-MNIST-like saccades over MNIST, the EventMNIST
dataset and binning of event streams into spike tensors.

Chapter: Event cameras (book/events.md)

An event is a row of a NumPy structured array with the fields ``x, y, t, p`` (:data:`EVENT_DTYPE`;
``t`` in microseconds, ``p`` 1 for ON and 0 for OFF), the layout Tonic uses, so that Tonic's
transforms (``ToFrame``, ``Denoise``, ...) apply to these events directly. Binned events are
spike tensors ``[batch, time, polarity, height, width]`` whose polarity channel is ``p`` (channel
0 OFF, channel 1 ON, as Tonic's ``ToFrame``).

The simulator works as ESIM and v2e do with frames: each pixel keeps a reference log intensity;
when the log intensity, interpolated linearly between two frames, moves ``n = floor(|delta| / C)``
thresholds away from the reference, the pixel emits ``n`` events at the interpolated crossing
times and the reference moves by ``n`` steps of ``C``. It replaces the one-event-per-frame rule of
:func:`snnbook.coding.dvs_events` (which keeps it by default and gives the per-frame counts of this
simulator with ``per_crossing=True``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import zipfile
from numbers import Integral
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ._checks import check_bool, check_int, check_real

try:  # numba is a pinned dependency
    from ._jit import njit, prange  # numba's, with snnbook's on-disk kernel cache
except ImportError:  # pragma: no cover - exercised only where numba is missing
    njit = None

__all__ = [
    "EVENT_DTYPE", "ON", "OFF", "DVS_THRESHOLD", "DVS_EPS", "SENSOR_SIZE", "SACCADE_VERTICES",
    "SACCADE_DURATION_US", "SACCADE_STEPS", "SCREEN_BLACK", "EVENTMNIST_THRESHOLD", "simulate", "pixel_thresholds",
    "saccade_shifts", "saccade_frames", "digit_events", "bin_events", "pack_events", "unpack_events",
    "EventMNIST", "default_cache_dir", "shuffle_times",
]

#: Structured dtype of an event stream (Tonic's field names; ``t`` in microseconds).
EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
#: Polarity values: ``p == ON`` (1) for a rise of log intensity, ``p == OFF`` (0) for a fall.
ON, OFF = 1, 0
#: Default contrast threshold, a change of natural-log intensity (v2e's default, about 20 %).
DVS_THRESHOLD = 0.2
#: Default offset inside the logarithm, ``log(I + eps)`` (intensities in 0..1).
DVS_EPS = 1e-3
#: Sensor of N-MNIST (and EventMNIST): ``(width, height)`` in pixels.
SENSOR_SIZE = (34, 34)
#: Corners of N-MNIST's triangle of saccades, ``(dx, dy)`` shifts of the digit in pixels: three
#: straight saccades 0 -> 1 -> 2 -> 0.
SACCADE_VERTICES = ((0.0, 0.0), (2.0, 4.0), (4.0, 0.0))
#: Duration of one saccade in microseconds (N-MNIST: about 100 ms each, 300 ms a digit).
SACCADE_DURATION_US = 100_000
#: Rendered frames per saccade (about 0.2 pixel of motion between frames; events are timed
#: between frames by interpolation).
SACCADE_STEPS = 24
#: Contrast threshold of EventMNIST (log intensity; about 35 % change).
EVENTMNIST_THRESHOLD = 0.3
#: Black level of the screen the digits are shown on, as a fraction of white: the intensity is
#: ``SCREEN_BLACK + (1 - SCREEN_BLACK) * ink``. An LCD's black is not zero, and a zero would make
#: the log of the background depend on ``eps`` alone.
SCREEN_BLACK = 0.2

_CACHE_VERSION = 1
#: Layout of the cache file: 2 records the split, ``first`` and the digits next to the parameters,
#: and the SHA-256 covers them.
_CACHE_FORMAT = 2
_T_BITS, _XY_BITS = 19, 6  # packed event: t (19 bits) | p (1) | y (6) | x (6)


# --------------------------------------------------------------------------------------------------
# the pixel simulator
# --------------------------------------------------------------------------------------------------
def _need_numba(fn: str) -> None:
    if njit is None:  # pragma: no cover
        raise ImportError(f"{fn}: the event simulator needs numba (pinned in requirements.txt: "
                          "pip install numba==0.68.1)")


if njit is not None:
    @njit(cache=True, nogil=True)
    def _pixel_events(log_i, times, c_on, c_off, refractory, out_t, out_p, start, write):
        """Events of one pixel: ``log_i`` [frames], reference from the first frame. Writes at
        ``out_*[start:]`` when ``write``; returns the number of events."""
        ref = log_i[0]
        last = -1e30
        n = 0
        for k in range(1, log_i.shape[0]):
            l0, l1 = log_i[k - 1], log_i[k]
            t0, t1 = times[k - 1], times[k]
            d = l1 - l0
            while True:
                if l1 - ref >= c_on:
                    level, pol, step = ref + c_on, 1, c_on
                elif ref - l1 >= c_off:
                    level, pol, step = ref - c_off, 0, -c_off
                else:
                    break
                ref += step
                frac = (level - l0) / d if d != 0.0 else 1.0
                if frac < 0.0:  # the reference was beyond l0 (last frame's crossing)
                    frac = 0.0
                t = t0 + frac * (t1 - t0)
                ti = np.int64(np.floor(t))
                if ti > t1 - 1:  # events of the interval lie in [t0, t1)
                    ti = t1 - 1
                if ti < t0:
                    ti = t0
                if ti - last >= refractory:
                    if write:
                        out_t[start + n] = ti
                        out_p[start + n] = pol
                    last = ti
                    n += 1
        return n

    @njit(cache=True, parallel=True)
    def _count_batch(log_i, times, c_on, c_off, refractory):
        b, _, p = log_i.shape
        counts = np.zeros((b, p), np.int64)
        dummy_t = np.zeros(1, np.int64)
        dummy_p = np.zeros(1, np.int8)
        for i in prange(b):
            for j in range(p):
                counts[i, j] = _pixel_events(log_i[i, :, j], times, c_on[j], c_off[j], refractory,
                                             dummy_t, dummy_p, 0, False)
        return counts

    @njit(cache=True, parallel=True)
    def _fill_batch(log_i, times, c_on, c_off, refractory, counts, offsets, width, xs, ys, ts, ps):
        b, _, p = log_i.shape
        for i in prange(b):
            start = offsets[i]
            pos = start
            for j in range(p):
                n = _pixel_events(log_i[i, :, j], times, c_on[j], c_off[j], refractory, ts, ps, pos,
                                  True)
                xs[pos:pos + n] = j % width
                ys[pos:pos + n] = j // width
                pos += n
            end = offsets[i + 1]
            if end > start:  # sort by time; ties keep pixel order
                order = np.argsort(ts[start:end], kind="mergesort")
                xs[start:end] = xs[start:end][order]
                ys[start:end] = ys[start:end][order]
                ts[start:end] = ts[start:end][order]
                ps[start:end] = ps[start:end][order]


if njit is not None:
    @njit(cache=True, nogil=True)
    def _digit_log(ink, shifts, black, eps, y, x, out):
        """log(I + eps) of sensor pixel (y, x) over the frames, I rendered as saccade_frames."""
        for k in range(shifts.shape[0]):
            dx, dy = shifts[k, 0], shifts[k, 1]
            ix, iy = int(np.floor(dx)), int(np.floor(dy))
            fx, fy = dx - ix, dy - iy
            v = 0.0
            for a in range(2):
                for b in range(2):
                    yy, xx = y - iy - a - 1, x - ix - b - 1  # canvas row/column minus the offset 1
                    if 0 <= yy < 28 and 0 <= xx < 28:
                        wy = fy if a else 1.0 - fy
                        wx = fx if b else 1.0 - fx
                        v += wy * wx * ink[yy, xx]
            out[k] = np.log(black + (1.0 - black) * v + eps)



if njit is not None:
    @njit(cache=True, parallel=True)
    def _digits_packed(ink, active, shifts, times, c_on, c_off, refractory, black, eps, height,
                       width, out):
        """One pass: packed, time-sorted events of each digit into ``out[i, :count]``; returns
        the counts (a count above ``out.shape[1]`` means the row overflowed)."""
        b, cap = out.shape
        counts = np.zeros(b, np.int64)
        for i in prange(b):
            log_i = np.empty(shifts.shape[0])
            ts = np.empty(cap, np.int64)
            ps = np.empty(cap, np.int8)
            pos = 0
            for y in range(height):
                for x in range(width):
                    if not active[i, y, x]:  # sees no ink during the saccades: constant
                        continue
                    j = y * width + x
                    _digit_log(ink[i], shifts, black, eps, y, x, log_i)
                    if pos + 3 * shifts.shape[0] * 64 > cap:  # may not fit: count only
                        pos += _pixel_events(log_i, times, c_on[j], c_off[j], refractory, ts, ps,
                                             0, False)
                        continue
                    n = _pixel_events(log_i, times, c_on[j], c_off[j], refractory, ts, ps, pos, True)
                    for q in range(pos, pos + n):
                        out[i, q] = ((np.uint32(ts[q]) << np.uint32(13))
                                     | (np.uint32(ps[q]) << np.uint32(12))
                                     | np.uint32(y << 6) | np.uint32(x))
                    pos += n
            counts[i] = pos
            if pos <= cap:
                out[i, :pos] = np.sort(out[i, :pos])
            else:
                counts[i] = cap + 1
        return counts


def _digits_words(ink, shifts, times, on, off, refractory, black, eps, width, height, cap=16384):
    """Packed words (:func:`pack_events`) and counts of a batch of digits, one pass per try."""
    ink = np.ascontiguousarray(ink, dtype=np.float64)
    shifts = np.ascontiguousarray(shifts, dtype=np.float64)
    times = np.ascontiguousarray(times, dtype=np.int64)
    # pixel (y, x) samples canvas rows y - iy - a - 1 (iy = floor(dy), a in {0, 1}); mark the
    # pixels whose window holds ink at any shift
    canvas = np.zeros((ink.shape[0], height + 16, width + 16), bool)
    canvas[:, 8:36, 8:36] = ink > 0
    active = np.zeros((ink.shape[0], height, width), bool)
    for iy in range(int(np.floor(shifts[:, 1].min())), int(np.floor(shifts[:, 1].max())) + 1):
        for ix in range(int(np.floor(shifts[:, 0].min())), int(np.floor(shifts[:, 0].max())) + 1):
            for a in range(2):
                for b in range(2):
                    r, c = 8 - iy - a - 1, 8 - ix - b - 1
                    active |= canvas[:, r:r + height, c:c + width]
    while True:
        out = np.empty((ink.shape[0], cap), np.uint32)
        counts = _digits_packed(ink, active, shifts, times, on, off, float(refractory), float(black),
                                float(eps), height, width, out)
        if counts.max() <= cap - 3 * shifts.shape[0] * 64:
            break
        cap *= 4
    mask = np.arange(cap)[None, :] < counts[:, None]
    return out[mask], counts


def _as_frames(fn: str, frames) -> np.ndarray:
    if isinstance(frames, torch.Tensor):
        if frames.layout != torch.strided or frames.is_complex() or frames.device.type == "meta":
            raise TypeError(f"{fn}: frames must be a dense real tensor or ndarray, got {frames.dtype} "
                            f"{frames.layout} on {frames.device}")
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"{fn}: frames must be a torch.Tensor or numpy.ndarray [time, height, width] or "
                        f"[batch, time, height, width], got {type(frames).__name__}")
    if frames.dtype.kind not in "fiu" or frames.dtype == np.bool_:
        raise TypeError(f"{fn}: frames must hold real intensities, got dtype {frames.dtype}")
    if frames.ndim not in (3, 4):
        raise ValueError(f"{fn}: frames must have 3 dimensions [time, height, width] or 4 [batch, time, "
                         f"height, width], got shape {frames.shape}")
    if frames.size == 0:
        raise ValueError(f"{fn}: frames is empty (shape {frames.shape})")
    if frames.shape[-3] < 2:
        raise ValueError(f"{fn}: frames needs at least 2 frames along time, got shape {frames.shape}")
    if frames.shape[-1] >= 2 ** 15 or frames.shape[-2] >= 2 ** 15:
        raise ValueError(f"{fn}: frames is {frames.shape[-1]} x {frames.shape[-2]} pixels; x and y are "
                         "int16, expected fewer than 32768 per side")
    f = frames.astype(np.float64, copy=False) if frames.dtype.kind != "f" else frames
    lo, hi = float(np.min(f)), float(np.max(f))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{fn}: frames contains NaN or infinite values")
    if lo < 0:
        raise ValueError(f"{fn}: frames must be non-negative intensities, got minimum {lo}")
    return frames


def _as_times(fn: str, times, n_frames: int) -> np.ndarray:
    if isinstance(times, torch.Tensor):
        times = times.detach().cpu().numpy()
    try:
        arr = np.asarray(times)
    except Exception:  # noqa: BLE001 - report what came
        arr = None
    if arr is None or arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise TypeError(f"{fn}: times must be a 1-D sequence of frame times in microseconds, got {times!r:.80}")
    if arr.shape[0] != n_frames:
        raise ValueError(f"{fn}: times has {arr.shape[0]} entries, expected one per frame ({n_frames})")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{fn}: times contains NaN or infinite values")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"{fn}: times must be whole microseconds, got {arr[arr != np.round(arr)][:3]}")
    arr = arr.astype(np.int64)
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"{fn}: times must be strictly increasing, got {arr[:6].tolist()}...")
    if arr[0] < 0 or arr[-1] >= 2 ** 62:
        raise ValueError(f"{fn}: times must lie in [0, 2**62) microseconds, got {arr[0]}..{arr[-1]}")
    return arr


def _thresholds(fn: str, threshold) -> tuple[float, float]:
    if isinstance(threshold, (tuple, list)):
        if len(threshold) != 2:
            raise ValueError(f"{fn}: threshold must be a number or a pair (on, off), got {threshold!r}")
        on, off = threshold
    else:
        on = off = threshold
    on = check_real(fn, "threshold", on, minimum=0.0, strict_min=True)
    off = check_real(fn, "threshold", off, minimum=0.0, strict_min=True)
    return on, off


def pixel_thresholds(height: int, width: int, threshold=DVS_THRESHOLD, mismatch: float = 0.0,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ON and OFF contrast thresholds of one sensor (fixed-pattern mismatch).

    Each threshold is ``C * (1 + mismatch * z)`` with ``z`` standard normal per pixel and
    polarity, clipped below at ``0.01 * C`` (a threshold is never zero or negative).

    Args:
        height, width (int): sensor size in pixels.
        threshold (float or (float, float)): nominal contrast threshold ``C`` (log intensity), or
            a pair ``(C_on, C_off)``. Default: :data:`DVS_THRESHOLD`.
        mismatch (float): relative standard deviation of the thresholds across pixels (>= 0).
        seed (int): seed of the sensor's pattern (same seed, same sensor).

    Shape:
        - Output: two float64 arrays ``[height * width]`` (pixel ``y * width + x``).

    Returns:
        (ndarray, ndarray): ON and OFF thresholds.

    Example:
        >>> on, off = pixel_thresholds(2, 3, 0.2, mismatch=0.0)
        >>> on.tolist() == [0.2] * 6 and off.shape
        (6,)
    """
    fn = "pixel_thresholds"
    height = check_int(fn, "height", height, minimum=1)
    width = check_int(fn, "width", width, minimum=1)
    c_on, c_off = _thresholds(fn, threshold)
    mismatch = check_real(fn, "mismatch", mismatch, minimum=0.0)
    seed = check_int(fn, "seed", seed, minimum=0)
    n = height * width
    if mismatch == 0:
        return np.full(n, c_on), np.full(n, c_off)
    rng = np.random.default_rng([seed, 0x5E45])
    z = rng.standard_normal((2, n))
    on = np.maximum(c_on * (1 + mismatch * z[0]), 0.01 * c_on)
    off = np.maximum(c_off * (1 + mismatch * z[1]), 0.01 * c_off)
    return on, off


def _noise(rng: np.random.Generator, rate: float, t0: int, t1: int, height: int, width: int) -> np.ndarray:
    """Background-activity events: Poisson at ``rate`` Hz per pixel, random polarity."""
    n = int(rng.poisson(rate * (t1 - t0) * 1e-6 * height * width))
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["t"] = rng.integers(t0, t1, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def _merge(ev: np.ndarray, extra: np.ndarray) -> np.ndarray:
    if extra.size == 0:
        return ev
    out = np.concatenate([ev, extra])
    return out[np.argsort(out["t"], kind="stable")]


def simulate(frames, times, *, threshold=DVS_THRESHOLD, mismatch: float = 0.0,
             refractory: float = 0.0, noise_rate: float = 0.0, eps: float = DVS_EPS,
             seed: int = 0):
    """Event stream of a DVS pixel array watching a frame sequence.

    Each pixel works on ``L = log(I + eps)``, linearly interpolated between frames, and keeps a
    reference level, first ``L`` of frame 0. Whenever ``L - ref >= C_on`` it emits an ON event
    and raises ``ref`` by ``C_on``; whenever ``ref - L >= C_off`` an OFF event and lowers ``ref``
    by ``C_off``. A change ``delta`` between two frames thus gives ``floor(|delta| / C)`` events
    (plus the remainder carried in ``ref``), each at the time the interpolated ``L`` crosses its
    level (floored to whole microseconds and kept in ``[t_k-1, t_k)``). An event closer than
    ``refractory`` to the pixel's last emitted event is dropped (its reference step still
    happens). Background noise adds Poisson events at ``noise_rate`` Hz per pixel of random
    polarity (not subject to the refractory period).

    Args:
        frames (Tensor or ndarray): non-negative intensities (0..1 with the default ``eps``).
        times (sequence of int): the time of each frame in microseconds, strictly increasing.
        threshold (float or (float, float)): contrast threshold ``C`` in log intensity, or
            ``(C_on, C_off)``. Default: :data:`DVS_THRESHOLD` (0.2).
        mismatch (float): relative per-pixel spread of the thresholds (see
            :func:`pixel_thresholds`); the pattern depends on ``seed`` only. Default: 0.
        refractory (float): refractory period in microseconds (>= 0). Default: 0.
        noise_rate (float): background events per pixel and second (>= 0). Default: 0.
        eps (float): offset inside the logarithm (> 0). Default: :data:`DVS_EPS`.
        seed (int): seed of the threshold pattern and of the noise.

    Shape:
        - Input: ``[time, height, width]`` (one video) or ``[batch, time, height, width]``.
        - Output: a structured array ``[n_events]`` of :data:`EVENT_DTYPE` sorted by ``t``, or
          a list of ``batch`` of them.

    Returns:
        ndarray or list of ndarray: the events.

    Example:
        >>> frames = np.array([1.0, 1.0, np.e]).reshape(3, 1, 1)  # log rises by exactly 1
        >>> ev = simulate(frames, [0, 1000, 2000], threshold=0.3, eps=1e-9)
        >>> len(ev), ev["p"].tolist(), ev["t"].tolist()
        (3, [1, 1, 1], [1300, 1600, 1900])
    """
    fn = "simulate"
    _need_numba(fn)
    frames = _as_frames(fn, frames)
    single = frames.ndim == 3
    video = frames[None] if single else frames
    times = _as_times(fn, times, video.shape[1])
    c_on, c_off = _thresholds(fn, threshold)
    mismatch = check_real(fn, "mismatch", mismatch, minimum=0.0)
    refractory = check_real(fn, "refractory", refractory, minimum=0.0)
    noise_rate = check_real(fn, "noise_rate", noise_rate, minimum=0.0)
    eps = check_real(fn, "eps", eps, minimum=0.0, strict_min=True)
    seed = check_int(fn, "seed", seed, minimum=0)
    _, _, h, w = video.shape
    on, off = pixel_thresholds(h, w, (c_on, c_off), mismatch, seed)
    log_i = np.log(video.reshape(video.shape[0], video.shape[1], h * w).astype(np.float64) + eps)
    streams = _simulate_log(log_i, times, on, off, refractory, w)
    if noise_rate > 0:
        rng = np.random.default_rng([seed, 0xB6])
        streams = [_merge(ev, _noise(rng, noise_rate, int(times[0]), int(times[-1]), h, w))
                   for ev in streams]
    return streams[0] if single else streams


def _simulate_log(log_i: np.ndarray, times: np.ndarray, on: np.ndarray, off: np.ndarray,
                  refractory: float, width: int) -> list[np.ndarray]:
    """Events of a batch of log-intensity videos ``[batch, time, pixels]`` (float64)."""
    packed, offsets = _simulate_flat(log_i, times, on, off, refractory, width)
    return [packed[offsets[i]:offsets[i + 1]] for i in range(log_i.shape[0])]


def _simulate_flat(log_i, times, on, off, refractory, width):
    log_i = np.ascontiguousarray(log_i, dtype=np.float64)
    times = np.ascontiguousarray(times, dtype=np.int64)
    counts = _count_batch(log_i, times, on, off, float(refractory)).sum(axis=1)
    offsets = np.zeros(log_i.shape[0] + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    n = int(offsets[-1])
    xs, ys = np.empty(n, np.int16), np.empty(n, np.int16)
    ts, ps = np.empty(n, np.int64), np.empty(n, np.int8)
    _fill_batch(log_i, times, on, off, float(refractory), counts, offsets, width, xs, ys, ts, ps)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = xs, ys, ts, ps
    return ev, offsets


# --------------------------------------------------------------------------------------------------
# saccades over a digit
# --------------------------------------------------------------------------------------------------
def saccade_shifts(steps_per_saccade: int = SACCADE_STEPS, vertices=SACCADE_VERTICES,
                   duration_us: int = SACCADE_DURATION_US) -> tuple[np.ndarray, np.ndarray]:
    """Shifts and times of N-MNIST's three saccades: straight, constant-speed moves along a triangle.

    Args:
        steps_per_saccade (int): frames per saccade (>= 1).
        vertices: three ``(dx, dy)`` corners in pixels. Default: :data:`SACCADE_VERTICES`.
        duration_us (int): duration of one saccade in microseconds. Default:
            :data:`SACCADE_DURATION_US`.

    Shape:
        - Output: shifts ``[frames, 2]`` (dx, dy; float64) and times ``[frames]`` (int64, us), with
          ``frames = 3 * steps_per_saccade + 1``.

    Returns:
        (ndarray, ndarray): shifts and times.

    Example:
        >>> shifts, times = saccade_shifts(2)
        >>> shifts[:3].tolist(), times.tolist()
        ([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]], [0, 50000, 100000, 150000, 200000, 250000, 300000])
    """
    fn = "saccade_shifts"
    steps = check_int(fn, "steps_per_saccade", steps_per_saccade, minimum=1)
    duration_us = check_int(fn, "duration_us", duration_us, minimum=steps)
    v = np.asarray(vertices, dtype=np.float64)
    if v.shape != (3, 2) or not np.all(np.isfinite(v)):
        raise ValueError(f"{fn}: vertices must be three finite (dx, dy) pairs, got {vertices!r}")
    corners = np.concatenate([v, v[:1]])
    frac = np.arange(steps) / steps
    shifts = [corners[i] + frac[:, None] * (corners[i + 1] - corners[i]) for i in range(3)]
    shifts = np.concatenate(shifts + [corners[3:]])
    times = np.round(np.arange(3 * steps + 1) * duration_us / steps).astype(np.int64)
    return shifts, times


def saccade_frames(images, shifts, *, sensor_size=SENSOR_SIZE, black: float = SCREEN_BLACK):
    """Render digits on a sensor at sub-pixel shifts (bilinear interpolation).

    The 28 x 28 digit is placed one pixel in from the top left corner of the sensor and moved by
    each ``(dx, dy)``; the intensity is ``black + (1 - black) * ink`` with ink in 0..1.

    Args:
        images (Tensor or ndarray): uint8 digits (0..255) or floats in 0..1.
        shifts (ndarray): ``(dx, dy)`` per frame in pixels, each in ``[-1, width - 28 - 1]``.
        sensor_size ((int, int) or (int, int, int)): ``(width, height)`` of the sensor, or Tonic's
            ``(width, height, 2)``. Default: :data:`SENSOR_SIZE`.
        black (float): screen black level in ``[0, 1)``. Default: :data:`SCREEN_BLACK`.

    Shape:
        - Input: images ``[batch, 28, 28]``, shifts ``[frames, 2]``.
        - Output: ``[batch, frames, height, width]`` float64 intensities in ``[black, 1]``.

    Returns:
        ndarray: the frames.

    Example:
        >>> img = np.zeros((1, 28, 28), np.uint8); img[0, 5, 5] = 255
        >>> f = saccade_frames(img, np.array([[0.0, 0.0], [0.5, 0.0]]), black=0.0)
        >>> f.shape, float(f[0, 0, 6, 6]), float(f[0, 1, 6, 6]), float(f[0, 1, 6, 7])
        ((1, 2, 34, 34), 1.0, 0.5, 0.5)
    """
    fn = "saccade_frames"
    ink = _ink(fn, images)
    shifts = np.asarray(shifts, dtype=np.float64)
    if shifts.ndim != 2 or shifts.shape[1] != 2:
        raise ValueError(f"{fn}: shifts must be [frames, 2], got shape {shifts.shape}")
    width, height = _sensor_size(fn, sensor_size, minimum=30)
    black = check_real(fn, "black", black, minimum=0.0, maximum=1.0, strict_max=True)
    if shifts.min() < -1 or shifts[:, 0].max() > width - 29 or shifts[:, 1].max() > height - 29:
        raise ValueError(f"{fn}: shifts must keep the digit on the sensor: dx in [-1, {width - 29}], "
                         f"dy in [-1, {height - 29}], got {shifts.min(0)}..{shifts.max(0)}")
    b = ink.shape[0]
    canvas = np.zeros((b, height + 1, width + 1))
    canvas[:, 1:29, 1:29] = ink
    out = np.empty((b, shifts.shape[0], height, width))
    for k, (dx, dy) in enumerate(shifts):
        ix, iy = int(np.floor(dx)), int(np.floor(dy))
        fx, fy = dx - ix, dy - iy
        # out[y, x] = ink at (y - dy, x - dx): canvas rolled by (iy, ix), then by one more pixel
        c0 = np.roll(canvas, (iy, ix), axis=(1, 2))
        c1 = np.roll(c0, 1, axis=2)
        c2 = np.roll(c0, 1, axis=1)
        c3 = np.roll(c2, 1, axis=2)
        v = ((1 - fx) * (1 - fy) * c0 + fx * (1 - fy) * c1 + (1 - fx) * fy * c2 + fx * fy * c3)
        out[:, k] = v[:, :height, :width]
    return black + (1 - black) * out


def digit_events(images, *, threshold=EVENTMNIST_THRESHOLD, mismatch: float = 0.0,
                 refractory: float = 0.0, noise_rate: float = 0.0, eps: float = DVS_EPS,
                 steps_per_saccade: int = SACCADE_STEPS, black: float = SCREEN_BLACK,
                 seed: int = 0) -> list[np.ndarray]:
    """N-MNIST-like event streams of digits: three saccades rendered on a 34 x 34 sensor, then
    :func:`simulate` (see there for the arguments).

    Shape:
        - Input: images ``[batch, 28, 28]`` (uint8 0..255 or float 0..1).
        - Output: a list of ``batch`` event arrays (:data:`EVENT_DTYPE`), ``t`` in
          ``[0, 3 * SACCADE_DURATION_US)``.

    Returns:
        list of ndarray: one event stream per digit.

    Example:
        >>> from snnbook import data
        >>> images, _ = data.mnist_tensors(train=False, n=2)
        >>> [len(ev) > 500 for ev in digit_events(images)]
        [True, True]
    """
    fn = "digit_events"
    _need_numba(fn)
    ink = _ink(fn, images)
    c_on, c_off = _thresholds(fn, threshold)
    mismatch = check_real(fn, "mismatch", mismatch, minimum=0.0)
    refractory = check_real(fn, "refractory", refractory, minimum=0.0)
    noise_rate = check_real(fn, "noise_rate", noise_rate, minimum=0.0)
    eps = check_real(fn, "eps", eps, minimum=0.0, strict_min=True)
    black = check_real(fn, "black", black, minimum=0.0, maximum=1.0, strict_max=True)
    seed = check_int(fn, "seed", seed, minimum=0)
    shifts, times = saccade_shifts(steps_per_saccade)
    width, height = SENSOR_SIZE
    on, off = pixel_thresholds(height, width, (c_on, c_off), mismatch, seed)
    words, counts = _digits_words(ink, shifts, times, on, off, refractory, black, eps, width, height)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    streams = [unpack_events(words[offsets[i]:offsets[i + 1]]) for i in range(len(counts))]
    if noise_rate > 0:
        streams = [_merge(ev, _noise(np.random.default_rng([seed, 0xD161, i]), noise_rate, 0,
                                     int(times[-1]), height, width)) for i, ev in enumerate(streams)]
    return streams


def _ink(fn: str, images) -> np.ndarray:
    """Digits ``[batch, 28, 28]`` as float64 ink in 0..1."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    if not isinstance(images, np.ndarray) or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{fn}: images must be an array [batch, 28, 28], got "
                         f"{getattr(images, 'shape', type(images).__name__)}")
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0
    if images.dtype.kind != "f":
        raise TypeError(f"{fn}: images must be uint8 (0..255) or floating point (0..1), got {images.dtype}")
    lo, hi = float(images.min()), float(images.max())
    if not (0.0 <= lo and hi <= 1.0):
        raise ValueError(f"{fn}: float images must lie in [0, 1], got {lo}..{hi}")
    return images.astype(np.float64)


# --------------------------------------------------------------------------------------------------
# binning
# --------------------------------------------------------------------------------------------------
def _check_events(fn: str, events) -> np.ndarray:
    if not isinstance(events, np.ndarray) or events.dtype.names is None or \
            not {"x", "y", "t", "p"} <= set(events.dtype.names):
        raise TypeError(f"{fn}: events must be a structured array with fields x, y, t, p "
                        f"(EVENT_DTYPE), got {getattr(events, 'dtype', type(events).__name__)}")
    if events.ndim != 1:
        raise ValueError(f"{fn}: events must be 1-D [n_events], got shape {events.shape}")
    # Tonic's datasets store the fields in other orders and types (p often bool, t int or float)
    for name, kinds, what in (("x", "iu", "integers"), ("y", "iu", "integers"),
                              ("t", "iuf", "integers or floats"), ("p", "biu", "bools or integers")):
        if events.dtype[name].kind not in kinds:
            raise TypeError(f"{fn}: events field {name!r} must hold {what}, got dtype {events.dtype[name]}")
    return events


def _sensor_size(fn: str, sensor_size, minimum: int = 1) -> tuple[int, int]:
    """``(width, height)`` of ``(width, height)`` or of Tonic's ``(width, height, polarities)``."""
    expected = "(width, height) or Tonic's (width, height, 2)"
    if not isinstance(sensor_size, (tuple, list, torch.Size, np.ndarray)):
        raise TypeError(f"{fn}: sensor_size must be {expected}, got {type(sensor_size).__name__}")
    size = tuple(sensor_size)
    if len(size) not in (2, 3):
        raise ValueError(f"{fn}: sensor_size must be {expected}, got {sensor_size!r} ({len(size)} entries)")
    width, height = (check_int(fn, "sensor_size", s, minimum=minimum) for s in size[:2])
    if len(size) == 3 and check_int(fn, "sensor_size", size[2]) != 2:
        raise ValueError(f"{fn}: sensor_size (width, height, polarities) must have 2 polarities (the spike "
                         f"tensors have an OFF and an ON channel), got {sensor_size!r}")
    return width, height


def _time_bins(t: np.ndarray, n: int) -> np.ndarray:
    """Bin of each event of one stream among ``n`` equal time bins from its first to its last
    event (Tonic's ``SliceByTimeBins`` without overlap); ``n`` for an event in no bin."""
    out = np.full(t.size, n, np.int64)
    if t.size == 0:
        return out
    t0 = t.min()
    width = (t.max() - t0) // n  # floor division, as Tonic
    if width <= 0:
        return out
    starts = t0 + np.arange(n) * width
    k = np.searchsorted(starts, t, side="right") - 1
    inside = t < starts[k] + width
    out[inside] = k[inside]
    return out


def bin_events(events, sensor_size=SENSOR_SIZE, *, time_window: float | None = None,
               event_count: int | None = None, n_time_bins: int | None = None, n_bins: int | None = None,
               start_time: int = 0, end_time: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Bin event streams into spike tensors by time window, by event count or into a number of
    equal time bins.

    By time: bin ``k`` counts the events with ``start_time + k * time_window <= t < start_time +
    (k + 1) * time_window``; the number of bins is ``ceil((end_time - start_time) /
    time_window)`` (``end_time`` default: one after the last event), or ``n_bins``. By count: bin
    ``k`` holds events ``k * event_count`` to ``(k + 1) * event_count - 1`` of the stream (the last
    bin may be incomplete); the number of bins is that of the longest stream, or ``n_bins``. By
    number of time bins: each stream's span from its first event ``t0`` to its last ``t1`` is cut
    into ``n_time_bins`` bins of ``w = (t1 - t0) // n_time_bins`` (floor division), bin ``k``
    counting ``t0 + k w <= t < t0 + (k + 1) w``; the events from ``t0 + n_time_bins * w`` on (the
    last event always among them) are dropped, and a stream shorter than ``n_time_bins`` us gives
    empty bins. For one non-empty stream sorted by time these equal Tonic's ``ToFrame(sensor_size,
    time_window=..., start_time=..., end_time=..., include_incomplete=True)``, ``ToFrame(
    sensor_size, event_count=..., include_incomplete=True)`` and ``ToFrame(sensor_size,
    n_time_bins=...)``, with Tonic's ``sensor_size = (width, height, 2)``. Events outside the bins
    are dropped; by time or count with the default number of bins none are. The polarity channel
    is ``p`` (0 or False OFF, 1 or True ON).

    Args:
        events (ndarray or list of ndarray): event streams, structured arrays with fields ``x, y,
            t, p`` (:data:`EVENT_DTYPE`, or Tonic's: any field order, integer ``x`` and ``y``,
            integer or float ``t``, bool or integer ``p``; the streams of a list may differ).
        sensor_size ((int, int) or (int, int, int)): ``(width, height)``, or Tonic's ``(width,
            height, 2)``. Default: :data:`SENSOR_SIZE`.
        time_window (float): bin width in microseconds (> 0); or
        event_count (int): events per bin (>= 1); or
        n_time_bins (int): number of time bins per stream (>= 1); exactly one of the three.
        n_bins (int, optional): number of bins by time or count (default: enough for every event).
        start_time (int): start of the first time bin, in us (``time_window`` only). Default: 0.
        end_time (int, optional): end of the binned time (``time_window`` only).
        dtype (torch.dtype): dtype of the result. Default: float32.

    Shape:
        - Output: ``[time, 2, height, width]`` for one stream, ``[batch, time, 2, height, width]``
          for a list.

    Returns:
        Tensor: event counts per bin, polarity and pixel (not cumulative).

    Example:
        >>> ev = np.array([(0, 0, 5, 1), (1, 0, 15, 0), (1, 0, 16, 0)], dtype=EVENT_DTYPE)
        >>> s = bin_events(ev, (2, 1), time_window=10)
        >>> tuple(s.shape), s[1, 0, 0].tolist(), s[0, 1, 0].tolist()
        ((2, 2, 1, 2), [0.0, 2.0], [1.0, 0.0])
        >>> bin_events(ev, (2, 1, 2), n_time_bins=2).sum((1, 2, 3)).tolist()  # [5, 10), [10, 15)
        [1.0, 0.0]
    """
    fn = "bin_events"
    single = isinstance(events, np.ndarray)
    streams = [events] if single else list(events) if isinstance(events, (list, tuple)) else None
    if streams is None:
        raise TypeError(f"{fn}: events must be a structured array or a list of them, got "
                        f"{type(events).__name__}")
    if not streams:
        raise ValueError(f"{fn}: events is an empty list; expected at least one stream")
    streams = [_check_events(fn, e) for e in streams]
    width, height = _sensor_size(fn, sensor_size)
    modes = dict(time_window=time_window, event_count=event_count, n_time_bins=n_time_bins)
    if sum(v is not None for v in modes.values()) != 1:
        raise ValueError(f"{fn}: give exactly one of time_window, event_count and n_time_bins, got "
                         + ", ".join(f"{k}={v!r}" for k, v in modes.items()))
    if n_bins is not None:
        n_bins = check_int(fn, "n_bins", n_bins, minimum=1)
    lengths = np.array([len(e) for e in streams], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    sample = np.repeat(np.arange(len(streams)), lengths)
    # field by field: the streams' dtypes may differ (Tonic's field orders and types)
    t_type = np.float64 if any(e.dtype["t"].kind == "f" for e in streams) else np.int64
    x, y, p, t = (np.concatenate([e[f].astype(d) for e in streams]) for f, d in
                  (("x", np.int64), ("y", np.int64), ("p", np.int64), ("t", t_type)))
    if time_window is not None:
        time_window = check_real(fn, "time_window", time_window, minimum=0.0, strict_min=True)
        start_time = check_int(fn, "start_time", start_time)
        if end_time is None:
            end_time = int(np.floor(t.max())) + 1 if t.size else start_time + 1
        end_time = check_int(fn, "end_time", end_time, minimum=start_time + 1)
        if n_bins is None:
            n_bins = int(np.ceil((end_time - start_time) / time_window))
        bins = np.floor((t - start_time) / time_window).astype(np.int64)
        keep = (t >= start_time) & (t < end_time) & (bins < n_bins)
    elif event_count is not None:
        event_count = check_int(fn, "event_count", event_count, minimum=1)
        rank = np.arange(t.size, dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        bins = rank // event_count
        if n_bins is None:
            n_bins = max(1, int(-(-lengths.max() // event_count)))
        keep = bins < n_bins
    else:
        n_time_bins = check_int(fn, "n_time_bins", n_time_bins, minimum=1)
        if n_bins is not None or end_time is not None or start_time != 0:
            raise ValueError(f"{fn}: n_time_bins bins each stream from its first to its last event; n_bins, "
                             f"start_time and end_time are for time_window or event_count, got n_bins={n_bins!r}, "
                             f"start_time={start_time!r}, end_time={end_time!r}")
        n_bins = n_time_bins
        bins = np.concatenate([_time_bins(t[offsets[i]:offsets[i + 1]], n_bins)
                               for i in range(len(streams))])
        keep = bins < n_bins
    bad = (x < 0) | (x >= width) | (y < 0) | (y >= height) | ((p != 0) & (p != 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{fn}: event {i} (x={x[i]}, y={y[i]}, p={p[i]}) is outside the sensor "
                         f"{width} x {height} or has a polarity other than 0/1")
    idx = (((sample * n_bins + bins) * 2 + p) * height + y) * width + x
    size = len(streams) * n_bins * 2 * height * width
    counts = np.bincount(idx[keep], minlength=size)
    out = torch.from_numpy(counts).to(dtype).view(len(streams), n_bins, 2, height, width)
    return out[0] if single else out


def shuffle_times(events: np.ndarray, seed: int = 0) -> np.ndarray:
    """The timing-shuffled control: the same events (pixels, polarities) with their times permuted
    at random within the stream, then sorted by the new times.

    Shape:
        - Input: ``[n_events]`` (:data:`EVENT_DTYPE`); Output: the same.

    Returns:
        ndarray: a new event array.

    Example:
        >>> ev = np.array([(0, 0, 1, 1), (1, 0, 2, 0), (2, 0, 3, 1)], dtype=EVENT_DTYPE)
        >>> sorted(shuffle_times(ev)["t"].tolist()), len(shuffle_times(ev))
        ([1, 2, 3], 3)
    """
    events = _check_events("shuffle_times", events)
    seed = check_int("shuffle_times", "seed", seed, minimum=0)
    out = events.copy()
    out["t"] = np.random.default_rng(seed).permutation(events["t"])
    return out[np.argsort(out["t"], kind="stable")]


# --------------------------------------------------------------------------------------------------
# packing and the dataset
# --------------------------------------------------------------------------------------------------
def pack_events(events: np.ndarray) -> np.ndarray:
    """Pack events of a 34 x 34-class sensor into one uint32 each: ``t`` (19 bits, < 524 288 us),
    ``p`` (1 bit), ``y`` and ``x`` (6 bits each, < 64). Sorted events give sorted words.

    Shape:
        - Input: ``[n_events]`` (:data:`EVENT_DTYPE`); Output: uint32 ``[n_events]``.

    Returns:
        ndarray: the packed words (see :func:`unpack_events`).

    Example:
        >>> ev = np.array([(3, 4, 1000, 1)], dtype=EVENT_DTYPE)
        >>> bool((unpack_events(pack_events(ev)) == ev).all())
        True
    """
    fn = "pack_events"
    events = _check_events(fn, events)
    if events.size and (events["x"].min() < 0 or events["x"].max() >= 64 or events["y"].min() < 0
                        or events["y"].max() >= 64 or events["t"].min() < 0
                        or events["t"].max() >= 2 ** _T_BITS):
        raise ValueError(f"{fn}: events need 0 <= x, y < 64 and 0 <= t < {2 ** _T_BITS} us to pack")
    return ((events["t"].astype(np.uint32) << 13) | (events["p"].astype(np.uint32) << 12)
            | (events["y"].astype(np.uint32) << 6) | events["x"].astype(np.uint32))


def unpack_events(words: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_events`.

    Shape:
        - Input: uint32 ``[n_events]``; Output: ``[n_events]`` (:data:`EVENT_DTYPE`).

    Returns:
        ndarray: the events.

    Example:
        >>> unpack_events(np.array([(7 << 13) | (1 << 12) | (2 << 6) | 5], np.uint32)).tolist()
        [(5, 2, 7, 1)]
    """
    if not isinstance(words, np.ndarray) or words.dtype != np.uint32:
        raise TypeError(f"unpack_events: words must be a uint32 ndarray, got "
                        f"{getattr(words, 'dtype', type(words).__name__)}")
    ev = np.empty(words.shape, EVENT_DTYPE)
    ev["x"] = words & 63
    ev["y"] = (words >> 6) & 63
    ev["p"] = (words >> 12) & 1
    ev["t"] = words >> 13
    return ev


def default_cache_dir() -> Path:
    """Folder of the EventMNIST cache: ``$SNNBOOK_CACHE_DIR`` (snnbook's cache folder, shared with
    the compiled kernels) or, for compatibility, ``$SNNBOOK_CACHE`` if set; else the user's cache
    folder ``snnbook`` (``platformdirs.user_cache_dir``: ``~/.cache/snnbook`` on Linux, never
    inside the repository).

    Returns:
        Path: the folder (not created).

    Example:
        >>> default_cache_dir().name != ""
        True
    """
    for var in ("SNNBOOK_CACHE_DIR", "SNNBOOK_CACHE"):
        env = os.environ.get(var, "").strip()
        if env:
            return Path(env).expanduser()
    try:
        import platformdirs
        return Path(platformdirs.user_cache_dir("snnbook", appauthor=False))
    except ImportError:  # pragma: no cover - platformdirs is a declared dependency
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "snnbook"


class EventMNIST(torch.utils.data.Dataset):
    """MNIST as event streams: every digit moved along N-MNIST's three saccades in front of a
    simulated 34 x 34 DVS (:func:`digit_events`), generated deterministically for a seed and
    cached on disk.

    The first use generates the split (with a progress bar; one to two minutes for the 60 000
    training digits on two cores) and writes ``eventmnist-<train|test>-<n>-<hash>.npz`` into
    ``cache_dir``; the hash covers every parameter, so other parameters get their own file.
    Each event is packed into one uint32 (:func:`pack_events`); the file also holds per-digit
    offsets, the labels, the parameters, split, ``first`` and number of digits it was made with,
    and a SHA-256 of all of it, checked on load: a damaged, truncated or foreign file raises a
    ``ValueError`` that names it (delete it, or pass ``rebuild=True``); a sound file made with
    other parameters (or by an older snnbook) is generated again and replaced, with a warning on
    the ``"snnbook"`` logger (a ``ValueError`` naming it where it cannot be written).

    Args:
        train (bool): the 60 000 training digits or the 10 000 test digits.
        seed (int): seed of the sensor (threshold mismatch) and the noise. Default: 0.
        digits (int, optional): only ``digits`` digits of the split (tests, demos, small runs):
            those from index ``first`` on. Default: all from ``first`` to the end.
        first (int): index in the split of the first digit (default 0): ``first=55000,
            digits=5000`` holds the last 5 000 training digits, event for event the same as in the
            whole split (only the digits asked for are generated).
        threshold, mismatch, refractory, noise_rate, eps, steps_per_saccade, black: as
            :func:`digit_events`; defaults: :data:`EVENTMNIST_THRESHOLD` (0.3), 0.05, 0 us,
            0 Hz, 1e-3, 24, :data:`SCREEN_BLACK` (0.2).
        cache_dir (str or PathLike, optional): default :func:`default_cache_dir`.
        transform (callable, optional): applied to each event array in ``__getitem__`` (a Tonic
            transform, for example).
        rebuild (bool): regenerate even if a cache file exists.
        progress (bool): show a tqdm progress bar while generating.

    Shape:
        - ``ds[i]``: ``(events [n_events] of EVENT_DTYPE, label)``.
        - :meth:`spikes`: ``[batch, time, 2, height, width]``.

    Example:
        >>> import tempfile
        >>> ds = EventMNIST(train=False, digits=4, cache_dir=tempfile.mkdtemp(), progress=False)
        >>> ev, label = ds[0]
        >>> len(ds), label, ev.dtype.names, tuple(ds.spikes([0, 1], time_window=50_000).shape)
        (4, 7, ('x', 'y', 't', 'p'), (2, 6, 2, 34, 34))
    """

    def __init__(self, train: bool = True, seed: int = 0, *, digits: int | None = None, first: int = 0,
                 threshold=EVENTMNIST_THRESHOLD, mismatch: float = 0.05, refractory: float = 0.0,
                 noise_rate: float = 0.0, eps: float = DVS_EPS, steps_per_saccade: int = SACCADE_STEPS,
                 black: float = SCREEN_BLACK, cache_dir=None, transform=None, rebuild: bool = False,
                 progress: bool = True, batch_size: int = 500) -> None:
        fn = "EventMNIST"
        self.train = check_bool(fn, "train", train)
        self.seed = check_int(fn, "seed", seed, minimum=0)
        size = 60000 if self.train else 10000
        self.first = check_int(fn, "first", first, minimum=0, maximum=size - 1)
        self.n = (size - self.first if digits is None
                  else check_int(fn, "digits", digits, minimum=1, maximum=size - self.first))
        on, off = _thresholds(fn, threshold)
        self.params = dict(
            threshold=[on, off], mismatch=check_real(fn, "mismatch", mismatch, minimum=0.0),
            refractory=check_real(fn, "refractory", refractory, minimum=0.0),
            noise_rate=check_real(fn, "noise_rate", noise_rate, minimum=0.0),
            eps=check_real(fn, "eps", eps, minimum=0.0, strict_min=True),
            steps_per_saccade=check_int(fn, "steps_per_saccade", steps_per_saccade, minimum=1),
            black=check_real(fn, "black", black, minimum=0.0, maximum=1.0, strict_max=True),
            seed=self.seed, vertices=[list(v) for v in SACCADE_VERTICES],
            saccade_us=SACCADE_DURATION_US, version=_CACHE_VERSION)
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"{fn}: cache_dir must be a path (str or os.PathLike) or None, got "
                            f"{type(cache_dir).__name__}")
        if cache_dir is not None and not os.fspath(cache_dir):
            raise ValueError(f"{fn}: cache_dir must name a folder, got an empty path (it would write into the "
                             "current folder); pass None for the default cache folder")
        if transform is not None and not callable(transform):
            raise TypeError(f"{fn}: transform must be callable or None, got {type(transform).__name__}")
        self.transform = transform
        self.batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
        check_bool(fn, "rebuild", rebuild)
        check_bool(fn, "progress", progress)
        key = hashlib.sha256(json.dumps(self.params, sort_keys=True).encode()).hexdigest()[:12]
        split = "train" if self.train else "test"
        span = f"{self.n}" if self.first == 0 else f"{self.first}+{self.n}"
        self.path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / \
            f"eventmnist-{split}-{span}-{key}.npz"
        self.duration_us = 3 * SACCADE_DURATION_US
        self.sensor_size = SENSOR_SIZE
        # what the cache file must have been made with: the parameters, the split and the digits
        self._meta = {"params": self.params, "split": split, "first": self.first, "digits": self.n,
                      "format": _CACHE_FORMAT}
        loaded = None
        if os.path.lexists(self.path) and not rebuild:
            try:
                loaded = _load_cache(self.path, self._meta)
            except _CacheMismatch as err:  # a valid file, made with other parameters: made again
                _check_writable(self.path, f"it was made with other parameters ({err})")
                logging.getLogger("snnbook").warning(
                    "EventMNIST: the cache file %s was made with other parameters (%s); generating it again", self.path,
                    err)
        else:
            _check_writable(self.path, "it does not exist yet" if not rebuild else "rebuild=True")
        if loaded is not None:
            self.words, self.offsets, self.labels = loaded
        else:
            self.words, self.offsets, self.labels = self._generate(progress)
            _save_cache(self.path, self.words, self.offsets, self.labels, self._meta)

    def _generate(self, progress: bool):
        from tqdm.auto import tqdm

        from . import data
        images, labels = data.mnist_tensors(train=self.train, n=self.first + self.n)
        images, labels = images[self.first:].numpy(), labels[self.first:]
        p = self.params
        shifts, times = saccade_shifts(p["steps_per_saccade"])
        width, height = SENSOR_SIZE
        on, off = pixel_thresholds(height, width, tuple(p["threshold"]), p["mismatch"], self.seed)
        words, counts = [], []
        bar = tqdm(total=self.n, desc=f"EventMNIST {'train' if self.train else 'test'}",
                   unit="digit", disable=not progress)
        for start in range(0, self.n, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            w, c = _digits_words(images[start:stop] / 255.0, shifts, times, on, off, p["refractory"],
                                 p["black"], p["eps"], width, height)
            if p["noise_rate"] > 0:
                split = 0 if self.train else 1
                bounds = np.concatenate([[0], np.cumsum(c)])
                parts = []
                for i in range(stop - start):
                    rng = np.random.default_rng([self.seed, split, self.first + start + i])
                    noise = pack_events(_noise(rng, p["noise_rate"], 0, int(times[-1]), height, width))
                    parts.append(np.sort(np.concatenate([w[bounds[i]:bounds[i + 1]], noise])))
                w, c = np.concatenate(parts), np.array([len(q) for q in parts])
            words.append(w)
            counts.append(c)
            bar.update(stop - start)
        bar.close()
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        return np.concatenate(words), offsets, labels.numpy().astype(np.uint8)

    def __len__(self) -> int:
        return self.n

    def _check_index(self, i) -> int:
        i = check_int("EventMNIST", "index", i, minimum=-self.n, maximum=self.n - 1)
        return i + self.n if i < 0 else i

    def events(self, i: int) -> np.ndarray:
        """Event stream of digit ``i`` (:data:`EVENT_DTYPE`, sorted by ``t``), without transform."""
        i = self._check_index(i)
        return unpack_events(self.words[self.offsets[i]:self.offsets[i + 1]])

    def __getitem__(self, i):
        ev = self.events(i)
        if self.transform is not None:
            ev = self.transform(ev)
        return ev, int(self.labels[self._check_index(i)])

    def events_per_digit(self) -> np.ndarray:
        """Number of events of each digit, int64 ``[n]``."""
        return np.diff(self.offsets)

    def spikes(self, indices: Sequence[int], *, time_window: float | None = None,
               event_count: int | None = None, n_bins: int | None = None,
               shuffle: bool = False, frame: bool = False) -> torch.Tensor:
        """Binned events of the digits ``indices`` (see :func:`bin_events`; time bins span the
        whole recording, ``[0, 3 * SACCADE_DURATION_US)``).

        Args:
            indices: digit indices.
            time_window, event_count, n_bins: as :func:`bin_events`.
            shuffle (bool): permute each digit's event times first (:func:`shuffle_times`, seeded
                by the dataset seed and the index).
            frame (bool): sum all bins into one accumulated frame (time axis of length 1).

        Shape:
            - Output: ``[batch, time, 2, 34, 34]`` float32 counts.

        Returns:
            Tensor: the spike tensor.
        """
        check_bool("EventMNIST.spikes", "shuffle", shuffle)
        check_bool("EventMNIST.spikes", "frame", frame)
        idx = [self._check_index(i) for i in indices]
        streams = [self.events(i) for i in idx]
        if shuffle:
            streams = [shuffle_times(e, seed=self.seed * 100003 + self.first + i) for e, i in zip(streams, idx)]
        if time_window is not None and n_bins is None:
            n_bins = int(np.ceil(self.duration_us / time_window))
        out = bin_events(streams, self.sensor_size, time_window=time_window, event_count=event_count,
                         n_bins=n_bins, end_time=self.duration_us if time_window is not None else None)
        return out.sum(1, keepdim=True) if frame else out

    def extra_repr(self) -> str:  # pragma: no cover - informative only
        return f"train={self.train}, first={self.first}, n={self.n}, seed={self.seed}, path={self.path}"

    def __repr__(self) -> str:
        return f"EventMNIST({self.extra_repr()})"


class _CacheMismatch(ValueError):
    """A readable EventMNIST cache file whose recorded parameters are not the ones asked for."""


def _digest(words: np.ndarray, offsets: np.ndarray, labels: np.ndarray, meta: str | None = None) -> str:
    """SHA-256 of the arrays (and of the recorded parameters, ``meta``, from cache format 2 on)."""
    h = hashlib.sha256()
    for a in (words, offsets, labels):
        h.update(np.ascontiguousarray(a).view(np.uint8))
    if meta is not None:
        h.update(meta.encode())
    return h.hexdigest()


def _meta_text(meta: dict) -> str:
    return json.dumps(meta, sort_keys=True)


def _check_writable(path: Path, why: str) -> None:
    """``ValueError`` naming ``path`` if the cache file cannot be written there (before generating)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"EventMNIST: the cache file {path} must be written ({why}), but its folder cannot be "
                         f"created ({type(err).__name__}: {err}); pass a writable cache_dir or set SNNBOOK_CACHE_DIR"
                         ) from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"EventMNIST: the cache file {path} must be written ({why}), but its folder {folder} is "
                         "not writable; pass a writable cache_dir or set SNNBOOK_CACHE_DIR")
    if os.path.lexists(path) and (path.is_dir() and not path.is_symlink()):
        raise ValueError(f"EventMNIST: the cache file {path} must be written ({why}), but a folder is in its place; "
                         "remove it or pass another cache_dir")


def _save_cache(path: Path, words, offsets, labels, meta: dict) -> None:
    """Write the cache file atomically (a temporary file renamed over ``path``); ``ValueError``
    naming ``path`` where that fails."""
    text = _meta_text(meta)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, words=words, offsets=offsets, labels=labels, meta=np.array(text),
                 sha256=np.array(_digest(words, offsets, labels, text)))
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ValueError(f"EventMNIST: cannot write the cache file {path} ({type(err).__name__}: {err}); pass a "
                         "writable cache_dir (or set SNNBOOK_CACHE_DIR), or remove what is in its place") from None


#: The arrays of a cache file: name -> (dtype, rank).
_CACHE_MEMBERS = {"words": (np.uint32, 1), "offsets": (np.int64, 1), "labels": (np.uint8, 1), "meta": (None, 0),
                  "sha256": (None, 0)}


def _load_cache(path: Path, meta: dict):
    """``(words, offsets, labels)`` of the cache file ``path``, made with ``meta`` (the parameters,
    split, first digit and number of digits). ``_CacheMismatch`` (a ``ValueError``) for a sound
    file made with other ones; ``ValueError`` naming the file for a damaged or foreign one."""
    fix = "; delete it (or pass rebuild=True) to generate it again"

    def damaged(what: str) -> ValueError:
        return ValueError(f"EventMNIST: the cache file {path} is damaged ({what}){fix}")

    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, ValueError) and "pickle" in str(e):  # numpy's last guess: not a zip, not an .npy file
            raise damaged("it is neither an .npz archive nor an .npy file") from None
        raise damaged(f"{type(e).__name__}: {e}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise damaged(f"it is a single {type(z).__name__}, not an .npz archive of EventMNIST arrays")
    try:
        with z:
            names = set(z.files)
            if names != set(_CACHE_MEMBERS):
                raise damaged(f"it holds the arrays {sorted(names)}, expected {sorted(_CACHE_MEMBERS)}")
            arrays = {name: z[name] for name in _CACHE_MEMBERS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, ValueError) and str(e).startswith("EventMNIST:"):
            raise
        raise damaged(f"{type(e).__name__}: {e}") from None
    for name, (dtype, ndim) in _CACHE_MEMBERS.items():
        a = arrays[name]
        if a.ndim != ndim or (dtype is not None and a.dtype != dtype) or (dtype is None and a.dtype.kind != "U"):
            raise damaged(f"array {name!r} has dtype {a.dtype} and shape {a.shape}, expected "
                          f"{np.dtype(dtype) if dtype else 'a string'} with {ndim} dimensions")
    text = str(arrays["meta"])
    try:
        stored = json.loads(text)
    except ValueError as e:
        raise damaged(f"its parameters are not JSON: {e}") from None
    if not isinstance(stored, dict):
        raise damaged(f"its parameters are {type(stored).__name__}, not a JSON object")
    if stored.get("format") != _CACHE_FORMAT:
        raise _CacheMismatch("it was written by an older snnbook, without its split and digits")
    wanted = json.loads(_meta_text(meta))
    if stored != wanted:
        diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        if "params" in diff:
            old, new = stored.get("params") or {}, wanted["params"]
            diff.remove("params")
            diff += sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        shown = ", ".join(f"{k}: {_lookup(stored, k)!r} instead of {_lookup(wanted, k)!r}" for k in diff)
        raise _CacheMismatch(shown)
    words, offsets, labels = arrays["words"], arrays["offsets"], arrays["labels"]
    n = meta["digits"]
    ok = (offsets.shape == (n + 1,) and labels.shape == (n,) and offsets[0] == 0 and offsets[-1] == words.size
          and bool(np.all(np.diff(offsets) >= 0)) and (labels.size == 0 or int(labels.max()) <= 9))
    if not ok or _digest(words, offsets, labels, text) != str(arrays["sha256"]):
        raise damaged("its content does not match its SHA-256 or shapes")
    return words, offsets, labels


def _lookup(meta: dict, key: str):
    """``meta[key]``, or ``meta["params"][key]`` for a parameter (None where neither has it)."""
    if key in meta:
        return meta[key]
    return (meta.get("params") or {}).get(key)
