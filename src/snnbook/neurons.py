"""Neurons: integrate-and-fire (IF), leaky integrate-and-fire (LIF) and adaptive-threshold LIF
(Diehl & Cook 2015) neurons, in discrete time, plus surrogate-gradient spike functions for training.

Chapter: Spiking neurons (book/neurons.md)

Norse-style functional core: parameters and states are NamedTuples, a step function maps
``(input, state, params) -> (spikes, new_state)`` and never mutates its arguments, and
:func:`simulate` loops over time only. Modules :class:`IF`, :class:`LIF` and :class:`AdaptiveLIF` keep
the state between calls until ``reset_state()``.

Discrete-time model (one step of ``dt`` ms; ``x`` is the input delivered during the step, as a voltage
increment in mV, e.g. a weighted sum of input spikes as in SpykeTorch):

- IF: ``v <- v + x`` (no leak: integrates exactly).
- LIF: ``v <- v_rest + (v - v_rest) * exp(-dt / tau_mem) + x`` (exact exponential decay between inputs).
- spike when ``v > threshold`` (strictly, as SpykeTorch's ``fire``); then ``v <- v_reset`` and the neuron
  ignores its input for ``ceil(refractory / dt)`` steps (its potential stays at ``v_reset``).
- adaptive LIF: the threshold is ``v_threshold + theta``; ``theta <- theta * exp(-dt / tau_theta)
  + theta_plus * spike`` (only while adapting, i.e. in training mode for the module).

Waves are ``[batch, time, *]``; the spike output is NOT cumulative (a 1 at each spike).

Conductance-based synapses (Diehl & Cook 2015): :func:`conductance_step` moves the membrane under
excitatory and inhibitory conductances, which drive it towards their reversal potentials.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Union

import torch
from torch import nn

from ._checks import (check_bool, check_finite_result, check_float, check_real, check_representable,
                      check_same_device, check_tensor)

__all__ = [
    "DT", "IF_V_RESET", "IF_V_THRESHOLD", "LIF_TAU_MEM", "LIF_V_REST", "LIF_V_RESET", "LIF_V_THRESHOLD",
    "LIF_REFRACTORY", "ADAPTIVE_THETA_PLUS", "ADAPTIVE_TAU_THETA", "FAST_SIGMOID_SLOPE", "ARCTAN_ALPHA",
    "IFParameters", "LIFParameters", "AdaptiveLIFParameters", "LIFState", "IFState", "AdaptiveLIFState",
    "init_state", "if_step", "lif_step", "adaptive_lif_step", "simulate", "lif_run",
    "heaviside", "FastSigmoidSpike", "ArctanSpike", "SigmoidSpike", "SurrogateSpike", "fast_sigmoid", "arctan",
    "IF", "LIF", "AdaptiveLIF",
    "CONDUCTANCE_TAU_MEM", "CONDUCTANCE_V_REST", "CONDUCTANCE_E_EXC", "CONDUCTANCE_E_INH",
    "CONDUCTANCE_TAU_EXC", "CONDUCTANCE_TAU_INH", "conductance_step",
]

#: Default time step, in ms.
DT = 1.0
#: Default reset (and initial) potential of the IF neuron, in mV.
IF_V_RESET = 0.0
#: Default firing threshold of the IF neuron, in mV.
IF_V_THRESHOLD = 1.0
#: Default membrane time constant of the LIF neuron, in ms.
LIF_TAU_MEM = 20.0
#: Default resting potential of the LIF neuron, in mV.
LIF_V_REST = 0.0
#: Default reset potential of the LIF neuron, in mV.
LIF_V_RESET = 0.0
#: Default firing threshold of the LIF neuron, in mV.
LIF_V_THRESHOLD = 1.0
#: Default absolute refractory period, in ms.
LIF_REFRACTORY = 0.0
#: Default threshold increment per spike of the adaptive LIF neuron, in mV (Diehl & Cook 2015: 0.05 mV).
ADAPTIVE_THETA_PLUS = 0.05
#: Default time constant of the adaptive threshold, in ms (Diehl & Cook 2015: 1e7 ms).
ADAPTIVE_TAU_THETA = 1e7
#: Membrane time constant of Diehl & Cook's (2015) excitatory neurons, in ms.
CONDUCTANCE_TAU_MEM = 100.0
#: Resting potential of Diehl & Cook's (2015) excitatory neurons, in mV.
CONDUCTANCE_V_REST = -65.0
#: Reversal potential of excitatory synapses, in mV (Diehl & Cook 2015).
CONDUCTANCE_E_EXC = 0.0
#: Reversal potential of inhibitory synapses onto excitatory neurons, in mV (Diehl & Cook 2015).
CONDUCTANCE_E_INH = -100.0
#: Decay time constant of the excitatory conductance, in ms (Diehl & Cook 2015).
CONDUCTANCE_TAU_EXC = 1.0
#: Decay time constant of the inhibitory conductance, in ms (Diehl & Cook 2015).
CONDUCTANCE_TAU_INH = 2.0
#: Default slope of the fast-sigmoid surrogate (snnTorch's default).
FAST_SIGMOID_SLOPE = 25.0
#: Default ``alpha`` of the arctan surrogate (snnTorch's default).
ARCTAN_ALPHA = 2.0

Number = Union[float, torch.Tensor]


class IFParameters(NamedTuple):
    """Parameters of the integrate-and-fire neuron.

    Args:
        v_reset (float): reset and initial potential, in mV. Default: 0.
        v_threshold (float): firing threshold, in mV. Default: 1.
        refractory (float): absolute refractory period, in ms. Default: 0.
        dt (float): time step, in ms. Default: 1.
    """
    v_reset: Number = IF_V_RESET
    v_threshold: Number = IF_V_THRESHOLD
    refractory: Number = LIF_REFRACTORY
    dt: Number = DT


class LIFParameters(NamedTuple):
    """Parameters of the leaky integrate-and-fire neuron.

    Args:
        tau_mem (float): membrane time constant, in ms (> 0; ``inf`` gives an IF neuron). Default: 20.
        v_rest (float): resting (and initial) potential, in mV. Default: 0.
        v_reset (float): potential after a spike, in mV. Default: 0.
        v_threshold (float): firing threshold, in mV. Default: 1.
        refractory (float): absolute refractory period, in ms. Default: 0.
        dt (float): time step, in ms. Default: 1.
    """
    tau_mem: Number = LIF_TAU_MEM
    v_rest: Number = LIF_V_REST
    v_reset: Number = LIF_V_RESET
    v_threshold: Number = LIF_V_THRESHOLD
    refractory: Number = LIF_REFRACTORY
    dt: Number = DT


class AdaptiveLIFParameters(NamedTuple):
    """Parameters of the adaptive-threshold LIF neuron (Diehl & Cook 2015).

    Args:
        tau_mem (float): membrane time constant, in ms. Default: 20.
        v_rest (float): resting potential, in mV. Default: 0.
        v_reset (float): potential after a spike, in mV. Default: 0.
        v_threshold (float): base firing threshold, in mV. Default: 1.
        refractory (float): absolute refractory period, in ms. Default: 0.
        dt (float): time step, in ms. Default: 1.
        theta_plus (float): threshold increment per spike, in mV (>= 0). Default: 0.05.
        tau_theta (float): decay time constant of the increment, in ms (> 0). Default: 1e7.
    """
    tau_mem: Number = LIF_TAU_MEM
    v_rest: Number = LIF_V_REST
    v_reset: Number = LIF_V_RESET
    v_threshold: Number = LIF_V_THRESHOLD
    refractory: Number = LIF_REFRACTORY
    dt: Number = DT
    theta_plus: Number = ADAPTIVE_THETA_PLUS
    tau_theta: Number = ADAPTIVE_TAU_THETA


class LIFState(NamedTuple):
    """State of an IF or LIF population.

    Args:
        v (Tensor): membrane potentials, in mV.
        refractory (Tensor): remaining refractory time, in ms (0 = not refractory).
    """
    v: torch.Tensor
    refractory: torch.Tensor


#: The IF neuron has the same state as the LIF neuron.
IFState = LIFState


class AdaptiveLIFState(NamedTuple):
    """State of an adaptive LIF population.

    Args:
        v (Tensor): membrane potentials, in mV.
        refractory (Tensor): remaining refractory time, in ms.
        theta (Tensor): threshold increments, in mV (the threshold is ``v_threshold + theta``).
            It has the shape of ``v``, so every sample of a batch adapts its own thresholds; Diehl
            & Cook (2015) present one digit at a time, i.e. batch 1, where ``theta`` is one value
            per neuron. To share it across a batch, carry
            ``theta.mean(0, keepdim=True).expand_as(theta)`` into the next call.
    """
    v: torch.Tensor
    refractory: torch.Tensor
    theta: torch.Tensor


Params = Union[IFParameters, LIFParameters, AdaptiveLIFParameters]
State = Union[LIFState, AdaptiveLIFState]

_POSITIVE = {"tau_mem", "dt", "tau_theta"}
_NON_NEGATIVE = {"refractory", "theta_plus"}


def _check_params(fn: str, params, expected: tuple, like: torch.Tensor | None = None) -> None:
    """Check every field of ``params``: a real number, numpy scalar or 0-dim real tensor (module
    buffers), finite (``tau_mem`` and ``tau_theta`` may be ``inf``), ``> 0`` for time constants and
    ``dt``, ``>= 0`` for ``refractory`` and ``theta_plus``; tensors on ``like``'s device."""
    if not isinstance(params, expected):
        names = " or ".join(t.__name__ for t in expected)
        raise TypeError(f"{fn}: params must be {names}, got {type(params).__name__}")
    for name, value in params._asdict().items():
        if isinstance(value, torch.Tensor) and like is not None and value.device != like.device:
            raise ValueError(f"{fn}: params.{name} is on {value.device}, expected the input's device {like.device}")
        v = check_real(fn, f"params.{name}", value, allow_inf=name in ("tau_mem", "tau_theta"),
                       minimum=0.0 if name in _POSITIVE or name in _NON_NEGATIVE else None,
                       strict_min=name in _POSITIVE)
        if like is not None and math.isfinite(v):
            check_representable(fn, f"params.{name}", v, like.dtype)


def _decay(dt: Number, tau: Number) -> Number:
    """``exp(-dt / tau)`` as a Python float or a 0-dim tensor."""
    if isinstance(dt, torch.Tensor) or isinstance(tau, torch.Tensor):
        return torch.exp(-torch.as_tensor(dt) / tau)
    return math.exp(-float(dt) / float(tau))


def _check_input(fn: str, x) -> None:
    check_tensor(fn, "input_current", x, axes="[batch, *]")
    check_float(fn, "input_current", x)


def _check_state(fn: str, x: torch.Tensor, state, expected) -> None:
    """A passed-in state: the right NamedTuple of finite tensors with ``x``'s shape, dtype and device."""
    if not isinstance(state, expected):
        raise TypeError(f"{fn}: state must be {expected.__name__}, got {type(state).__name__}")
    for name, t in state._asdict().items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{fn}: state.{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.device != x.device:
            raise ValueError(f"{fn}: state.{name} is on {t.device}, expected input_current's device {x.device}")
        check_tensor(fn, f"state.{name}", t, axes="[batch, *]", nonempty=False)
        if t.shape != x.shape:
            raise ValueError(f"{fn}: input_current has shape {tuple(x.shape)}, expected {tuple(t.shape)} "
                             f"(the shape of state.{name})")
        if t.dtype != x.dtype:
            raise TypeError(f"{fn}: state.{name} has dtype {t.dtype}, expected input_current's dtype {x.dtype}")


def init_state(x: torch.Tensor, params: Params = LIFParameters()) -> State:
    """Initial state for a population shaped like ``x``, on ``x``'s device and dtype.

    The potential starts at rest (``v_rest``; ``v_reset`` for IF), nothing is refractory and
    ``theta`` (adaptive LIF) is 0.

    Args:
        x (Tensor): a tensor with the population's shape, e.g. one time step of input.
        params (IFParameters, LIFParameters or AdaptiveLIFParameters): neuron parameters.

    Shape:
        - Input: ``[batch, *]``.
        - Output: every state tensor is ``[batch, *]``.

    Returns:
        LIFState or AdaptiveLIFState: the state (``AdaptiveLIFState`` for adaptive parameters).

    Example:
        >>> s = init_state(torch.zeros(2, 3), LIFParameters(v_rest=-65.0))
        >>> s.v.tolist(), s.refractory.tolist()
        ([[-65.0, -65.0, -65.0], [-65.0, -65.0, -65.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    """
    fn = "init_state"
    check_tensor(fn, "x", x, axes="[batch, *]", finite=False)
    if x.dim() == 0:
        raise ValueError(f"{fn}: x must have a batch axis [batch, *], got a 0-dim tensor")
    check_float(fn, "x", x)
    _check_params(fn, params, (IFParameters, LIFParameters, AdaptiveLIFParameters), x)
    v0 = params.v_reset if isinstance(params, IFParameters) else params.v_rest
    v = torch.zeros_like(x) + v0
    refractory = torch.zeros_like(x)
    if isinstance(params, AdaptiveLIFParameters):
        return AdaptiveLIFState(v, refractory, torch.zeros_like(x))
    return LIFState(v, refractory)


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Heaviside step ``1 if x > 0 else 0`` in ``x``'s dtype (no gradient): the default spike function.

    Args:
        x (Tensor): ``v - threshold``.

    Shape:
        - Input: any. Output: same.

    Returns:
        Tensor: 0/1 spikes.

    Example:
        >>> heaviside(torch.tensor([-1.0, 0.0, 0.5])).tolist()
        [0.0, 0.0, 1.0]
    """
    check_tensor("heaviside", "x", x, nonempty=False)
    return _heaviside(x)


def _heaviside(x: torch.Tensor) -> torch.Tensor:
    """:func:`heaviside` without the check: the spike function of the time loops."""
    return (x > 0).to(x.dtype)


def _generic_step(x, v, refractory, params, threshold, leak_decay, v_rest, spike_fn):
    """One step without checks: returns ``(spikes, v_new, refractory_new)``."""
    active = refractory <= params.dt * 1e-6  # tolerance: 0.3 - 3 * 0.1 is not exactly 0 in floating point
    if leak_decay is None:
        integrated = v + x
    else:
        integrated = v_rest + (v - v_rest) * leak_decay + x
    v_pre = torch.where(active, integrated, v)
    z = spike_fn(v_pre - threshold) * active.to(v_pre.dtype)
    v_new = v_pre - z * (v_pre - params.v_reset)
    period = params.refractory
    if isinstance(period, torch.Tensor):
        period = period.to(device=refractory.device, dtype=refractory.dtype)
    refr = torch.where(z > 0, period, torch.clamp(refractory - params.dt, min=0.0))
    return z, v_new, refr


def _check_spike_fn(fn: str, spike_fn):
    if spike_fn is None or spike_fn is heaviside:
        return _heaviside
    if not callable(spike_fn):
        raise TypeError(f"{fn}: spike_fn must be callable (e.g. fast_sigmoid()), got {type(spike_fn).__name__}")
    return spike_fn


def if_step(input_current: torch.Tensor, state: LIFState, params: IFParameters = IFParameters(),
            spike_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, LIFState]:
    """One time step of integrate-and-fire neurons: ``v <- v + x``, spike if ``v > v_threshold``.

    Args:
        input_current (Tensor): input during this step, as a voltage increment in mV.
        state (LIFState): current state (not modified).
        params (IFParameters): parameters.
        spike_fn (callable, optional): maps ``v - threshold`` to spikes; ``None`` is :func:`heaviside`,
            use :func:`fast_sigmoid` or :func:`arctan` for surrogate-gradient training.

    Shape:
        - Input: ``[batch, *]``; every state tensor has the same shape.
        - Output: spikes ``[batch, *]``.

    Returns:
        tuple: ``(spikes, new_state)``.

    Example:
        >>> p = IFParameters(v_threshold=1.0)
        >>> x = torch.tensor([[0.6]])
        >>> s = init_state(x, p)
        >>> z1, s = if_step(x, s, p); z2, s = if_step(x, s, p)
        >>> z1.item(), z2.item(), s.v.item()
        (0.0, 1.0, 0.0)
    """
    fn = "if_step"
    _check_input(fn, input_current)
    _check_params(fn, params, (IFParameters,), input_current)
    _check_state(fn, input_current, state, LIFState)
    spike_fn = _check_spike_fn(fn, spike_fn)
    z, v, r = _generic_step(input_current, state.v, state.refractory, params, params.v_threshold, None, None, spike_fn)
    _check_potential(fn, v)
    return z, LIFState(v, r)


def _check_potential(fn: str, v: torch.Tensor) -> None:
    check_finite_result(fn, v, "the membrane potential", "input_current (or the state, params) too large")


def lif_step(input_current: torch.Tensor, state: LIFState, params: LIFParameters = LIFParameters(),
             spike_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, LIFState]:
    """One time step of leaky integrate-and-fire neurons.

    ``v <- v_rest + (v - v_rest) exp(-dt / tau_mem) + x``; spike where ``v > v_threshold``, then
    ``v <- v_reset`` and the neuron is refractory for ``params.refractory`` ms.

    Args:
        input_current (Tensor): input during this step, as a voltage increment in mV.
        state (LIFState): current state (not modified).
        params (LIFParameters): parameters.
        spike_fn (callable, optional): maps ``v - threshold`` to spikes; ``None`` is :func:`heaviside`.

    Shape:
        - Input: ``[batch, *]``; every state tensor has the same shape.
        - Output: spikes ``[batch, *]``.

    Returns:
        tuple: ``(spikes, new_state)``.

    Example:
        >>> p = LIFParameters(tau_mem=10.0, v_threshold=1.0)
        >>> s = init_state(torch.zeros(1, 1), p)
        >>> z, s = lif_step(torch.tensor([[0.5]]), s, p)
        >>> z, s = lif_step(torch.zeros(1, 1), s, p)
        >>> round(s.v.item(), 4)  # 0.5 * exp(-1 / 10)
        0.4524
    """
    fn = "lif_step"
    _check_input(fn, input_current)
    _check_params(fn, params, (LIFParameters,), input_current)
    _check_state(fn, input_current, state, LIFState)
    spike_fn = _check_spike_fn(fn, spike_fn)
    beta = _decay(params.dt, params.tau_mem)
    z, v, r = _generic_step(input_current, state.v, state.refractory, params, params.v_threshold, beta,
                            params.v_rest, spike_fn)
    _check_potential(fn, v)
    return z, LIFState(v, r)


def _adaptive_core(x, state, params, spike_fn, adapt, beta, beta_theta):
    threshold = params.v_threshold + state.theta
    z, v, r = _generic_step(x, state.v, state.refractory, params, threshold, beta, params.v_rest, spike_fn)
    theta = state.theta * beta_theta + params.theta_plus * z if adapt else state.theta
    return z, AdaptiveLIFState(v, r, theta)


def adaptive_lif_step(input_current: torch.Tensor, state: AdaptiveLIFState,
                      params: AdaptiveLIFParameters = AdaptiveLIFParameters(),
                      spike_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      adapt: bool = True) -> tuple[torch.Tensor, AdaptiveLIFState]:
    """One time step of adaptive-threshold LIF neurons (Diehl & Cook 2015).

    As :func:`lif_step` with threshold ``v_threshold + theta``; then, if ``adapt``,
    ``theta <- theta * exp(-dt / tau_theta) + theta_plus * spikes``. With ``adapt=False`` (evaluation)
    ``theta`` is left unchanged.

    Args:
        input_current (Tensor): input during this step, in mV.
        state (AdaptiveLIFState): current state (not modified).
        params (AdaptiveLIFParameters): parameters.
        spike_fn (callable, optional): spike function; ``None`` is :func:`heaviside`.
        adapt (bool): update ``theta``. Default: ``True``.

    Shape:
        - Input: ``[batch, *]``; every state tensor has the same shape.
        - Output: spikes ``[batch, *]``.

    Returns:
        tuple: ``(spikes, new_state)``.

    Example:
        >>> p = AdaptiveLIFParameters(theta_plus=0.5)
        >>> s = init_state(torch.zeros(1, 1), p)
        >>> z, s = adaptive_lif_step(torch.tensor([[2.0]]), s, p)
        >>> z.item(), s.theta.item()
        (1.0, 0.5)
    """
    fn = "adaptive_lif_step"
    _check_input(fn, input_current)
    _check_params(fn, params, (AdaptiveLIFParameters,), input_current)
    _check_state(fn, input_current, state, AdaptiveLIFState)
    spike_fn = _check_spike_fn(fn, spike_fn)
    check_bool(fn, "adapt", adapt)
    z, new = _adaptive_core(input_current, state, params, spike_fn, adapt, _decay(params.dt, params.tau_mem),
                            _decay(params.dt, params.tau_theta))
    _check_potential(fn, new.v)
    check_finite_result(fn, new.theta, "the threshold increment theta", "theta_plus is too large")
    return z, new


def simulate(currents: torch.Tensor, params: Params = LIFParameters(), state: State | None = None,
             spike_fn: Callable[[torch.Tensor], torch.Tensor] | None = None, adapt: bool = True,
             return_state: bool = False):
    """Run IF, LIF or adaptive LIF neurons over a whole input wave (a Python loop over time only).

    The neuron type follows ``params``: :class:`IFParameters`, :class:`LIFParameters` or
    :class:`AdaptiveLIFParameters`.

    Args:
        currents (Tensor): input per time step, as voltage increments in mV.
        params: neuron parameters. Default: ``LIFParameters()``.
        state (optional): initial state; ``None`` starts from :func:`init_state`.
        spike_fn (callable, optional): spike function; ``None`` is :func:`heaviside`.
        adapt (bool): update the adaptive threshold (adaptive LIF only). Default: ``True``.
        return_state (bool): also return the final state. Default: ``False``.

    Shape:
        - Input: ``[batch, time, *]``.
        - Output: spikes and voltages ``[batch, time, *]``.

    Returns:
        tuple: ``(spikes, voltages)`` (or ``(spikes, voltages, final_state)``); spikes are a
        non-cumulative wave, voltages the potential at the end of each step (after reset).

    Example:
        >>> spikes, v = simulate(torch.full((1, 6, 1), 0.4), IFParameters(v_threshold=1.0))
        >>> spikes[0, :, 0].tolist()
        [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
        >>> [round(a, 1) for a in v[0, :, 0].tolist()]
        [0.4, 0.8, 0.0, 0.4, 0.8, 0.0]
    """
    fn = "simulate"
    check_tensor(fn, "currents", currents, axes="[batch, time, *]")
    check_float(fn, "currents", currents)
    if currents.dim() < 2:
        raise ValueError(f"{fn}: currents must have at least 2 dimensions [batch, time, *], got shape "
                         f"{tuple(currents.shape)}")
    _check_params(fn, params, (IFParameters, LIFParameters, AdaptiveLIFParameters), currents)
    spike_fn = _check_spike_fn(fn, spike_fn)
    check_bool(fn, "adapt", adapt)
    check_bool(fn, "return_state", return_state)
    x0 = currents[:, 0]
    adaptive = isinstance(params, AdaptiveLIFParameters)
    if state is None:
        state = init_state(x0, params)
    else:
        _check_state(fn, x0, state, AdaptiveLIFState if adaptive else LIFState)
    spikes, voltages = [], []
    if adaptive:
        beta, beta_theta = _decay(params.dt, params.tau_mem), _decay(params.dt, params.tau_theta)
        for t in range(currents.shape[1]):
            z, state = _adaptive_core(currents[:, t], state, params, spike_fn, adapt, beta, beta_theta)
            spikes.append(z)
            voltages.append(state.v)
    else:
        is_if = isinstance(params, IFParameters)
        beta = None if is_if else _decay(params.dt, params.tau_mem)
        v_rest = None if is_if else params.v_rest
        for t in range(currents.shape[1]):
            z, v, r = _generic_step(currents[:, t], state.v, state.refractory, params, params.v_threshold, beta,
                                    v_rest, spike_fn)
            state = LIFState(v, r)
            spikes.append(z)
            voltages.append(v)
    out = (torch.stack(spikes, 1), torch.stack(voltages, 1))
    _check_potential(fn, out[1])
    if adaptive:
        check_finite_result(fn, state.theta, "the threshold increment theta", "theta_plus is too large")
    return out + (state,) if return_state else out


def lif_run(currents: torch.Tensor, params: LIFParameters = LIFParameters(), state: LIFState | None = None,
            spike_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Run LIF neurons over an input wave: :func:`simulate` for :class:`LIFParameters`.

    Args:
        currents (Tensor): input per step, in mV.
        params (LIFParameters): parameters.
        state (LIFState, optional): initial state.
        spike_fn (callable, optional): spike function.

    Shape:
        - Input: ``[batch, time, *]``.
        - Output: spikes and voltages ``[batch, time, *]``.

    Returns:
        tuple: ``(spikes, voltages)``; spikes are not cumulative.

    Example:
        >>> spikes, v = lif_run(torch.full((2, 50, 3), 0.3))
        >>> spikes.shape, int(spikes[0, :, 0].argmax())  # first spike after 4 inputs
        (torch.Size([2, 50, 3]), 3)
    """
    if not isinstance(params, LIFParameters):
        raise TypeError(f"lif_run: params must be LIFParameters, got {type(params).__name__}")
    return simulate(currents, params, state, spike_fn)


# ---------------------------------------------------------------------------------------------------
# Conductance-based synapses
# ---------------------------------------------------------------------------------------------------
def conductance_step(v: torch.Tensor, g_exc: torch.Tensor, g_inh: torch.Tensor,
                     tau_mem: float = CONDUCTANCE_TAU_MEM, v_rest: float = CONDUCTANCE_V_REST,
                     e_exc: float = CONDUCTANCE_E_EXC, e_inh: float = CONDUCTANCE_E_INH,
                     dt: float = DT) -> torch.Tensor:
    r"""One step of a membrane with conductance-based synapses (no threshold, no reset).

    ``tau_mem dv/dt = (v_rest - v) + g_exc (e_exc - v) + g_inh (e_inh - v)``, with the
    conductances (in units of the leak conductance, as in Diehl & Cook 2015) held constant over
    the step and integrated exactly: ``v`` relaxes towards the weighted mean of the three
    potentials, ``v_inf = (v_rest + g_exc e_exc + g_inh e_inh) / g_tot`` with ``g_tot = 1 + g_exc
    + g_inh``, at the faster rate ``g_tot / tau_mem``::

        v <- v_inf + (v - v_inf) * exp(-dt * g_tot / tau_mem)

    So ``v`` never leaves ``[e_inh, e_exc]`` when it starts there; with ``g_exc = g_inh = 0`` this
    is the leak of :func:`lif_step`.

    Args:
        v (Tensor): membrane potential before the step, in mV (not modified).
        g_exc (Tensor): excitatory conductance during the step, ``>= 0``.
        g_inh (Tensor): inhibitory conductance during the step, ``>= 0``.
        tau_mem (float): membrane time constant, in ms, ``> 0``. Default: 100.
        v_rest (float): resting potential, in mV. Default: -65.
        e_exc (float): excitatory reversal potential, in mV. Default: 0.
        e_inh (float): inhibitory reversal potential, in mV. Default: -100.
        dt (float): time step, in ms, ``> 0``. Default: 1.

    Shape:
        - Input: ``v``, ``g_exc``, ``g_inh``: ``[batch, *]``, all the same shape.
        - Output: ``[batch, *]``.

    Returns:
        Tensor: the potential at the end of the step, in mV.

    Example:
        >>> v = torch.full((1, 2), -65.0)
        >>> g = torch.tensor([[0.0, 1000.0]])  # none, and a huge excitatory conductance
        >>> conductance_step(v, g, torch.zeros(1, 2)).round(decimals=1)  # saturates at e_exc
        tensor([[-65.0000,  -0.1000]])
    """
    fn = "conductance_step"
    check_same_device(fn, v=v, g_exc=g_exc, g_inh=g_inh)
    for name, t in (("v", v), ("g_exc", g_exc), ("g_inh", g_inh)):
        check_tensor(fn, name, t, axes="[batch, *]")
        check_float(fn, name, t)
        if t.shape != v.shape:
            raise ValueError(f"{fn}: {name} has shape {tuple(t.shape)}, expected the shape of v "
                             f"{tuple(v.shape)}")
        if t.dtype != v.dtype:
            raise TypeError(f"{fn}: {name} has dtype {t.dtype}, expected v's dtype {v.dtype}")
        if name != "v" and bool((t < 0).any()):
            raise ValueError(f"{fn}: {name} must be >= 0 (a conductance), got a minimum of "
                             f"{t.min().item()}")
    tau_mem = check_real(fn, "tau_mem", tau_mem, minimum=0.0, strict_min=True)
    dt = check_real(fn, "dt", dt, minimum=0.0, strict_min=True)
    v_rest, e_exc, e_inh = (check_real(fn, n, x) for n, x in
                            (("v_rest", v_rest), ("e_exc", e_exc), ("e_inh", e_inh)))
    g_tot = 1.0 + g_exc + g_inh
    v_inf = (v_rest + g_exc * e_exc + g_inh * e_inh) / g_tot
    out = v_inf + (v - v_inf) * torch.exp(-dt * g_tot / tau_mem)
    return check_finite_result(fn, out, "the membrane potential", "a conductance is too large")


# ---------------------------------------------------------------------------------------------------
# Surrogate gradients
# ---------------------------------------------------------------------------------------------------
class _HeavisideSpike(torch.autograd.Function):
    """The forward shared by the surrogate spike functions: the Heaviside step ``x > 0`` in x's
    dtype, saving ``x`` and the shape parameter for the subclass's ``backward``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, param: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.param = param
        return (x > 0).to(x.dtype)


class FastSigmoidSpike(_HeavisideSpike):
    """Heaviside forward, fast-sigmoid derivative ``1 / (slope |x| + 1)^2`` backward (Zenke & Ganguli 2018).

    Use through :func:`fast_sigmoid`; ``FastSigmoidSpike.apply(x, slope)``.

    Shape:
        - Input: any. Output: same (elementwise).
    """

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output / (ctx.param * x.abs() + 1.0) ** 2, None


class ArctanSpike(_HeavisideSpike):
    """Heaviside forward, arctan derivative ``(alpha / 2) / (1 + (pi / 2 * alpha * x)^2)`` backward.

    Use through :func:`arctan`; ``ArctanSpike.apply(x, alpha)``.

    Shape:
        - Input: any. Output: same (elementwise).
    """

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        a = ctx.param
        return grad_output * (a / 2) / (1 + (math.pi / 2 * a * x) ** 2), None


class SigmoidSpike(_HeavisideSpike):
    """Heaviside forward, sigmoid derivative ``slope * sigmoid(slope x) * (1 - sigmoid(slope x))`` backward.

    Use through :func:`snnbook.models.surrogate.spike_function` (``spike_function("sigmoid", 25.0)``);
    ``SigmoidSpike.apply(x, slope)``.

    Shape:
        - Input: any. Output: same (elementwise).
    """

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.param * x)  # stable for any x (torch's sigmoid never overflows)
        return grad_output * ctx.param * s * (1 - s), None


class SurrogateSpike:
    """A spike function ``spike_fn(v - threshold)`` built by :func:`fast_sigmoid` or :func:`arctan`.

    Args:
        function (type): the ``torch.autograd.Function`` (:class:`FastSigmoidSpike` or :class:`ArctanSpike`).
        name (str): factory name, for ``repr``.
        param_name (str): name of the shape parameter.
        value (float): its value.
    """

    def __init__(self, function, name: str, param_name: str, value: float) -> None:
        if not (isinstance(function, type) and issubclass(function, torch.autograd.Function)):
            raise TypeError(f"SurrogateSpike: function must be a torch.autograd.Function subclass "
                            f"(FastSigmoidSpike or ArctanSpike), got {function!r}")
        for arg, text in (("name", name), ("param_name", param_name)):
            if not isinstance(text, str):
                raise TypeError(f"SurrogateSpike: {arg} must be a str, got {text!r}")
        value = _positive("SurrogateSpike", "value", value)
        self.function, self.name, self.param_name, self.value = function, name, param_name, value

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.function.apply(x, self.value)

    def __repr__(self) -> str:
        return f"{self.name}({self.param_name}={self.value})"


def _positive(fn: str, name: str, value) -> float:
    return check_real(fn, name, value, minimum=0.0, strict_min=True)


def fast_sigmoid(slope: float = FAST_SIGMOID_SLOPE) -> SurrogateSpike:
    """Spike function with a fast-sigmoid surrogate gradient.

    Forward: Heaviside ``x > 0``. Backward: ``d spike / dx = 1 / (slope |x| + 1)^2``.

    Args:
        slope (float): steepness of the surrogate (> 0). Default: 25.

    Returns:
        SurrogateSpike: callable ``spike_fn(v - threshold)``.

    Example:
        >>> x = torch.tensor([-0.1, 0.0, 0.2], requires_grad=True)
        >>> fast_sigmoid(10.0)(x).sum().backward()
        >>> x.grad.tolist()  # 1 / (10 |x| + 1)^2
        [0.25, 1.0, 0.1111111119389534]
    """
    return SurrogateSpike(FastSigmoidSpike, "fast_sigmoid", "slope", _positive("fast_sigmoid", "slope", slope))


def arctan(alpha: float = ARCTAN_ALPHA) -> SurrogateSpike:
    """Spike function with an arctan surrogate gradient.

    Forward: Heaviside ``x > 0``. Backward: ``d spike / dx = (alpha / 2) / (1 + (pi / 2 * alpha * x)^2)``.

    Args:
        alpha (float): steepness of the surrogate (> 0). Default: 2.

    Returns:
        SurrogateSpike: callable ``spike_fn(v - threshold)``.

    Example:
        >>> x = torch.tensor([0.0, 1.0], requires_grad=True)
        >>> arctan(2.0)(x).sum().backward()
        >>> [round(g, 4) for g in x.grad.tolist()]  # 1 / (1 + pi^2 x^2)
        [1.0, 0.092]
    """
    return SurrogateSpike(ArctanSpike, "arctan", "alpha", _positive("arctan", "alpha", alpha))


# ---------------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------------
class _NeuronModule(nn.Module):
    _params_cls: type = LIFParameters

    def __init__(self, params, spike_fn) -> None:
        super().__init__()
        name = type(self).__name__
        _check_params(name, params, (self._params_cls,))
        dtype = torch.get_default_dtype()  # of the buffers below
        for field, value in params._asdict().items():
            value = float(value)
            if field not in ("tau_mem", "tau_theta"):  # a time constant beyond the dtype decays as inf: by 1
                check_representable(name, f"params.{field}", value, dtype)
            self.register_buffer(field, torch.tensor(value))
        self.spike_fn = _check_spike_fn(name, spike_fn)
        self.state: State | None = None

    @property
    def params(self):
        """The parameters as a NamedTuple of 0-dim tensors (the module's buffers)."""
        return self._params_cls(**{f: getattr(self, f) for f in self._params_cls._fields})

    def reset_state(self) -> None:
        """Forget the state: the next call starts from rest."""
        self.state = None

    def forward(self, currents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run over ``currents`` ``[batch, time, *]`` from the kept state; return ``(spikes, voltages)``."""
        spikes, voltages, self.state = simulate(currents, self.params, self.state, self.spike_fn,
                                                adapt=self.training, return_state=True)
        return spikes, voltages

    def extra_repr(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f).item():g}" for f in self._params_cls._fields)
        return f"{fields}, spike_fn={self.spike_fn!r}" if self.spike_fn is not _heaviside else fields


class IF(_NeuronModule):
    """Integrate-and-fire neurons (module shell of :func:`if_step` / :func:`simulate`).

    Args:
        params (IFParameters): parameters. Default: ``IFParameters()``.
        spike_fn (callable, optional): spike function (surrogate for training). Default: Heaviside.

    Shape:
        - Input: ``[batch, time, *]`` input per step (mV).
        - Output: spikes and voltages ``[batch, time, *]`` (spikes not cumulative).

    Example:
        >>> m = IF(IFParameters(v_threshold=1.0))
        >>> spikes, v = m(torch.full((1, 3, 1), 0.4))
        >>> spikes[0, :, 0].tolist(), round(m.state.v.item(), 1)
        ([0.0, 0.0, 1.0], 0.0)
    """
    _params_cls = IFParameters

    def __init__(self, params: IFParameters = IFParameters(), spike_fn=None) -> None:
        super().__init__(params, spike_fn)


class LIF(_NeuronModule):
    """Leaky integrate-and-fire neurons (module shell of :func:`lif_step` / :func:`simulate`).

    Args:
        params (LIFParameters): parameters. Default: ``LIFParameters()``.
        spike_fn (callable, optional): spike function (surrogate for training). Default: Heaviside.

    Shape:
        - Input: ``[batch, time, *]`` input per step (mV).
        - Output: spikes and voltages ``[batch, time, *]`` (spikes not cumulative).

    Example:
        >>> m = LIF(LIFParameters(tau_mem=10.0))
        >>> spikes, v = m(torch.full((4, 100, 8), 0.3))
        >>> spikes.shape, int(spikes[0, :, 0].sum())
        (torch.Size([4, 100, 8]), 25)
    """
    _params_cls = LIFParameters

    def __init__(self, params: LIFParameters = LIFParameters(), spike_fn=None) -> None:
        super().__init__(params, spike_fn)


class AdaptiveLIF(_NeuronModule):
    """Adaptive-threshold LIF neurons (Diehl & Cook 2015), module shell of :func:`adaptive_lif_step`.

    In training mode the threshold increments ``theta`` adapt; ``eval()`` freezes them.
    :meth:`reset_state` keeps ``theta`` unless ``reset_theta=True``.

    Args:
        params (AdaptiveLIFParameters): parameters. Default: ``AdaptiveLIFParameters()``.
        spike_fn (callable, optional): spike function. Default: Heaviside.

    Shape:
        - Input: ``[batch, time, *]`` input per step (mV).
        - Output: spikes and voltages ``[batch, time, *]`` (spikes not cumulative).

    Example:
        >>> m = AdaptiveLIF(AdaptiveLIFParameters(theta_plus=0.2, tau_theta=1e7))
        >>> spikes, v = m(torch.full((1, 50, 1), 0.3))
        >>> int(spikes.sum()), round(m.state.theta.item(), 3)
        (7, 1.4)
    """
    _params_cls = AdaptiveLIFParameters

    def __init__(self, params: AdaptiveLIFParameters = AdaptiveLIFParameters(), spike_fn=None) -> None:
        super().__init__(params, spike_fn)

    def reset_state(self, reset_theta: bool = False) -> None:
        """Reset potentials and refractory counters; also ``theta`` when ``reset_theta``."""
        check_bool("AdaptiveLIF.reset_state", "reset_theta", reset_theta)
        if self.state is None or reset_theta:
            self.state = None
            return
        theta = self.state.theta
        v = torch.zeros_like(theta) + self.v_rest.to(theta.dtype)
        self.state = AdaptiveLIFState(v, torch.zeros_like(theta), theta)
