"""The event-driven engine against the readable dense path: compact waves round-trip exactly, and
conv+fire, pooling, padding, pointwise inhibition, k-WTA, STDP and R-STDP on first-spike times give
the same spikes, winners and weights as the dense functions (random and real digits, float32 and
float64, batch 1 and batched, silent samples, all-zero inputs), on the SpykeTorch fixtures too, and
over 1 000 sequential training steps per layer."""
from __future__ import annotations

import pytest
import torch

from snnbook import coding, competition, data, layers, plasticity, retina
from snnbook.coding import latency_times, times_to_wave, wave_to_times
from reference import load

T = 15


def random_times(shape, p_silent=0.5, steps=T, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, steps, shape, generator=g).to(torch.uint8)
    silent = torch.rand(shape, generator=g) < p_silent
    return torch.where(silent, torch.full_like(t, steps), t)


def digit_times(n, train=False, offset=0):
    images, _ = data.mnist_tensors(train=train, n=offset + n)
    x = images[offset:].float().unsqueeze(1)
    maps = retina.filter_bank(x, retina.mozafari2019_dog_kernels(), padding=6, threshold=50)
    maps = retina.local_normalization(maps, radius=8)
    return latency_times(maps, T), maps


def exact_conv(times, weight):
    """The dense convolution with exact sums rounded once to weight's dtype: what the engine computes.
    (oneDNN's float32 conv rounds partial sums, so it can differ from this in the last bit.)"""
    wave = times_to_wave(times, T, torch.float64)
    return layers.conv(wave, weight.double()).to(weight.dtype)


def dense_fire(times, weight, thr):
    return competition.fire(exact_conv(times, weight), thr, True)


# ---------------------------------------------------------------------------------------------
# compact waves
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8, torch.bool])
def test_round_trip(dtype):
    times = random_times((3, 4, 5, 6))
    wave = times_to_wave(times, T, dtype)
    assert wave.shape == (3, T, 4, 5, 6) and wave.dtype == dtype
    assert torch.equal(wave_to_times(wave), times)
    assert torch.equal(times_to_wave(wave_to_times(wave), T, dtype), wave)


def test_latency_times_equal_the_wave_coding():
    times, maps = digit_times(20)
    wave = coding.intensity_to_latency(maps, T, dtype=torch.uint8)
    assert torch.equal(times_to_wave(times, T, torch.uint8), wave)
    assert torch.equal(wave_to_times(wave), times)


@pytest.mark.parametrize("steps", [1, 2, 15, 254])
def test_compiled_latency_equals_the_readable_one(steps):
    """The radix-sort latency code (Mozafari2019.encode's path) gives coding.latency_times'
    times: ties in flat order, zeros (and -0.0) never spike, fewer nonzero values than steps,
    silent samples; serial (batch < 8) and parallel."""
    from snnbook import _engine
    _, maps = digit_times(12)
    g = torch.Generator().manual_seed(steps)
    ties = torch.randint(0, 5, (12, 3, 6, 6), generator=g).float()  # many equal values
    ties[0] = 0.0
    ties[1, 0, 0, 0] = -0.0
    ties[2] = 0.0
    ties[2, 1, 2, 3] = 7.0  # one nonzero value
    for x in (maps, ties, ties * 1e-30, ties + 1e30 * (ties > 0)):
        for b in (3, 12):
            assert torch.equal(_engine.latency_times(x[:b], steps), latency_times(x[:b], steps))


def test_compact_rejects_what_it_cannot_hold():
    wave = torch.zeros(1, 3, 2)
    wave[0, 1, 0] = 1.0  # spikes at step 1 only: not cumulative
    with pytest.raises(ValueError, match="CUMULATIVE"):
        wave_to_times(wave)
    with pytest.raises(ValueError, match="only 0 and 1"):
        wave_to_times(torch.full((1, 2, 2), 0.5))
    with pytest.raises(ValueError, match="time_steps"):
        times_to_wave(torch.full((1, 2), 9, dtype=torch.uint8), 5)
    with pytest.raises(TypeError, match="integer"):
        times_to_wave(torch.zeros(1, 2), 5)
    with pytest.raises(ValueError, match="non-negative"):
        latency_times(-torch.rand(1, 1, 4, 4) - 0.1, 3)


# ---------------------------------------------------------------------------------------------
# layers and competition on times against the dense path
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("thr", [3.0, 0.0, None])
def test_conv_fire_times_equal_dense_random(dtype, thr):
    g = torch.Generator().manual_seed(1)
    times = random_times((4, 3, 9, 9))
    times[1] = T  # a silent sample
    weight = torch.rand(5, 3, 3, 3, generator=g, dtype=dtype)
    first, pot, last = layers.conv_fire_times(times, weight, thr, T, return_last=True)
    spikes, thresholded = dense_fire(times, weight, thr)
    assert torch.equal(first, wave_to_times(spikes))
    dense_pot = thresholded.gather(1, first.long().clamp(max=T - 1).unsqueeze(1)).squeeze(1) * (first < T)
    # float32 weights are summed exactly (in float64) by both; float64 sums round in either order
    same = torch.equal if dtype == torch.float32 else torch.allclose
    assert same(pot, dense_pot)
    assert same(last, exact_conv(times, weight)[:, -1])
    assert bool((first[1] == T).all())
    # the plain float32 convolution: the same spikes here, potentials within a rounding
    plain_spikes, plain = competition.fire(layers.conv(times_to_wave(times, T, dtype), weight), thr, True)
    assert torch.equal(first, wave_to_times(plain_spikes))
    torch.testing.assert_close(last, layers.conv(times_to_wave(times, T, dtype), weight)[:, -1])
    d = layers.conv_fire_times(times, weight, thr, T, engine="dense")
    assert torch.equal(d[0], first)
    torch.testing.assert_close(d[1], pot)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_threshold_on_the_rounding_boundary(dtype):
    """The engine compares exact float64 sums with a bound half an ulp above the threshold and
    rounds only candidates: potentials that round TO the threshold (a tie to even included) must
    not fire, the next representable value must (as the dense float path decides)."""
    eps = torch.finfo(dtype).eps  # ulp of 1.0
    # one position, two input channels spiking at steps 0 and 1: potential w0, then w0 + w1
    times = torch.tensor([[[[0]], [[1]]]], dtype=torch.uint8)
    cases = [(1.0, eps / 2, None),       # 1 + ulp/2 ties to even -> 1.0: no spike
             (1.0, eps * 0.75, 1),        # rounds up to the next value: spike at step 1
             (1.0, eps, 1),               # exactly the next value
             (1.0 + eps, 0.0, 0)]         # above the threshold from the first spike
    for w0, w1, expect in cases:
        weight = torch.tensor([w0, w1], dtype=dtype).reshape(1, 2, 1, 1)
        first, pot = layers.conv_fire_times(times, weight, 1.0, T)
        spikes, _ = competition.fire(layers.conv(times_to_wave(times, T, dtype), weight), 1.0, True)
        assert torch.equal(first, wave_to_times(spikes)), (w0, w1)
        assert int(first) == (T if expect is None else expect), (w0, w1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_inhibition_equals_conv_fire_then_inhibition(dtype):
    """Training fuses pointwise inhibition into the convolution (a position is dropped after its
    first spike); on dyadic weights, so that potentials tie often, it must equal the two steps."""
    from snnbook import _engine
    g = torch.Generator().manual_seed(3)
    times = random_times((9, 4, 10, 10), p_silent=0.3)
    times[2] = T
    weight = torch.randint(1, 4, (7, 4, 3, 3), generator=g).to(dtype) / 4
    for thr in (2.0, 4.5):
        first, pot, _ = _engine.conv_fire(times, T, weight, thr)
        f_i, p_i = competition.pointwise_inhibition_times(first, pot, T)
        for b in (1, 9):  # serial and parallel kernels
            f_f, p_f, _ = _engine.conv_fire(times[:b], T, weight, thr, inhibit=True)
            assert torch.equal(f_f, f_i[:b]) and torch.equal(p_f, p_i[:b])
        # k-WTA from the list of spikes (what the fused training step does), in any order
        import numpy as np
        tarr = _engine.tarr_of(T, dtype)
        for b in range(times.shape[0]):
            fb, pb = f_i[b].numpy(), p_i[b].numpy()
            spikes = np.argwhere(fb < T).astype(np.int64)
            spikes = spikes[np.random.default_rng(b).permutation(len(spikes))]
            for k, radius in ((1, 0), (3, 1), (8, 2)):
                want = np.empty((k, 3), np.int64)
                got = np.empty((k, 3), np.int64)
                _engine._kwta_one(fb, pb, T, k, radius, tarr, want)
                _engine._kwta_inhibited(fb, pb, spikes, len(spikes), T, k, radius, tarr, got)
                assert np.array_equal(want, got), (b, k, radius)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layer1_on_digits_equal_dense(dtype):
    times, _ = digit_times(16)
    times = layers.pad_times(times, (2, 2, 2, 2), T)
    g = torch.Generator().manual_seed(0)
    weight = torch.empty(30, 6, 5, 5, dtype=dtype).normal_(0.8, 0.05, generator=g)
    first, pot = layers.conv_fire_times(times, weight, 15.0, T)
    spikes, thresholded = dense_fire(times, weight, 15.0)
    assert torch.equal(first, wave_to_times(spikes))
    # batch 1 (one thread) and batched (parallel over samples) agree
    one = [layers.conv_fire_times(times[i:i + 1], weight, 15.0, T) for i in range(3)]
    assert torch.equal(torch.cat([o[0] for o in one]), first[:3])
    assert torch.equal(torch.cat([o[1] for o in one]), pot[:3])
    # inhibition and k-WTA
    f_i, p_i = competition.pointwise_inhibition_times(first, pot, T)
    inh = competition.pointwise_inhibition(thresholded)
    assert torch.equal(f_i, wave_to_times(inh.sign()))
    win = competition.k_winners_times(f_i, p_i, T, 5, 3)
    assert torch.equal(win, competition.k_winners(inh, 5, 3, inh.sign()))
    # pooling and padding (layer 2's input)
    pooled = layers.pad_times(layers.pool_times(first, 2, 2), (1, 1, 1, 1), T)
    dense_pooled = layers.pad(layers.pool(spikes, 2, 2), (1, 1, 1, 1))
    assert torch.equal(pooled, wave_to_times(dense_pooled))


def test_k_winners_times_ties_and_radius():
    first = torch.full((2, 4, 6, 6), T, dtype=torch.uint8)
    pot = torch.zeros(2, 4, 6, 6)
    # exact ties at the same time: the lowest flat index wins
    for f, r, c in [(2, 1, 1), (1, 3, 2), (3, 0, 5)]:
        first[0, f, r, c] = 4
        pot[0, f, r, c] = 7.0
    first[0, 0, 5, 5], pot[0, 0, 5, 5] = 2, 1.0  # earlier beats larger
    for k in (1, 3, 5):
        for r in (0, 1, 2):
            dense, wave = competition._dense_potentials(first, pot, T)
            assert torch.equal(competition.k_winners_times(first, pot, T, k, r),
                               competition.k_winners(dense, k, r, wave)), (k, r)
    win = competition.k_winners_times(first, pot, T, 3)
    assert win[0].tolist() == [[0, 5, 5], [1, 3, 2], [2, 1, 1]]
    assert bool((win[1] == -1).all())  # silent sample


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 1), (3, 3, 0), (3, 2, 1)])
def test_pool_times(kernel, stride, padding):
    times = random_times((2, 3, 9, 9))
    dense = layers.pool(times_to_wave(times, T), kernel, stride, padding)
    assert torch.equal(layers.pool_times(times, kernel, stride, padding), wave_to_times(dense))


# ---------------------------------------------------------------------------------------------
# the SpykeTorch fixtures through the compact path
# ---------------------------------------------------------------------------------------------
def test_fixture_k_winners_and_stdp():
    fx = load("stdp.pt")
    inp = fx["input_spikes"].unsqueeze(0)
    steps = inp.shape[1]
    tin = wave_to_times(inp)
    w0 = fx["weight_before"]
    first, pot = layers.conv_fire_times(tin, w0, fx["threshold"], steps)
    f_i, p_i = competition.pointwise_inhibition_times(first, pot, steps)
    assert torch.equal(f_i[0], wave_to_times(fx["output_spikes"].unsqueeze(0))[0])
    win = competition.k_winners_times(f_i, p_i, steps, fx["kwta"], fx["inhibition_radius"])
    assert win[0].tolist() == fx["winners"]
    for case in fx["cases"]:
        lr = case["learning_rate"]
        if isinstance(lr[0], (list, tuple)):
            ltp = torch.tensor([p[0] for p in lr]); ltd = torch.tensor([p[1] for p in lr])
        else:
            ltp, ltd = lr
        new = plasticity.stdp_update_times(w0, tin, f_i, win, steps, ltp, ltd, case["use_stabilizer"],
                                           case["lower_bound"], case["upper_bound"])
        torch.testing.assert_close(new, case["weight_after"], atol=1e-6, rtol=1e-5)


def test_fixture_e2e_eval_layers():
    fx = load("e2e_mozafari2019_eval.pt")
    wfx = load("e2e_mozafari2019_weights.pt")
    w1 = wfx["conv1_weight_code"].float() / 256
    w2 = wfx["conv2_weight_code"].float() / 256
    w3 = wfx["conv3_weight_code"].float() / 256
    tin = wave_to_times(fx["input_spikes"])
    x = layers.pad_times(tin, (2, 2, 2, 2), T)
    f1, p1, last1 = layers.conv_fire_times(x, w1, 15.0, T, return_last=True)
    x2 = layers.pad_times(layers.pool_times(f1, 2, 2), (1, 1, 1, 1), T)
    f2, p2, last2 = layers.conv_fire_times(x2, w2, 10.0, T, return_last=True)
    x3 = layers.pad_times(layers.pool_times(f2, 3, 3), (2, 2, 2, 2), T)
    f3, p3, last3 = layers.conv_fire_times(x3, w3, None, T, return_last=True)
    win = competition.k_winners_times(f3, p3, T, 1, 0)
    for n, d in enumerate(fx["per_digit"]):
        assert torch.equal(f1[n], d["layer1_first_spike"].to(torch.uint8))
        assert torch.equal(last1[n], d["layer1_potential_last"])
        assert torch.equal(x3[n], d["layer3_input_first_spike"].to(torch.uint8)) if "layer3_input_first_spike" in d else True
        assert torch.equal(last3[n], d["layer3_potential_last"])
        out = int(win[n, 0, 0]) // 20 if win[n, 0, 0] >= 0 else -1
        assert out == d["output"]


# ---------------------------------------------------------------------------------------------
# STDP / R-STDP on times
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("stabilizer", [True, False])
def test_stdp_update_times_equal_dense(dtype, stabilizer):
    g = torch.Generator().manual_seed(3)
    tin = random_times((3, 4, 8, 8), seed=4)
    tout = random_times((3, 5, 6, 6), seed=5)
    weight = torch.rand(5, 4, 3, 3, generator=g, dtype=dtype) * 1.2 - 0.1  # some out of bounds
    winners = torch.tensor([[[2, 1, 1], [0, 5, 0], [2, 3, 3]], [[-1, -1, -1]] * 3,
                            [[4, 0, 0], [1, 2, 2], [-1, -1, -1]]])
    for w in winners:  # winners must have spiked
        for f, r, c in w.tolist():
            if f >= 0:
                tout[winners.tolist().index(w.tolist()), f, r, c] = 7
    a_ltp = torch.rand(3, 5, generator=g, dtype=dtype) * 0.01
    new = plasticity.stdp_update_times(weight, tin, tout, winners, T, a_ltp, -0.003, stabilizer)
    ref = plasticity.stdp_update(weight, times_to_wave(tin, T, dtype), times_to_wave(tout, T, dtype),
                                 winners, a_ltp, -0.003, stabilizer)
    assert torch.equal(new, ref)
    reward = torch.tensor([1, 0, -1])
    new = plasticity.rstdp_update_times(weight, tin, tout, winners, reward, T)
    ref = plasticity.rstdp_update(weight, times_to_wave(tin, T, dtype), times_to_wave(tout, T, dtype),
                                  winners, reward)
    assert torch.equal(new, ref)


def test_times_functions_reject_bad_input():
    t = random_times((1, 2, 5, 5))
    w = torch.rand(3, 2, 3, 3)
    with pytest.raises(TypeError, match="uint8"):
        layers.conv_fire_times(t.float(), w, 1.0, T)
    with pytest.raises(ValueError, match=">= 0"):
        layers.conv_fire_times(t, w - 1, 1.0, T)
    with pytest.raises(ValueError, match="threshold"):
        layers.conv_fire_times(t, w, -1.0, T)
    with pytest.raises(ValueError, match="time_steps"):
        layers.conv_fire_times(t, w, 1.0, 3)
    with pytest.raises(ValueError, match="engine"):
        layers.conv_fire_times(t, w, 1.0, T, engine="fast")
    with pytest.raises(ValueError, match="channels"):
        layers.conv_fire_times(t, torch.rand(3, 4, 3, 3), 1.0, T)
    first, pot = layers.conv_fire_times(t, w, 1.0, T)
    with pytest.raises(ValueError, match="shape"):
        competition.k_winners_times(first, pot[:, :2], T)
    with pytest.raises(ValueError, match="winners"):
        plasticity.stdp_update_times(w, t, first, torch.tensor([[[5, 0, 0]]]), T, 0.004, -0.003)
