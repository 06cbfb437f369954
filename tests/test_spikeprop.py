"""SpikeProp (snnbook.models.spikeprop): exact first-spike times, the spike-time gradient against
finite differences, training toward target times, the no-spike case and bad input."""
from __future__ import annotations

import math

import pytest
import torch
from scipy.optimize import brentq

from snnbook.models import spikeprop as sp


def _problem(seed=0, batch=3, n_in=6, n_out=2):
    g = torch.Generator().manual_seed(seed)
    times = torch.rand(batch, n_in, generator=g, dtype=torch.float64) * 5.0
    weight = 0.3 + torch.rand(n_out, n_in, generator=g, dtype=torch.float64) * 0.4
    return times, weight


def test_module_docstring_names_its_chapter():
    assert "Chapter:" in sp.__doc__ and "-1 / (dV/dt)" in sp.__doc__


def test_kernel_peaks_at_tau_and_is_zero_before_the_spike():
    s = torch.tensor([-math.inf, -1.0, 0.0, 3.0, 7.0, 20.0], dtype=torch.float64)
    eps = sp.srm_kernel(s, tau=7.0)
    assert eps[:3].tolist() == [0.0, 0.0, 0.0]
    assert eps[4] == pytest.approx(1.0)
    assert eps[3] == pytest.approx(3 / 7 * math.exp(1 - 3 / 7))
    # the derivative is the kernel's slope
    h = 1e-6
    num = (sp.srm_kernel(s[3:] + h) - sp.srm_kernel(s[3:] - h)) / (2 * h)
    torch.testing.assert_close(sp.srm_kernel_derivative(s[3:]), num, rtol=1e-6, atol=1e-9)


def test_first_spike_time_is_the_exact_crossing():
    times, weight = _problem()
    t = sp.first_spike_times(times, weight)
    for b in range(times.shape[0]):
        for j in range(weight.shape[0]):
            def v(x):
                return float((weight[j] * sp.srm_kernel(x - times[b])).sum()) - sp.THRESHOLD
            # the first grid point above threshold brackets the first crossing
            grid = torch.arange(0, sp.T_MAX_MS, 0.01, dtype=torch.float64)
            vals = torch.tensor([v(float(x)) for x in grid])
            k = int(torch.nonzero(vals >= 0)[0])
            ref = brentq(v, float(grid[k - 1]), float(grid[k]), xtol=1e-13)
            assert float(t[b, j]) == pytest.approx(ref, abs=1e-9)


def test_one_input_matches_the_closed_form():
    # V(t) = w (t/tau) e^(1 - t/tau) = theta: with w = e/2 ... solve numerically on the rising side
    w, tau = 2.0, 7.0
    t = sp.first_spike_times(torch.zeros(1, 1, dtype=torch.float64), torch.tensor([[w]], dtype=torch.float64),
                             tau=tau)
    ref = brentq(lambda x: w * x / tau * math.exp(1 - x / tau) - 1.0, 1e-9, tau, xtol=1e-14)
    assert float(t) == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spike_time_gradient_equals_finite_differences(seed):
    times, weight = _problem(seed)
    w = weight.clone().requires_grad_(True)
    x = times.clone().requires_grad_(True)
    t = sp.first_spike_times(x, w, min_slope=1e-9)
    assert bool((t < sp.T_MAX_MS).all()), "every neuron fires in this problem"
    coef = torch.randn(t.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    (t * coef).sum().backward()
    h = 1e-6
    num_w = torch.zeros_like(weight)
    for j in range(weight.shape[0]):
        for i in range(weight.shape[1]):
            wp, wm = weight.clone(), weight.clone()
            wp[j, i] += h
            wm[j, i] -= h
            num_w[j, i] = ((sp.first_spike_times(times, wp) - sp.first_spike_times(times, wm)) * coef).sum() / (2 * h)
    torch.testing.assert_close(w.grad, num_w, rtol=1e-5, atol=1e-7)
    num_x = torch.zeros_like(times)
    for b in range(times.shape[0]):
        for i in range(times.shape[1]):
            xp, xm = times.clone(), times.clone()
            xp[b, i] += h
            xm[b, i] -= h
            num_x[b, i] = ((sp.first_spike_times(xp, weight) - sp.first_spike_times(xm, weight)) * coef).sum() / (2 * h)
    torch.testing.assert_close(x.grad, num_x, rtol=1e-5, atol=1e-7)
    # the rule itself: dt/dw = -eps(t - t_i) / V'(t)
    s = t.detach()[:, :, None] - times[:, None, :]
    slope = (sp.srm_kernel_derivative(s) * weight).sum(-1, keepdim=True)
    rule = -(coef[:, :, None] * sp.srm_kernel(s) / slope).sum(0)
    torch.testing.assert_close(w.grad, rule)


def test_silent_neuron_gets_t_max_and_zero_gradient():
    times = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    w = torch.tensor([[0.1, 0.1], [2.0, 2.0]], dtype=torch.float64, requires_grad=True)
    t = sp.first_spike_times(times, w)
    assert float(t[0, 0].detach()) == sp.T_MAX_MS and float(t[0, 1].detach()) < sp.T_MAX_MS
    t.sum().backward()
    assert w.grad[0].abs().sum() == 0 and w.grad[1].abs().sum() > 0


def test_inputs_that_never_fire_contribute_nothing():
    times = torch.tensor([[0.0, math.inf]], dtype=torch.float64)
    w = torch.tensor([[2.0, 5.0]], dtype=torch.float64, requires_grad=True)
    x = times.clone().requires_grad_(True)
    t = sp.first_spike_times(x, w)
    t_alone = sp.first_spike_times(times[:, :1], w.detach()[:, :1])
    assert float(t.detach()) == pytest.approx(float(t_alone))
    t.sum().backward()
    assert float(w.grad[0, 1]) == 0.0 and float(x.grad[0, 1]) == 0.0


def test_training_reduces_the_error_and_times_converge_to_targets():
    layer, h = sp.quickstart()
    assert h["error"][-1] < 1e-4 * h["error"][0]
    torch.testing.assert_close(h["times"][-1], h["targets"], atol=1e-2, rtol=0)
    assert (h["times"][0] - h["targets"]).abs().max() > 1.0


def test_silent_push_makes_a_silent_neuron_fire_and_learn():
    x = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
    layer = sp.SpikePropLayer(3, 1, weight_scale=0.05, seed=0)
    assert float(layer(x).detach()) == sp.T_MAX_MS
    # the target lies on the rising side of the PSPs (a target near their peak, where V' -> 0, makes
    # every gradient step overshoot: the shallow-crossing problem of the module docstring)
    h = sp.train_spikeprop(layer, x, torch.tensor([[5.0]]), epochs=40, lr=0.005, silent_push=0.1)
    assert h["silent_pushes"][0] == 1
    assert abs(float(h["times"][-1]) - 5.0) < 1e-3
    frozen = sp.SpikePropLayer(3, 1, weight_scale=0.05, seed=0)
    h0 = sp.train_spikeprop(frozen, x, torch.tensor([[5.0]]), epochs=5, lr=0.005, silent_push=0.0)
    assert h0["error"][-1] == h0["error"][0]  # zero gradient: nothing changes without the push


def test_two_layer_network_trains():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 8, generator=g, dtype=torch.float64) * 5
    targets = torch.tensor([[9.0, 11.0]] * 2 + [[11.0, 9.0]] * 2, dtype=torch.float64)
    net = sp.SpikePropNet((8, 6, 2), seed=0, weight_scale=0.5)
    h = sp.train_spikeprop(net, x, targets, epochs=60, lr=0.001)
    assert h["error"][-1] < 0.2 * h["error"][0]


def test_ttfs_helpers():
    assert sp.ttfs_classify(torch.tensor([[12.0, 9.0, 9.5], [30.0, 30.0, 30.0]])).tolist() == [1, -1]
    torch.testing.assert_close(sp.ttfs_targets(torch.tensor([2, 0]), 3, early=6.0, late=9.0),
                               torch.tensor([[9.0, 9.0, 6.0], [6.0, 9.0, 9.0]], dtype=torch.float64))
    x = sp.latency_times(torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8), t_code=10.0)
    torch.testing.assert_close(x, torch.tensor([[math.inf, 0.0, 8.0, 6.0]], dtype=torch.float64))


def test_ttfs_digits_small_run():
    r = sp.ttfs_digits(classes=(0, 1), n_train=60, n_test=100, epochs=5)
    assert r["test_times"].shape == (100, 2) and r["test_labels"].shape == (100,)
    assert r["history"]["error"][-1] < 0.5 * r["history"]["error"][0]
    assert r["test_accuracy"] >= 0.9  # 0 vs 1 is easy (seed 0 gives 1.0); chance is 0.5


@pytest.mark.parametrize("call, exc, words", [
    (lambda: sp.first_spike_times(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, ["first_spike_times", "weight"]),
    (lambda: sp.first_spike_times(torch.zeros(3), torch.zeros(2, 3)), ValueError, ["first_spike_times", "input_times"]),
    (lambda: sp.first_spike_times(torch.full((1, 3), math.nan), torch.zeros(2, 3)), ValueError,
     ["first_spike_times", "input_times", "NaN"]),
    (lambda: sp.first_spike_times(torch.zeros(1, 3, dtype=torch.long), torch.zeros(2, 3)), TypeError,
     ["first_spike_times", "input_times"]),
    (lambda: sp.first_spike_times(torch.zeros(1, 3), torch.zeros(2, 3), tau=0.0), ValueError,
     ["first_spike_times", "tau"]),
    (lambda: sp.first_spike_times(torch.zeros(1, 3), torch.zeros(2, 3), dt=50.0), ValueError,
     ["first_spike_times", "dt"]),
    (lambda: sp.first_spike_times(torch.zeros(1, 3), torch.zeros(2, 3), threshold=-1.0), ValueError,
     ["first_spike_times", "threshold"]),
    (lambda: sp.spike_time_error(torch.zeros(2, 3), torch.zeros(2, 2)), ValueError,
     ["spike_time_error", "target_times"]),
    (lambda: sp.train_spikeprop(torch.nn.Linear(2, 2), torch.zeros(1, 2), torch.zeros(1, 2)), TypeError,
     ["train_spikeprop", "model"]),
    (lambda: sp.train_spikeprop(sp.SpikePropLayer(2, 1), torch.zeros(2, 2), torch.zeros(3, 1)), ValueError,
     ["train_spikeprop", "target_times"]),
    (lambda: sp.train_spikeprop(sp.SpikePropLayer(2, 1), torch.zeros(2, 2), torch.zeros(2, 1), epochs=-1),
     ValueError, ["train_spikeprop", "epochs"]),
    (lambda: sp.ttfs_targets(torch.tensor([3]), 3, early=6.0, late=9.0), ValueError, ["ttfs_targets", "labels"]),
    (lambda: sp.ttfs_targets(torch.tensor([0]), 3, early=9.0, late=6.0), ValueError, ["ttfs_targets", "early"]),
    (lambda: sp.latency_times(torch.full((1, 4), 2.0)), ValueError, ["latency_times", "images"]),
    (lambda: sp.SpikePropLayer(0, 2), ValueError, ["SpikePropLayer", "n_in"]),
    (lambda: sp.SpikePropNet((3,)), ValueError, ["SpikePropNet", "sizes"]),
    (lambda: sp.ttfs_digits(classes=(1,)), ValueError, ["ttfs_digits", "classes"]),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)
