"""Issue 14: no silent wrong answers. Every public function and class of retina, coding, neurons,
layers, competition and plasticity rejects bad input with a ``TypeError``/``ValueError`` that names
the function and the argument, and keeps working on edge-valid input.

The table is grown by KIND, not by example: each public callable is described once (a valid call
and the kind of each argument), and the bad cases are generated from the kinds -- wrong types,
wrong ranks, wrong dtypes (int, bool, complex), NaN/inf, empty, sparse, meta-device tensors
(a mismatched device for functions that take several tensors), out-of-range numbers (also as 0-dim
tensors) and string flags. ``EXTRA`` holds the cases that need two arguments together or an
extreme value. ``test_every_public_callable_is_in_the_table`` keeps the table complete.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch

from snnbook import _engine, coding, competition, layers, neurons, plasticity, retina
from snnbook.neurons import (AdaptiveLIFParameters, AdaptiveLIFState, IFParameters, LIFParameters, LIFState)

ENGINE = "event" if _engine.available() else "dense"
NAN, INF = float("nan"), float("inf")


def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def img(b=2, c=1, h=6, w=6) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=gen())


def first_times(b, c, h, w, steps) -> torch.Tensor:
    """uint8 first-spike times with some silent neurons (``steps``)."""
    return torch.randint(0, steps + 1, (b, c, h, w), generator=gen(), dtype=torch.uint8)


def cwave(b=2, t=3, c=1, h=5, w=5) -> torch.Tensor:
    """A cumulative float32 0/1 spike-wave."""
    return coding.times_to_wave(first_times(b, c, h, w, t), t)


def potentials(b=2, t=3, f=2, h=4, w=4) -> torch.Tensor:
    return torch.rand(b, t, f, h, w, generator=gen()).cumsum(1)


# ----------------------------------------------------------------------------------------------
# argument kinds
# ----------------------------------------------------------------------------------------------
@dataclass
class T:
    """A tensor argument. ``kind``: 'float' (floating point only), 'real' (any real dtype),
    'int' (integer only), 'uint8' (first-spike times), 'f3264' (float32/float64 only).
    ``rank``: True for an exact rank (one more and one less are wrong), or a list of transforms
    that give a wrong rank; ``seq_ok``: a list is a valid value too."""
    kind: str = "float"
    rank: object = True
    seq_ok: bool = False
    empty: bool = True
    values: bool = True            # NaN/inf are wrong (False: a layout function that never reads them)
    dtype_exc: type = TypeError    # the exception of a wrong dtype


@dataclass
class Spec:
    name: str                      # the name every error message must contain
    call: Callable                 # call(**kwargs)
    valid: Callable[[], dict]      # fresh valid kwargs
    tensors: dict = field(default_factory=dict)   # arg -> T
    reals: dict = field(default_factory=dict)     # arg -> extra (value, exception) pairs
    ints: dict = field(default_factory=dict)      # arg -> extra (value, exception) pairs
    flags: tuple = ()
    optional: tuple = ()           # arguments where None is valid ("not given")
    covers: tuple = ()             # public names this spec covers (default: name)


def _tensor_variants(x: torch.Tensor, t: T):
    """(label, bad value, exception) for tensor argument ``x`` of kind ``t``."""
    out = []
    if not t.seq_ok:
        out.append(("list", x.tolist(), TypeError))
        out.append(("ndarray", x.numpy(), TypeError))
    if t.rank is True:
        out.append(("rank+1", x.unsqueeze(0), ValueError))
        if x.dim() > 0:
            out.append(("rank-1", x[0], ValueError))
    else:
        for i, f in enumerate(t.rank):
            out.append((f"rank{i}", f(x), ValueError))
    bad_dtypes = {"float": (torch.int32, torch.bool), "f3264": (torch.int32, torch.bool, torch.float16),
                  "int": (torch.float32, torch.bool), "uint8": (torch.float32, torch.int64),
                  "real": ()}[t.kind]
    for d in bad_dtypes:
        out.append((f"dtype-{d}", x.to(d), t.dtype_exc))
    out.append(("complex", x.to(torch.complex64), TypeError))
    if x.is_floating_point() and t.values:
        for label, v in (("nan", NAN), ("inf", INF), ("-inf", -INF)):
            y = x.clone()
            y.view(-1)[0] = v
            out.append((label, y, ValueError))
    if t.empty and x.dim() > 0:
        out.append(("empty", x[:0], ValueError))
    out.append(("sparse", x.to_sparse(), TypeError))
    out.append(("meta", x.to("meta"), ValueError))
    return out


REAL_BAD = [("nan", NAN, ValueError), ("inf", INF, ValueError), ("str", "1", TypeError), ("bool", True, TypeError),
            ("none", None, TypeError), ("0d-nan", torch.tensor(NAN), ValueError),
            ("1d", torch.ones(7), ValueError), ("complex", 1j, TypeError)]
INT_BAD = [("float", 1.5, TypeError), ("str", "3", TypeError), ("bool", True, TypeError),
           ("0d-float", torch.tensor(1.5), TypeError), ("none", None, TypeError)]
FLAG_BAD = [("str", "false", TypeError), ("int", 1, TypeError), ("none", None, TypeError),
            ("np.bool_", np.bool_(True), TypeError), ("0d", torch.tensor(True), TypeError)]


# ----------------------------------------------------------------------------------------------
# the table: one spec per public callable
# ----------------------------------------------------------------------------------------------
K3 = retina.on_off_dog(3, (0.5, 1.0))  # [2, 1, 3, 3]
W_CONV = torch.full((2, 1, 2, 2), 0.5)
WIN = torch.tensor([[[0, 0, 0]], [[1, 1, 1]]])


def _stdp_valid():
    return dict(weight=W_CONV.clone(), input_spikes=cwave(2, 3, 1, 3, 3), output_spikes=cwave(2, 3, 2, 2, 2),
                winners=WIN.clone(), a_ltp=0.004, a_ltd=-0.003)


def _stdp_times_valid():
    return dict(weight=W_CONV.clone(), input_times=first_times(2, 1, 3, 3, 3), output_times=first_times(2, 2, 2, 2, 3),
                winners=WIN.clone(), time_steps=3, a_ltp=0.004, a_ltd=-0.003, engine=ENGINE)


def _times_pot_valid():
    first = first_times(2, 2, 4, 4, 3)
    pot = (torch.rand(2, 2, 4, 4, generator=gen()) + 0.5) * (first < 3)
    return dict(first=first, potentials=pot, time_steps=3, engine=ENGINE)


def _lif_state(x, cls=LIFState, n=2):
    return cls(*[torch.zeros_like(x) for _ in range(n)])


X_NEURON = torch.full((2, 3), 0.4)
WAVE_ANY_RANK = T("float", rank=[lambda x: x.reshape(-1)[0]])
STATE_BAD = "state"  # explicit cases in EXTRA

SPECS = [
    Spec("conductance_step", neurons.conductance_step,
         lambda: dict(v=torch.full((2, 3), -65.0), g_exc=torch.full((2, 3), 0.5),
                      g_inh=torch.full((2, 3), 0.2), tau_mem=100.0, v_rest=-65.0, e_exc=0.0,
                      e_inh=-100.0, dt=1.0),
         tensors={"v": T(rank=[]), "g_exc": T(rank=[lambda x: x[0]]), "g_inh": T(rank=[lambda x: x[0]])},
         reals={"tau_mem": [(0.0, ValueError)], "dt": [(-1.0, ValueError)], "v_rest": [], "e_exc": [],
                "e_inh": []}),
    Spec("stdp_window", plasticity.stdp_window,
         lambda: dict(dt=torch.tensor([-10.0, 0.0, 10.0]), a_plus=0.01, a_minus=0.01, tau_plus=20.0,
                      tau_minus=20.0),
         tensors={"dt": T(rank=[], empty=False)},
         reals={"a_plus": [(-1.0, ValueError)], "a_minus": [(-1.0, ValueError)],
                "tau_plus": [(0.0, ValueError)], "tau_minus": [(0.0, ValueError)]}),
    # ---------------------------------------------------------------- retina
    Spec("dog_kernel", retina.dog_kernel, lambda: dict(window_size=3, sigma1=1 / 3, sigma2=2 / 3),
         reals={"sigma1": [(0.0, ValueError), (-1.0, ValueError)], "sigma2": [(0.0, ValueError)]},
         ints={"window_size": [(1, ValueError), (-3, ValueError)]}),
    Spec("gabor_kernel", retina.gabor_kernel, lambda: dict(window_size=5, orientation=0.0, div=4.0),
         reals={"orientation": [], "div": [(0.0, ValueError), (-1.0, ValueError)]},
         ints={"window_size": [(0, ValueError)]}),
    Spec("kernel_stack", retina.kernel_stack, lambda: dict(kernels=[K3[0, 0], K3[1, 0]])),
    Spec("dog_bank", retina.dog_bank, lambda: dict(settings=[(3, 1.0, 2.0)])),
    Spec("gabor_bank", retina.gabor_bank, lambda: dict(window_size=5, orientations=[0.0, 90.0]),
         reals={"div": [(0.0, ValueError)]}, ints={"window_size": [(1, ValueError)]}),
    Spec("mozafari2019_dog_kernels", retina.mozafari2019_dog_kernels, lambda: dict()),
    Spec("on_off_dog", retina.on_off_dog, lambda: dict(window=5, sigmas=(1.0, 2.0)),
         ints={"window": [(1, ValueError)]}),
    Spec("filter_bank", retina.filter_bank,
         lambda: dict(images=img(), kernels=K3.clone(), padding=1, threshold=0.1, use_abs=False),
         tensors={"images": T(), "kernels": T(seq_ok=True)},
         reals={"threshold": [("1", TypeError)]}, ints={"padding": [(-1, ValueError)]}, flags=("use_abs",)),
    Spec("Filter", retina.Filter, lambda: dict(kernels=K3.clone(), padding=1, threshold=0.1, use_abs=False),
         tensors={"kernels": T(seq_ok=True)}, reals={"threshold": []}, ints={"padding": [(-1, ValueError)]},
         flags=("use_abs",), covers=("Filter", "FilterBank")),
    Spec("filter_bank", lambda **kw: retina.Filter(K3.clone(), 1, 0.1)(**kw), lambda: dict(images=img()),
         tensors={"images": T()}, covers=("Filter.forward",)),
    Spec("local_normalization", retina.local_normalization, lambda: dict(x=img(2, 2), radius=1, eps=1e-12),
         tensors={"x": T()}, ints={"radius": [(-1, ValueError)]}, reals={"eps": [(-1.0, ValueError)]}),
    Spec("LocalNormalization", retina.LocalNormalization, lambda: dict(radius=1, eps=1e-12),
         ints={"radius": [(-1, ValueError)]}, reals={"eps": [(-1.0, ValueError)]}),
    Spec("local_normalization", lambda **kw: retina.LocalNormalization(1)(**kw), lambda: dict(x=img(2, 2)),
         tensors={"x": T()}, covers=("LocalNormalization.forward",)),
    Spec("inhibition_kernel", retina.inhibition_kernel, lambda: dict(percents=torch.tensor([0.5, 0.25])),
         tensors={"percents": T("real", seq_ok=True)}),
    Spec("intensity_lateral_inhibition", retina.intensity_lateral_inhibition,
         lambda: dict(intensities=img(), kernel=retina.inhibition_kernel([0.5])),
         tensors={"intensities": T(), "kernel": T("real", rank=[lambda x: x[0], lambda x: x[None]])}),
    Spec("LateralIntensityInhibition", retina.LateralIntensityInhibition,
         lambda: dict(percents=torch.tensor([0.5, 0.25])), tensors={"percents": T("real", seq_ok=True)}),
    Spec("intensity_lateral_inhibition", lambda **kw: retina.LateralIntensityInhibition([0.5])(**kw),
         lambda: dict(intensities=img()), tensors={"intensities": T()},
         covers=("LateralIntensityInhibition.forward",)),
    # ---------------------------------------------------------------- coding
    Spec("intensity_to_latency", coding.intensity_to_latency,
         lambda: dict(x=img(), time_steps=3, to_spike=True, cumulative=True),
         tensors={"x": T()}, ints={"time_steps": [(0, ValueError), (2 ** 40, ValueError)]},
         flags=("to_spike", "cumulative")),
    Spec("IntensityToLatency", coding.IntensityToLatency, lambda: dict(time_steps=3, to_spike=True, cumulative=True),
         ints={"time_steps": [(0, ValueError)]}, flags=("to_spike", "cumulative")),
    Spec("intensity_to_latency", lambda **kw: coding.IntensityToLatency(3)(**kw), lambda: dict(x=img()),
         tensors={"x": T()}, covers=("IntensityToLatency.forward",)),
    Spec("poisson_spikes", coding.poisson_spikes,
         lambda: dict(intensity=torch.rand(2, 5, generator=gen()), time_steps=4, max_rate=100.0, dt=1.0),
         tensors={"intensity": WAVE_ANY_RANK}, ints={"time_steps": [(0, ValueError)]}, optional=("time_steps",),
         reals={"max_rate": [(-1.0, ValueError), (1e6, ValueError)], "dt": [(0.0, ValueError), (1e300, ValueError)]}),
    Spec("PoissonEncoder", coding.PoissonEncoder, lambda: dict(time_steps=4, max_rate=100.0, dt=1.0),
         ints={"time_steps": [(0, ValueError)]},
         reals={"max_rate": [(-1.0, ValueError), (1e6, ValueError)], "dt": [(0.0, ValueError)]}),
    Spec("poisson_spikes", lambda **kw: coding.PoissonEncoder(4)(**kw),
         lambda: dict(intensity=torch.rand(2, 5, generator=gen())), tensors={"intensity": WAVE_ANY_RANK},
         covers=("PoissonEncoder.forward",)),
    Spec("first_spike_times", coding.first_spike_times, lambda: dict(spikes=cwave(2, 3, 1, 2, 2)),
         tensors={"spikes": T("real", rank=[lambda x: x.reshape(-1)])}),
    Spec("dvs_events", coding.dvs_events, lambda: dict(frames=torch.rand(1, 3, 4, 4, generator=gen()),
                                                       threshold=0.2, eps=1e-3),
         tensors={"frames": T(rank=[lambda x: x[0], lambda x: x[None, None]])},
         reals={"threshold": [(0.0, ValueError)], "eps": [(0.0, ValueError), (1e-50, ValueError),
                                                          (1e308, ValueError)]}),
    Spec("to_time_first", coding.to_time_first, lambda: dict(x=cwave()),
         tensors={"x": T("real", rank=[lambda x: x.reshape(-1)], values=False)}),
    Spec("to_batch_first", coding.to_batch_first, lambda: dict(x=cwave()),
         tensors={"x": T("real", rank=[lambda x: x.reshape(-1)], values=False)}),
    Spec("wave_to_times", coding.wave_to_times, lambda: dict(spikes=cwave()),
         tensors={"spikes": T("real", rank=[lambda x: x.reshape(-1)])}),
    Spec("times_to_wave", coding.times_to_wave, lambda: dict(times=first_times(2, 1, 2, 2, 3), time_steps=3),
         tensors={"times": T("int", rank=[lambda x: x.reshape(-1)[0]])},
         ints={"time_steps": [(0, ValueError), (255, ValueError)]}),
    Spec("latency_times", coding.latency_times, lambda: dict(x=img(), time_steps=3),
         tensors={"x": T()}, ints={"time_steps": [(0, ValueError), (255, ValueError)]}),
    # ---------------------------------------------------------------- neurons
    Spec("init_state", neurons.init_state, lambda: dict(x=X_NEURON.clone(), params=LIFParameters()),
         tensors={"x": T(rank=[lambda x: x.reshape(-1)[0]], empty=False, values=False)}),
    Spec("if_step", neurons.if_step,
         lambda: dict(input_current=X_NEURON.clone(), state=_lif_state(X_NEURON), params=IFParameters()),
         tensors={"input_current": T(rank=[])}),
    Spec("lif_step", neurons.lif_step,
         lambda: dict(input_current=X_NEURON.clone(), state=_lif_state(X_NEURON), params=LIFParameters()),
         tensors={"input_current": T(rank=[])}),
    Spec("adaptive_lif_step", neurons.adaptive_lif_step,
         lambda: dict(input_current=X_NEURON.clone(), state=_lif_state(X_NEURON, AdaptiveLIFState, 3),
                      params=AdaptiveLIFParameters(), adapt=True),
         tensors={"input_current": T(rank=[])}, flags=("adapt",)),
    Spec("simulate", neurons.simulate, lambda: dict(currents=torch.full((2, 4, 3), 0.4), params=LIFParameters(),
                                                    adapt=True, return_state=False),
         tensors={"currents": T(rank=[lambda x: x[0, 0]])}, flags=("adapt", "return_state")),
    Spec("simulate", neurons.lif_run, lambda: dict(currents=torch.full((2, 4, 3), 0.4)),
         tensors={"currents": T(rank=[lambda x: x[0, 0]])}, covers=("lif_run",)),
    Spec("heaviside", neurons.heaviside, lambda: dict(x=torch.tensor([-1.0, 0.5])),
         tensors={"x": T("real", rank=[], empty=False)}),
    Spec("fast_sigmoid", neurons.fast_sigmoid, lambda: dict(slope=25.0), reals={"slope": [(0.0, ValueError)]}),
    Spec("arctan", neurons.arctan, lambda: dict(alpha=2.0), reals={"alpha": [(-1.0, ValueError)]}),
    Spec("SurrogateSpike", neurons.SurrogateSpike,
         lambda: dict(function=neurons.FastSigmoidSpike, name="fast_sigmoid", param_name="slope", value=25.0),
         reals={"value": [(0.0, ValueError)]}),
    Spec("IF", neurons.IF, lambda: dict(params=IFParameters())),
    Spec("LIF", neurons.LIF, lambda: dict(params=LIFParameters())),
    Spec("AdaptiveLIF", neurons.AdaptiveLIF, lambda: dict(params=AdaptiveLIFParameters())),
    Spec("simulate", lambda **kw: neurons.LIF()(**kw), lambda: dict(currents=torch.full((2, 4, 3), 0.4)),
         tensors={"currents": T(rank=[lambda x: x[0, 0]])}, covers=("LIF.forward", "IF.forward",
                                                                    "AdaptiveLIF.forward")),
    Spec("AdaptiveLIF.reset_state", lambda **kw: neurons.AdaptiveLIF().reset_state(**kw),
         lambda: dict(reset_theta=False), flags=("reset_theta",)),
    # ---------------------------------------------------------------- layers
    Spec("conv", layers.conv, lambda: dict(spikes=cwave(2, 3, 1, 4, 4), weight=W_CONV.clone()),
         tensors={"spikes": T("real"), "weight": T()}),
    Spec("pool", layers.pool, lambda: dict(x=potentials(), kernel_size=2, stride=None, padding=0),
         tensors={"x": T()}, ints={"kernel_size": [(0, ValueError), (9, ValueError)],
                                   "padding": [(-1, ValueError), (2, ValueError)]}),
    Spec("pad", layers.pad, lambda: dict(x=potentials(), padding=(1, 0, 0, 1), value=0.0),
         tensors={"x": T("real")}, reals={"value": [(1e300, ValueError)]}),
    Spec("Convolution", layers.Convolution, lambda: dict(in_channels=1, out_channels=2, kernel_size=2),
         ints={"in_channels": [(0, ValueError)], "out_channels": [(0, ValueError)],
               "kernel_size": [(0, ValueError)]}),
    Spec("Convolution.reset_weight", lambda **kw: layers.Convolution(1, 2, 2).reset_weight(**kw),
         lambda: dict(weight_mean=0.8, weight_std=0.02),
         reals={"weight_mean": [], "weight_std": [(-1.0, ValueError), (1e308, ValueError)]}),
    Spec("Convolution.load_weight", lambda **kw: layers.Convolution(1, 2, 2).load_weight(**kw),
         lambda: dict(weight=W_CONV.clone()), tensors={"weight": T()}),
    Spec("conv", lambda **kw: layers.Convolution(1, 2, 2)(**kw), lambda: dict(spikes=cwave(2, 3, 1, 4, 4)),
         tensors={"spikes": T("real")}, covers=("Convolution.forward",)),
    Spec("Pooling", layers.Pooling, lambda: dict(kernel_size=2, stride=None, padding=0),
         ints={"kernel_size": [(0, ValueError)], "stride": [(0, ValueError)], "padding": [(-1, ValueError)]}),
    Spec("pool", lambda **kw: layers.Pooling(2)(**kw), lambda: dict(x=potentials()), tensors={"x": T()},
         covers=("Pooling.forward",)),
    Spec("conv_fire_times", layers.conv_fire_times,
         lambda: dict(times=first_times(2, 1, 4, 4, 3), weight=W_CONV.clone(), threshold=0.5, time_steps=3,
                      return_last=False, engine=ENGINE),
         tensors={"times": T("uint8"), "weight": T("f3264")}, reals={"threshold": [(-1.0, ValueError)]},
         ints={"time_steps": [(0, ValueError), (255, ValueError), (2, ValueError)]}, flags=("return_last",)),
    Spec("pool_times", layers.pool_times, lambda: dict(times=first_times(2, 1, 4, 4, 3), kernel_size=2),
         tensors={"times": T("uint8")}, ints={"kernel_size": [(0, ValueError)]}),
    Spec("pad_times", layers.pad_times, lambda: dict(times=first_times(2, 1, 4, 4, 3), padding=(1, 1, 1, 1),
                                                     time_steps=3),
         tensors={"times": T("uint8")}, ints={"time_steps": [(0, ValueError), (255, ValueError)]}),
    # ---------------------------------------------------------------- competition
    Spec("fire", competition.fire, lambda: dict(potentials=potentials(), threshold=1.0,
                                                return_thresholded_potentials=False),
         tensors={"potentials": T()}, reals={"threshold": []}, flags=("return_thresholded_potentials",)),
    Spec("fire_", competition.fire_, lambda: dict(potentials=potentials(), threshold=1.0),
         tensors={"potentials": T()}, reals={"threshold": []}),
    Spec("threshold", competition.threshold, lambda: dict(potentials=potentials(), threshold=1.0),
         tensors={"potentials": T()}, reals={"threshold": []}),
    Spec("threshold_", competition.threshold_, lambda: dict(potentials=potentials(), threshold=1.0),
         tensors={"potentials": T()}, reals={"threshold": []}),
    Spec("pointwise_inhibition", competition.pointwise_inhibition,
         lambda: dict(thresholded_potentials=potentials()), tensors={"thresholded_potentials": T()}),
    Spec("feature_inhibition", competition.feature_inhibition,
         lambda: dict(potentials=potentials(), features=torch.tensor([[0], [1]])),
         tensors={"potentials": T(), "features": T("int", rank=[lambda x: x[None]], seq_ok=True, empty=False)}),
    Spec("feature_inhibition_", competition.feature_inhibition_,
         lambda: dict(potentials=potentials(), features=torch.tensor([[0], [1]])),
         tensors={"potentials": T(), "features": T("int", rank=[lambda x: x[None]], seq_ok=True, empty=False)}),
    Spec("k_winners", competition.k_winners,
         lambda: dict(potentials=potentials(), k=2, inhibition_radius=1, spikes=competition.fire(potentials(), 1.0)),
         tensors={"potentials": T(), "spikes": T("real")},
         ints={"k": [(0, ValueError), (33, ValueError)], "inhibition_radius": [(-1, ValueError)]}),
    Spec("winners_to_lists", competition.winners_to_lists, lambda: dict(winners=WIN.clone()),
         tensors={"winners": T("int", empty=False, dtype_exc=ValueError)}),
    Spec("Fire", competition.Fire, lambda: dict(threshold=1.0, return_thresholded_potentials=False),
         reals={"threshold": []}, flags=("return_thresholded_potentials",)),
    Spec("fire", lambda **kw: competition.Fire(1.0)(**kw), lambda: dict(potentials=potentials()),
         tensors={"potentials": T()}, covers=("Fire.forward",)),
    Spec("KWTA", competition.KWTA, lambda: dict(k=2, inhibition_radius=1),
         ints={"k": [(0, ValueError)], "inhibition_radius": [(-1, ValueError)]}),
    Spec("k_winners", lambda **kw: competition.KWTA(2)(**kw), lambda: dict(potentials=potentials()),
         tensors={"potentials": T()}, covers=("KWTA.forward",)),
    Spec("pointwise_inhibition_times", competition.pointwise_inhibition_times, _times_pot_valid,
         tensors={"first": T("uint8"), "potentials": T("f3264")},
         ints={"time_steps": [(0, ValueError), (255, ValueError)]}),
    Spec("k_winners_times", competition.k_winners_times, lambda: dict(_times_pot_valid(), k=2, inhibition_radius=1),
         tensors={"first": T("uint8"), "potentials": T("f3264")},
         ints={"time_steps": [(0, ValueError)], "k": [(0, ValueError), (33, ValueError)],
               "inhibition_radius": [(-1, ValueError)]}),
    # ---------------------------------------------------------------- plasticity
    Spec("pre_post_ordering", plasticity.pre_post_ordering,
         lambda: {k: v for k, v in dict(_stdp_valid(), kernel_size=2).items() if k not in ("weight", "a_ltp", "a_ltd")},
         tensors={"input_spikes": T("real"), "output_spikes": T("real"), "winners": T("int", empty=False)},
         ints={"kernel_size": [(0, ValueError), (9, ValueError)]}),
    Spec("stdp_update", plasticity.stdp_update, _stdp_valid,
         tensors={"weight": T(), "input_spikes": T("real"), "output_spikes": T("real"),
                  "winners": T("int", empty=False)},
         reals={"a_ltp": [], "a_ltd": [], "lower_bound": [(2.0, ValueError)], "upper_bound": [(-1.0, ValueError)]},
         flags=("use_stabilizer",)),
    Spec("rstdp_update", plasticity.rstdp_update, lambda: dict(_stdp_valid(), reward=torch.tensor([1, -1]),
                                                               a_ltp=None, a_ltd=None),
         tensors={"weight": T(), "input_spikes": T("real"), "output_spikes": T("real"),
                  "winners": T("int", empty=False), "reward": T("real")},
         reals={"lower_bound": [(0.9, ValueError)]}, flags=("use_stabilizer",)),
    Spec("stdp_update_times", plasticity.stdp_update_times, _stdp_times_valid,
         tensors={"weight": T("f3264"), "input_times": T("uint8"), "output_times": T("uint8"),
                  "winners": T("int", empty=False)},
         reals={"a_ltp": [], "a_ltd": [], "lower_bound": [(2.0, ValueError)]},
         ints={"time_steps": [(0, ValueError), (2, ValueError)]}, flags=("use_stabilizer",)),
    Spec("rstdp_update_times", plasticity.rstdp_update_times,
         lambda: dict(_stdp_times_valid(), reward=torch.tensor([1, -1]), a_ltp=None, a_ltd=None),
         tensors={"weight": T("f3264"), "input_times": T("uint8"), "output_times": T("uint8"),
                  "winners": T("int", empty=False), "reward": T("real")},
         reals={"lower_bound": [(0.9, ValueError)]}, ints={"time_steps": [(0, ValueError)]},
         flags=("use_stabilizer",)),
    Spec("reward_signal", plasticity.reward_signal,
         lambda: dict(predictions=torch.tensor([1, -1, 2]), targets=torch.tensor([1, 0, 3])),
         tensors={"predictions": T("int"), "targets": T("int")}),
    Spec("adapt_rstdp_rates", plasticity.adapt_rstdp_rates,
         lambda: dict(reward_rate=(0.004, -0.003), punish_rate=(-0.004, 0.0005), hit_rate=0.5, miss_rate=0.25),
         reals={"hit_rate": [(1.5, ValueError), (-0.1, ValueError)], "miss_rate": [(0.9, ValueError)],
                "minimum": [(-1.0, ValueError)], "interval": [(-1.0, ValueError)]}),
    Spec("STDP", plasticity.STDP, lambda: dict(layer=layers.Convolution(1, 2, 2), learning_rate=(0.004, -0.003),
                                               use_stabilizer=True, anti=False),
         reals={"lower_bound": [(2.0, ValueError)], "max_a_ltp": [(-1.0, ValueError)]},
         ints={"adaptive_every": [(0, ValueError)]}, optional=("adaptive_every",), flags=("use_stabilizer", "anti")),
    Spec("stdp_update", lambda **kw: plasticity.STDP(layers.Convolution(1, 2, 2)).train()(potentials=None, **kw),
         lambda: {k: v for k, v in _stdp_valid().items() if k not in ("weight", "a_ltp", "a_ltd")},
         tensors={"input_spikes": T("real"), "output_spikes": T("real"), "winners": T("int", empty=False)},
         covers=("STDP.forward",)),
    Spec("rstdp_update", lambda **kw: plasticity.RSTDP(layers.Convolution(1, 2, 2)).train()(**kw),
         lambda: dict({k: v for k, v in _stdp_valid().items() if k not in ("weight", "a_ltp", "a_ltd")},
                      reward=torch.tensor([1, -1])),
         tensors={"input_spikes": T("real"), "output_spikes": T("real"), "winners": T("int", empty=False),
                  "reward": T("real")}, covers=("RSTDP.forward",)),
    Spec("RSTDP", plasticity.RSTDP, lambda: dict(layer=layers.Convolution(1, 2, 2), use_stabilizer=False),
         reals={"lower_bound": [(0.9, ValueError)]}, flags=("use_stabilizer",)),
    Spec("trace_step", plasticity.trace_step,
         lambda: dict(trace=torch.zeros(2, 3), spikes=torch.tensor([[1.0, 0, 0], [0, 1, 0]]), tau=20.0, dt=1.0,
                      increment=1.0, reset=False),
         tensors={"trace": T(rank=[]), "spikes": T("real", rank=[lambda x: x[0]])},
         reals={"tau": [(0.0, ValueError)], "dt": [(-1.0, ValueError)], "increment": []}, flags=("reset",)),
    Spec("pair_stdp_update", plasticity.pair_stdp_update,
         lambda: dict(weight=torch.full((2, 3), 0.5), pre_trace=torch.rand(4, 3, generator=gen()),
                      post_trace=torch.rand(4, 2, generator=gen()), pre_spikes=torch.ones(4, 3),
                      post_spikes=torch.ones(4, 2), eta_pre=0.1, eta_post=0.1, w_max=1.0),
         tensors={"weight": T(), "pre_trace": T(), "post_trace": T(), "pre_spikes": T("real"),
                  "post_spikes": T("real")},
         reals={"eta_pre": [(-1.0, ValueError)], "eta_post": [(-1.0, ValueError)], "w_max": [(0.0, ValueError)]}),
    Spec("normalize_weights", plasticity.normalize_weights,
         lambda: dict(weight=torch.rand(3, 4, generator=gen()), total=2.0),
         tensors={"weight": T()}, reals={"total": [(0.0, ValueError), (1e300, ValueError)]}),
]


def _cases():
    out = []
    for spec in SPECS:
        valid = spec.valid()
        for arg, t in spec.tensors.items():
            for label, bad, exc in _tensor_variants(valid[arg], t):
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg, extra in spec.reals.items():
            bads = [(lbl, v, e) for lbl, v, e in REAL_BAD
                    if not ((arg == "threshold" or arg in spec.optional) and v is None)]
            bads += [(repr(v), v, e) for v, e in extra]
            bads += [(f"0d-{v!r}", torch.tensor(v), e) for v, e in extra if isinstance(v, float)]
            for label, bad, exc in bads:
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg, extra in spec.ints.items():
            bads = [(lbl, v, e) for lbl, v, e in INT_BAD if not ((arg == "stride" or arg in spec.optional)
                                                                 and v is None)]
            bads += [(repr(v), v, e) for v, e in extra] + [(f"0d-{v}", torch.tensor(v), e) for v, e in extra
                                                          if abs(v) < 2 ** 31]
            for label, bad, exc in bads:
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg in spec.flags:
            for label, bad, exc in FLAG_BAD:
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
    return out


def _call_valid(spec: Spec, kwargs: dict):
    if spec.name in ("rstdp_update", "rstdp_update_times"):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("a_ltp", "a_ltd")}
    return spec.call(**kwargs)


@pytest.mark.parametrize("spec", [pytest.param(s, id=f"{s.name}-{i}") for i, s in enumerate(SPECS)])
def test_valid_call_works(spec):
    _call_valid(spec, spec.valid())


@pytest.mark.parametrize("spec,arg,bad,exc", _cases())
def test_bad_argument(spec, arg, bad, exc):
    kwargs = spec.valid()
    kwargs[arg] = bad
    with pytest.raises(exc) as info:
        _call_valid(spec, kwargs)
    msg = str(info.value)
    assert msg.startswith(spec.name + ":") or f"{spec.name}:" in msg, msg
    assert arg in msg, msg


def test_every_public_callable_is_in_the_table():
    exempt = {
        # data containers: their fields are checked by every function and module that takes them
        # (test_bad_neuron_parameters below)
        "IFParameters", "LIFParameters", "AdaptiveLIFParameters", "LIFState", "IFState", "AdaptiveLIFState",
        # torch.autograd.Function classes: called per time step through fast_sigmoid()/arctan()
        # (SigmoidSpike through snnbook.models.surrogate.spike_function, which checks its arguments)
        "FastSigmoidSpike", "ArctanSpike", "SigmoidSpike",
    }
    covered = set()
    for spec in SPECS:
        covered.update(spec.covers or (spec.name,))
    missing = []
    for module in (retina, coding, neurons, layers, competition, plasticity):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, torch.dtype) and name not in exempt and name not in covered:
                missing.append(f"{module.__name__}.{name}")
            if isinstance(obj, type) and issubclass(obj, torch.nn.Module) and name not in exempt:
                for method in ("forward",):
                    if f"{name}.{method}" not in covered and f"{obj.__name__}.{method}" not in covered:
                        missing.append(f"{module.__name__}.{name}.{method}")
    assert not missing, f"public callables without a bad-input spec: {missing}"


# ----------------------------------------------------------------------------------------------
# arguments checked against each other, extreme values, neuron parameters and state
# ----------------------------------------------------------------------------------------------
P5 = potentials()
SP = _stdp_valid()
ST = _stdp_times_valid()


def _state_with(field_name, value, cls=LIFState, n=2):
    parts = {f: torch.zeros_like(X_NEURON) for f in cls._fields[:n]}
    parts[field_name] = value
    return cls(**parts)


def _with_nan(x):
    y = x.clone()
    y.view(-1)[0] = NAN
    return y


EXTRA = [
    # retina: degenerate and overflowing kernels
    ("dog_kernel", "sigma1", lambda: retina.dog_kernel(3, 1.0, 1.0), ValueError),
    ("dog_kernel", "sigma1", lambda: retina.dog_kernel(3, 1e-200, 1.0), ValueError),
    ("dog_kernel", "sigma2", lambda: retina.dog_kernel(3, 1e10, 2e10), ValueError),
    ("dog_kernel", "dtype", lambda: retina.dog_kernel(3, 1.0, 2.0, dtype=torch.int32), TypeError),
    ("dog_kernel", "dtype", lambda: retina.dog_kernel(3, 1.0, 2.0, dtype="float32"), TypeError),
    ("gabor_kernel", "div", lambda: retina.gabor_kernel(5, 0.0, 1e308), ValueError),
    ("gabor_kernel", "div", lambda: retina.gabor_kernel(5, 0.0, 1e-300), ValueError),
    ("dog_bank", "settings", lambda: retina.dog_bank([(3.5, 1.0, 2.0)]), TypeError),
    ("dog_bank", "settings", lambda: retina.dog_bank([(3, 1.0, 1.0)]), ValueError),
    ("dog_bank", "settings", lambda: retina.dog_bank([]), ValueError),
    ("dog_bank", "settings", lambda: retina.dog_bank("abc"), ValueError),
    ("gabor_bank", "orientations", lambda: retina.gabor_bank(5, [0.0, NAN]), ValueError),
    ("gabor_bank", "orientations", lambda: retina.gabor_bank(5, torch.tensor([0.0])), ValueError),
    ("on_off_dog", "sigmas", lambda: retina.on_off_dog(5, (1.0, 1.0)), ValueError),
    ("on_off_dog", "sigmas", lambda: retina.on_off_dog(5, "ab"), ValueError),
    ("mozafari2019_dog_kernels", "dtype", lambda: retina.mozafari2019_dog_kernels(torch.int64), TypeError),
    ("kernel_stack", "kernels", lambda: retina.kernel_stack(K3), TypeError),
    ("kernel_stack", "kernels", lambda: retina.kernel_stack([]), ValueError),
    ("kernel_stack", "kernels[1]", lambda: retina.kernel_stack([K3[0, 0], K3[1, 0].double()]), TypeError),
    ("kernel_stack", "kernels[1]", lambda: retina.kernel_stack([K3[0, 0], _with_nan(K3[1, 0])]), ValueError),
    ("kernel_stack", "kernels[1]", lambda: retina.kernel_stack([K3[0, 0], K3[1, 0].to("meta")]), ValueError),
    ("kernel_stack", "kernels[0]", lambda: retina.kernel_stack([K3[0, 0].to(torch.complex64)]), TypeError),
    ("kernel_stack", "kernels[0]", lambda: retina.kernel_stack([torch.ones(2, 3)]), ValueError),
    ("filter_bank", "threshold", lambda: retina.filter_bank(img(), K3, threshold=[0.1, 0.2, 0.3]), ValueError),
    ("filter_bank", "threshold", lambda: retina.filter_bank(img(), K3, threshold=torch.tensor([0.1, NAN])),
     ValueError),
    ("filter_bank", "threshold", lambda: retina.filter_bank(img(), K3, threshold=torch.tensor(True)), TypeError),
    ("filter_bank", "threshold", lambda: retina.filter_bank(img(), K3, threshold="50"), TypeError),
    ("filter_bank", "threshold", lambda: retina.filter_bank(img(), K3, threshold=torch.ones(2).to("meta")),
     ValueError),
    ("filter_bank", "kernels", lambda: retina.filter_bank(img(c=2), K3), ValueError),
    ("filter_bank", "kernels", lambda: retina.filter_bank(img(), K3.double()), TypeError),
    ("filter_bank", "kernels", lambda: retina.filter_bank(img(h=2, w=2), K3), ValueError),
    ("filter_bank", "images", lambda: retina.filter_bank(img() * 1e37, K3 * 100), ValueError),
    ("filter_bank", "images", lambda: retina.filter_bank(img().half() * 6e4, K3.half() * 10), ValueError),
    ("local_normalization", "x",
     lambda: retina.local_normalization(torch.tensor([[[[1.0, -1.0, 1e-3]]]]).half(), 1, 0.0), ValueError),
    ("inhibition_kernel", "percents", lambda: retina.inhibition_kernel([1e6], dtype=torch.float16), ValueError),
    ("inhibition_kernel", "percents", lambda: retina.inhibition_kernel([]), ValueError),
    ("inhibition_kernel", "percents", lambda: retina.inhibition_kernel("ab"), TypeError),
    ("inhibition_kernel", "percents", lambda: retina.inhibition_kernel(torch.tensor([True])), TypeError),
    ("inhibition_kernel", "dtype", lambda: retina.inhibition_kernel([0.5], dtype=torch.int32), TypeError),
    ("intensity_lateral_inhibition", "kernel",
     lambda: retina.intensity_lateral_inhibition(img(), torch.ones(2, 2)), ValueError),
    ("intensity_lateral_inhibition", "kernel",
     lambda: retina.intensity_lateral_inhibition(img(), torch.ones(2, 1, 3, 3)), ValueError),
    ("intensity_lateral_inhibition", "kernel",
     lambda: retina.intensity_lateral_inhibition(img(), torch.ones(3, 3, dtype=torch.bool)), TypeError),
    ("intensity_lateral_inhibition", "intensities",
     lambda: retina.intensity_lateral_inhibition(img() * 3e38, retina.inhibition_kernel([0.5])), ValueError),
    # coding
    ("intensity_to_latency", "dtype", lambda: coding.intensity_to_latency(img(), 3, dtype=torch.int32), TypeError),
    ("intensity_to_latency", "dtype", lambda: coding.intensity_to_latency(img(), 3, dtype="uint8"), TypeError),
    ("intensity_to_latency", "dtype",
     lambda: coding.intensity_to_latency(img(), 3, to_spike=False, dtype=torch.uint8), TypeError),
    ("intensity_to_latency", "dtype", lambda: coding.intensity_to_latency(-img(), 3, dtype=torch.uint8), ValueError),
    ("IntensityToLatency", "dtype", lambda: coding.IntensityToLatency(3, to_spike=False, dtype=torch.bool),
     TypeError),
    ("poisson_spikes", "duration",
     lambda: coding.poisson_spikes(torch.rand(1, 2), duration=1e300, dt=1e-300, max_rate=0.0), ValueError),
    ("poisson_spikes", "duration", lambda: coding.poisson_spikes(torch.rand(1, 2), duration=0.1), ValueError),
    ("poisson_spikes", "duration", lambda: coding.poisson_spikes(torch.rand(1, 2), duration=NAN), ValueError),
    ("poisson_spikes", "time_steps", lambda: coding.poisson_spikes(torch.rand(1, 2), 3, duration=3.0), ValueError),
    ("poisson_spikes", "intensity", lambda: coding.poisson_spikes(torch.rand(1, 2) + 1, 3), ValueError),
    ("poisson_spikes", "generator", lambda: coding.poisson_spikes(torch.rand(1, 2), 3, generator=0), TypeError),
    ("dvs_events", "frames", lambda: coding.dvs_events(torch.ones(1, 3, 2, 4, 4)), ValueError),
    ("dvs_events", "frames", lambda: coding.dvs_events(-torch.ones(1, 3, 4, 4)), ValueError),
    ("dvs_events", "frames", lambda: coding.dvs_events(torch.full((1, 3, 2, 2), 3e38), eps=1e38), ValueError),
    ("wave_to_times", "spikes", lambda: coding.wave_to_times(torch.full((1, 2, 3), 0.5)), ValueError),
    ("wave_to_times", "spikes", lambda: coding.wave_to_times(torch.tensor([[[1.0], [0.0]]])), ValueError),
    ("wave_to_times", "spikes", lambda: coding.wave_to_times(torch.zeros(1, 255, 1)), ValueError),
    ("times_to_wave", "times", lambda: coding.times_to_wave(torch.tensor([[4]], dtype=torch.uint8), 3), ValueError),
    ("times_to_wave", "times", lambda: coding.times_to_wave(torch.tensor([[-1]]), 3), ValueError),
    ("times_to_wave", "dtype", lambda: coding.times_to_wave(torch.tensor([[1]]), 3, dtype=torch.int64), TypeError),
    ("latency_times", "x", lambda: coding.latency_times(-img(), 3), ValueError),
    # neurons: parameters (numbers, numpy scalars and 0-dim tensors alike) and passed-in state
    ("lif_step", "params.tau_mem", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                            LIFParameters(tau_mem=torch.tensor(-5.0))), ValueError),
    ("lif_step", "params.v_threshold", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                                LIFParameters(v_threshold=torch.tensor(NAN))),
     ValueError),
    ("lif_step", "params.v_threshold", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                                LIFParameters(v_threshold=np.float32(NAN))),
     ValueError),
    ("lif_step", "params.v_threshold", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                                LIFParameters(v_threshold=torch.ones(2))),
     ValueError),
    ("lif_step", "params.v_threshold", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                                LIFParameters(v_threshold="1")), TypeError),
    ("lif_step", "params.dt", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                       LIFParameters(dt=torch.tensor(0.0))), ValueError),
    ("lif_step", "params.refractory", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                               LIFParameters(refractory=-1.0)), ValueError),
    ("lif_step", "params.v_rest", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                           LIFParameters(v_rest=torch.tensor(1.0, device="meta"))),
     ValueError),
    ("lif_step", "params", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON), IFParameters()), TypeError),
    ("if_step", "params.v_threshold", lambda: neurons.if_step(X_NEURON, _lif_state(X_NEURON),
                                                              IFParameters(v_threshold=torch.tensor(INF))), ValueError),
    ("adaptive_lif_step", "params.theta_plus",
     lambda: neurons.adaptive_lif_step(X_NEURON, _lif_state(X_NEURON, AdaptiveLIFState, 3),
                                       AdaptiveLIFParameters(theta_plus=torch.tensor(-1.0))), ValueError),
    ("adaptive_lif_step", "params.tau_theta",
     lambda: neurons.adaptive_lif_step(X_NEURON, _lif_state(X_NEURON, AdaptiveLIFState, 3),
                                       AdaptiveLIFParameters(tau_theta=0.0)), ValueError),
    ("simulate", "params.tau_mem", lambda: neurons.simulate(torch.ones(1, 2, 1), LIFParameters(tau_mem=NAN)),
     ValueError),
    ("LIF", "params.tau_mem", lambda: neurons.LIF(LIFParameters(tau_mem=torch.tensor(-20.0))), ValueError),
    ("IF", "params.v_threshold", lambda: neurons.IF(IFParameters(v_threshold=np.float64(NAN))), ValueError),
    ("IF", "params", lambda: neurons.IF(LIFParameters()), TypeError),
    ("AdaptiveLIF", "params.theta_plus", lambda: neurons.AdaptiveLIF(AdaptiveLIFParameters(theta_plus=-1.0)),
     ValueError),
    ("init_state", "params.v_rest", lambda: neurons.init_state(X_NEURON, LIFParameters(v_rest=NAN)), ValueError),
    ("init_state", "params", lambda: neurons.init_state(X_NEURON, (0.0, 1.0)), TypeError),
    ("lif_step", "state.v", lambda: neurons.lif_step(X_NEURON, _state_with("v", _with_nan(X_NEURON))), ValueError),
    ("lif_step", "state.v", lambda: neurons.lif_step(X_NEURON, _state_with("v", X_NEURON.double())), TypeError),
    ("lif_step", "state.v", lambda: neurons.lif_step(X_NEURON, _state_with("v", X_NEURON.int())), TypeError),
    ("lif_step", "state.v", lambda: neurons.lif_step(X_NEURON, _state_with("v", X_NEURON.to("meta"))), ValueError),
    ("lif_step", "state.v", lambda: neurons.lif_step(X_NEURON, _state_with("v", X_NEURON[0])), ValueError),
    ("lif_step", "state.v", lambda: neurons.lif_step(X_NEURON, _state_with("v", X_NEURON.to_sparse())), TypeError),
    ("lif_step", "state.refractory",
     lambda: neurons.lif_step(X_NEURON, _state_with("refractory", X_NEURON.tolist())), TypeError),
    ("lif_step", "state", lambda: neurons.lif_step(X_NEURON, (X_NEURON, X_NEURON)), TypeError),
    ("adaptive_lif_step", "state",
     lambda: neurons.adaptive_lif_step(X_NEURON, _lif_state(X_NEURON)), TypeError),
    ("adaptive_lif_step", "state.theta",
     lambda: neurons.adaptive_lif_step(X_NEURON, _state_with("theta", X_NEURON * INF, AdaptiveLIFState, 3)),
     ValueError),
    ("simulate", "state.v", lambda: neurons.simulate(torch.ones(2, 4, 3), LIFParameters(),
                                                     _state_with("v", _with_nan(X_NEURON))), ValueError),
    ("simulate", "state.v", lambda: neurons.simulate(torch.ones(2, 4, 3), LIFParameters(),
                                                     _state_with("v", torch.zeros(1, 3))), ValueError),
    ("simulate", "spike_fn", lambda: neurons.simulate(torch.ones(2, 4, 3), spike_fn="heaviside"), TypeError),
    ("lif_step", "input_current", lambda: neurons.lif_step(torch.full((2, 3), 3e38), _state_with(
        "v", torch.full((2, 3), 3e38)), LIFParameters(tau_mem=INF, v_threshold=3e38)), ValueError),
    ("LIF", "spike_fn", lambda: neurons.LIF(spike_fn=3), TypeError),
    ("SurrogateSpike", "function", lambda: neurons.SurrogateSpike(len, "x", "y", 1.0), TypeError),
    ("SurrogateSpike", "name", lambda: neurons.SurrogateSpike(neurons.ArctanSpike, 1, "y", 1.0), TypeError),
    # layers
    ("conv", "spikes", lambda: layers.conv(cwave(2, 3, 2, 4, 4), W_CONV), ValueError),
    ("conv", "spikes", lambda: layers.conv(cwave().double(), W_CONV), TypeError),
    ("conv", "weight", lambda: layers.conv(cwave(2, 3, 1, 1, 1), W_CONV), ValueError),
    ("conv", "spikes", lambda: layers.conv(cwave(2, 3, 1, 4, 4) * 1e37, W_CONV * 1e3), ValueError),
    ("pool", "stride", lambda: layers.pool(P5, 2, stride="2"), TypeError),
    ("pool", "kernel_size", lambda: layers.pool(P5, (2, 2, 2)), TypeError),
    ("pad", "padding", lambda: layers.pad(P5, (1, 1)), TypeError),
    ("pad", "padding", lambda: layers.pad(P5, (1, 1, 1, -1)), ValueError),
    ("pad", "value", lambda: layers.pad(P5.half(), (1, 1, 1, 1), 1e6), ValueError),
    ("pad", "value", lambda: layers.pad(first_times(1, 1, 2, 2, 3)[None], (1, 1, 1, 1), 0.5), ValueError),
    ("pad", "value", lambda: layers.pad(first_times(1, 1, 2, 2, 3)[None], (1, 1, 1, 1), 300.0), ValueError),
    ("Convolution.reset_weight", "generator",
     lambda: layers.Convolution(1, 2, 2).reset_weight(generator=0), TypeError),
    ("Convolution.load_weight", "weight", lambda: layers.Convolution(1, 2, 2).load_weight(torch.ones(2, 1, 3, 3)),
     ValueError),
    ("conv_fire_times", "weight",
     lambda: layers.conv_fire_times(first_times(1, 1, 4, 4, 3), -W_CONV, 0.5, 3, engine=ENGINE), ValueError),
    ("conv_fire_times", "engine",
     lambda: layers.conv_fire_times(first_times(1, 1, 4, 4, 3), W_CONV, 0.5, 3, engine="fast"), ValueError),
    ("conv_fire_times", "times",
     lambda: layers.conv_fire_times(first_times(1, 2, 4, 4, 3), W_CONV, 0.5, 3, engine=ENGINE), ValueError),
    ("pad_times", "padding", lambda: layers.pad_times(first_times(1, 1, 2, 2, 3), (1,), 3), TypeError),
    # competition
    ("threshold", "threshold", lambda: competition.threshold(P5, torch.ones(3, 1, 1, 1, 1, 1)), ValueError),
    ("threshold", "threshold", lambda: competition.threshold(P5[:1], torch.ones(2, 1, 1, 1, 1)), ValueError),
    ("threshold", "threshold", lambda: competition.threshold(P5, torch.ones(5)), ValueError),
    ("threshold", "threshold", lambda: competition.threshold(P5, torch.tensor([NAN, 1.0]).view(2, 1, 1)),
     ValueError),
    ("threshold", "threshold", lambda: competition.threshold(P5, torch.ones(2, 1, 1, dtype=torch.bool)), TypeError),
    ("fire", "threshold", lambda: competition.fire(P5, torch.ones(2, 1, 1).to("meta")), ValueError),
    ("fire", "threshold", lambda: competition.fire(P5.half(), torch.full((2, 1, 1), 1e6)), ValueError),
    ("feature_inhibition", "features", lambda: competition.feature_inhibition(P5, [2]), ValueError),
    ("feature_inhibition", "features", lambda: competition.feature_inhibition(P5, [-1]), ValueError),
    ("feature_inhibition", "features", lambda: competition.feature_inhibition(P5, torch.tensor([[0], [1], [0]])),
     ValueError),
    ("feature_inhibition", "features", lambda: competition.feature_inhibition(P5, "0"), TypeError),
    ("feature_inhibition", "features", lambda: competition.feature_inhibition(P5, [0.5]), TypeError),
    ("k_winners", "spikes", lambda: competition.k_winners(P5, 1, 0, P5[:, :2]), ValueError),
    ("k_winners", "spikes", lambda: competition.k_winners(P5, 1, 0, P5.double()), TypeError),
    ("k_winners", "potentials", lambda: competition.k_winners(P5 / P5.max() * 3e37, 1, 0), ValueError),
    ("winners_to_lists", "winners", lambda: competition.winners_to_lists(torch.tensor([[[1, -1, 0]]])), ValueError),
    ("winners_to_lists", "winners", lambda: competition.winners_to_lists(torch.tensor([[[-2, -2, -2]]])),
     ValueError),
    ("winners_to_lists", "winners", lambda: competition.winners_to_lists(torch.ones(1, 1, 2, dtype=torch.long)),
     ValueError),
    ("pointwise_inhibition_times", "potentials",
     lambda: competition.pointwise_inhibition_times(first_times(1, 2, 4, 4, 3), torch.zeros(1, 2, 4, 4), 3,
                                                    engine=ENGINE), ValueError),
    ("pointwise_inhibition_times", "potentials",
     lambda: competition.pointwise_inhibition_times(first_times(1, 2, 4, 4, 3), torch.ones(1, 2, 4, 3), 3,
                                                    engine=ENGINE), ValueError),
    ("k_winners_times", "first",
     lambda: competition.k_winners_times(first_times(1, 2, 4, 4, 3), torch.ones(1, 2, 4, 4), 2, engine=ENGINE),
     ValueError),
    # plasticity
    ("stdp_update", "output_spikes",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"][:, :2], WIN, 0.1, -0.1),
     ValueError),
    ("stdp_update", "output_spikes",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"][:1], WIN, 0.1, -0.1),
     ValueError),
    ("stdp_update", "winners",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"],
                                    torch.tensor([[[0, -1, 0]], [[1, 1, 1]]]), 0.1, -0.1), ValueError),
    ("stdp_update", "winners",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"],
                                    torch.tensor([[[2, 0, 0]], [[1, 1, 1]]]), 0.1, -0.1), ValueError),
    ("stdp_update", "winners",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"],
                                    torch.tensor([[[0, 2, 0]], [[1, 1, 1]]]), 0.1, -0.1), ValueError),
    ("stdp_update", "winners",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN[:1], 0.1, -0.1),
     ValueError),
    ("stdp_update", "a_ltp",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                    torch.ones(3), -0.1), ValueError),
    ("stdp_update", "a_ltp",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                    torch.ones(2, dtype=torch.bool), -0.1), TypeError),
    ("stdp_update", "a_ltp",
     lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                    torch.ones(2).to("meta"), -0.1), ValueError),
    ("stdp_update", "input_spikes",
     lambda: plasticity.stdp_update(SP["weight"], cwave(2, 3, 2, 3, 3), SP["output_spikes"], WIN, 0.1, -0.1),
     ValueError),
    ("stdp_update_times", "output_times",
     lambda: plasticity.stdp_update_times(ST["weight"], ST["input_times"], ST["output_times"][:1], WIN, 3, 0.1, -0.1,
                                          engine=ENGINE), ValueError),
    ("stdp_update_times", "winners",
     lambda: plasticity.stdp_update_times(ST["weight"], ST["input_times"], ST["output_times"],
                                          torch.tensor([[[0, -1, 0]], [[1, 1, 1]]]), 3, 0.1, -0.1, engine=ENGINE),
     ValueError),
    ("stdp_update_times", "output_times",
     lambda: plasticity.stdp_update_times(ST["weight"], ST["input_times"], first_times(2, 2, 4, 4, 3), WIN, 3,
                                          0.1, -0.1, engine=ENGINE), ValueError),
    ("rstdp_update", "reward",
     lambda: plasticity.rstdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                     torch.tensor([True, False])), TypeError),
    ("rstdp_update", "reward",
     lambda: plasticity.rstdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                     torch.tensor([1])), ValueError),
    ("rstdp_update", "reward_rate",
     lambda: plasticity.rstdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                     torch.tensor([1, 1]), reward_rate=0.1), TypeError),
    ("rstdp_update", "punish_rate",
     lambda: plasticity.rstdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                     torch.tensor([1, -1]), punish_rate=(NAN, 0.1)), ValueError),
    ("rstdp_update_times", "reward",
     lambda: plasticity.rstdp_update_times(ST["weight"], ST["input_times"], ST["output_times"], WIN,
                                           torch.tensor([1.0, NAN]), 3, engine=ENGINE), ValueError),
    ("reward_signal", "targets",
     lambda: plasticity.reward_signal(torch.tensor([1, 2]), torch.tensor([1, 2, 3])), ValueError),
    ("adapt_rstdp_rates", "reward_rate",
     lambda: plasticity.adapt_rstdp_rates((1e308, 0.0), (0.0, 0.0), 0.5, 0.5, minimum=10.0), ValueError),
    ("adapt_rstdp_rates", "reward_rate", lambda: plasticity.adapt_rstdp_rates(0.1, (0.0, 0.0), 0.5, 0.5), TypeError),
    ("STDP", "learning_rate", lambda: plasticity.STDP(layers.Convolution(1, 2, 2), (-0.1, 0.1)), ValueError),
    ("STDP", "layer", lambda: plasticity.STDP(torch.nn.Linear(2, 2)), TypeError),
    ("STDP", "adaptive_every", lambda: plasticity.STDP(layers.Convolution(1, 2, 2), (-0.1, 0.1), anti=True,
                                                       adaptive_every=5), ValueError),
    ("STDP.forward", "potentials", lambda: plasticity.STDP(layers.Convolution(1, 2, 2))(
        SP["input_spikes"], None, SP["output_spikes"]), ValueError),
    ("RSTDP", "punish_rate", lambda: plasticity.RSTDP(layers.Convolution(1, 2, 2), punish_rate=(0.1, -0.1)),
     ValueError),
    ("trace_step", "spikes", lambda: plasticity.trace_step(torch.zeros(2, 3), torch.zeros(3, 2), 20.0), ValueError),
    ("trace_step", "increment",
     lambda: plasticity.trace_step(torch.full((1, 2), 1e308, dtype=torch.float64), torch.ones(1, 2), 1e300,
                                   increment=1e308), ValueError),
    ("trace_step", "increment", lambda: plasticity.trace_step(torch.ones(1, 2), torch.ones(1, 2), 1.0, increment=1e300,
                                                              reset=True), ValueError),
    ("stdp_update", "a_ltp", lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"], SP["output_spikes"], WIN,
                                                            1e300, -0.1), ValueError),
    ("stdp_update", "lower_bound", lambda: plasticity.stdp_update(SP["weight"], SP["input_spikes"],
                                                                  SP["output_spikes"], WIN, 0.1, -0.1, True, -1e300),
     ValueError),
    ("lif_step", "params.refractory", lambda: neurons.lif_step(X_NEURON, _lif_state(X_NEURON),
                                                               LIFParameters(refractory=1e300)), ValueError),
    ("pair_stdp_update", "eta_pre",
     lambda: plasticity.pair_stdp_update(torch.full((1, 1), 0.5, dtype=torch.float64),
                                         torch.full((1,), 1e300, dtype=torch.float64),
                                         torch.full((1,), 1e300, dtype=torch.float64), torch.ones(1, dtype=torch.float64),
                                         torch.ones(1, dtype=torch.float64), eta_pre=1e300, eta_post=1e300), ValueError),
    ("pair_stdp_update", "w_max", lambda: plasticity.pair_stdp_update(torch.full((1, 1), 0.5), torch.ones(1),
                                                                      torch.ones(1), torch.ones(1), torch.ones(1),
                                                                      w_max=1e300), ValueError),
    ("pair_stdp_update", "post_trace",
     lambda: plasticity.pair_stdp_update(torch.full((2, 3), 0.5), torch.ones(3), torch.ones(3), torch.ones(3),
                                         torch.ones(2)), ValueError),
    ("pair_stdp_update", "batch",
     lambda: plasticity.pair_stdp_update(torch.full((2, 3), 0.5), torch.ones(2, 3), torch.ones(1, 2),
                                         torch.ones(2, 3), torch.ones(1, 2)), ValueError),
    ("normalize_weights", "weight", lambda: plasticity.normalize_weights(-torch.ones(2, 2), 1.0), ValueError),
    ("normalize_weights", "total", lambda: plasticity.normalize_weights(torch.ones(2, 2).half(), 1e6), ValueError),
]


@pytest.mark.parametrize("fn_name,arg,call,exc", [pytest.param(*c, id=f"{c[0]}-{c[1]}-{i}")
                                                  for i, c in enumerate(EXTRA)])
def test_extra_bad_input(fn_name, arg, call, exc):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert f"{fn_name}:" in msg and arg in msg, msg


# ----------------------------------------------------------------------------------------------
# extreme but valid: a finite answer that is the documented one
# ----------------------------------------------------------------------------------------------
def test_extreme_valid_values_give_finite_documented_answers():
    # an orientation far beyond 360 degrees is the same angle
    torch.testing.assert_close(retina.gabor_kernel(5, 45.0 + 360.0 * 7), retina.gabor_kernel(5, 45.0))
    k = retina.gabor_kernel(5, 1e308)
    assert bool(torch.isfinite(k).all()) and float(k.max()) == 1.0
    # thresholds beyond the dtype's range: nothing (everything) is above them
    assert not bool(competition.fire(P5, 1e300).any()) and bool(competition.fire(P5, -1e300).all())
    # row sums that overflow float32 are still normalised (no zeros)
    w = torch.tensor([[3e38, 3e38, 0.0], [1.0, 3.0, 0.0]])
    torch.testing.assert_close(plasticity.normalize_weights(w, 2.0), torch.tensor([[1.0, 1.0, 0.0], [0.5, 1.5, 0.0]]))
    # local normalisation of values near the float32 maximum: the same as the scaled-down values
    x = img(1, 1, 6, 6)
    torch.testing.assert_close(retina.local_normalization(x * 2.0 ** 126, 2), retina.local_normalization(x, 2))
    # a stabilised update of weights far outside the bounds clamps them (the documented behaviour)
    weight = torch.tensor([1e200, -1e200, 2.0, 0.5], dtype=torch.float64).view(2, 1, 1, 2)
    ins, outs = torch.ones(1, 1, 1, 1, 2, dtype=torch.float64), torch.ones(1, 1, 2, 1, 1, dtype=torch.float64)
    win = torch.tensor([[[0, 0, 0]]])
    for a_ltp in (0.0, 0.1, -0.1):
        new = plasticity.stdp_update(weight, ins, outs, win, a_ltp, -0.1, True, 0.0, 1.0)
        assert bool(torch.isfinite(new).all()), new
        assert new[1].flatten().tolist() == [1.0, 0.5]   # non-winner: only clamped
        tin = torch.zeros(1, 1, 1, 2, dtype=torch.uint8)
        tout = torch.zeros(1, 2, 1, 1, dtype=torch.uint8)
        new_t = plasticity.stdp_update_times(weight, tin, tout, win, 1, a_ltp, -0.1, True, 0.0, 1.0, engine=ENGINE)
        torch.testing.assert_close(new_t, new)
    # a huge divisor of time makes no steps; a huge duration is an error, not an OverflowError
    with pytest.raises(ValueError, match="poisson_spikes: duration"):
        coding.poisson_spikes(torch.rand(1, 2), duration=1e300)
    # flags are real bools: the module and the function agree
    for bad in ("false", 0):
        with pytest.raises(TypeError, match="to_spike"):
            coding.IntensityToLatency(3, to_spike=bad)
    # 0-dim tensors and numpy scalars are numbers: valid ones work like Python numbers
    torch.testing.assert_close(retina.dog_kernel(3, torch.tensor(1.0), np.float32(2.0)), retina.dog_kernel(3, 1.0, 2.0))
    p = LIFParameters(tau_mem=torch.tensor(10.0), v_threshold=np.float64(1.0))
    torch.testing.assert_close(neurons.simulate(torch.full((1, 5, 2), 0.3), p)[1],
                               neurons.simulate(torch.full((1, 5, 2), 0.3), LIFParameters(tau_mem=10.0))[1])
    assert competition.k_winners(P5, torch.tensor(2)).shape == (2, 2, 3)
    # a 0-dim tensor threshold broadcasts (to the potentials), a per-feature one too
    torch.testing.assert_close(competition.fire(P5, torch.tensor(1.0)), competition.fire(P5, 1.0))
    torch.testing.assert_close(competition.fire(P5, torch.ones(2, 1, 1)), competition.fire(P5, 1.0))


# ----------------------------------------------------------------------------------------------
# float16 / bfloat16: summed in float32, returned in the input's dtype
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_matches_float32(half):
    x = (img(2, 1, 8, 8) * 255).to(half)
    k = retina.mozafari2019_dog_kernels(half)[:2]
    ref = retina.filter_bank(x.float(), k.float(), 6, 50.0)
    out = retina.filter_bank(x, k, 6, 50.0)
    assert out.dtype == half
    torch.testing.assert_close(out, ref.to(half))
    # local normalisation of large values (their float16 box sums overflow)
    y = torch.full((1, 1, 9, 9), 3e4).to(half)
    out = retina.local_normalization(y, 4)
    assert out.dtype == half and bool(torch.isfinite(out).all())
    torch.testing.assert_close(out, retina.local_normalization(y.float(), 4).to(half))
    # lateral inhibition
    kern = retina.inhibition_kernel([0.15, 0.12])
    torch.testing.assert_close(retina.intensity_lateral_inhibition(x, kern),
                               retina.intensity_lateral_inhibition(x.float(), kern).to(half))
    # k-WTA: the same winners as float32 on the same values, even where float16 scores overflow
    p = (potentials(2, 15, 3, 5, 5) * 300).to(half)
    for spikes in (None, competition.fire(p, 1.0)):
        ref = competition.k_winners(p.float(), 3, 1, None if spikes is None else spikes.float())
        assert torch.equal(competition.k_winners(p, 3, 1, spikes), ref)
    # convolution
    wave = cwave(2, 3, 2, 6, 6)
    w = torch.rand(3, 2, 3, 3, generator=gen())
    torch.testing.assert_close(layers.conv(wave.to(half), w.to(half)),
                               layers.conv(wave, w.to(half).float()).to(half))
    # weight normalisation and pair STDP
    ww = torch.rand(3, 500, generator=gen()).to(half) * 100
    torch.testing.assert_close(plasticity.normalize_weights(ww, 78.0),
                               plasticity.normalize_weights(ww.float(), 78.0).to(half))
    # event coding
    frames = torch.rand(1, 4, 3, 3, generator=gen()).to(half)
    assert torch.equal(coding.dvs_events(frames), coding.dvs_events(frames.float()).to(half))


# ----------------------------------------------------------------------------------------------
# edge-valid inputs: the same result as the contiguous float32 case
# ----------------------------------------------------------------------------------------------
def _noncontig(x):
    return x.transpose(-1, -2).contiguous().transpose(-1, -2)


def _sliced(x):
    return torch.cat([x, x], dim=-1)[..., : x.shape[-1]]


def _channels_last(x):
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    if x.dim() == 5:
        return x.contiguous(memory_format=torch.channels_last_3d)
    return x


def _f64(x):
    return x.double() if x.is_floating_point() else x


LAYOUTS = {"noncontiguous": _noncontig, "sliced": _sliced, "channels_last": _channels_last, "float64": _f64}

# name -> (function of the main tensor, main tensor, batch-wise?, time axis or None)
EDGE = {
    "filter_bank": (lambda x: retina.filter_bank(x, K3.to(x.dtype), 1, 0.1), img(2, 1, 6, 6), True, None),
    "local_normalization": (lambda x: retina.local_normalization(x, 1), img(2, 2, 6, 6), True, None),
    "intensity_lateral_inhibition": (lambda x: retina.intensity_lateral_inhibition(
        x, retina.inhibition_kernel([0.5, 0.2]).to(x.dtype)), img(2, 2, 6, 6), True, None),
    "intensity_to_latency": (lambda x: coding.intensity_to_latency(x, 4), img(2, 2, 4, 4), True, None),
    "latency_times": (lambda x: coding.latency_times(x, 4), img(2, 2, 4, 4), True, None),
    "poisson_spikes": (lambda x: coding.poisson_spikes(x, 3, max_rate=0.0), img(2, 1, 3, 3), True, None),
    "first_spike_times": (coding.first_spike_times, cwave(2, 3, 2, 4, 4), True, None),
    "wave_to_times": (coding.wave_to_times, cwave(2, 3, 2, 4, 4), True, None),
    "times_to_wave": (lambda x: coding.times_to_wave(x, 3), first_times(2, 2, 4, 4, 3), True, None),
    "dvs_events": (coding.dvs_events, torch.rand(2, 3, 4, 4, generator=gen()), True, None),
    "to_time_first": (coding.to_time_first, cwave(2, 3, 2, 4, 4), False, None),
    "simulate": (lambda x: neurons.simulate(x, LIFParameters(tau_mem=5.0))[1], torch.rand(2, 3, 4, 4) * 0.6, True, 1),
    "if_step": (lambda x: neurons.if_step(x, neurons.init_state(x, IFParameters()), IFParameters())[1].v,
                torch.rand(2, 3, 4, 4), True, None),
    "conv": (lambda x: layers.conv(x, W_CONV.to(x.dtype)), cwave(2, 3, 1, 5, 5), True, 1),
    "pool": (lambda x: layers.pool(x, 2, 1, 1), potentials(2, 3, 2, 5, 5), True, 1),
    "pad": (lambda x: layers.pad(x, (1, 0, 2, 1)), potentials(), True, 1),
    "conv_fire_times": (lambda x: layers.conv_fire_times(x, W_CONV, 0.5, 3, engine=ENGINE)[0],
                        first_times(2, 1, 5, 5, 3), True, None),
    "pool_times": (lambda x: layers.pool_times(x, 2, 1, 1), first_times(2, 2, 5, 5, 3), True, None),
    "pad_times": (lambda x: layers.pad_times(x, (1, 0, 2, 1), 3), first_times(2, 2, 5, 5, 3), True, None),
    "fire": (lambda x: competition.fire(x, 1.0), potentials(), True, 1),
    "threshold": (lambda x: competition.threshold(x, 1.0), potentials(), True, 1),
    "pointwise_inhibition": (competition.pointwise_inhibition, competition.threshold(potentials(), 1.0), True, None),
    "feature_inhibition": (lambda x: competition.feature_inhibition(x, [1]), potentials(), True, 1),
    "k_winners": (lambda x: competition.k_winners(x, 3, 1), potentials(2, 3, 2, 5, 5), True, None),
    "pointwise_inhibition_times": (lambda x: competition.pointwise_inhibition_times(
        x, ((x < 3) * (1.0 + x.float())), 3, engine=ENGINE)[1], first_times(2, 2, 4, 4, 3), True, None),
    "k_winners_times": (lambda x: competition.k_winners_times(
        x, ((x < 3) * (1.0 + x.float())), 3, k=2, engine=ENGINE), first_times(2, 2, 4, 4, 3), True, None),
    "pre_post_ordering": (lambda x: plasticity.pre_post_ordering(x, cwave(2, 3, 2, 2, 2), WIN, 2),
                          cwave(2, 3, 1, 3, 3), False, None),
    "stdp_update": (lambda x: plasticity.stdp_update(W_CONV.to(x.dtype), x, cwave(2, 3, 2, 2, 2).to(x.dtype), WIN,
                                                     0.004, -0.003), cwave(2, 3, 1, 3, 3), False, None),
    "stdp_update_times": (lambda x: plasticity.stdp_update_times(W_CONV, x, first_times(2, 2, 2, 2, 3), WIN, 3,
                                                                 0.004, -0.003, engine=ENGINE),
                          first_times(2, 1, 3, 3, 3), False, None),
    "trace_step": (lambda x: plasticity.trace_step(x, (x > 0.5).float(), 20.0), torch.rand(2, 3, 4), True, None),
    "normalize_weights": (lambda x: plasticity.normalize_weights(x, 2.0), torch.rand(3, 4, generator=gen()), True,
                          None),
    "pair_stdp_update": (lambda x: plasticity.pair_stdp_update(x, torch.rand(2, 4, generator=gen()).to(x.dtype),
                                                               torch.rand(2, 3, generator=gen()).to(x.dtype),
                                                               torch.ones(2, 4, dtype=x.dtype),
                                                               torch.ones(2, 3, dtype=x.dtype)),
                         torch.rand(3, 4, generator=gen()), False, None),
}


def _same(out, ref, exact=True):
    if isinstance(out, tuple):
        for o, r in zip(out, ref):
            _same(o, r, exact)
        return
    if out.is_floating_point() and (ref.dtype != out.dtype or not exact):
        torch.testing.assert_close(out.to(ref.dtype), ref, rtol=1e-5, atol=1e-5)
    else:
        assert torch.equal(out, ref)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", list(EDGE))
def test_edge_valid_layouts(name, layout):
    fn, x, _, _ = EDGE[name]
    ref = fn(x)
    _same(fn(LAYOUTS[layout](x)), ref)


@pytest.mark.parametrize("name", list(EDGE))
def test_edge_valid_batch_time_and_zeros(name):
    fn, x, batchwise, time_axis = EDGE[name]
    ref = fn(x)
    if batchwise:
        one = fn(x[:1])
        _same(one, ref[:1] if not isinstance(ref, tuple) else tuple(r[:1] for r in ref), exact=False)
    if time_axis is not None:
        _same(fn(x[:, :1]), ref[:, :1])
    zero = fn(torch.zeros_like(x))
    if isinstance(zero, torch.Tensor) and zero.is_floating_point():
        assert bool(torch.isfinite(zero).all())
