"""Unsupervised learning of digits with STDP: the network of Diehl & Cook (2015).

Chapter: Unsupervised learning with STDP (book/diehl_cook2015.md).

Diehl, P. U. & Cook, M. (2015), "Unsupervised learning of digit recognition using
spike-timing-dependent plasticity", Frontiers in Computational Neuroscience 9:99. Every constant is
in :data:`PARAMS`, each with its source: the paper, or the published Brian code ("code": the Brian 2
port of the authors' script, ``examples/frompapers/Diehl_Cook_2015.py`` in the Brian 2 repository,
against which every value here was checked).

The network
-----------
784 Poisson inputs (rate = pixel / 8 * intensity Hz, intensity 2: at most 63.75 Hz) drive ``N``
conductance-based leaky integrate-and-fire excitatory neurons through plastic weights ``W`` ``[784,
N]``; excitatory neuron ``j`` drives inhibitory neuron ``j`` (weight 10.4), which inhibits every
other excitatory neuron (weight 17). Each digit is shown for 350 ms, then 150 ms without input; a
digit that evokes fewer than 5 excitatory spikes is shown again with the intensity raised by 1
(+31.875 Hz at the brightest pixel), at most :data:`MAX_RETRIES` times. Before each digit the
weights into each excitatory neuron are rescaled to sum 78. Learning: trace STDP on the input
synapses (pre trace set to 1 at a pre spike, post traces to 1 at a post spike; at a pre spike
``w -= 1e-4 * post1``, at a post spike ``w += 1e-2 * pre * post2`` with ``post2`` read before it is
set; clipped to [0, 1]) and an adaptive threshold ``theta`` (+0.05 mV per spike, decaying with
time constant 1e7 ms), both frozen in eval mode. Labels: each neuron takes the class for which its
mean spike count over labelled TRAINING digits is largest; a digit's class is the class whose
neurons fire most on average (:meth:`DiehlCook2015.forward`).

Time step (what one ``dt = 0.5 ms`` step does, in Brian 2's schedule)
---------------------------------------------------------------------
1. state update, forward Euler (the code's ``method='euler'``) from the old state:
   ``v += dt/tau * ((v_rest - v) + ge * (-v) + gi * (E_inh - v))`` (not while refractory), then
   ``v`` clipped to ``[E_inh, E_exc]``, the interval the exact solution never leaves (forward Euler
   overshoots past ``E_inh`` once ``dt/tau * gi > 1``, i.e. when a dozen inhibitory neurons fire in
   one step, and diverges beyond two dozen: the 6 400-neuron network does that at its start);
   ``ge *= 1 - dt/tau_ge``, ``gi *= 1 - dt/tau_gi``, ``theta *= 1 - dt/tau_theta`` (learning only);
2. thresholds: excitatory ``v > theta - 72 mV`` (see ``theta_offset``), not refractory and past the
   code's 50 ms lock-out; inhibitory ``v > -40 mV``, not refractory; input spikes ``rand < rate*dt``;
3. synapses, in this order: input spikes (ascending pixel): ``ge += w``, then depression; excitatory
   spikes: potentiation, ``ge_inh[j] += 10.4``; inhibitory spikes: ``gi_exc[m] += 17 * c_m``, with
   ``c_m`` the number of inhibitory neurons other than ``m`` that fired (one addition per step,
   where Brian adds 17 once per spike: the same sum up to rounding);
4. resets: excitatory ``v = -65 mV``, ``theta += 0.05 mV`` (learning); inhibitory ``v = -45 mV``.

The traces are exact exponentials of the time since the last spike (Brian's event-driven traces),
read from one float64 table shared by both engines.

The rest period: its first :data:`PARAMS` ``["rest_simulated_ms"]`` = 20 ms are simulated step by
step (the network settles: spikes still arriving, conductances decaying); the remaining 130 ms are
skipped in closed form: ``v = v_rest + (v - v_rest) (1 - dt/tau)^n`` over the ``n`` non-refractory
steps, ``ge``, ``gi``, ``theta`` multiplied by their factor to the power of the steps. The closed
form leaves out the conductances' effect on ``v`` after 20 ms of rest (``ge`` has then decayed by
2^-40, ``gi`` by 0.75^40 = 1e-5) and any spike there (none is possible once the conductances have
decayed: ``v`` relaxes monotonically to rest, below threshold).

Two engines
-----------
``engine="reference"``: :func:`run_digit_reference`, the equations above step by step in torch
(float64), readable and slow. ``engine="event"`` (default): a numba-compiled loop with the same
float64 operations in the same order, event-driven on the input (about 3 input spikes per step:
only their weight rows are added), with the STDP updates touching only the rows and columns of the
spikes. Both read the SAME Poisson spikes (drawn once per digit and attempt from a
``torch.Generator`` seeded by (seed, stream, digit index, attempt), so results do not depend on
batching or on resuming), and they give identical spikes, weights and thresholds
(``tests/test_diehl_cook2015.py``, ``torch.equal``). Evaluation (learning off) treats every digit
independently from a rested state and runs the digits in parallel (``prange``).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .. import _engine
from .._checks import (check_bool, check_entry_range, check_finite_result, check_float, check_int, check_pixels,
                       check_real, check_representable, check_state_dict, check_tensor, value_range)
from .._engine import njit, prange
from ._devices import cpu_engine_input

__all__ = ["DiehlCook2015", "DiehlCookState", "PARAMS", "MAX_RETRIES", "poisson_events", "events_to_spikes",
           "init_state", "run_digit_reference", "normalize_weights", "assign_labels", "classify",
           "digit_generator", "quickstart"]

#: Every constant of the network. Units: ms, mV, Hz; conductances and weights are dimensionless
#: (Brian's ``ge`` is in units of the leak conductance). "paper" = Diehl & Cook 2015, "code" = the
#: published Brian code (the Brian 2 port ``examples/frompapers/Diehl_Cook_2015.py``).
PARAMS = {
    # --- time ---
    "dt_ms": 0.5,                 # paper (Methods) and code (defaultclock.dt = 0.5 ms)
    "present_ms": 350.0,          # paper and code: each digit shown 350 ms
    "rest_ms": 150.0,             # paper and code: then 150 ms without input
    "rest_simulated_ms": 20.0,    # ours: the first 20 ms of rest stepped, the other 130 ms in closed form
    # --- input ---
    "n_inputs": 784,
    "rate_divisor": 8.0,          # code: rates = pixel / 8 * intensity Hz
    "intensity": 2,               # code: INTENSITY = 2 -> max 255 / 4 = 63.75 Hz (paper: "pixel / 4")
    "min_spikes": 5,              # paper and code: fewer than 5 excitatory spikes -> show again, intensity + 1
    # --- excitatory neurons ---
    "v_rest_e": -65.0,            # paper and code
    "v_reset_e": -65.0,           # paper and code
    "v_thresh_e": -52.0,          # paper and code
    "theta_offset": 20.0,         # code only: threshold = v_thresh_e - 20 mV + theta, theta starting at 20 mV
    "theta_init": 20.0,           # code only (paper: theta starts at 0 with no offset, see below)
    "refractory_e_ms": 5.0,       # paper and code (v clamped at reset)
    "lockout_e_ms": 50.0,         # code only: 'timer > 5 ms' with 'dtimer/dt = 0.1': no spike for 50 ms
    "tau_e_ms": 100.0,            # paper and code
    "e_exc": 0.0,                 # paper and code: excitatory reversal potential
    "e_inh_e": -100.0,            # paper and code: inhibitory reversal potential (excitatory neurons)
    "tau_ge_ms": 1.0,             # paper and code
    "tau_gi_ms": 2.0,             # paper and code
    "theta_plus": 0.05,           # paper and code: mV per spike
    "tau_theta_ms": 1e7,          # paper and code
    "v_init_e": -105.0,           # code: v = v_rest - 40 mV at the start of training (our clip to
                                  # [E_inh, E_exc] lifts it to -100 mV at the first step)
    # --- inhibitory neurons ---
    "v_rest_i": -60.0,            # paper and code
    "v_reset_i": -45.0,           # paper and code
    "v_thresh_i": -40.0,          # paper and code
    "refractory_i_ms": 2.0,       # paper and code
    "tau_i_ms": 10.0,             # paper and code
    "e_inh_i": -85.0,             # code: inhibitory reversal potential of the inhibitory neurons
    "v_init_i": -100.0,           # code: v = v_rest - 40 mV
    # --- connections ---
    "w_ei": 10.4,                 # code: excitatory j -> inhibitory j
    "w_ie": 17.0,                 # code: inhibitory k -> every excitatory m != k
    "w_init_scale": 0.3,          # code: w = (rand + 0.01) * 0.3, uniform in [0.003, 0.303)
    "w_init_shift": 0.01,
    "delay_max_ms": 10.0,         # code: input delays rand() * 10 ms -- NOT used here (see DiehlCook2015)
    # --- STDP ---
    "tau_pre_ms": 20.0,           # paper and code
    "tau_post1_ms": 20.0,         # code (post1: the trace read by depression)
    "tau_post2_ms": 40.0,         # paper and code (post2: the trace read by potentiation)
    "eta_pre": 1e-4,              # paper and code
    "eta_post": 1e-2,             # paper and code
    "w_max": 1.0,                 # paper and code
    "weight_sum": 78.0,           # paper and code: sum of each neuron's input weights, before every digit
}
#: A digit is shown at most ``1 + MAX_RETRIES`` times (the code retries without a limit; ours
#: stops at intensity 2 + 10 = 12, a brightest-pixel rate of 382.5 Hz, and uses the last attempt).
MAX_RETRIES = 10
#: Trace tables cover this many steps (4 s; ``exp(-4000 * 0.5 / 40) = 2e-22``); older spikes count 0.
TRACE_STEPS = 8000
_NEVER = -(1 << 40)  # "last spike" of a synapse end that never spiked (int64 steps)
_RESTED = 1 << 30    # "steps since the last spike" of a neuron that never spiked


class DiehlCookState(NamedTuple):
    """Dynamic state of the network (float64 / int64 tensors; ``N`` excitatory = inhibitory neurons).

    ``v_e, ge_e, gi_e, v_i, ge_i, gi_i`` ``[N]`` (mV, dimensionless conductances);
    ``since_e, since_i`` ``[N]`` int64 steps since the last spike; ``last_pre`` ``[784]`` and
    ``last_post`` ``[N]`` int64 step of the last input / excitatory spike (the STDP traces);
    ``t`` 0-dim int64, the current step.
    """
    v_e: torch.Tensor
    ge_e: torch.Tensor
    gi_e: torch.Tensor
    since_e: torch.Tensor
    v_i: torch.Tensor
    ge_i: torch.Tensor
    gi_i: torch.Tensor
    since_i: torch.Tensor
    last_pre: torch.Tensor
    last_post: torch.Tensor
    t: torch.Tensor


def init_state(n_neurons: int, rested: bool = False, params: dict = PARAMS) -> DiehlCookState:
    """A fresh :class:`DiehlCookState`: the code's initial potentials (rest - 40 mV), or, with
    ``rested=True``, a network at rest (the start of every evaluated digit). No spike ever."""
    n_neurons = check_int("init_state", "n_neurons", n_neurons, minimum=1)
    check_bool("init_state", "rested", rested)
    _constants(params, "init_state")  # checks params (once per change)
    f = dict(dtype=torch.float64)
    v_e = params["v_rest_e"] if rested else params["v_init_e"]
    v_i = params["v_rest_i"] if rested else params["v_init_i"]
    return DiehlCookState(
        torch.full((n_neurons,), v_e, **f), torch.zeros(n_neurons, **f), torch.zeros(n_neurons, **f),
        torch.full((n_neurons,), _RESTED, dtype=torch.int64),
        torch.full((n_neurons,), v_i, **f), torch.zeros(n_neurons, **f), torch.zeros(n_neurons, **f),
        torch.full((n_neurons,), _RESTED, dtype=torch.int64),
        torch.full((params["n_inputs"],), _NEVER, dtype=torch.int64),
        torch.full((n_neurons,), _NEVER, dtype=torch.int64), torch.zeros((), dtype=torch.int64))


class _Constants(NamedTuple):
    P: np.ndarray       # float64 constants (see _constants)
    I: np.ndarray       # int64: refractory_e, lockout_e, refractory_i, steps in, rest stepped, rest closed
    tab_pre: np.ndarray
    tab_post1: np.ndarray
    tab_post2: np.ndarray
    pow_e: np.ndarray   # (1 - dt/tau_e)^n, n = 0..rest closed steps
    pow_i: np.ndarray


def _steps(ms: float, dt: float) -> int:
    return int(round(ms / dt))


_CONSTANTS_CACHE: dict = {}
#: Constants that must be > 0, and those that must be >= 0 (the others: any finite number).
_POSITIVE = ("dt_ms", "rate_divisor", "intensity", "tau_e_ms", "tau_ge_ms", "tau_gi_ms", "tau_theta_ms",
             "tau_i_ms", "tau_pre_ms", "tau_post1_ms", "tau_post2_ms", "w_max", "weight_sum")
_NON_NEGATIVE = ("present_ms", "rest_ms", "rest_simulated_ms", "min_spikes", "refractory_e_ms", "lockout_e_ms",
                 "refractory_i_ms", "theta_plus", "w_ei", "w_ie", "eta_pre", "eta_post", "w_init_scale",
                 "delay_max_ms")
#: Time constants whose decay factor per step, ``1 - dt / tau``, must lie in [0, 1] (dt <= tau).
_DECAYS = ("tau_e_ms", "tau_i_ms", "tau_ge_ms", "tau_gi_ms", "tau_theta_ms")


def _check_params(fn: str, params) -> None:
    """``TypeError``/``ValueError`` unless ``params`` holds every key of :data:`PARAMS` with a
    finite real value in its domain: time constants, ``dt``, the rate divisor, ``intensity``,
    ``w_max`` and ``weight_sum`` > 0, durations, rates and weights >= 0, every decay factor
    ``1 - dt / tau`` in [0, 1] (``dt <= tau``), ``n_inputs`` an int >= 1, the simulated rest no
    longer than the rest."""
    if not isinstance(params, dict):
        raise TypeError(f"{fn}: params must be a dict of the network's constants (like PARAMS), got "
                        f"{type(params).__name__}")
    missing = [k for k in PARAMS if k not in params]
    if missing:
        raise ValueError(f"{fn}: params lacks the constants {missing} (start from {{**PARAMS, ...}})")
    for key in PARAMS:
        name = f"params[{key!r}]"
        if key == "n_inputs":
            check_int(fn, name, params[key], minimum=1)
        elif key in _POSITIVE:
            check_real(fn, name, params[key], minimum=0.0, strict_min=True)
        elif key in _NON_NEGATIVE:
            check_real(fn, name, params[key], minimum=0.0)
        else:
            check_real(fn, name, params[key])
    dt = float(params["dt_ms"])
    for key in _DECAYS:
        if dt > params[key]:
            raise ValueError(f"{fn}: params[{key!r}]={params[key]!r} is shorter than the step dt_ms={dt!r}: its decay "
                             f"factor per step 1 - dt / tau = {1 - dt / params[key]:.3g} lies outside [0, 1]")
    if params["rest_simulated_ms"] > params["rest_ms"]:
        raise ValueError(f"{fn}: params['rest_simulated_ms']={params['rest_simulated_ms']!r} must be <= "
                         f"params['rest_ms']={params['rest_ms']!r}")


def _constants(params: dict = PARAMS, fn: str = "DiehlCook2015") -> _Constants:
    """The engine's constants of ``params`` (checked by :func:`_check_params` when they change)."""
    key = id(params)
    if key in _CONSTANTS_CACHE and _CONSTANTS_CACHE[key][0] == params:
        return _CONSTANTS_CACHE[key][1]
    _check_params(fn, params)
    p = params
    dt = p["dt_ms"]
    n_in = _steps(p["present_ms"], dt)
    n_sim = _steps(p["rest_simulated_ms"], dt)
    n_closed = _steps(p["rest_ms"], dt) - n_sim
    c_theta = 1.0 - dt / p["tau_theta_ms"]
    c_ge_e, c_gi_e = 1.0 - dt / p["tau_ge_ms"], 1.0 - dt / p["tau_gi_ms"]
    P = np.array([
        dt / p["tau_e_ms"], dt / p["tau_i_ms"], p["v_rest_e"], p["v_rest_i"], p["e_inh_e"], p["e_inh_i"],
        c_ge_e, c_gi_e, c_ge_e, c_gi_e, c_theta,
        p["v_thresh_e"] - p["theta_offset"], p["v_thresh_i"], p["v_reset_e"], p["v_reset_i"], p["theta_plus"],
        p["w_ei"], p["w_ie"], p["eta_pre"], p["eta_post"], p["w_max"],
        c_ge_e ** n_closed, c_gi_e ** n_closed, c_theta ** n_closed, p["e_exc"]], dtype=np.float64)
    I = np.array([_steps(p["refractory_e_ms"], dt), _steps(p["lockout_e_ms"], dt), _steps(p["refractory_i_ms"], dt),
                  n_in, n_sim, n_closed], dtype=np.int64)
    k = np.arange(TRACE_STEPS + 1, dtype=np.float64)

    def table(tau):
        tab = np.exp(-k * dt / tau)
        tab[-1] = 0.0  # older spikes count 0
        return tab
    n = np.arange(n_closed + 1, dtype=np.float64)
    out = _Constants(P, I, table(p["tau_pre_ms"]), table(p["tau_post1_ms"]), table(p["tau_post2_ms"]),
                     (1.0 - dt / p["tau_e_ms"]) ** n, (1.0 - dt / p["tau_i_ms"]) ** n)
    _CONSTANTS_CACHE[key] = (dict(params), out)
    return out


# ---------------------------------------------------------------------------------------------
# input: Poisson spikes, drawn once per digit and attempt, shared by both engines
# ---------------------------------------------------------------------------------------------
def digit_generator(seed: int, stream: int, index: int, attempt: int) -> torch.Generator:
    """The ``torch.Generator`` of one presentation: seeded by a hash (numpy ``SeedSequence``) of
    the network's ``seed``, the ``stream`` (0 training, others evaluation), the digit's ``index``
    in its stream and the ``attempt`` (0, then 1.. for the re-presentations); each an int >= 0."""
    fn = "digit_generator"
    seed, stream, index, attempt = (check_int(fn, name, v, minimum=0) for name, v in
                                    (("seed", seed), ("stream", stream), ("index", index), ("attempt", attempt)))
    return _digit_generator(seed, stream, index, attempt)


def _digit_generator(seed: int, stream: int, index: int, attempt: int) -> torch.Generator:
    """:func:`digit_generator` without the checks (the model's inner loop)."""
    s = np.random.SeedSequence([int(seed), int(stream), int(index), int(attempt)]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(s[0]) << 31 ^ int(s[1]))


def poisson_events(image: torch.Tensor, intensity: int, generator: torch.Generator,
                   params: dict = PARAMS) -> tuple[torch.Tensor, torch.Tensor]:
    """Poisson input spikes of one digit as events: pixel ``i`` spikes at step ``k`` when
    ``u[k, i] < pixel_i / 8 * intensity Hz * dt`` (``u`` uniform float32 from ``generator``, drawn
    only for the nonzero pixels, step-major; compared in float64).

    Args:
        image: uint8 (or real) ``[28, 28]`` or ``[784]`` in 0..255 (the class's convention: [0, 1]
            floats, values outside 0..255, NaN and other sizes raise ``ValueError``).
        intensity: rate multiplier (2, raised by 1 at each re-presentation), > 0, and small enough
            that the brightest pixel spikes with probability at most 1 per step.
        generator: a CPU ``torch.Generator``, see :func:`digit_generator`.
        params: the constants (default :data:`PARAMS`).

    Shape:
        - Output: ``pixels`` int32 ``[events]`` (ascending within a step) and ``offsets`` int64
          ``[steps + 1]``: the events of step ``k`` are ``pixels[offsets[k]:offsets[k + 1]]``.
    """
    fn = "poisson_events"
    _constants(params, fn)  # checks params (once per change)
    n_in = params["n_inputs"]
    check_tensor(fn, "image", image, ndim=(1, 2), axes=f"[28, 28] or [{n_in}]", finite=False)
    if image.dtype == torch.bool:
        raise TypeError(f"{fn}: image must be uint8 or real pixel values 0..255, got {image.dtype}")
    if image.numel() != n_in or (image.dim() == 2 and n_in == 784 and tuple(image.shape) != (28, 28)):
        raise ValueError(f"{fn}: image must be one digit, [28, 28] or [{n_in}] ({n_in} pixels), got shape "
                         f"{tuple(image.shape)}")
    check_pixels(fn, "image", image, 255, "poisson_events")
    check_real(fn, "intensity", intensity, minimum=0.0, strict_min=True)
    p_max = 255.0 * float(intensity) / params["rate_divisor"] * params["dt_ms"] / 1000.0
    if p_max > 1:
        raise ValueError(f"{fn}: intensity={intensity!r} makes the brightest pixel spike with probability {p_max:.3g} "
                         "per step, above 1 (its rate would saturate at one spike per step); use a smaller intensity")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{fn}: generator must be a torch.Generator (digit_generator), got {type(generator).__name__}")
    if generator.device.type != "cpu":
        raise ValueError(f"{fn}: generator must be a CPU torch.Generator (the input is drawn on the CPU), got one "
                         f"on {generator.device}")
    return _poisson_events(image.cpu(), intensity, generator, params)


def _poisson_events(image, intensity, generator, params=PARAMS):
    """:func:`poisson_events` without the checks (the model's inner loop)."""
    dt = params["dt_ms"]
    steps = _steps(params["present_ms"], dt)
    flat = image.reshape(-1)
    nz = flat.nonzero().flatten()
    prob = flat[nz].double() * (intensity / params["rate_divisor"] * dt / 1000.0)
    u = torch.rand(steps, nz.numel(), generator=generator, dtype=torch.float32)
    if _engine.available():  # the same events, without a [steps, pixels] bool tensor and nonzero
        pixels = np.empty(u.numel(), np.int32)
        offsets = np.empty(steps + 1, np.int64)
        m = _uniform_to_events(u.numpy(), prob.numpy(), nz.numpy(), pixels, offsets)
        return torch.from_numpy(pixels[:m].copy()), torch.from_numpy(offsets)
    k, col = (u.double() < prob).nonzero(as_tuple=True)
    offsets = torch.zeros(steps + 1, dtype=torch.int64)
    offsets[1:] = torch.bincount(k, minlength=steps).cumsum(0)
    return nz[col].to(torch.int32), offsets


@njit(cache=True, nogil=True)
def _uniform_to_events(u, prob, nz, pixels, offsets):
    m = 0
    offsets[0] = 0
    for k in range(u.shape[0]):
        for c in range(u.shape[1]):
            if np.float64(u[k, c]) < prob[c]:
                pixels[m] = nz[c]
                m += 1
        offsets[k + 1] = m
    return m


def events_to_spikes(pixels: torch.Tensor, offsets: torch.Tensor, n_inputs: int = 784) -> torch.Tensor:
    """Dense bool spikes ``[steps, n_inputs]`` of :func:`poisson_events` (for the reference engine).

    Shape:
        - Input: ``pixels`` ``[events]`` integer pixel indices in ``[0, n_inputs)``, ``offsets``
          ``[steps + 1]`` integers, non-decreasing from 0 to ``events``.
        - Output: ``[steps, n_inputs]`` bool.
    """
    fn = "events_to_spikes"
    n_inputs = check_int(fn, "n_inputs", n_inputs, minimum=1)
    check_tensor(fn, "pixels", pixels, ndim=1, axes="[events]", nonempty=False)
    check_tensor(fn, "offsets", offsets, ndim=1, axes="[steps + 1]")
    for name, t in (("pixels", pixels), ("offsets", offsets)):
        if t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"{fn}: {name} must be an integer tensor (poisson_events), got {t.dtype}")
    if pixels.numel():
        lo, hi = value_range(fn, "pixels", pixels)
        if lo < 0 or hi >= n_inputs:
            raise ValueError(f"{fn}: pixels must be pixel indices in [0, {n_inputs}) (n_inputs={n_inputs}), got "
                             f"values in [{lo:.0f}, {hi:.0f}]")
    first, last = int(offsets[0]), int(offsets[-1])
    if first != 0 or last != pixels.numel() or (offsets.numel() > 1 and int(offsets.diff().min()) < 0):
        raise ValueError(f"{fn}: offsets must rise (never fall) from 0 to the number of events {pixels.numel()}, "
                         f"got offsets from {first} to {last}")
    return _events_to_spikes(pixels.cpu(), offsets.cpu(), n_inputs)


def _events_to_spikes(pixels, offsets, n_inputs=784):
    """:func:`events_to_spikes` without the checks."""
    steps = offsets.numel() - 1
    rows = torch.repeat_interleave(torch.arange(steps), offsets.diff())
    out = torch.zeros(steps, n_inputs, dtype=torch.bool)
    out[rows, pixels.long()] = True
    return out


# ---------------------------------------------------------------------------------------------
# the reference engine: the equations step by step, in torch
# ---------------------------------------------------------------------------------------------
def normalize_weights(weight: torch.Tensor, total: float = PARAMS["weight_sum"]) -> torch.Tensor:
    """Rescale each column (the input weights of one excitatory neuron) to sum ``total``. The sums
    run over the inputs in order (one row added at a time), the order the compiled engine uses.

    Args:
        weight: finite weights ``>= 0``, every column with a positive sum.
        total: the sum of each column afterwards, finite and > 0.

    Shape:
        - Input: ``weight`` ``[784, N]`` float64 (or another floating-point dtype).
        - Output: ``[784, N]``, a new tensor.
    """
    fn = "normalize_weights"
    check_tensor(fn, "weight", weight, ndim=2, axes="[784, N]", finite=False)
    check_float(fn, "weight", weight)
    total = check_real(fn, "total", total, minimum=0.0, strict_min=True)
    check_representable(fn, "total", total, weight.dtype)
    lo, hi = value_range(fn, "weight", weight)
    if lo < 0:
        raise ValueError(f"{fn}: weight must hold weights >= 0, got values in [{lo:g}, {hi:g}]")
    out, s = _normalize_weights(weight, total, want_sums=True)
    if not float(s.min()) > 0:
        raise ValueError(f"{fn}: every column of weight must have a positive sum to be rescaled to total, got a "
                         f"column {int(s.argmin())} that sums to {float(s.min()):g}")
    return check_finite_result(fn, out, "the rescaled weight", "total is too large for weight's dtype")


def _normalize_weights(weight, total=PARAMS["weight_sum"], want_sums=False):
    """:func:`normalize_weights` without the checks (the reference engine's inner loop)."""
    s = weight[0].clone()
    for i in range(1, weight.shape[0]):
        s = s + weight[i]
    out = weight * (torch.full_like(s, total) / s)  # not total / s: torch computes that as total * (1 / s)
    return (out, s) if want_sums else out


def _check_state(fn: str, name: str, state, n: int, n_px: int) -> None:
    """``TypeError``/``ValueError`` unless ``state`` is a :class:`DiehlCookState` of ``n`` neurons
    and ``n_px`` inputs (dtypes, shapes, finite potentials, conductances >= 0, steps since a spike
    >= 0, ``t`` >= 0 and last spikes no later than ``t``); one reduction per field."""
    if not isinstance(state, DiehlCookState):
        raise TypeError(f"{fn}: {name} must be a DiehlCookState (init_state), got {type(state).__name__}")
    t = None
    for field in ("t",) + DiehlCookState._fields[:-1]:
        value, label = getattr(state, field), f"{name}.{field}"
        floating = field.startswith(("v_", "ge_", "gi_"))
        shape = () if field == "t" else (n_px,) if field == "last_pre" else (n,)
        check_tensor(fn, label, value, dtypes=(torch.float64,) if floating else (torch.int64,), finite=False,
                     nonempty=False)
        if tuple(value.shape) != shape:
            raise ValueError(f"{fn}: {label} must have shape {list(shape)}, got {tuple(value.shape)}")
        if field == "t":
            t = int(value)
            if t < 0:
                raise ValueError(f"{fn}: {label} must be >= 0 (the current step), got {t}")
            continue
        lo, hi = value_range(fn, label, value)
        if field.startswith(("ge_", "gi_", "since_")) and lo < 0:
            raise ValueError(f"{fn}: {label} must hold values >= 0, got values in [{lo:g}, {hi:g}]")
        if field.startswith("last_") and hi > t:
            raise ValueError(f"{fn}: {label} (steps of the last spikes) must be <= {name}.t={t}, got values up to "
                             f"{hi:.0f}")


def run_digit_reference(weight: torch.Tensor, theta: torch.Tensor, state: DiehlCookState, spikes: torch.Tensor,
                        learn: bool, params: dict = PARAMS, record: bool = False):
    """One presentation (350 ms with input, then the 150 ms rest), step by step in torch (float64):
    the readable definition of the network that the compiled engine is tested against.

    Args:
        weight: input weights ``[784, N]`` float64.
        theta: adaptive thresholds ``[N]`` float64 (mV).
        state: the :class:`DiehlCookState` before the digit.
        spikes: input spikes ``[steps, 784]`` bool (:func:`events_to_spikes`).
        learn: STDP and threshold adaptation on (training) or off.
        params: the constants (default :data:`PARAMS`).
        record: also return the excitatory spikes of every step with input (a raster).

    Shape:
        - Input: ``weight`` ``[784, N]`` float64, finite, >= 0; ``theta`` ``[N]`` float64, finite;
          ``state`` a :class:`DiehlCookState` of ``N`` neurons (float64 fields finite,
          conductances >= 0, steps since a spike >= 0, last spikes no later than ``t`` >= 0);
          ``spikes`` ``[steps, 784]`` bool with ``steps`` = the presentation's steps
          (``present_ms / dt_ms``, 700). Anything else raises ``TypeError``/``ValueError``.
        - Output: ``counts`` int64 ``[N]`` (excitatory spikes during the 350 ms), ``weight``
          ``[784, N]``, ``theta`` ``[N]``, the new state; with ``record``, also ``raster`` bool
          ``[steps, N]`` (``counts == raster.sum(0)``). The inputs are not modified.
    """
    fn = "run_digit_reference"
    check_bool(fn, "learn", learn)
    check_bool(fn, "record", record)
    c = _constants(params, fn)
    n_px = params["n_inputs"]
    check_tensor(fn, "weight", weight, ndim=2, axes=f"[{n_px}, N]", dtypes=(torch.float64,), finite=False)
    if weight.shape[0] != n_px:
        raise ValueError(f"{fn}: weight must have shape [{n_px}, N] (one row per input), got {tuple(weight.shape)}")
    lo, hi = value_range(fn, "weight", weight)
    if lo < 0:
        raise ValueError(f"{fn}: weight must hold weights >= 0, got values in [{lo:g}, {hi:g}]")
    n = weight.shape[1]
    check_tensor(fn, "theta", theta, ndim=1, axes="[N]", dtypes=(torch.float64,))
    if theta.shape[0] != n:
        raise ValueError(f"{fn}: theta must have shape [N={n}] (weight's neurons), got {tuple(theta.shape)}")
    _check_state(fn, "state", state, n, n_px)
    check_tensor(fn, "spikes", spikes, ndim=2, axes=f"[steps, {n_px}]", dtypes=(torch.bool,), nonempty=False)
    if tuple(spikes.shape) != (int(c.I[3]), n_px):
        raise ValueError(f"{fn}: spikes must have shape [steps={int(c.I[3])}, {n_px}] (one row per step of the "
                         f"presentation, events_to_spikes), got {tuple(spikes.shape)}")
    return _run_digit_reference(weight, theta, state, spikes, learn, c, record)


def _run_digit_reference(weight, theta, state, spikes, learn, c, record=False):
    """:func:`run_digit_reference` without the checks (``c``: :func:`_constants` of the params)."""
    (a_e, a_i, rest_e, rest_i, erev_e, erev_i, cge_e, cgi_e, cge_i, cgi_i, cth, thr_e, thr_i, reset_e, reset_i,
     th_plus, w_ei, w_ie, eta_pre, eta_post, w_max, cge_n, cgi_n, cth_n, e_exc) = c.P.tolist()
    ref_e, lock_e, ref_i, n_in, n_sim, n_closed = c.I.tolist()
    tab_pre, tab_post1, tab_post2 = (torch.from_numpy(t) for t in (c.tab_pre, c.tab_post1, c.tab_post2))
    L = TRACE_STEPS
    w, theta = weight.clone(), theta.clone()
    v_e, ge_e, gi_e, since_e, v_i, ge_i, gi_i, since_i, last_pre, last_post, t = (x.clone() for x in state)
    t = int(t)
    n = v_e.shape[0]
    counts = torch.zeros(n, dtype=torch.int64)
    rows = []
    for k in range(n_in + n_sim):
        t += 1
        # 1. state update: forward Euler from the old state (v frozen while refractory), v kept
        # between the reversal potentials, which the exact solution never leaves
        since_e, since_i = since_e + 1, since_i + 1
        dv_e = a_e * ((rest_e - v_e) + ge_e * (-v_e) + gi_e * (erev_e - v_e))
        v_e = torch.where(since_e >= ref_e, torch.clamp(v_e + dv_e, erev_e, e_exc), v_e)
        dv_i = a_i * ((rest_i - v_i) + ge_i * (-v_i) + gi_i * (erev_i - v_i))
        v_i = torch.where(since_i >= ref_i, torch.clamp(v_i + dv_i, erev_i, e_exc), v_i)
        ge_e, gi_e, ge_i, gi_i = ge_e * cge_e, gi_e * cgi_e, ge_i * cge_i, gi_i * cgi_i
        if learn:
            theta = theta * cth
        # 2. thresholds
        spk_e = (since_e >= ref_e) & (since_e > lock_e) & (v_e > theta + thr_e)
        spk_i = (since_i >= ref_i) & (v_i > thr_i)
        # 3. synapses: input spikes (ge += w, then depression by the post1 trace) ...
        if k < n_in:
            post1 = tab_post1[(t - last_post).clamp(max=L)]
            for i in spikes[k].nonzero().flatten().tolist():
                ge_e = ge_e + w[i]
                if learn:
                    last_pre[i] = t
                    w[i] = torch.clamp(w[i] - eta_pre * post1, 0.0, w_max)
        # ... excitatory spikes (potentiation by pre trace x post2 read before its reset; e -> i) ...
        for j in spk_e.nonzero().flatten().tolist():
            ge_i[j] = ge_i[j] + w_ei
            if learn:
                pre = tab_pre[(t - last_pre).clamp(max=L)]
                post2 = float(tab_post2[min(t - int(last_post[j]), L)])
                w[:, j] = torch.clamp(w[:, j] + eta_post * pre * post2, 0.0, w_max)
                last_post[j] = t
        # ... inhibitory spikes: neuron k inhibits every excitatory neuron but k, so excitatory
        # neuron m receives w_ie times the number of inhibitory spikes of the others
        n_spk_i = int(spk_i.sum())
        if n_spk_i:
            gi_e = gi_e + w_ie * (n_spk_i - spk_i.double())
        # 4. resets
        v_e = torch.where(spk_e, reset_e, v_e)
        since_e = torch.where(spk_e, 0, since_e)
        if learn:
            theta = torch.where(spk_e, theta + th_plus, theta)
        v_i = torch.where(spk_i, reset_i, v_i)
        since_i = torch.where(spk_i, 0, since_i)
        if k < n_in:
            counts += spk_e
            if record:
                rows.append(spk_e)
    # the rest of the rest, in closed form
    if n_closed > 0:
        free_e = (n_closed - (ref_e - since_e).clamp(min=1) + 1).clamp(0, n_closed)
        free_i = (n_closed - (ref_i - since_i).clamp(min=1) + 1).clamp(0, n_closed)
        v_e = rest_e + (v_e - rest_e) * torch.from_numpy(c.pow_e)[free_e]
        v_i = rest_i + (v_i - rest_i) * torch.from_numpy(c.pow_i)[free_i]
        ge_e, gi_e, ge_i, gi_i = ge_e * cge_n, gi_e * cgi_n, ge_i * cge_n, gi_i * cgi_n
        if learn:
            theta = theta * cth_n
        since_e, since_i = since_e + n_closed, since_i + n_closed
        t += n_closed
    state = DiehlCookState(v_e, ge_e, gi_e, since_e, v_i, ge_i, gi_i, since_i, last_pre, last_post,
                           torch.tensor(t, dtype=torch.int64))
    if record:
        raster = torch.stack(rows) if rows else torch.zeros(0, n, dtype=torch.bool)
        return counts, w, theta, state, raster
    return counts, w, theta, state


# ---------------------------------------------------------------------------------------------
# the compiled engine: the same float64 operations in the same order, event-driven on the input
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _digit(W, theta, v_e, ge_e, gi_e, since_e, v_i, ge_i, gi_i, since_i, last_pre, last_post, t,
           ev_pix, ev_off, learn, P, I, tab_pre, tab_post1, tab_post2, pow_e, pow_i, counts, post1, spk_e, spk_i):
    n = v_e.shape[0]
    n_px = W.shape[0]
    a_e = P[0]; a_i = P[1]; rest_e = P[2]; rest_i = P[3]; erev_e = P[4]; erev_i = P[5]
    cge_e = P[6]; cgi_e = P[7]; cge_i = P[8]; cgi_i = P[9]; cth = P[10]; thr_e = P[11]; thr_i = P[12]
    reset_e = P[13]; reset_i = P[14]; th_plus = P[15]; w_ei = P[16]; w_ie = P[17]
    eta_pre = P[18]; eta_post = P[19]; w_max = P[20]; e_exc = P[24]
    ref_e = I[0]; lock_e = I[1]; ref_i = I[2]; n_in = I[3]; n_sim = I[4]; n_closed = I[5]
    L = tab_pre.shape[0] - 1
    for k in range(n_in + n_sim):
        t += 1
        # 1. state update and 2. thresholds, fused into one pass over the neurons (each neuron's
        # threshold reads only its own new state; the spike lists stay in ascending order)
        ne = 0
        ni = 0
        for j in range(n):
            s = since_e[j] + 1
            since_e[j] = s
            v = v_e[j]
            g1 = ge_e[j]
            g2 = gi_e[j]
            if s >= ref_e:
                v = min(max(v + a_e * ((rest_e - v) + g1 * (-v) + g2 * (erev_e - v)), erev_e), e_exc)
                v_e[j] = v
            ge_e[j] = g1 * cge_e
            gi_e[j] = g2 * cgi_e
            th = theta[j]
            if learn:
                th = th * cth
                theta[j] = th
            if s >= ref_e and s > lock_e and v > th + thr_e:
                spk_e[ne] = j
                ne += 1
            s = since_i[j] + 1
            since_i[j] = s
            v = v_i[j]
            g1 = ge_i[j]
            g2 = gi_i[j]
            if s >= ref_i:
                v = min(max(v + a_i * ((rest_i - v) + g1 * (-v) + g2 * (erev_i - v)), erev_i), e_exc)
                v_i[j] = v
            ge_i[j] = g1 * cge_i
            gi_i[j] = g2 * cgi_i
            if s >= ref_i and v > thr_i:
                spk_i[ni] = j
                ni += 1
        # 3. synapses: input spikes
        if k < n_in:
            e0 = ev_off[k]
            e1 = ev_off[k + 1]
            if learn and e1 > e0:
                for j in range(n):
                    d = t - last_post[j]
                    post1[j] = tab_post1[d if d < L else L]
            for e in range(e0, e1):
                i = ev_pix[e]
                if learn:
                    last_pre[i] = t
                    for j in range(n):
                        w = W[i, j]
                        ge_e[j] += w
                        w = w - eta_pre * post1[j]
                        W[i, j] = min(max(w, 0.0), w_max)
                else:
                    for j in range(n):
                        ge_e[j] += W[i, j]
        # excitatory spikes
        for q in range(ne):
            j = spk_e[q]
            ge_i[j] += w_ei
            if learn:
                d = t - last_post[j]
                post2 = tab_post2[d if d < L else L]
                for i in range(n_px):
                    d = t - last_pre[i]
                    if d < L:
                        w = W[i, j] + eta_post * tab_pre[d] * post2
                        W[i, j] = min(max(w, 0.0), w_max)
                last_post[j] = t
        # inhibitory spikes: w_ie times the number of inhibitory spikes of the other neurons
        if ni > 0:
            q = 0
            for m in range(n):
                c = ni
                if q < ni and spk_i[q] == m:
                    c -= 1
                    q += 1
                gi_e[m] += w_ie * np.float64(c)
        # 4. resets
        for q in range(ne):
            j = spk_e[q]
            v_e[j] = reset_e
            since_e[j] = 0
            if learn:
                theta[j] += th_plus
            if k < n_in:
                counts[j] += 1
        for q in range(ni):
            j = spk_i[q]
            v_i[j] = reset_i
            since_i[j] = 0
    if n_closed > 0:
        for j in range(n):
            f = n_closed - max(ref_e - since_e[j], 1) + 1
            f = min(max(f, 0), n_closed)
            v_e[j] = rest_e + (v_e[j] - rest_e) * pow_e[f]
            f = n_closed - max(ref_i - since_i[j], 1) + 1
            f = min(max(f, 0), n_closed)
            v_i[j] = rest_i + (v_i[j] - rest_i) * pow_i[f]
            ge_e[j] = ge_e[j] * P[21]
            gi_e[j] = gi_e[j] * P[22]
            ge_i[j] = ge_i[j] * P[21]
            gi_i[j] = gi_i[j] * P[22]
            if learn:
                theta[j] = theta[j] * P[23]
            since_e[j] += n_closed
            since_i[j] += n_closed
        t += n_closed
    return t


@njit(cache=True, nogil=True)
def _normalize(W, total):
    n_px, n = W.shape
    s = np.empty(n)
    for j in range(n):
        s[j] = W[0, j]
    for i in range(1, n_px):
        for j in range(n):
            s[j] = s[j] + W[i, j]
    for j in range(n):
        s[j] = total / s[j]
    for i in range(n_px):
        for j in range(n):
            W[i, j] = W[i, j] * s[j]


@njit(cache=True, parallel=True)
def _digits_eval(W, theta, V_e, GE_e, GI_e, S_e, V_i, GE_i, GI_i, S_i, ev_pix, ev_off, active, P, I,
                 tab_pre, tab_post1, tab_post2, pow_e, pow_i, counts):
    n = W.shape[1]
    for q in prange(active.shape[0]):
        b = active[q]
        post1 = np.empty(n)
        spk_e = np.empty(n, np.int64)
        spk_i = np.empty(n, np.int64)
        last_pre = np.empty(1, np.int64)
        last_post = np.empty(1, np.int64)
        # t = 0 and learn = False as values, not literals: literals would make numba compile a
        # second specialisation of _digit (about 1 s at first use)
        t0 = last_pre.shape[0] - 1
        learn = last_pre.shape[0] < 0
        _digit(W, theta, V_e[b], GE_e[b], GI_e[b], S_e[b], V_i[b], GE_i[b], GI_i[b], S_i[b], last_pre, last_post,
               t0, ev_pix, ev_off[b], learn, P, I, tab_pre, tab_post1, tab_post2, pow_e, pow_i, counts[b],
               post1, spk_e, spk_i)


# ---------------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------------
def _check_counts(fn: str, counts) -> None:
    """Spike counts ``[digits, N]``: a real (not bool) tensor of finite values >= 0."""
    check_tensor(fn, "counts", counts, ndim=2, axes="[digits, N]", finite=False)
    if counts.dtype == torch.bool:
        raise TypeError(f"{fn}: counts must be spike counts (integer or floating point), got {counts.dtype}")
    lo, hi = value_range(fn, "counts", counts)
    if lo < 0:
        raise ValueError(f"{fn}: counts must be spike counts >= 0, got values in [{lo:g}, {hi:g}]")


def _check_classes(fn: str, name: str, classes, low: int, n_classes: int, axes: str) -> None:
    """An integer tensor ``[n]`` of values in ``[low, n_classes)``."""
    check_tensor(fn, name, classes, ndim=1, axes=axes)
    if classes.is_floating_point() or classes.dtype == torch.bool:
        raise TypeError(f"{fn}: {name} must be an integer tensor of classes, got {classes.dtype}")
    lo, hi = value_range(fn, name, classes)
    if lo < low or hi >= n_classes:
        raise ValueError(f"{fn}: {name} must be classes in [{low}, {n_classes - 1}] (n_classes={n_classes}), got "
                         f"values in [{lo:.0f}, {hi:.0f}]")


def assign_labels(counts: torch.Tensor, targets: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """Each neuron's class: the one with the largest mean spike count over the digits of that class
    (Diehl & Cook's assignment); -1 for a neuron that never fired on these digits.

    Args:
        counts: spike counts ``[digits, N]`` (of TRAINING digits), integers or floats >= 0.
        targets: their classes ``[digits]``, integers in ``[0, n_classes)``.
        n_classes: the number of classes (10).

    Shape:
        - Output: ``[N]`` int64 labels in -1..9.
    """
    fn = "assign_labels"
    n_classes = check_int(fn, "n_classes", n_classes, minimum=1)
    _check_counts(fn, counts)
    _check_classes(fn, "targets", targets, 0, n_classes, "[digits]")
    if targets.shape[0] != counts.shape[0]:
        raise ValueError(f"{fn}: targets must have shape [digits={counts.shape[0]}], got {tuple(targets.shape)}")
    c = counts.double()
    sums = torch.zeros(n_classes, c.shape[1], dtype=torch.float64).index_add_(0, targets.long(), c)
    per_class = torch.bincount(targets.long(), minlength=n_classes).clamp(min=1).double()
    labels = (sums / per_class[:, None]).argmax(0)
    return torch.where(c.sum(0) > 0, labels, torch.full_like(labels, -1))


def classify(counts: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """The class of each digit: the one whose neurons have the highest mean spike count (classes
    without neurons never win).

    Shape:
        - Input: ``counts`` ``[digits, N]`` spike counts >= 0, ``labels`` ``[N]`` integers in
          ``[-1, n_classes)`` (-1: no class).
        - Output: ``[digits]`` int64 classes.
    """
    fn = "classify"
    n_classes = check_int(fn, "n_classes", n_classes, minimum=1)
    _check_counts(fn, counts)
    _check_classes(fn, "labels", labels, -1, n_classes, "[N]")
    if labels.shape[0] != counts.shape[1]:
        raise ValueError(f"{fn}: labels must have shape [N={counts.shape[1]}], got {tuple(labels.shape)}")
    onehot = torch.zeros(labels.shape[0], n_classes, dtype=torch.float64)
    has = labels >= 0
    onehot[has.nonzero().flatten(), labels[has]] = 1.0
    n_per = onehot.sum(0)
    mean = counts.double() @ onehot / n_per.clamp(min=1)
    mean[:, n_per == 0] = -math.inf
    return mean.argmax(1)


# ---------------------------------------------------------------------------------------------
# the module
# ---------------------------------------------------------------------------------------------
_ENGINES = ("event", "reference")
_EVAL_CHUNK = 1000


def _images_arg(fn: str, images) -> torch.Tensor:
    """Digits ``[digits, 28, 28]`` or ``[digits, 784]`` with pixel values 0..255 (class docstring),
    flattened to ``[digits, 784]``."""
    check_tensor(fn, "images", images, ndim=(2, 3), axes="[digits, 28, 28] or [digits, 784]", finite=False)
    if images.dtype == torch.bool or images.is_complex():
        raise TypeError(f"{fn}: images must be uint8 or real pixel values 0..255, got {images.dtype}")
    n_in = PARAMS["n_inputs"]
    square = (28, 28) if n_in == 784 else None
    if (images.dim() == 2 and images.shape[1] != n_in) or (images.dim() == 3 and (
            images.shape[1] * images.shape[2] != n_in or (square and tuple(images.shape[1:]) != square))):
        raise ValueError(f"{fn}: images must be digits [digits, 28, 28] or [digits, {n_in}] ({n_in} pixels per digit), "
                         f"got shape {tuple(images.shape)}")
    check_pixels(fn, "images", images, 255, "DiehlCook2015")  # 0..255, not [0, 1] floats (class docstring)
    return images.reshape(images.shape[0], -1)


class DiehlCook2015(nn.Module):
    """Diehl & Cook's (2015) network: ``n_neurons`` excitatory and as many inhibitory neurons,
    input weights learned by STDP (module docstring; constants in :data:`PARAMS`).

    Deviations from the published code, all named: no input conduction delays (the code draws
    ``rand() * 10 ms`` per synapse, the paper describes none; they would need a per-synapse pre
    trace, 784 x N values, and only add jitter to Poisson input); the rest's last 130 ms in closed
    form; at most :data:`MAX_RETRIES` re-presentations; evaluation treats each digit independently
    from a rested network (the code runs the test digits in sequence, 150 ms of rest apart);
    neurons that never fire while labelling get no class (the code gives them class 0).
    Threshold: the code's (``v > theta - 72 mV``, ``theta`` starting at 20 mV), which equals the
    paper's ``-52 mV + theta`` at the start; unlike the paper's, the code's ``theta`` decays towards
    0, not 20 mV (factor e^-3 over one pass of 60 000 digits), which lets the threshold of a rarely
    firing neuron fall.

    Args:
        n_neurons: excitatory neurons ``N`` (100, 400, 1600, 6400 in the paper).
        seed: seed of the initial weights and of every Poisson input.

    Buffers: ``weight`` ``[784, N]``, ``theta`` ``[N]`` (mV), ``labels`` ``[N]`` (-1 until
    :meth:`assign_labels`), the training state (:class:`DiehlCookState` fields) and ``presented``
    (training digits shown so far, which indexes their Poisson seeds).

    Devices: CPU-only engine (compiled event-driven code and the float64 reference): the model and
    its buffers stay on the CPU (moved to another device, every entry point raises a
    ``ValueError``); images and targets on another device are moved to the CPU by :meth:`learn`,
    :meth:`responses`, :meth:`assign_labels` and :meth:`forward`, and their outputs are CPU tensors.

    Images: digits with pixel values 0..255 (a pixel's rate is ``pixel / 8 * intensity`` Hz), as
    ``uint8`` (what :func:`snnbook.data.mnist_tensors` returns) or as real numbers 0..255, shaped
    ``[digits, 28, 28]`` or ``[digits, 784]``. [0, 1] floats (``ToTensor()``, the gradient
    networks' convention), which would evoke almost no input spike, are refused with a
    ``ValueError`` that says to multiply by 255, and so are values outside 0..255, NaN and other
    sizes. Targets are classes 0..9.

    Shape:
        - Input: ``images`` ``[digits, 28, 28]`` uint8 (0..255).
        - Output: :meth:`forward` gives classes ``[digits]``; :meth:`responses` and :meth:`learn`
          give spike counts ``[digits, N]``.

    Example:
        >>> import torch
        >>> from snnbook.models import DiehlCook2015
        >>> model = DiehlCook2015(n_neurons=10, seed=0)
        >>> images = torch.zeros(2, 28, 28, dtype=torch.uint8); images[:, 10:18, 12:16] = 255
        >>> counts = model.learn(images)           # two digits of STDP
        >>> tuple(counts.shape), float(model.weight.sum(0)[0]) > 0
        ((2, 10), True)
    """

    def __init__(self, n_neurons: int = 400, seed: int = 0):
        super().__init__()
        fn = "DiehlCook2015"
        self.n_neurons = check_int(fn, "n_neurons", n_neurons, minimum=1)
        self.seed = check_int(fn, "seed", seed, minimum=0)
        _constants(PARAMS, fn)  # checks PARAMS (once per change)
        g = torch.Generator().manual_seed(self.seed)
        p = PARAMS
        w = (torch.rand(p["n_inputs"], self.n_neurons, generator=g, dtype=torch.float64) + p["w_init_shift"]) \
            * p["w_init_scale"]
        self.register_buffer("weight", w)
        self.register_buffer("theta", torch.full((self.n_neurons,), p["theta_init"], dtype=torch.float64))
        self.register_buffer("labels", torch.full((self.n_neurons,), -1, dtype=torch.int64))
        self.register_buffer("presented", torch.zeros((), dtype=torch.int64))
        for name, value in init_state(self.n_neurons)._asdict().items():
            self.register_buffer(f"state_{name}", value)

    def extra_repr(self) -> str:
        return f"n_neurons={self.n_neurons}, seed={self.seed}"

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` after checking ``state_dict``: tensors of the model's shapes
        and kinds, finite; weights, conductances, steps and ``presented`` ``>= 0``; labels in
        ``[-1, 9]``; last spikes no later than ``state_t``. Else ``ValueError``/``TypeError``
        naming the entry, and nothing is loaded."""
        fn = "DiehlCook2015.load_state_dict"
        check_state_dict(fn, self, state_dict, strict, assign)
        for key in ("weight", "presented", "state_ge_e", "state_gi_e", "state_ge_i", "state_gi_i", "state_since_e",
                    "state_since_i", "state_t"):
            check_entry_range(fn, state_dict, key, low=0)
        check_entry_range(fn, state_dict, "labels", low=-1, high=9, what="classes; -1: no class")
        t = state_dict.get("state_t", self.state_t)
        for key in ("state_last_pre", "state_last_post"):
            check_entry_range(fn, state_dict, key, high=float(t), what=f"steps of the last spikes, <= state_t={int(t)}")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # -- state -------------------------------------------------------------------------------
    @property
    def state(self) -> DiehlCookState:
        """The training state as a :class:`DiehlCookState` (views of the buffers)."""
        return DiehlCookState(*(getattr(self, f"state_{f}") for f in DiehlCookState._fields))

    def _set_state(self, state: DiehlCookState) -> None:
        for f, v in state._asdict().items():
            getattr(self, f"state_{f}").copy_(v)

    def reset_state(self) -> None:
        """Reset the dynamic state (potentials, conductances, traces) to the code's initial one;
        weights, thresholds, labels and ``presented`` are kept."""
        self._set_state(init_state(self.n_neurons))

    # -- training ----------------------------------------------------------------------------
    @torch.no_grad()
    def learn(self, images: torch.Tensor, engine: str = "event", return_attempts: bool = False):
        """Show the digits one after the other with STDP on (training mode only): before each,
        normalise the weights; show it 350 ms + 150 ms rest; re-show it at intensity + 1 while it
        evokes fewer than 5 excitatory spikes (at most :data:`MAX_RETRIES` times).

        Args:
            images: ``[digits, 28, 28]`` uint8 (0..255), shown in order.
            engine: ``"event"`` (compiled) or ``"reference"`` (:func:`run_digit_reference`).
            return_attempts: also return how often each digit was shown (the monitor of
                re-presentations, :mod:`snnbook.monitors`).

        Shape:
            - Output: spike counts of the last presentation of each digit ``[digits, N]`` int64;
              with ``return_attempts``, also the presentations per digit ``[digits]`` int64
              (1 .. ``1 + MAX_RETRIES``).
        """
        fn = "DiehlCook2015.learn"
        images = cpu_engine_input(fn, self, images)  # CPU-only engine (class docstring)
        if not self.training:
            raise ValueError(f"{fn}: the model is in eval mode, where weights, thresholds and labels are frozen; "
                             "call .train() to learn")
        flat = _images_arg(fn, images)
        engine = self._engine(fn, engine)
        check_bool(fn, "return_attempts", return_attempts)
        c = _constants(PARAMS, fn)
        counts = torch.zeros(flat.shape[0], self.n_neurons, dtype=torch.int64)
        attempts = torch.zeros(flat.shape[0], dtype=torch.int64)
        if engine == "event":
            W, theta = self.weight.numpy(), self.theta.numpy()
            st = [getattr(self, f"state_{f}").numpy() for f in DiehlCookState._fields[:-1]]
            t = int(self.state_t)
            post1 = np.empty(self.n_neurons)
            spk_e = np.empty(self.n_neurons, np.int64)
            spk_i = np.empty(self.n_neurons, np.int64)
            cn = counts.numpy()
        base = int(self.presented)
        for b in range(flat.shape[0]):
            if engine == "event":
                _normalize(W, PARAMS["weight_sum"])
            else:
                self.weight.copy_(_normalize_weights(self.weight))
            for attempt in range(MAX_RETRIES + 1):
                pix, off = _poisson_events(flat[b], PARAMS["intensity"] + attempt,
                                           _digit_generator(self.seed, 0, base + b, attempt))
                if engine == "event":
                    cn[b] = 0
                    t = _digit(W, theta, *st, t, pix.numpy(), off.numpy(), True, c.P, c.I, c.tab_pre, c.tab_post1,
                               c.tab_post2, c.pow_e, c.pow_i, cn[b], post1, spk_e, spk_i)
                else:
                    cnt, w, th, state = _run_digit_reference(self.weight, self.theta, self.state,
                                                             _events_to_spikes(pix, off), True, c)
                    self.weight.copy_(w)
                    self.theta.copy_(th)
                    self._set_state(state)
                    counts[b] = cnt
                attempts[b] = attempt + 1
                if int(counts[b].sum()) >= PARAMS["min_spikes"]:
                    break
        if engine == "event":
            self.state_t.fill_(t)
        self.presented += flat.shape[0]
        return (counts, attempts) if return_attempts else counts

    @staticmethod
    def _engine(fn: str, engine) -> str:
        if not isinstance(engine, str) or engine not in _ENGINES:
            raise ValueError(f"{fn}: engine must be 'event' or 'reference', got engine={engine!r}")
        if engine == "event":
            _engine.require(fn)
        return engine

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def responses(self, images: torch.Tensor, stream: int = 1, first_index: int = 0,
                  engine: str = "event") -> torch.Tensor:
        """Spike counts with learning off, every digit independently from a rested network (with
        the re-presentations at higher intensity). Changes no weight, threshold, label or state.

        Args:
            images: ``[digits, 28, 28]`` uint8 (0..255).
            stream: Poisson stream (>= 1; 0 is training's): e.g. one for the labelling digits,
                another for the test digits.
            first_index: index of ``images[0]`` in its stream (the digit's Poisson seed).
            engine: ``"event"`` (compiled, parallel over digits) or ``"reference"``.

        Shape:
            - Output: ``[digits, N]`` int64 spike counts (of each digit's last presentation).
        """
        fn = "DiehlCook2015.responses"
        return self._responses(*self._eval_args(fn, images, stream, first_index, engine))

    def _eval_args(self, fn: str, images, stream, first_index, engine) -> tuple:
        """The checked arguments of :meth:`responses` (``images`` flattened, on the CPU)."""
        images = cpu_engine_input(fn, self, images)  # CPU-only engine (class docstring)
        flat = _images_arg(fn, images)
        stream = check_int(fn, "stream", stream, minimum=1)
        first_index = check_int(fn, "first_index", first_index, minimum=0)
        engine = self._engine(fn, engine)
        _constants(PARAMS, fn)  # checks PARAMS (once per change)
        return flat, stream, first_index, engine

    def _responses(self, flat, stream, first_index, engine) -> torch.Tensor:
        out = torch.zeros(flat.shape[0], self.n_neurons, dtype=torch.int64)
        for lo in range(0, flat.shape[0], _EVAL_CHUNK):
            hi = min(lo + _EVAL_CHUNK, flat.shape[0])
            out[lo:hi] = self._responses_chunk(flat[lo:hi], stream, first_index + lo, engine)
        return out

    def _responses_chunk(self, flat, stream, first, engine):
        B, n = flat.shape[0], self.n_neurons
        c = _constants()
        counts = torch.zeros(B, n, dtype=torch.int64)
        rested = init_state(n, rested=True)
        if engine == "reference":
            for b in range(B):
                state = rested
                for attempt in range(MAX_RETRIES + 1):
                    pix, off = _poisson_events(flat[b], PARAMS["intensity"] + attempt,
                                               _digit_generator(self.seed, stream, first + b, attempt))
                    counts[b], _, _, state = _run_digit_reference(self.weight, self.theta, state,
                                                                  _events_to_spikes(pix, off), False, c)
                    if int(counts[b].sum()) >= PARAMS["min_spikes"]:
                        break
            return counts
        # writable copies (np.ascontiguousarray would return the read-only broadcast itself for one digit)
        S = [np.broadcast_to(getattr(rested, f).numpy(), (B, n)).copy()
             for f in ("v_e", "ge_e", "gi_e", "since_e", "v_i", "ge_i", "gi_i", "since_i")]
        active = np.arange(B)
        W, theta = self.weight.numpy(), self.theta.numpy()
        cn = counts.numpy()
        n_in = int(c.I[3])
        for attempt in range(MAX_RETRIES + 1):
            pixes, offs, total = [], np.zeros((B, n_in + 1), np.int64), 0
            for b in active.tolist():
                pix, off = _poisson_events(flat[b], PARAMS["intensity"] + attempt,
                                           _digit_generator(self.seed, stream, first + b, attempt))
                pixes.append(pix.numpy())
                offs[b] = off.numpy() + total
                total += pix.numel()
            ev = np.concatenate(pixes) if pixes else np.zeros(0, np.int32)
            cn[active] = 0
            _digits_eval(W, theta, *S, ev, offs, active, c.P, c.I, c.tab_pre, c.tab_post1, c.tab_post2,
                         c.pow_e, c.pow_i, cn)
            active = active[cn[active].sum(1) < PARAMS["min_spikes"]]
            if active.size == 0:
                break
        return counts

    @torch.no_grad()
    def assign_labels(self, images: torch.Tensor, targets: torch.Tensor, stream: int = 2,
                      first_index: int = 0) -> torch.Tensor:
        """Label the neurons from TRAINING digits (:func:`assign_labels` on :meth:`responses`;
        training mode only: labels are frozen in eval mode).

        Shape:
            - Input: ``images`` ``[digits, 28, 28]`` (0..255), ``targets`` ``[digits]`` integer
              classes 0..9.
            - Output: the new ``labels`` ``[N]`` (also stored in the buffer).
        """
        fn = "DiehlCook2015.assign_labels"
        images, targets = cpu_engine_input(fn, self, images), cpu_engine_input(fn, self, targets)  # CPU engine
        if not self.training:
            raise ValueError(f"{fn}: the model is in eval mode, where labels are frozen; call .train() first")
        args = self._eval_args(fn, images, stream, first_index, "event")  # all checked before the responses
        _check_classes(fn, "targets", targets, 0, 10, "[digits]")
        if targets.shape[0] != args[0].shape[0]:
            raise ValueError(f"{fn}: targets must have shape [digits={args[0].shape[0]}] (one class per image), got "
                             f"{tuple(targets.shape)}")
        counts = self._responses(*args)
        self.labels.copy_(assign_labels(counts, targets))
        return self.labels.clone()

    @torch.no_grad()
    def forward(self, images: torch.Tensor, stream: int = 3, first_index: int = 0,
                engine: str = "event") -> torch.Tensor:
        """Classify digits (learning off; independent digits): :func:`classify` of
        :meth:`responses` with the neurons' ``labels``.

        Shape:
            - Input: ``images`` ``[digits, 28, 28]`` uint8.
            - Output: ``[digits]`` int64 classes.
        """
        args = self._eval_args("DiehlCook2015.forward", images, stream, first_index, engine)
        return classify(self._responses(*args), self.labels)


def quickstart(n_neurons: int = 100, train_digits: int = 1000, label_digits: int = 1000,
               test_digits: int = 1000, seed: int = 0) -> tuple[DiehlCook2015, float]:
    """Train a small network on the first ``train_digits`` training digits, label it on the next
    ``label_digits`` (training set), return it in eval mode and its accuracy on the first
    ``test_digits`` test digits."""
    from .. import data
    fn = "quickstart"
    check_int(fn, "n_neurons", n_neurons, minimum=1)
    check_int(fn, "seed", seed, minimum=0)
    check_int(fn, "train_digits", train_digits, minimum=1)
    check_int(fn, "label_digits", label_digits, minimum=1)
    check_int(fn, "test_digits", test_digits, minimum=1)
    if train_digits + label_digits > 60_000:
        raise ValueError(f"{fn}: train_digits + label_digits must be <= 60000, got {train_digits + label_digits}")
    model = DiehlCook2015(n_neurons=n_neurons, seed=seed)
    images, targets = data.mnist_tensors(train=True, n=train_digits + label_digits)
    model.learn(images[:train_digits])
    model.assign_labels(images[train_digits:], targets[train_digits:], first_index=train_digits)
    model.eval()
    x, y = data.mnist_tensors(train=False, n=test_digits)
    return model, float((model(x) == y).float().mean())
