"""Tests of snnbook.neurons: hand-computed IF/LIF cases, refractoriness, adaptation, surrogates."""
import math

import pytest
import torch
from torch.testing import assert_close

from snnbook import neurons
from snnbook.neurons import (IF, LIF, AdaptiveLIF, AdaptiveLIFParameters, AdaptiveLIFState, IFParameters,
                             LIFParameters, LIFState, adaptive_lif_step, arctan, fast_sigmoid, heaviside, if_step,
                             init_state, lif_run, lif_step, simulate)

CUDA = [pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def test_named_default_constants():
    p = LIFParameters()
    assert p.tau_mem == neurons.LIF_TAU_MEM == 20.0
    assert p.v_threshold == neurons.LIF_V_THRESHOLD and p.dt == neurons.DT
    a = AdaptiveLIFParameters()
    assert a.theta_plus == neurons.ADAPTIVE_THETA_PLUS and a.tau_theta == neurons.ADAPTIVE_TAU_THETA


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_if_integrates_exactly(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 5, (3, 20, 4), generator=g).to(dtype) / 8  # dyadic: sums are exact
    p = IFParameters(v_threshold=1e6)  # never fires
    spikes, v = simulate(x, p)
    assert spikes.dtype == dtype and not spikes.any()
    assert torch.equal(v, x.cumsum(1))


def test_if_fires_and_resets():
    x = torch.full((2, 10, 1), 0.25)
    spikes, v = simulate(x, IFParameters(v_threshold=0.5, v_reset=-0.25))
    # starts at v_reset: 0, .25, .5 (not > .5), .75 -> spike, reset -.25, then 0, .25, .5, .75 -> spike
    assert spikes[0, :, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert v[0, :4, 0].tolist() == [0.0, 0.25, 0.5, -0.25]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("current,tau,dt", [(0.3, 20.0, 1.0), (0.11, 10.0, 0.5), (2.0, 5.0, 1.0)])
def test_lif_constant_current_first_spike_analytic(dtype, current, tau, dt):
    p = LIFParameters(tau_mem=tau, dt=dt, v_threshold=1.0)
    beta = math.exp(-dt / tau)
    # v_n = x (1 - beta^n) / (1 - beta); first n with v_n > 1
    n_star = math.ceil(math.log(1 - (1 - beta) / current) / math.log(beta))
    assert abs(current * (1 - beta ** n_star) / (1 - beta) - 1) > 1e-4  # not a boundary case
    spikes, v = lif_run(torch.full((2, 200, 3), current, dtype=dtype), p)
    assert v.dtype == dtype
    first = spikes.argmax(1)
    assert (first == n_star - 1).all()
    n = torch.arange(1, n_star, dtype=dtype)
    assert_close(v[0, :n_star - 1, 0], current * (1 - beta ** n) / (1 - beta))
    # after the reset the same trajectory repeats: regular firing with period n_star
    assert spikes[0, :, 0].nonzero().flatten().tolist()[:3] == [n_star - 1, 2 * n_star - 1, 3 * n_star - 1]


def test_lif_leak_decays_to_rest():
    p = LIFParameters(tau_mem=10.0, v_rest=-65.0, v_reset=-70.0, v_threshold=-50.0)
    s = LIFState(torch.full((1, 1), -60.0, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64))
    for _ in range(10):
        z, s = lif_step(torch.zeros(1, 1, dtype=torch.float64), s, p)
    assert_close(s.v.item(), -65.0 + 5.0 * math.exp(-1.0))


def test_lif_with_infinite_tau_is_if():
    x = torch.rand(2, 30, 5, generator=torch.Generator().manual_seed(1))
    a = simulate(x, LIFParameters(tau_mem=math.inf, v_threshold=2.0))
    b = simulate(x, IFParameters(v_threshold=2.0))
    assert torch.equal(a[0], b[0])
    assert_close(a[1], b[1])


@pytest.mark.parametrize("refractory,dt,expected_gap", [(2.0, 1.0, 2), (1.5, 1.0, 2), (0.3, 0.1, 3), (0.0, 1.0, 0)])
def test_refractory_period_honoured(refractory, dt, expected_gap):
    # a huge input makes the neuron fire at every step it is allowed to
    x = torch.full((1, 20, 1), 10.0)
    for params in (LIFParameters(refractory=refractory, dt=dt), IFParameters(refractory=refractory, dt=dt)):
        spikes, v = simulate(x, params)
        times = spikes[0, :, 0].nonzero().flatten()
        assert times[0] == 0
        assert ((times[1:] - times[:-1]) == expected_gap + 1).all()
        silent = spikes[0, :, 0] == 0
        assert (v[0, silent, 0] == 0).all()  # potential held at v_reset while refractory


def test_step_does_not_mutate_inputs():
    x = torch.full((2, 3), 0.7)
    state = LIFState(torch.full((2, 3), 0.5), torch.zeros(2, 3))
    v0, r0, x0 = state.v.clone(), state.refractory.clone(), x.clone()
    z, new = lif_step(x, state, LIFParameters(refractory=2.0))
    assert torch.equal(state.v, v0) and torch.equal(state.refractory, r0) and torch.equal(x, x0)
    assert z.all() and (new.refractory == 2.0).all() and (new.v == 0).all()
    z2, _ = if_step(x, LIFState(torch.zeros(2, 3), torch.zeros(2, 3)), IFParameters())
    assert not z2.any()


def test_adaptive_threshold_rises_and_decays():
    p = AdaptiveLIFParameters(tau_mem=10.0, theta_plus=0.25, tau_theta=20.0)
    s = init_state(torch.zeros(1, 1), p)
    assert isinstance(s, AdaptiveLIFState) and s.theta.item() == 0
    z, s = adaptive_lif_step(torch.tensor([[1.5]]), s, p)
    assert z.item() == 1 and s.theta.item() == pytest.approx(0.25)
    # the raised threshold (1.25) stops an input that would fire a plain LIF neuron
    z, s2 = adaptive_lif_step(torch.tensor([[1.2]]), s, p)
    assert z.item() == 0
    z_lif, _ = lif_step(torch.tensor([[1.2]]), LIFState(s.v, s.refractory), LIFParameters(tau_mem=10.0))
    assert z_lif.item() == 1
    assert s2.theta.item() == pytest.approx(0.25 * math.exp(-1 / 20))
    # without adaptation theta is frozen
    _, s3 = adaptive_lif_step(torch.tensor([[5.0]]), s, p, adapt=False)
    assert s3.theta.item() == s.theta.item()


def test_adaptive_firing_slows_down():
    p = AdaptiveLIFParameters(tau_mem=20.0, theta_plus=0.2, tau_theta=1e7)
    spikes, v, state = simulate(torch.full((1, 300, 1), 0.3), p, return_state=True)
    times = spikes[0, :, 0].nonzero().flatten()
    gaps = times[1:] - times[:-1]
    assert (gaps[1:] >= gaps[:-1]).all() and gaps[-1] > gaps[0]
    assert state.theta.item() == pytest.approx(0.2 * len(times), rel=1e-4)


def test_adaptive_module_eval_freezes_theta_and_reset_keeps_it():
    m = AdaptiveLIF(AdaptiveLIFParameters(theta_plus=0.1))
    m(torch.full((2, 40, 3), 0.5))
    theta = m.state.theta.clone()
    assert (theta > 0).all()
    m.reset_state()
    assert torch.equal(m.state.theta, theta) and (m.state.v == 0).all()
    m.eval()
    spikes, _ = m(torch.full((2, 40, 3), 0.5))
    assert spikes.any() and torch.equal(m.state.theta, theta)
    m.reset_state(reset_theta=True)
    assert m.state is None


def test_modules_keep_state_between_calls_and_reset():
    x = torch.rand(3, 40, 2, 4, 4, generator=torch.Generator().manual_seed(5)) * 0.3
    for cls, p in ((IF, IFParameters()), (LIF, LIFParameters(refractory=2.0))):
        full_spikes, full_v = simulate(x, p)
        m = cls(p)
        s1, v1 = m(x[:, :25])
        s2, v2 = m(x[:, 25:])
        assert torch.equal(torch.cat([s1, s2], 1), full_spikes)
        assert_close(torch.cat([v1, v2], 1), full_v)
        m.reset_state()
        assert m.state is None
        assert torch.equal(m(x)[0], full_spikes)
        assert "v_threshold=1" in repr(m)


def test_module_float64_and_buffers_move():
    m = LIF(LIFParameters(tau_mem=5.0)).double()
    assert m.tau_mem.dtype == torch.float64
    spikes, v = m(torch.full((1, 10, 2), 0.5, dtype=torch.float64))
    assert v.dtype == torch.float64 and spikes.sum() > 0


@pytest.mark.parametrize("device", CUDA)
def test_neurons_cuda(device):
    x = torch.rand(2, 30, 8, generator=torch.Generator().manual_seed(0))
    ref = simulate(x, LIFParameters(refractory=2.0))
    m = LIF(LIFParameters(refractory=2.0)).to(device)
    out = m(x.to(device))
    assert torch.equal(out[0].cpu(), ref[0])
    assert_close(out[1].cpu(), ref[1])


# --- surrogate gradients ------------------------------------------------------------------------------
def test_fast_sigmoid_backward_matches_formula():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    slope = 7.0
    y = fast_sigmoid(slope)(x)
    assert torch.equal(y, heaviside(x.detach()))
    (g,) = torch.autograd.grad(y.sum(), x)
    assert_close(g, 1 / (slope * x.detach().abs() + 1) ** 2)
    # the formula is the derivative of the smooth x / (1 + slope |x|): gradcheck the pair
    smooth = lambda t: t / (1 + slope * t.abs())  # noqa: E731
    assert torch.autograd.gradcheck(smooth, (x.detach()[x.detach() != 0].clone().requires_grad_(),))
    (gs,) = torch.autograd.grad(smooth(x).sum(), x)
    assert_close(g, gs)


def test_arctan_backward_matches_formula():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    alpha = 3.0
    y = arctan(alpha)(x)
    assert torch.equal(y, (x.detach() > 0).double())
    (g,) = torch.autograd.grad(y.sum(), x)
    assert_close(g, (alpha / 2) / (1 + (math.pi / 2 * alpha * x.detach()) ** 2))
    smooth = lambda t: torch.atan(math.pi / 2 * alpha * t) / math.pi  # noqa: E731
    assert torch.autograd.gradcheck(smooth, (x.detach().clone().requires_grad_(),))
    (gs,) = torch.autograd.grad(smooth(x).sum(), x)
    assert_close(g, gs)


def test_surrogate_trains_through_lif():
    w = torch.tensor([0.2], requires_grad=True)
    x = torch.ones(1, 30, 1)
    spikes, v = lif_run(x * w, LIFParameters(), spike_fn=fast_sigmoid())
    spikes.sum().backward()
    assert w.grad is not None and w.grad.item() > 0  # more weight -> more spikes
    assert repr(fast_sigmoid(3)) == "fast_sigmoid(slope=3.0)"


def test_surrogate_through_module_and_adaptive():
    w = torch.tensor([0.5], requires_grad=True)
    m = AdaptiveLIF(spike_fn=arctan())
    spikes, _ = m(torch.ones(2, 20, 1) * w)
    spikes.sum().backward()
    assert w.grad.item() > 0


# --- bad input ------------------------------------------------------------------------------------
X = torch.zeros(2, 3)
S = LIFState(torch.zeros(2, 3), torch.zeros(2, 3))
BAD = [
    (lambda: lif_step(X, S, LIFParameters(tau_mem=0.0)), ValueError, "tau_mem"),
    (lambda: lif_step(X, S, LIFParameters(dt=-1.0)), ValueError, "dt"),
    (lambda: lif_step(X, S, LIFParameters(refractory=-1.0)), ValueError, "refractory"),
    (lambda: lif_step(X, S, LIFParameters(v_threshold=float("nan"))), ValueError, "v_threshold"),
    (lambda: lif_step(X, S, LIFParameters(v_rest="0")), TypeError, "v_rest"),
    (lambda: lif_step(X, S, IFParameters()), TypeError, "params"),
    (lambda: lif_step(torch.zeros(2, 4), S), ValueError, "input_current"),
    (lambda: lif_step(X.long(), S), TypeError, "input_current"),
    (lambda: lif_step(torch.full((2, 3), float("nan")), S), ValueError, "input_current"),
    (lambda: lif_step(X, (S.v, S.refractory)), TypeError, "state"),
    (lambda: lif_step(X, S, spike_fn=3), TypeError, "spike_fn"),
    (lambda: if_step(X, S, LIFParameters()), TypeError, "params"),
    (lambda: adaptive_lif_step(X, S, AdaptiveLIFParameters()), TypeError, "state"),
    (lambda: adaptive_lif_step(X, init_state(X, AdaptiveLIFParameters()), AdaptiveLIFParameters(tau_theta=-1.0)),
     ValueError, "tau_theta"),
    (lambda: simulate(torch.zeros(3)), ValueError, "currents"),
    (lambda: simulate(torch.zeros(0, 5, 2)), ValueError, "currents"),
    (lambda: lif_run(torch.zeros(2, 5), IFParameters()), TypeError, "params"),
    (lambda: init_state([0.0], LIFParameters()), TypeError, "x"),
    (lambda: fast_sigmoid(0.0), ValueError, "slope"),
    (lambda: arctan(-1.0), ValueError, "alpha"),
    (lambda: LIF(LIFParameters(tau_mem=-5.0)), ValueError, "tau_mem"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}-{m}" for i, (_, _, m) in enumerate(BAD)])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_adaptive_theta_can_be_shared_across_the_batch():
    # the AdaptiveLIFState recipe: carry the batch mean of theta, expanded, into the next call
    p = neurons.AdaptiveLIFParameters(theta_plus=0.5, tau_theta=50.0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 60, 3, generator=g, dtype=torch.float64) * 3
    _, _, state = neurons.simulate(x, p, return_state=True)
    assert not torch.equal(state.theta[0], state.theta[1])  # each sample adapts its own
    shared = state._replace(theta=state.theta.mean(0, keepdim=True).expand_as(state.theta))
    z, v, after = neurons.simulate(x, p, state=shared, return_state=True)
    for i in range(x.shape[0]):  # the batch run equals one run per sample from the shared theta
        alone = neurons.AdaptiveLIFState(*(t[i:i + 1] for t in shared))
        z_i, v_i, after_i = neurons.simulate(x[i:i + 1], p, state=alone, return_state=True)
        assert torch.equal(z[i], z_i[0])
        assert_close(after.theta[i], after_i.theta[0])


# --------------------------------------------------------------------------- conductance synapses
def test_conductance_step_without_conductance_is_the_lif_leak():
    v = torch.tensor([[-40.0, -65.0, -80.0]], dtype=torch.float64)
    zero = torch.zeros_like(v)
    out = neurons.conductance_step(v, zero, zero, tau_mem=20.0, v_rest=-65.0, dt=1.0)
    assert_close(out, -65.0 + (v + 65.0) * math.exp(-1.0 / 20.0))
    assert out.shape == v.shape and out.dtype == v.dtype


def test_conductance_step_exact_solution_and_saturation():
    v = torch.full((2, 4), -65.0, dtype=torch.float64)
    g_e = torch.tensor([[0.0, 0.5, 5.0, 500.0]] * 2, dtype=torch.float64)
    g_i = torch.zeros_like(v)
    # constant conductance: after many steps v reaches the weighted mean of the potentials
    for _ in range(2000):
        v = neurons.conductance_step(v, g_e, g_i)
    assert_close(v, -65.0 / (1 + g_e))
    assert bool((v <= neurons.CONDUCTANCE_E_EXC).all())
    # one step from rest, by the formula
    one = neurons.conductance_step(torch.full((1, 1), -65.0), torch.full((1, 1), 0.5),
                                   torch.full((1, 1), 0.2), tau_mem=10.0, dt=1.0)
    v_inf = (-65.0 + 0.5 * 0.0 + 0.2 * -100.0) / 1.7
    assert_close(one, torch.full((1, 1), v_inf + (-65.0 - v_inf) * math.exp(-1.7 / 10.0)))


def test_conductance_inhibition_is_shunting():
    # inhibition whose reversal potential equals v: no change of v, but a smaller excitatory effect
    v = torch.full((1, 2), -70.0)
    g_e = torch.full((1, 2), 0.3)
    g_i = torch.tensor([[0.0, 2.0]])
    out = neurons.conductance_step(v, g_e, g_i, v_rest=-70.0, e_inh=-70.0)
    rise = out - v
    assert 0 < rise[0, 1] < rise[0, 0]
    none = neurons.conductance_step(v, torch.zeros(1, 2), g_i, v_rest=-70.0, e_inh=-70.0)
    assert_close(none, v)


def test_conductance_step_does_not_mutate_and_bad_input():
    v, g = torch.full((1, 3), -65.0), torch.full((1, 3), 0.1)
    v0, g0 = v.clone(), g.clone()
    neurons.conductance_step(v, g, g)
    assert torch.equal(v, v0) and torch.equal(g, g0)
    with pytest.raises(ValueError, match="conductance_step: g_inh must be >= 0"):
        neurons.conductance_step(v, g, -g)
    with pytest.raises(ValueError, match="conductance_step: g_exc has shape"):
        neurons.conductance_step(v, torch.zeros(1, 2), g)
    with pytest.raises(TypeError, match="conductance_step: g_exc has dtype"):
        neurons.conductance_step(v, g.double(), g)
    with pytest.raises(TypeError, match="conductance_step: v must be a floating-point"):
        neurons.conductance_step(torch.zeros(1, 3, dtype=torch.long), g, g)
    with pytest.raises(TypeError, match="conductance_step: v must be a torch.Tensor"):
        neurons.conductance_step([[-65.0]], g, g)
    with pytest.raises(ValueError, match="conductance_step: tau_mem"):
        neurons.conductance_step(v, g, g, tau_mem=0.0)
    with pytest.raises(ValueError, match="conductance_step: dt"):
        neurons.conductance_step(v, g, g, dt=-1.0)
    with pytest.raises((TypeError, ValueError), match="conductance_step: e_exc"):
        neurons.conductance_step(v, g, g, e_exc=float("nan"))
