"""Tests of snnbook.coding: latency coding against SpykeTorch fixtures, Poisson, DVS, decoding."""

import pytest
import torch
from torch.testing import assert_close

from snnbook.coding import (IntensityToLatency, PoissonEncoder, dvs_events, first_spike_times,
                            intensity_to_latency, poisson_spikes, to_batch_first, to_time_first)
from reference import CUDA, TOL, load




def reference_latency(x, T):
    """Straight transcription of SpykeTorch's Intensity2Latency (one sample [1,C,H,W] -> [T,C,H,W])."""
    flat = x.reshape(-1)
    bin_size = int(torch.count_nonzero(flat)) // T
    v, idx = torch.sort(flat, descending=True, stable=True)
    out, m = [], torch.zeros_like(flat)
    for t in range(T):
        m = m.scatter(0, idx[t * bin_size:(t + 1) * bin_size], v[t * bin_size:(t + 1) * bin_size])
        out.append(m.reshape(x.shape[1:]).clone())
    return torch.stack(out)


# --- intensity to latency: fixtures -----------------------------------------------------------------
def test_latency_fixture_mnist_each_image():
    d = load("local_norm_latency.pt")
    T = d["time_steps"]
    for i in range(d["mnist_norm"].shape[0]):
        nz, b, ties = d["mnist_nonzero_bin_ties"][i]
        s = intensity_to_latency(d["mnist_norm"][i:i + 1], T)
        assert s.shape == (1, T, *d["mnist_norm"].shape[1:])
        assert int(torch.count_nonzero(d["mnist_norm"][i])) == nz
        assert int(s[0, -1].sum()) == b * T
        if not ties:  # order among equal values at a bin boundary is implementation-defined
            assert torch.equal(s[0].to(torch.uint8), d["mnist_latency_spikes"][i])


def test_latency_fixture_batched_equals_per_sample():
    d = load("local_norm_latency.pt")
    T = d["time_steps"]
    s = intensity_to_latency(d["mnist_norm"], T)
    if not any(t[2] for t in d["mnist_nonzero_bin_ties"]):
        assert torch.equal(s.to(torch.uint8), d["mnist_latency_spikes"])
    for i in range(s.shape[0]):
        assert torch.equal(s[i:i + 1], intensity_to_latency(d["mnist_norm"][i:i + 1], T))
    assert torch.equal(IntensityToLatency(T)(d["mnist_norm"]), s)


def test_latency_fixture_camera():
    d = load("local_norm_latency.pt")
    s = intensity_to_latency(d["camera_norm"], d["time_steps"])
    nz, b, ties = d["camera_nonzero_bin_ties"]
    assert int(s[0, -1].sum()) == b * d["time_steps"]
    if not ties:
        assert torch.equal(s[0].to(torch.uint8), d["camera_latency_spikes"])


def test_latency_fixture_values():
    d = load("local_norm_latency.pt")
    v = intensity_to_latency(d["mnist_norm"][0:1], d["time_steps"], to_spike=False)
    if not d["mnist_nonzero_bin_ties"][0][2]:
        assert_close(v[0], d["mnist0_latency_values"], **TOL)
    assert torch.equal(v.sign(), intensity_to_latency(d["mnist_norm"][0:1], d["time_steps"]))


# --- intensity to latency: properties ---------------------------------------------------------------
def make_batch(seed=0, b=9):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, 7, 5, generator=g, dtype=torch.float64)
    x[x < 0.4] = 0.0
    x[2] = 0.0  # an all-zero sample
    x[5, :, :, :] = 0.0
    x[5, 0, 0, :4] = torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=torch.float64)  # fewer nonzeros than T
    x[6] = x[6] * 100  # a differently scaled sample
    return x


@pytest.mark.parametrize("to_spike", [True, False])
@pytest.mark.parametrize("cumulative", [True, False])
def test_latency_batched_equals_reference_per_sample(to_spike, cumulative):
    x, T = make_batch(), 6
    out = intensity_to_latency(x, T, to_spike=to_spike, cumulative=cumulative)
    assert out.shape == (9, T, 3, 7, 5) and out.dtype == torch.float64
    for b in range(x.shape[0]):
        assert torch.equal(out[b:b + 1], intensity_to_latency(x[b:b + 1], T, to_spike, cumulative))
        if int(torch.count_nonzero(x[b])) >= T:
            ref = reference_latency(x[b:b + 1], T)
            if not cumulative:
                ref = ref - torch.cat([torch.zeros_like(ref[:1]), ref[:-1]])
            assert torch.equal(out[b], ref.sign() if to_spike else ref)
    assert not out[2].any() and not out[5].any()  # all-zero sample and fewer-than-T nonzeros: silent


def test_latency_cumulative_invariant_and_strongest_first():
    x, T = make_batch(1), 5
    s = intensity_to_latency(x, T)
    assert (s[:, 1:] >= s[:, :-1]).all()  # once in, always in
    nz = torch.count_nonzero(x.reshape(9, -1), dim=1)
    per_step = s.reshape(9, T, -1).sum(-1)
    expected = (nz // T).view(-1, 1) * torch.arange(1, T + 1).view(1, -1)
    assert torch.equal(per_step, expected.to(per_step.dtype))
    # every spiking value at step 0 is >= every value that spikes later
    b = 0
    first = s[b, 0].bool()
    later = s[b, -1].bool() & ~first
    assert x[b][first].min() >= x[b][later].max()


def test_latency_non_cumulative_fires_once():
    x, T = make_batch(2), 7
    cum = intensity_to_latency(x, T)
    once = intensity_to_latency(x, T, cumulative=False)
    assert once.sum(1).max() <= 1
    assert torch.equal(once.cumsum(1), cum)
    assert torch.equal(first_spike_times(once), first_spike_times(cum))


def test_latency_weakest_remainder_never_spikes():
    x = torch.arange(1.0, 8.0).view(1, 1, 1, 7)  # 7 nonzeros, T=3 -> bin 2, value 1 never spikes
    s = intensity_to_latency(x, 3)
    assert s[0, :, 0, 0].tolist() == [[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1]]


def test_latency_ties_follow_stable_sort():
    x = torch.tensor([[[[1.0, 2.0, 2.0, 2.0]]]])
    s = intensity_to_latency(x, 2)  # bin 2: the first two equal 2.0 (lowest indices) spike first
    assert s[0, 0, 0, 0].tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("device", CUDA)
def test_latency_cuda(device):
    x = make_batch().to(device)
    assert torch.equal(intensity_to_latency(x, 6).cpu(), intensity_to_latency(x.cpu(), 6))


def random_intensities(dtype, seed, batch=5, shape=(2, 6, 7), levels=None, negatives=False):
    """Random maps with many exact ties, zeros and (optionally) negative values."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, *shape, generator=g, dtype=torch.float64)
    if levels is not None:
        x = torch.floor(x * levels) / levels  # few distinct values: ties straddle bin boundaries
    x[torch.rand(x.shape, generator=g) < 0.3] = 0.0
    if negatives:
        x[torch.rand(x.shape, generator=g) < 0.2] *= -1
    x[1] = 0.0  # a silent sample
    return x.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("levels,negatives", [(None, False), (4, False), (7, True), (None, True)])
@pytest.mark.parametrize("T", [1, 3, 15])
def test_latency_ranking_equals_reference_with_ties_and_negatives(dtype, levels, negatives, T):
    x = random_intensities(dtype, seed=T, levels=levels, negatives=negatives)
    for to_spike in (True, False):
        out = intensity_to_latency(x, T, to_spike=to_spike)
        assert out.dtype == dtype
        for b in range(x.shape[0]):
            if int(torch.count_nonzero(x[b])) >= T:
                ref = reference_latency(x[b:b + 1], T)
                assert torch.equal(out[b], ref.sign() if to_spike else ref)
            else:
                assert not out[b].any()


def test_latency_many_steps_and_huge_values():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 30, 30, generator=g) * 3e38  # T > 255 and values near the float32 maximum
    x[0, 0, 0, :5] = torch.tensor([3.4e38, 1e-45, -1e-45, -3.4e38, 0.0])
    T = 300
    out = intensity_to_latency(x, T, cumulative=False)
    for b in range(2):
        ref = reference_latency(x[b:b + 1], T)
        ref = ref - torch.cat([torch.zeros_like(ref[:1]), ref[:-1]])
        assert torch.equal(out[b], ref.sign())


@pytest.mark.parametrize("cumulative", [True, False])
@pytest.mark.parametrize("T", [4, 15, 300])
def test_latency_uint8_and_bool_equal_float_path(cumulative, T):
    x = random_intensities(torch.float32, seed=1, batch=4, shape=(3, 14, 14), levels=9)
    ref = intensity_to_latency(x, T, cumulative=cumulative)
    for dtype in (torch.uint8, torch.bool):
        out = intensity_to_latency(x, T, cumulative=cumulative, dtype=dtype)
        assert out.dtype == dtype and out.shape == ref.shape
        assert torch.equal(out, ref.to(dtype))
    assert torch.equal(intensity_to_latency(x, T, cumulative=cumulative, dtype=torch.float64), ref.double())
    neg = random_intensities(torch.float32, seed=2, negatives=True)
    assert torch.equal(intensity_to_latency(neg, 3, dtype=torch.bool), intensity_to_latency(neg, 3).bool())
    module = IntensityToLatency(T, cumulative=cumulative, dtype=torch.uint8)
    assert torch.equal(module(x), ref.to(torch.uint8)) and "dtype=torch.uint8" in repr(module)


def test_latency_dtype_errors():
    x = random_intensities(torch.float32, seed=0, negatives=True)
    with pytest.raises(ValueError, match="intensity_to_latency: dtype=torch.uint8 needs non-negative x"):
        intensity_to_latency(x, 3, dtype=torch.uint8)
    with pytest.raises(TypeError, match="intensity_to_latency: dtype=torch.uint8 holds spikes only"):
        intensity_to_latency(x.abs(), 3, to_spike=False, dtype=torch.uint8)
    with pytest.raises(TypeError, match="intensity_to_latency: dtype must be"):
        intensity_to_latency(x, 3, dtype=torch.int32)
    with pytest.raises(TypeError, match="IntensityToLatency: dtype must be"):
        IntensityToLatency(3, dtype="uint8")
    with pytest.raises(TypeError, match="IntensityToLatency: dtype=torch.bool holds spikes only"):
        IntensityToLatency(3, to_spike=False, dtype=torch.bool)


# --- Poisson --------------------------------------------------------------------------------------
def test_poisson_rate_and_determinism():
    intensity = torch.tensor([[0.0, 0.25, 0.5, 1.0]]).repeat(4, 1)
    rate, dt, T = 200.0, 0.5, 4000
    s1 = poisson_spikes(intensity, T, max_rate=rate, dt=dt, generator=torch.Generator().manual_seed(7))
    s2 = poisson_spikes(intensity, T, max_rate=rate, dt=dt, generator=torch.Generator().manual_seed(7))
    s3 = poisson_spikes(intensity, T, max_rate=rate, dt=dt, generator=torch.Generator().manual_seed(8))
    assert s1.shape == (4, T, 4)
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    assert set(s1.unique().tolist()) <= {0.0, 1.0}
    counts = s1.sum(1).mean(0)  # mean spike count per neuron
    expected = intensity[0] * rate * (T * dt / 1000)  # rate (Hz) * duration (s)
    sd = torch.sqrt(expected * (1 - intensity[0] * rate * dt / 1000) / 4)
    assert counts[0] == 0
    assert ((counts - expected).abs() <= 4 * sd + 1e-9).all()


def test_poisson_duration_and_module():
    x = torch.full((2, 3, 4, 4), 0.5, dtype=torch.float64)
    s = poisson_spikes(x, duration=25.0, dt=0.5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (2, 50, 3, 4, 4) and s.dtype == torch.float64
    enc = PoissonEncoder(10, max_rate=1000.0)
    assert torch.equal(enc(torch.ones(2, 5)), torch.ones(2, 10, 5))  # p = 1 per step
    assert "max_rate=1000.0" in repr(enc)


# --- decoding, DVS, layout ---------------------------------------------------------------------------
def test_first_spike_times():
    s = torch.zeros(2, 4, 3)
    s[0, 2:, 0] = 1  # cumulative
    s[0, 1, 1] = 1  # non-cumulative
    s[1, 0, 2] = 1
    assert first_spike_times(s).tolist() == [[2, 1, 4], [4, 4, 0]]
    assert first_spike_times(s.bool()).dtype == torch.int64


def test_first_spike_times_invert_latency():
    x = make_batch(4)
    s = intensity_to_latency(x, 5)
    fs = first_spike_times(s)
    assert torch.equal((torch.arange(5).view(1, 5, 1, 1, 1) >= fs.unsqueeze(1)).to(s.dtype), s)


def test_dvs_events_hand_computed():
    thr = 0.5
    frames = torch.tensor([1.0, 1.2, 2.0, 2.0, 0.5, 0.55, 0.3]).view(1, 7, 1, 1).repeat(3, 1, 2, 2)
    ev = dvs_events(frames, threshold=thr, eps=1e-3)
    assert ev.shape == (3, 7, 2, 2, 2)
    on, off = ev[0, :, 0, 0, 0].tolist(), ev[0, :, 1, 0, 0].tolist()
    # log(1.2) < 0.5 (no event, reference stays at log 1); log 2 > 0.5 -> ON, ref = log 2;
    # log(0.5/2) < -0.5 -> OFF, ref = log 0.5; 0.55 no event; log(0.3/0.5) = -0.51 -> OFF
    assert on == [0, 0, 1, 0, 0, 0, 0]
    assert off == [0, 0, 0, 0, 1, 0, 1]
    assert torch.equal(ev, ev[:1].expand_as(ev))  # every pixel and sample alike
    assert torch.equal(dvs_events(frames.unsqueeze(2), thr), ev)


def test_time_first_round_trip():
    x = torch.arange(2 * 3 * 4).view(2, 3, 4)
    tf = to_time_first(x)
    assert tf.shape == (3, 2, 4) and torch.equal(tf[1, 0], x[0, 1]) and tf.is_contiguous()
    assert torch.equal(to_batch_first(tf), x)


# --- bad input ------------------------------------------------------------------------------------
X = torch.rand(2, 1, 4, 4)
BAD = [
    (lambda: intensity_to_latency(X, 0), ValueError, "time_steps"),
    (lambda: intensity_to_latency(X, -3), ValueError, "time_steps"),
    (lambda: intensity_to_latency(X, 2.5), TypeError, "time_steps"),
    (lambda: intensity_to_latency(X[0], 5), ValueError, "x"),
    (lambda: intensity_to_latency(X.to(torch.int32), 5), TypeError, "x"),
    (lambda: intensity_to_latency(torch.full((1, 1, 2, 2), float("inf")), 5), ValueError, "x"),
    (lambda: intensity_to_latency(torch.ones(0, 1, 2, 2), 5), ValueError, "x"),
    (lambda: intensity_to_latency(X, 5, to_spike=1), TypeError, "to_spike"),
    (lambda: poisson_spikes(X, 10, max_rate=2000.0, dt=1.0), ValueError, "max_rate"),
    (lambda: poisson_spikes(X * 2, 10), ValueError, "intensity"),
    (lambda: poisson_spikes(X, 10, dt=0.0), ValueError, "dt"),
    (lambda: poisson_spikes(X), ValueError, "time_steps"),
    (lambda: poisson_spikes(X, 10, duration=10.0), ValueError, "duration"),
    (lambda: poisson_spikes(X, 10, generator=1234), TypeError, "generator"),
    (lambda: first_spike_times(torch.ones(3)), ValueError, "spikes"),
    (lambda: dvs_events(torch.ones(1, 3, 2, 4, 4)), ValueError, "channel"),
    (lambda: dvs_events(-torch.ones(1, 3, 4, 4)), ValueError, "frames"),
    (lambda: dvs_events(torch.ones(1, 3, 4, 4), threshold=0.0), ValueError, "threshold"),
    (lambda: to_time_first(torch.ones(3)), ValueError, "x"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}-{m}" for i, (_, _, m) in enumerate(BAD)])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
