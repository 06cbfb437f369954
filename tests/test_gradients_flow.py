"""Gradients flow through every function of the core modules that is differentiable on paper.

``torch.autograd.gradcheck`` (finite differences against the analytic gradient, float64, small
shapes) where the function is smooth almost everywhere: the retina's filters, local normalisation
and lateral inhibition, the latency code that carries values and the layout functions of
``coding``, the membrane potential of the neuron steps and of ``simulate``, and the layers' conv,
pool and pad. The surrogate spike functions are not the derivative of their forward (a step) by
design, so their backward is compared with the formula they document, and the spikes of a neuron
run with a surrogate must pass a finite, non-zero gradient back to its input (what training needs).

Not here, because nothing is differentiable: the kernels (Python numbers in, ``dog_kernel`` /
``gabor_kernel``), spike codes and times (``poisson_spikes``, ``dvs_events``, ``latency_times``,
``wave_to_times``), k-WTA winners and the event-driven ``*_times`` functions (integer times).
"""
from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from snnbook import coding, layers, neurons, retina

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().clone().requires_grad_(True)


def images(b=2, c=1, h=6, w=6) -> torch.Tensor:
    """Positive float64 images (no ties: the comparisons of the inhibition are stable)."""
    return leaf(torch.rand(b, c, h, w, generator=gen(), dtype=F64) + 0.5)


def assert_flows(x: torch.Tensor) -> None:
    assert x.grad is not None, "no gradient reached the input"
    assert bool(torch.isfinite(x.grad).all()), "the gradient is not finite"
    assert bool((x.grad != 0).any()), "the gradient is zero everywhere"


# ---------------------------------------------------------------------------------------------
# retina
# ---------------------------------------------------------------------------------------------
def test_filter_bank_gradcheck():
    k = leaf(retina.dog_bank([(3, 1.0, 2.0), (3, 2.0, 1.0)], dtype=F64))
    assert gradcheck(lambda x, w: retina.filter_bank(x, w, 1), (images(), k))
    # thresholding and abs are piecewise linear: smooth away from the threshold and from 0
    assert gradcheck(lambda x, w: retina.filter_bank(x, w, 1, threshold=0.05, use_abs=True), (images(), k))


def test_filter_module_passes_gradients_to_images():
    x = leaf(torch.rand(2, 1, 8, 8, generator=gen()) * 255)
    retina.Filter(retina.mozafari2019_dog_kernels()[:2], padding=6, threshold=5.0)(x).sum().backward()
    assert_flows(x)


def test_local_normalization_gradcheck():
    assert gradcheck(lambda x: retina.local_normalization(x, 1), (images(c=2),))
    assert gradcheck(lambda x: retina.LocalNormalization(2)(x), (images(h=5, w=7),))


def test_local_normalization_grad_path_is_bit_identical_to_the_in_place_path():
    """The autograd path computes the same operations out of place: the very same numbers."""
    for dtype in (torch.float32, torch.float64, torch.float16):
        x = (torch.rand(2, 3, 9, 9, generator=gen()) * 10).to(dtype)
        plain = retina.local_normalization(x, 2)
        x_grad = leaf(x)
        with_grad = retina.local_normalization(x_grad, 2)
        assert with_grad.requires_grad and torch.equal(with_grad.detach(), plain), dtype
        with_grad.sum().backward()
        assert_flows(x_grad)
    # no gradient asked for (no_grad, or an input without requires_grad): the in-place path
    x = leaf(torch.rand(1, 1, 5, 5, generator=gen()))
    with torch.no_grad():
        assert not retina.local_normalization(x, 1).requires_grad


def test_local_normalization_gradient_of_huge_values_is_finite():
    """Values whose box sums would overflow are scaled by a power of two first; the gradient
    survives that too."""
    x = leaf(torch.rand(1, 1, 6, 6, generator=gen()) * 2.0 ** 126 + 2.0 ** 120)
    retina.local_normalization(x, 2).sum().backward()
    assert bool(torch.isfinite(x.grad).all())


def test_lateral_inhibition_gradcheck():
    kernel = leaf(retina.inhibition_kernel([0.5, 0.2], dtype=F64))
    assert gradcheck(retina.intensity_lateral_inhibition, (images(c=2), kernel))
    x = leaf(torch.rand(1, 2, 6, 6, generator=gen()))
    retina.LateralIntensityInhibition([0.15, 0.1])(x).sum().backward()
    assert_flows(x)


# ---------------------------------------------------------------------------------------------
# coding
# ---------------------------------------------------------------------------------------------
def test_layout_functions_gradcheck():
    x = leaf(torch.rand(2, 3, 2, 3, 3, generator=gen(), dtype=F64))
    assert gradcheck(coding.to_time_first, (x,))
    assert gradcheck(coding.to_batch_first, (x,))


def test_latency_code_that_carries_values_gradcheck():
    """With ``to_spike=False`` the wave holds the intensities: d wave / d x is the wave's mask
    (the ranks are constant away from ties)."""
    x = images(c=2, h=3, w=3)
    for cumulative in (True, False):
        assert gradcheck(lambda a: coding.intensity_to_latency(a, 3, to_spike=False, cumulative=cumulative), (x,))
    y = leaf(torch.rand(2, 1, 4, 4, generator=gen()))
    coding.IntensityToLatency(4, to_spike=False)(y).sum().backward()
    assert_flows(y)


# ---------------------------------------------------------------------------------------------
# neurons
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,formula", [
    (lambda: neurons.fast_sigmoid(10.0), lambda x: 1.0 / (10.0 * x.abs() + 1.0) ** 2),
    (lambda: neurons.arctan(2.0), lambda x: 1.0 / (1 + (math.pi * x) ** 2)),
    (lambda: (lambda x: neurons.SigmoidSpike.apply(x, 5.0)),
     lambda x: 5.0 * torch.sigmoid(5.0 * x) * (1 - torch.sigmoid(5.0 * x))),
], ids=["fast_sigmoid", "arctan", "sigmoid"])
def test_surrogate_backward_is_the_documented_derivative(make, formula):
    x = leaf(torch.linspace(-2.0, 2.0, 41, dtype=F64))
    spikes = make()(x)
    assert torch.equal(spikes.detach(), (x.detach() > 0).to(F64))  # forward: the step
    upstream = torch.rand(41, generator=gen(), dtype=F64)
    spikes.backward(upstream)
    torch.testing.assert_close(x.grad, upstream * formula(x.detach()), rtol=1e-12, atol=0)
    assert bool((x.grad > 0).all())


@pytest.mark.parametrize("params,step", [
    (neurons.IFParameters(), neurons.if_step),
    (neurons.LIFParameters(tau_mem=5.0), neurons.lif_step),
    (neurons.AdaptiveLIFParameters(theta_plus=0.1), neurons.adaptive_lif_step),
], ids=["if", "lif", "adaptive"])
def test_neuron_step_potential_gradcheck(params, step):
    """Away from the threshold (no spike), the new potential is smooth in the input and the
    potential: ``v + x`` (IF) or ``v_rest + (v - v_rest) exp(-dt / tau) + x`` (LIF)."""
    x = leaf(torch.rand(3, 4, generator=gen(), dtype=F64) * 0.4)
    v0 = leaf(torch.rand(3, 4, generator=gen(1), dtype=F64) * 0.4)

    def new_v(inp, v):
        state = neurons.init_state(inp.detach(), params)._replace(v=v)
        return step(inp, state, params)[1].v
    assert gradcheck(new_v, (x, v0))


@pytest.mark.parametrize("spike_fn", [neurons.fast_sigmoid(), neurons.arctan()], ids=["fast_sigmoid", "arctan"])
@pytest.mark.parametrize("step,params", [
    (neurons.if_step, neurons.IFParameters()),
    (neurons.lif_step, neurons.LIFParameters()),
    (neurons.adaptive_lif_step, neurons.AdaptiveLIFParameters()),
], ids=["if", "lif", "adaptive"])
def test_spikes_of_a_surrogate_step_pass_gradients(spike_fn, step, params):
    x = leaf(torch.rand(4, 5, generator=gen()) * 2.0)
    state = neurons.init_state(x.detach(), params)
    spikes, _ = step(x, state, params, spike_fn)
    spikes.sum().backward()
    assert_flows(x)


def test_simulate_gradcheck_and_surrogate_training_signal():
    currents = leaf(torch.rand(2, 5, 3, generator=gen(), dtype=F64) * 0.4)
    assert gradcheck(lambda c: neurons.simulate(c, neurons.LIFParameters(tau_mem=5.0))[1], (currents,))
    # spikes through time, with a surrogate: every step's input gets a gradient
    x = leaf(torch.rand(2, 20, 4, generator=gen()) * 0.5)
    spikes, _ = neurons.simulate(x, neurons.AdaptiveLIFParameters(), spike_fn=neurons.fast_sigmoid())
    spikes.sum().backward()
    assert_flows(x)
    y = leaf(torch.rand(2, 20, 4, generator=gen()) * 0.5)
    out, _ = neurons.LIF(neurons.LIFParameters(tau_mem=10.0), spike_fn=neurons.arctan())(y)
    out.sum().backward()
    assert_flows(y)


# ---------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------
def test_conv_gradcheck():
    times = torch.randint(0, 4, (2, 1, 5, 5), generator=gen(), dtype=torch.uint8)
    wave = leaf(coding.times_to_wave(times, 3, F64))
    weight = leaf(torch.rand(2, 1, 2, 2, generator=gen(), dtype=F64))
    assert gradcheck(layers.conv, (wave, weight))
    # the module's weight learns by STDP (no grad), but the input still gets its gradient
    x = leaf(torch.rand(1, 3, 2, 6, 6, generator=gen()))
    layers.Convolution(2, 3, 3, generator=gen())(x).sum().backward()
    assert_flows(x)


def test_pool_and_pad_gradcheck():
    pot = leaf(torch.rand(2, 3, 2, 4, 4, generator=gen(), dtype=F64))
    assert gradcheck(lambda a: layers.pool(a, 2), (pot,))
    assert gradcheck(lambda a: layers.pool(a, 3, 1, 1), (pot,))
    assert gradcheck(lambda a: layers.Pooling((2, 3), 1)(a), (pot,))
    assert gradcheck(lambda a: layers.pad(a, (1, 0, 2, 1), 0.5), (pot,))
