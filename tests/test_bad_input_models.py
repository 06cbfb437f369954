"""No silent wrong answers, part 2: the networks of ``snnbook.models`` (Mozafari2019, DiehlCook2015
and its functions, the surrogate-gradient networks, Chevalier's networks, SpikeProp, the event
networks) reject bad input with a ``TypeError``/``ValueError`` that names the function and the
argument, and each network states its image convention and refuses the other one.

As in ``tests/test_bad_input.py``, the table is grown by KIND: each public callable is described once
(a valid call and the kind of each argument) and the bad cases are generated from the kinds (wrong
types, ranks and dtypes, complex, NaN/inf, empty, sparse and meta tensors, out-of-range and
non-numbers, string flags). ``EXTRA`` holds the domain cases (an image convention, a class of 10,
negative counts, a decay of 1.5, times beyond ``time_steps``, NaN weights in a state dict, ...).
``test_every_public_callable_is_in_the_table`` keeps the table complete.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch

from snnbook.models import chevalier as ch
from snnbook.models import diehl_cook2015 as dc
from snnbook.models import events_nets as ev
from snnbook.models import mozafari2019 as mz
from snnbook.models import spikeprop as sp
from snnbook.models import surrogate as sg

NAN, INF = float("nan"), float("inf")
MODULES = {"mozafari2019": mz, "diehl_cook2015": dc, "surrogate": sg, "chevalier": ch, "spikeprop": sp,
           "events_nets": ev}


def gen(seed=0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def digits(n=2) -> torch.Tensor:
    """uint8 0..255 digits ``[n, 28, 28]``: a bright bar on black (the MNIST convention)."""
    x = torch.zeros(n, 28, 28, dtype=torch.uint8)
    x[:, 6:22, 12:16] = 255
    x[:, 8:12, 8:20] = 128
    return x


def floats01(n=2) -> torch.Tensor:
    return digits(n).float() / 255


def moz() -> mz.Mozafari2019:
    return mz.Mozafari2019(s3_features=10, seed=0)


def moz_times(n=2) -> torch.Tensor:
    return moz().encode(digits(n))


def moz_active(n=2) -> torch.Tensor:
    return torch.rand(n, 250, 4, 4, generator=gen()) < 0.3


def dcm(n=4) -> dc.DiehlCook2015:
    return dc.DiehlCook2015(n_neurons=n, seed=0)


ONE_STEP = {**dc.PARAMS, "present_ms": 0.5, "rest_ms": 0.0, "rest_simulated_ms": 0.0}


def _events():
    return dc.poisson_events(digits(1)[0], 2, dc.digit_generator(0, 0, 0, 0))


def _reference_valid():
    return dict(weight=dcm().weight.clone(), theta=torch.full((4,), 20.0, dtype=torch.float64),
                state=dc.init_state(4, rested=True), spikes=torch.zeros(1, 784, dtype=torch.bool), learn=False,
                params=ONE_STEP, record=False)


class FakeEvents:
    """A stand-in for EventMNIST (5 digits of ones): the argument checks need no dataset."""

    def __len__(self):
        return 5

    def spikes(self, indices, time_window=None, shuffle=False, frame=False):
        return torch.ones(len(indices), 1 if frame else 10, 2, 34, 34)


# ----------------------------------------------------------------------------------------------
# argument kinds
# ----------------------------------------------------------------------------------------------
@dataclass
class T:
    """A tensor argument: ``bad_dtypes`` (each raises ``dtype_exc``), ``rank`` (True: one more and
    one less axis are wrong; or a list of transforms giving a wrong rank), ``values`` (NaN/inf of a
    floating-point tensor are wrong), ``empty`` (an empty batch is wrong)."""
    bad_dtypes: tuple = (torch.int32, torch.bool)
    rank: object = True
    values: bool = True
    empty: bool = True
    dtype_exc: type = TypeError


@dataclass
class Spec:
    name: str                      # the name every error message must contain
    call: Callable                 # call(**kwargs)
    valid: Callable[[], dict]      # fresh valid kwargs
    tensors: dict = field(default_factory=dict)   # arg -> T
    reals: dict = field(default_factory=dict)     # arg -> extra (value, exception) pairs
    ints: dict = field(default_factory=dict)      # arg -> extra (value, exception) pairs
    flags: tuple = ()
    strings: dict = field(default_factory=dict)   # arg -> bad values (ValueError)
    optional: tuple = ()           # arguments where None is valid
    covers: tuple = ()             # "module.name" this spec covers


def _tensor_variants(x: torch.Tensor, t: T):
    out = [("list", x.tolist(), TypeError), ("ndarray", x.numpy(), TypeError)]
    if t.rank is True:
        out.append(("rank+1", x.unsqueeze(0), ValueError))
        out.append(("rank-1", x[0], ValueError))
    else:
        out += [(f"rank{i}", f(x), ValueError) for i, f in enumerate(t.rank)]
    out += [(f"dtype-{d}", x.to(d), t.dtype_exc) for d in t.bad_dtypes]
    out.append(("complex", x.to(torch.complex64), TypeError))
    if x.is_floating_point() and t.values:
        for label, v in (("nan", NAN), ("inf", INF), ("-inf", -INF)):
            y = x.clone()
            y.view(-1)[0] = v
            out.append((label, y, ValueError))
    if t.empty:
        out.append(("empty", x[:0], ValueError))
    out.append(("sparse", x.to_sparse(), TypeError))
    out.append(("meta", x.to("meta"), ValueError))
    return out


REAL_BAD = [("nan", NAN, ValueError), ("inf", INF, ValueError), ("str", "1", TypeError), ("bool", True, TypeError),
            ("none", None, TypeError), ("0d-nan", torch.tensor(NAN), ValueError), ("1d", torch.ones(3), ValueError),
            ("complex", 1j, TypeError)]
INT_BAD = [("float", 1.5, TypeError), ("str", "3", TypeError), ("bool", True, TypeError),
           ("0d-float", torch.tensor(1.5), TypeError), ("none", None, TypeError)]
FLAG_BAD = [("str", "false", TypeError), ("int", 1, TypeError), ("none", None, TypeError),
            ("np.bool_", np.bool_(True), TypeError), ("0d", torch.tensor(True), TypeError)]

IMG255 = T(bad_dtypes=(torch.int64, torch.bool))          # uint8 or floats 0..255 (Mozafari2019)
IMG255_REAL = T(bad_dtypes=(torch.bool,))                  # uint8 or any real 0..255 (DiehlCook2015)
IMG01 = T(bad_dtypes=(torch.int64, torch.bool))            # floats in [0, 1] or uint8 (gradient networks)
TIMES = T(bad_dtypes=(torch.float32, torch.int64))         # uint8 first-spike times
LABELS = T(bad_dtypes=(torch.float32, torch.bool))         # integer classes
ACTIVE = T(bad_dtypes=(torch.uint8, torch.float32))        # bool maps of s3_input


def _c2(x):
    return x[:, :100]


SPECS = [
    # ------------------------------------------------------------ Mozafari2019
    Spec("Mozafari2019", mz.Mozafari2019,
         lambda: dict(time_steps=15, s3_features=10, seed=0, adaptive_rstdp=True, rstdp_rate_floor=0.0,
                      s3_dropout=0.0),
         ints={"time_steps": [(0, ValueError), (255, ValueError)], "s3_features": [(25, ValueError), (0, ValueError)],
               "seed": [(-1, ValueError)]},
         reals={"rstdp_rate_floor": [(1.5, ValueError), (-0.1, ValueError)],
                "s3_dropout": [(1.0, ValueError), (-0.5, ValueError)]},
         flags=("adaptive_rstdp",), optional=("seed",), covers=("mozafari2019.Mozafari2019",)),
    Spec("Mozafari2019.encode", lambda **kw: moz().encode(**kw), lambda: dict(images=digits()),
         tensors={"images": IMG255}),
    Spec("Mozafari2019.forward", lambda **kw: moz().eval()(**kw),
         lambda: dict(x=moz_times(), engine="event", return_layers=False),
         tensors={"x": TIMES}, flags=("return_layers",), strings={"engine": ["gpu", 1, None]}),
    Spec("Mozafari2019.s3_input", lambda **kw: moz().s3_input(**kw), lambda: dict(x=moz_times()),
         tensors={"x": TIMES}),
    Spec("Mozafari2019.learn_stdp", lambda **kw: moz().train().learn_stdp(**kw),
         lambda: dict(layer=1, x=moz_times(), engine="event"),
         tensors={"x": TIMES}, ints={"layer": [(0, ValueError), (3, ValueError)]},
         strings={"engine": ["gpu"]}),
    Spec("Mozafari2019.learn_rstdp", lambda **kw: moz().train().learn_rstdp(**kw),
         lambda: dict(x=moz_times(), labels=torch.tensor([3, 7]), engine="event", s3_input=False),
         tensors={"x": TIMES, "labels": LABELS}, flags=("s3_input",), strings={"engine": ["gpu"]}),
    Spec("Mozafari2019.learn_rstdp", lambda **kw: moz().train().learn_rstdp(s3_input=True, **kw),
         lambda: dict(x=moz_active(), labels=torch.tensor([3, 7])), tensors={"x": ACTIVE}),
    Spec("Mozafari2019.classify_s3", lambda **kw: moz().classify_s3(**kw), lambda: dict(active=moz_active()),
         tensors={"active": ACTIVE}),
    Spec("Mozafari2019.load_state_dict", lambda **kw: moz().load_state_dict(**kw),
         lambda: dict(state_dict=moz().state_dict(), strict=True, assign=False), flags=("strict", "assign")),
    # ------------------------------------------------------------ Diehl & Cook 2015
    Spec("DiehlCook2015", dc.DiehlCook2015, lambda: dict(n_neurons=4, seed=0),
         ints={"n_neurons": [(0, ValueError)], "seed": [(-1, ValueError)]}, covers=("diehl_cook2015.DiehlCook2015",)),
    Spec("DiehlCook2015.learn", lambda **kw: dcm().learn(**kw),
         lambda: dict(images=digits(1), engine="event", return_attempts=False),
         tensors={"images": IMG255_REAL}, flags=("return_attempts",), strings={"engine": ["dense", 0]}),
    Spec("DiehlCook2015.responses", lambda **kw: dcm().responses(**kw),
         lambda: dict(images=digits(1), stream=1, first_index=0, engine="event"),
         tensors={"images": IMG255_REAL}, ints={"stream": [(0, ValueError)], "first_index": [(-1, ValueError)]},
         strings={"engine": ["dense"]}),
    Spec("DiehlCook2015.forward", lambda **kw: dcm().eval()(**kw),
         lambda: dict(images=digits(1), stream=3, first_index=0, engine="event"),
         tensors={"images": IMG255_REAL}, ints={"stream": [(0, ValueError)], "first_index": [(-1, ValueError)]},
         strings={"engine": ["dense"]}),
    Spec("DiehlCook2015.assign_labels", lambda **kw: dcm().assign_labels(**kw),
         lambda: dict(images=digits(2), targets=torch.tensor([1, 7]), stream=2, first_index=0),
         tensors={"images": IMG255_REAL, "targets": LABELS},
         ints={"stream": [(0, ValueError)], "first_index": [(-1, ValueError)]}),
    Spec("DiehlCook2015.load_state_dict", lambda **kw: dcm().load_state_dict(**kw),
         lambda: dict(state_dict=dcm().state_dict(), strict=True, assign=False), flags=("strict", "assign")),
    Spec("poisson_events", dc.poisson_events,
         lambda: dict(image=digits(1)[0], intensity=2, generator=dc.digit_generator(0, 0, 0, 0), params=dc.PARAMS),
         tensors={"image": IMG255_REAL},
         reals={"intensity": [(0, ValueError), (-1.0, ValueError), (100.0, ValueError)]}),
    Spec("events_to_spikes", dc.events_to_spikes,
         lambda: dict(pixels=_events()[0], offsets=_events()[1], n_inputs=784),
         tensors={"pixels": T(bad_dtypes=(torch.float32, torch.bool), empty=False),
                  "offsets": T(bad_dtypes=(torch.float32, torch.bool))},
         ints={"n_inputs": [(0, ValueError)]}),
    Spec("normalize_weights", dc.normalize_weights,
         lambda: dict(weight=dcm().weight.clone(), total=78.0),
         tensors={"weight": T()}, reals={"total": [(0.0, ValueError), (-1.0, ValueError)]}),
    Spec("run_digit_reference", dc.run_digit_reference, _reference_valid,
         tensors={"weight": T(bad_dtypes=(torch.float32, torch.int32, torch.bool)),
                  "theta": T(bad_dtypes=(torch.float32, torch.bool)),
                  "spikes": T(bad_dtypes=(torch.uint8, torch.float32))},
         flags=("learn", "record")),
    Spec("init_state", dc.init_state, lambda: dict(n_neurons=3, rested=False, params=dc.PARAMS),
         ints={"n_neurons": [(0, ValueError)]}, flags=("rested",)),
    Spec("digit_generator", dc.digit_generator, lambda: dict(seed=0, stream=1, index=2, attempt=0),
         ints={"seed": [(-1, ValueError)], "stream": [(-1, ValueError)], "index": [(-1, ValueError)],
               "attempt": [(-1, ValueError)]}),
    Spec("assign_labels", dc.assign_labels,
         lambda: dict(counts=torch.tensor([[0, 3], [2, 0], [1, 1]]), targets=torch.tensor([1, 2, 1]), n_classes=10),
         tensors={"counts": T(bad_dtypes=(torch.bool,)), "targets": LABELS}, ints={"n_classes": [(0, ValueError)]},
         covers=("diehl_cook2015.assign_labels",)),
    Spec("classify", dc.classify,
         lambda: dict(counts=torch.tensor([[0, 3], [2, 0]]), labels=torch.tensor([1, -1]), n_classes=10),
         tensors={"counts": T(bad_dtypes=(torch.bool,)), "labels": LABELS}, ints={"n_classes": [(0, ValueError)]}),
    # ------------------------------------------------------------ surrogate gradients
    Spec("spike_function", sg.spike_function, lambda: dict(surrogate="arctan", scale=2.0),
         reals={"scale": [(0.0, ValueError), (-1.0, ValueError)]}, strings={"surrogate": ["relu", 3, None]},
         optional=("scale",)),
    Spec("surrogate_derivative", sg.surrogate_derivative,
         lambda: dict(surrogate="sigmoid", x=torch.linspace(-1, 1, 5), scale=None),
         tensors={"x": T(rank=[])}, reals={"scale": [(0.0, ValueError)]}, strings={"surrogate": ["relu"]},
         optional=("scale",)),
    Spec("surrogate_primitive", sg.surrogate_primitive,
         lambda: dict(surrogate="fast_sigmoid", x=torch.linspace(-1, 1, 5), scale=None),
         tensors={"x": T(rank=[])}, reals={"scale": [(-2.0, ValueError)]}, strings={"surrogate": ["relu"]},
         optional=("scale",)),
    Spec("images_to_float", lambda **kw: sg.images_to_float("images_to_float", **kw),
         lambda: dict(images=floats01()), tensors={"images": IMG01}),
    Spec("LIF", sg.LIF, lambda: dict(beta=0.5, threshold=1.0, surrogate="fast_sigmoid", scale=None, detach_reset=True),
         reals={"beta": [(1.5, ValueError), (-0.1, ValueError)], "threshold": [(0.0, ValueError)],
                "scale": [(0.0, ValueError)]},
         strings={"surrogate": ["relu"]}, flags=("detach_reset",), optional=("scale",)),
    Spec("LIF.run", lambda **kw: sg.LIF(0.5).run(**kw), lambda: dict(currents=torch.rand(2, 3, 4, generator=gen())),
         tensors={"currents": T(bad_dtypes=(), rank=[lambda x: x[0, 0]], values=False)},
         covers=("surrogate.LIF.forward",)),
    Spec("SurrogateFC", sg.SurrogateFC,
         lambda: dict(hidden=4, beta=0.9, time_steps=2, coding="rate", surrogate="fast_sigmoid", eval_seed=0),
         ints={"hidden": [(0, ValueError)], "time_steps": [(0, ValueError)], "eval_seed": [(-1, ValueError)]},
         reals={"beta": [(1.5, ValueError), (-0.5, ValueError)]},
         strings={"coding": ["spikes", 1], "surrogate": ["relu"]}),
    Spec("SurrogateFC.encode", lambda **kw: sg.SurrogateFC(hidden=4, time_steps=2).encode(**kw),
         lambda: dict(images=floats01(), generator=None), tensors={"images": IMG01}),
    # forward codes the images with encode, whose errors name it (tests/test_gradient.py)
    Spec("SurrogateFC.encode", lambda **kw: sg.SurrogateFC(hidden=4, time_steps=2)(**kw),
         lambda: dict(images=floats01()), tensors={"images": IMG01}),
    Spec("SurrogateFC.forward", lambda **kw: sg.SurrogateFC(hidden=4, time_steps=2)(**kw),
         lambda: dict(images=floats01(), generator=None, return_record=False), flags=("return_record",)),
    Spec("SurrogateConv", sg.SurrogateConv,
         lambda: dict(channels=(2, 4), hidden=8, beta=0.5, time_steps=2, surrogate="arctan", scale=None,
                      batchnorm=True),
         ints={"hidden": [(0, ValueError)], "time_steps": [(0, ValueError)]},
         reals={"beta": [(1.5, ValueError)], "scale": [(0.0, ValueError)]}, strings={"surrogate": ["relu"]},
         flags=("batchnorm",), optional=("scale",)),
    Spec("SurrogateConv.forward", lambda **kw: sg.SurrogateConv(channels=(2, 4), hidden=8)(**kw),
         lambda: dict(images=floats01(), return_record=False), tensors={"images": IMG01}, flags=("return_record",)),
    # ------------------------------------------------------------ Chevalier
    Spec("chevalier_step", ch.chevalier_step,
         lambda: dict(current=torch.rand(2, 3, generator=gen()), inner_prev=torch.zeros(2, 3), decay=0.9,
                      threshold=1.0, penalty=1.5),
         tensors={"current": T(), "inner_prev": T()},
         reals={"decay": [(1.5, ValueError), (-0.1, ValueError)], "threshold": [(0.0, ValueError)],
                "penalty": [(-1.0, ValueError)]}),
    Spec("ChevalierLayer", ch.ChevalierLayer,
         lambda: dict(n_inputs=4, n_neurons=3, decay=0.9, threshold=1.0, penalty=1.5),
         ints={"n_inputs": [(0, ValueError)], "n_neurons": [(0, ValueError)]},
         reals={"decay": [(1.5, ValueError)], "threshold": [(-1.0, ValueError)], "penalty": [(-0.5, ValueError)]}),
    Spec("ChevalierLayer.forward", lambda **kw: ch.ChevalierLayer(4, 3)(**kw),
         lambda: dict(x=torch.rand(2, 5, 4, generator=gen())), tensors={"x": T()}),
    Spec("ChevalierSpiking", ch.ChevalierSpiking, lambda: dict(time_steps=4, hidden=5, eval_seed=0),
         ints={"time_steps": [(0, ValueError)], "hidden": [(0, ValueError)], "eval_seed": [(-1, ValueError)]}),
    Spec("ChevalierSpiking.forward", lambda **kw: ch.ChevalierSpiking(time_steps=4, hidden=5)(**kw),
         lambda: dict(images=floats01(), generator=None, return_record=False), tensors={"images": IMG01},
         flags=("return_record",)),
    Spec("ChevalierNonSpiking", ch.ChevalierNonSpiking, lambda: dict(hidden=5), ints={"hidden": [(0, ValueError)]}),
    Spec("ChevalierNonSpiking.forward", lambda **kw: ch.ChevalierNonSpiking(hidden=5)(**kw),
         lambda: dict(images=floats01(), generator=None, return_record=False), tensors={"images": IMG01},
         flags=("return_record",)),
    # ------------------------------------------------------------ SpikeProp
    Spec("srm_kernel", sp.srm_kernel, lambda: dict(s=torch.tensor([-1.0, 0.0, 7.0]), tau=7.0),
         tensors={"s": T(bad_dtypes=(), rank=[], values=False, empty=False)}, reals={"tau": [(0.0, ValueError)]}),
    Spec("srm_kernel_derivative", sp.srm_kernel_derivative, lambda: dict(s=torch.tensor([-1.0, 0.0, 7.0]), tau=7.0),
         tensors={"s": T(bad_dtypes=(), rank=[], values=False, empty=False)}, reals={"tau": [(-1.0, ValueError)]}),
    Spec("potentials", sp.potentials,
         lambda: dict(input_times=torch.tensor([[0.0, 2.0]]), weight=torch.tensor([[1.0, 0.5]]),
                      t=torch.linspace(0, 10, 5), tau=7.0),
         tensors={"input_times": T(values=False), "weight": T(), "t": T(bad_dtypes=(torch.bool,))},
         reals={"tau": [(0.0, ValueError)]}),
    Spec("first_spike_times", sp.first_spike_times,
         lambda: dict(input_times=torch.tensor([[0.0, 1.0]]), weight=torch.tensor([[1.0, 1.0]]), tau=7.0,
                      threshold=1.0, t_max=30.0, dt=0.1, min_slope=0.2),
         tensors={"input_times": T(values=False), "weight": T()},
         reals={"tau": [(0.0, ValueError)], "threshold": [(0.0, ValueError)], "t_max": [(-1.0, ValueError)],
                "dt": [(0.0, ValueError), (50.0, ValueError)], "min_slope": [(0.0, ValueError)]}),
    Spec("SpikePropLayer", sp.SpikePropLayer,
         lambda: dict(n_in=3, n_out=2, tau=7.0, threshold=1.0, t_max=30.0, dt=0.1, min_slope=0.2, weight_scale=None,
                      seed=0),
         ints={"n_in": [(0, ValueError)], "n_out": [(0, ValueError)]},
         reals={"tau": [(0.0, ValueError)], "dt": [(40.0, ValueError)], "weight_scale": [(0.0, ValueError)]},
         optional=("weight_scale",)),
    Spec("SpikePropLayer.forward", lambda **kw: sp.SpikePropLayer(2, 2, weight_scale=1.0)(**kw),
         lambda: dict(input_times=torch.tensor([[0.0, 1.0], [2.0, INF]])), tensors={"input_times": T(values=False)}),
    Spec("SpikePropLayer.forward", lambda **kw: sp.SpikePropNet((2, 3, 2), weight_scale=1.0)(**kw),
         lambda: dict(input=torch.tensor([[0.0, 1.0], [2.0, INF]])), tensors={"input": T(values=False)},
         covers=("spikeprop.SpikePropNet.forward",)),
    Spec("SpikePropNet", sp.SpikePropNet, lambda: dict(sizes=(3, 2, 2), seed=0), ints={"seed": [(1.5, TypeError)]},
         covers=("spikeprop.SpikePropNet",)),
    Spec("spike_time_error", sp.spike_time_error,
         lambda: dict(times=torch.tensor([[3.0, 5.0]]), target_times=torch.tensor([[4.0, 5.0]])),
         tensors={"times": T(bad_dtypes=()), "target_times": T(bad_dtypes=())}),
    Spec("latency_times", sp.latency_times, lambda: dict(images=floats01(), t_code=10.0),
         tensors={"images": T(bad_dtypes=(torch.int64, torch.bool), rank=[lambda x: x[0, 0], lambda x: x[None, None]])},
         reals={"t_code": [(0.0, ValueError)]}),
    Spec("ttfs_targets", sp.ttfs_targets, lambda: dict(labels=torch.tensor([0, 2]), n_classes=3, early=6.0, late=9.0),
         tensors={"labels": LABELS}, ints={"n_classes": [(1, ValueError)]},
         reals={"early": [(-1.0, ValueError), (10.0, ValueError)], "late": [(-1.0, ValueError), (5.0, ValueError)]}),
    Spec("ttfs_classify", sp.ttfs_classify, lambda: dict(times=torch.tensor([[12.0, 9.0], [30.0, 30.0]]), t_max=30.0),
         tensors={"times": T(bad_dtypes=(torch.bool,))}, reals={"t_max": [(0.0, ValueError)]}),
    Spec("train_spikeprop", sp.train_spikeprop,
         lambda: dict(model=sp.SpikePropLayer(3, 1, weight_scale=1.0), input_times=torch.tensor([[0.0, 1.0, 2.0]]),
                      target_times=torch.tensor([[6.0]]), epochs=1, lr=0.01, batch_size=None, silent_push=0.05,
                      seed=0, record=True),
         tensors={"input_times": T(values=False), "target_times": T(bad_dtypes=(torch.int64, torch.bool))},
         ints={"epochs": [(-1, ValueError)], "batch_size": [(0, ValueError)]},
         reals={"lr": [(0.0, ValueError)], "silent_push": [(-1.0, ValueError)]}, flags=("record",),
         optional=("batch_size",)),
    Spec("quickstart", sp.quickstart, lambda: dict(epochs=1, seed=0), ints={"epochs": [(-1, ValueError)]},
         covers=("spikeprop.quickstart",)),
    # ------------------------------------------------------------ events
    Spec("EventConvSNN", ev.EventConvSNN, lambda: dict(channels=(2, 4), beta=0.8),
         reals={"beta": [(1.5, ValueError), (-0.1, ValueError)]}),
    Spec("EventConvSNN.forward", lambda **kw: ev.EventConvSNN(channels=(2, 4))(**kw),
         lambda: dict(x=torch.rand(2, 3, 2, 34, 34, generator=gen()).round()),
         tensors={"x": T(bad_dtypes=(torch.float64, torch.int32, torch.bool))}),
    Spec("events_batch", ev.events_batch,
         lambda: dict(ds=FakeEvents(), indices=[0, 1], input="binned", time_bins=10, device=None),
         ints={"time_bins": [(0, ValueError)]}, strings={"input": ["frames", 3]}),
    Spec("frame_images", ev.frame_images, lambda: dict(ds=FakeEvents(), indices=[0, 1])),
]


def _cases():
    out = []
    for spec in SPECS:
        valid = spec.valid()
        for arg, t in spec.tensors.items():
            for label, bad, exc in _tensor_variants(valid[arg], t):
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg, extra in spec.reals.items():
            bads = [(lbl, v, e) for lbl, v, e in REAL_BAD if not (arg in spec.optional and v is None)]
            bads += [(repr(v), v, e) for v, e in extra]
            bads += [(f"0d-{v!r}", torch.tensor(v), e) for v, e in extra if isinstance(v, float)]
            for label, bad, exc in bads:
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg, extra in spec.ints.items():
            bads = [(lbl, v, e) for lbl, v, e in INT_BAD if not (arg in spec.optional and v is None)]
            bads += [(repr(v), v, e) for v, e in extra]
            bads += [(f"0d-{v}", torch.tensor(v), e) for v, e in extra if isinstance(v, int)]
            for label, bad, exc in bads:
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg in spec.flags:
            for label, bad, exc in FLAG_BAD:
                out.append(pytest.param(spec, arg, bad, exc, id=f"{spec.name}-{arg}-{label}"))
        for arg, values in spec.strings.items():
            for v in values:
                out.append(pytest.param(spec, arg, v, ValueError, id=f"{spec.name}-{arg}-{v!r}"))
    return out


@pytest.mark.parametrize("spec", [pytest.param(s, id=f"{s.name}-{i}") for i, s in enumerate(SPECS)])
def test_valid_call_works(spec):
    spec.call(**spec.valid())


@pytest.mark.parametrize("spec,arg,bad,exc", _cases())
def test_bad_argument(spec, arg, bad, exc):
    kwargs = spec.valid()
    kwargs[arg] = bad
    with pytest.raises(exc) as info:
        spec.call(**kwargs)
    msg = str(info.value)
    assert f"{spec.name}:" in msg, msg
    assert arg in msg, msg


def test_every_public_callable_is_in_the_table():
    exempt = {
        # data containers and constants' helpers: checked by the functions that take them
        "diehl_cook2015.DiehlCookState",
        # torch.autograd.Function: called through first_spike_times, which checks its arguments
        "spikeprop.SpikeTime",
        # trains and evaluates on the MNIST training set for minutes: argument errors in EXTRA
        "diehl_cook2015.quickstart", "spikeprop.ttfs_digits",
    }
    covered = set()
    for spec in SPECS:
        for c in spec.covers:
            covered.add(c)
        covered.update(f"{m}.{spec.name}" for m in MODULES)  # a name is unique across these modules
    covered.update(f"{m}.{name}" for m in MODULES for name, *_ in EXTRA)
    missing = []
    for mname, module in MODULES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            key = f"{mname}.{name}"
            if not callable(obj) or isinstance(obj, dict) or key in exempt:
                continue
            if key not in covered:
                missing.append(key)
            if isinstance(obj, type) and issubclass(obj, torch.nn.Module) and f"{key}.forward" not in covered:
                missing.append(f"{key}.forward")
    assert not missing, f"public callables without a bad-input spec: {missing}"


# ----------------------------------------------------------------------------------------------
# domain values, arguments checked against each other, state dicts
# ----------------------------------------------------------------------------------------------
def _moz_state(key, change):
    sd = {k: v.clone() for k, v in moz().state_dict().items()}
    change(sd[key])
    return sd


def _dc_state(key, change):
    sd = {k: v.clone() for k, v in dcm().state_dict().items()}
    change(sd[key])
    return sd


def _set(index, value):
    def change(t):
        t.view(-1)[index] = value
    return change


def _state_with(**fields):
    s = dc.init_state(4, rested=True)._asdict()
    for k, v in fields.items():
        s[k] = v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=s[k].dtype)
    return dc.DiehlCookState(**s)


def _reference(**changes):
    kw = _reference_valid()
    kw.update(changes)
    return dc.run_digit_reference(**kw)


def _wave(n=1, steps=15):
    from snnbook.coding import times_to_wave
    return times_to_wave(moz_times(n), steps)


def _moz_weight(value):
    m = moz().eval()
    with torch.no_grad():
        m.conv3.weight[0, 0, 0, 0] = value
    return m


def _moz_conv1(value):
    m = moz().eval()
    m.conv1.load_weight(torch.full_like(m.conv1.weight, value))
    return m


EXTRA = [
    # -------- image conventions (more in the tests below) and sizes
    ("Mozafari2019.encode", "images", lambda: moz().encode(floats01()), ValueError),
    ("Mozafari2019.encode", "images", lambda: moz().encode(digits().float() * 4), ValueError),
    ("Mozafari2019.encode", "images", lambda: moz().encode(-digits().float()), ValueError),
    ("Mozafari2019.encode", "images", lambda: moz().encode(torch.zeros(2, 32, 32, dtype=torch.uint8)), ValueError),
    ("Mozafari2019.encode", "images", lambda: moz().encode(torch.zeros(2, 1, 28, 27, dtype=torch.uint8)), ValueError),
    ("Mozafari2019.encode", "images", lambda: moz().encode(torch.zeros(2, 3, 28, 28, dtype=torch.uint8)), ValueError),
    ("DiehlCook2015.learn", "images", lambda: dcm().learn(floats01(1)), ValueError),
    ("DiehlCook2015.learn", "images", lambda: dcm().learn(digits(1).float() * 4), ValueError),
    ("DiehlCook2015.responses", "images", lambda: dcm().responses(-digits(1).int()), ValueError),
    ("DiehlCook2015.responses", "images", lambda: dcm().responses(torch.zeros(2, 32, 32, dtype=torch.uint8)),
     ValueError),
    ("DiehlCook2015.responses", "images", lambda: dcm().responses(torch.zeros(2, 1, 784, dtype=torch.uint8)),
     ValueError),
    ("DiehlCook2015.forward", "images", lambda: dcm().eval()(floats01(1)), ValueError),
    ("poisson_events", "image", lambda: dc.poisson_events(floats01(1)[0], 2, gen()), ValueError),
    ("poisson_events", "image", lambda: dc.poisson_events(torch.zeros(32, 32), 2, gen()), ValueError),
    ("SurrogateFC.encode", "images", lambda: sg.SurrogateFC(hidden=4)(digits().float()), ValueError),
    ("SurrogateConv.forward", "images", lambda: sg.SurrogateConv((2, 4), 8)(digits().float()), ValueError),
    ("SurrogateConv.forward", "images", lambda: sg.SurrogateConv((2, 4), 8)(torch.rand(2, 32, 32)), ValueError),
    ("SurrogateConv.forward", "images", lambda: sg.SurrogateConv((2, 4), 8)(torch.rand(2, 1, 784)), ValueError),
    ("ChevalierSpiking.forward", "images", lambda: ch.ChevalierSpiking(4, 5)(-floats01()), ValueError),
    ("ChevalierNonSpiking.forward", "images", lambda: ch.ChevalierNonSpiking(5)(digits().double()), ValueError),
    ("latency_times", "images", lambda: sp.latency_times(digits().float()), ValueError),
    # -------- first-spike times, waves and maps beyond what the network takes
    ("Mozafari2019.forward", "x", lambda: moz().eval()(torch.full((1, 6, 28, 28), 16, dtype=torch.uint8)),
     ValueError),
    ("Mozafari2019.forward", "x", lambda: moz().eval()(torch.full((1, 6, 32, 32), 15, dtype=torch.uint8)),
     ValueError),
    ("Mozafari2019.forward", "x", lambda: moz().eval()(torch.full((1, 3, 28, 28), 15, dtype=torch.uint8)),
     ValueError),
    ("Mozafari2019.forward", "x", lambda: moz().eval()(_wave() * 2), ValueError),
    ("Mozafari2019.forward", "x", lambda: moz().eval()(_wave().flip(1)), ValueError),  # not cumulative
    ("Mozafari2019.forward", "x", lambda: moz().eval()(_wave()[:, :10]), ValueError),  # 10 steps, not 15
    ("Mozafari2019.forward", "x", lambda: moz().eval()(_wave()[..., :20, :20]), ValueError),
    ("Mozafari2019.learn_stdp", "x", lambda: moz().learn_stdp(2, torch.full((1, 6, 28, 28), 200, dtype=torch.uint8)),
     ValueError),
    ("Mozafari2019.s3_input", "x", lambda: moz().s3_input(torch.full((1, 6, 34, 34), 3, dtype=torch.uint8)),
     ValueError),
    ("Mozafari2019.classify_s3", "active", lambda: moz().classify_s3(torch.zeros(2, 250, 5, 5, dtype=torch.bool)),
     ValueError),
    ("Mozafari2019.classify_s3", "active", lambda: moz().classify_s3(torch.zeros(2, 200, 4, 4, dtype=torch.bool)),
     ValueError),
    ("Mozafari2019.learn_rstdp", "x",
     lambda: moz().learn_rstdp(torch.zeros(2, 250, 3, 3, dtype=torch.bool), torch.tensor([0, 1]), s3_input=True),
     ValueError),
    ("Mozafari2019.learn_rstdp", "s3_input",
     lambda: moz().learn_rstdp(moz_active(), torch.tensor([0, 1]), engine="dense", s3_input=True), ValueError),
    # -------- classes beyond 0..9, negative counts
    ("Mozafari2019.learn_rstdp", "labels", lambda: moz().learn_rstdp(moz_times(), torch.tensor([10, 1])), ValueError),
    ("Mozafari2019.learn_rstdp", "labels", lambda: moz().learn_rstdp(moz_times(), torch.tensor([-2, 1])), ValueError),
    ("Mozafari2019.learn_rstdp", "labels", lambda: moz().learn_rstdp(moz_times(), torch.tensor([1])), ValueError),
    ("DiehlCook2015.assign_labels", "targets", lambda: dcm().assign_labels(digits(2), torch.tensor([12, 1])),
     ValueError),
    ("DiehlCook2015.assign_labels", "targets", lambda: dcm().assign_labels(digits(2), torch.tensor([1])), ValueError),
    ("assign_labels", "targets", lambda: dc.assign_labels(torch.ones(3, 2), torch.tensor([10, 0, 1])), ValueError),
    ("assign_labels", "targets", lambda: dc.assign_labels(torch.ones(3, 2), torch.tensor([-2, 0, 1])), ValueError),
    ("assign_labels", "targets", lambda: dc.assign_labels(torch.ones(3, 2), torch.tensor([3, 0, 1]), n_classes=3),
     ValueError),
    ("assign_labels", "targets", lambda: dc.assign_labels(torch.ones(3, 2), torch.tensor([0, 1])), ValueError),
    ("assign_labels", "counts", lambda: dc.assign_labels(-torch.ones(3, 2), torch.tensor([2, 0, 1])), ValueError),
    ("classify", "counts", lambda: dc.classify(torch.tensor([[-1, 3]]), torch.tensor([1, 2])), ValueError),
    ("classify", "labels", lambda: dc.classify(torch.ones(2, 2), torch.tensor([10, 2])), ValueError),
    ("classify", "labels", lambda: dc.classify(torch.ones(2, 2), torch.tensor([-2, 2])), ValueError),
    ("classify", "labels", lambda: dc.classify(torch.ones(2, 2), torch.tensor([1, 2, 3])), ValueError),
    ("ttfs_targets", "labels", lambda: sp.ttfs_targets(torch.tensor([3]), 3, early=6.0, late=9.0), ValueError),
    ("EventConvSNN.forward", "x", lambda: ev.EventConvSNN((2, 4))(-torch.ones(1, 2, 2, 34, 34)), ValueError),
    ("EventConvSNN.forward", "x", lambda: ev.EventConvSNN((2, 4))(torch.ones(1, 2, 2, 32, 32)), ValueError),
    # -------- weights and rates
    ("normalize_weights", "total", lambda: dc.normalize_weights(dcm().weight, 0.0), ValueError),
    ("normalize_weights", "total", lambda: dc.normalize_weights(dcm().weight, NAN), ValueError),
    ("normalize_weights", "total", lambda: dc.normalize_weights(dcm().weight.float(), 1e300), ValueError),
    ("normalize_weights", "weight", lambda: dc.normalize_weights(-dcm().weight, 78.0), ValueError),
    ("normalize_weights", "weight", lambda: dc.normalize_weights(torch.zeros(784, 2, dtype=torch.float64), 78.0),
     ValueError),
    ("poisson_events", "intensity", lambda: dc.poisson_events(digits(1)[0], 0, gen()), ValueError),
    ("poisson_events", "intensity", lambda: dc.poisson_events(digits(1)[0], 1000, gen()), ValueError),
    ("poisson_events", "generator", lambda: dc.poisson_events(digits(1)[0], 2, 0), TypeError),
    ("poisson_events", "params", lambda: dc.poisson_events(digits(1)[0], 2, gen(), {"dt_ms": 0.5}), ValueError),
    ("poisson_events", "params", lambda: dc.poisson_events(digits(1)[0], 2, gen(), [0.5]), TypeError),
    ("events_to_spikes", "pixels", lambda: dc.events_to_spikes(torch.tensor([784]), torch.tensor([0, 1])),
     ValueError),
    ("events_to_spikes", "pixels", lambda: dc.events_to_spikes(torch.tensor([-1]), torch.tensor([0, 1])), ValueError),
    ("events_to_spikes", "pixels", lambda: dc.events_to_spikes(torch.tensor([5]), torch.tensor([0, 1]), 5),
     ValueError),
    ("events_to_spikes", "offsets", lambda: dc.events_to_spikes(torch.tensor([1, 2]), torch.tensor([0, 1])),
     ValueError),
    ("events_to_spikes", "offsets", lambda: dc.events_to_spikes(torch.tensor([1, 2]), torch.tensor([0, 2, 1, 2])),
     ValueError),
    ("events_to_spikes", "offsets", lambda: dc.events_to_spikes(torch.tensor([1]), torch.tensor([1, 1])), ValueError),
    # -------- a decay (or a constant) outside its domain
    ("run_digit_reference", "tau_ge_ms", lambda: _reference(params={**ONE_STEP, "tau_ge_ms": 0.25}), ValueError),
    ("run_digit_reference", "dt_ms", lambda: _reference(params={**ONE_STEP, "dt_ms": -0.5}), ValueError),
    ("run_digit_reference", "w_ie", lambda: _reference(params={**ONE_STEP, "w_ie": NAN}), ValueError),
    ("run_digit_reference", "rest_simulated_ms",
     lambda: _reference(params={**ONE_STEP, "rest_simulated_ms": 10.0}), ValueError),
    ("run_digit_reference", "n_inputs", lambda: _reference(params={**ONE_STEP, "n_inputs": 7.5}), TypeError),
    ("init_state", "tau_e_ms", lambda: dc.init_state(3, params={**dc.PARAMS, "tau_e_ms": 0.1}), ValueError),
    ("chevalier_step", "decay", lambda: ch.chevalier_step(torch.ones(1, 2), torch.ones(1, 2), decay=1.5), ValueError),
    ("ChevalierLayer", "decay", lambda: ch.ChevalierLayer(2, 2, decay=-0.5), ValueError),
    ("LIF", "beta", lambda: sg.LIF(beta=1.5), ValueError),
    ("SurrogateFC", "beta", lambda: sg.SurrogateFC(beta=1.5), ValueError),
    ("SurrogateConv", "beta", lambda: sg.SurrogateConv(beta=-0.1), ValueError),
    ("EventConvSNN", "beta", lambda: ev.EventConvSNN(beta=2.0), ValueError),
    ("EventConvSNN", "channels", lambda: ev.EventConvSNN(channels=4), TypeError),
    ("SurrogateConv", "channels", lambda: sg.SurrogateConv(channels=(2, 0)), ValueError),
    # -------- reference engine: weight, theta, state and spikes against each other
    ("run_digit_reference", "weight", lambda: _reference(weight=-dcm().weight), ValueError),
    ("run_digit_reference", "weight", lambda: _reference(weight=torch.zeros(783, 4, dtype=torch.float64)),
     ValueError),
    ("run_digit_reference", "theta", lambda: _reference(theta=torch.zeros(3, dtype=torch.float64)), ValueError),
    ("run_digit_reference", "spikes", lambda: _reference(spikes=torch.zeros(5, 784, dtype=torch.bool)), ValueError),
    ("run_digit_reference", "spikes", lambda: _reference(spikes=torch.zeros(1, 783, dtype=torch.bool)), ValueError),
    ("run_digit_reference", "state", lambda: _reference(state=tuple(dc.init_state(4))), TypeError),
    ("run_digit_reference", "state.v_e", lambda: _reference(state=_state_with(v_e=[NAN, 0, 0, 0])), ValueError),
    ("run_digit_reference", "state.ge_e", lambda: _reference(state=_state_with(ge_e=[-1.0, 0, 0, 0])), ValueError),
    ("run_digit_reference", "state.since_e", lambda: _reference(state=_state_with(since_e=[-5, 0, 0, 0])),
     ValueError),
    ("run_digit_reference", "state.last_post",
     lambda: _reference(state=_state_with(last_post=[10, 0, 0, 0], t=3)), ValueError),
    ("run_digit_reference", "state.t", lambda: _reference(state=_state_with(t=-1)), ValueError),
    ("run_digit_reference", "state.v_i", lambda: _reference(state=_state_with(v_i=[0.0] * 3)), ValueError),
    ("run_digit_reference", "state.gi_i",
     lambda: _reference(state=_state_with(gi_i=torch.zeros(4, dtype=torch.float32))), TypeError),
    # -------- state dicts: NaN, negative weights, wrong shapes and kinds, counters
    ("Mozafari2019.load_state_dict", "conv1.weight",
     lambda: moz().load_state_dict(_moz_state("conv1.weight", _set(0, NAN))), ValueError),
    ("Mozafari2019.load_state_dict", "conv3.weight",
     lambda: moz().load_state_dict(_moz_state("conv3.weight", _set(3, -0.5))), ValueError),
    ("Mozafari2019.load_state_dict", "conv2.weight",
     lambda: moz().load_state_dict({**moz().state_dict(), "conv2.weight": torch.rand(250, 30, 5, 5)}), ValueError),
    ("Mozafari2019.load_state_dict", "rstdp_rates",
     lambda: moz().load_state_dict(_moz_state("rstdp_rates", _set(1, INF))), ValueError),
    ("Mozafari2019.load_state_dict", "rstdp_block",
     lambda: moz().load_state_dict(_moz_state("rstdp_block", _set(0, -3))), ValueError),
    ("Mozafari2019.load_state_dict", "s3_alive",
     lambda: moz().load_state_dict({**moz().state_dict(), "s3_alive": torch.ones(10)}), TypeError),
    ("Mozafari2019.load_state_dict", "stdp1_count",
     lambda: moz().load_state_dict({**moz().state_dict(), "stdp1_count": torch.ones(1) * 0.5}), TypeError),
    ("Mozafari2019.load_state_dict", "state_dict", lambda: moz().load_state_dict([1, 2]), TypeError),
    ("Mozafari2019.load_state_dict", "state_dict",
     lambda: moz().load_state_dict({k: v for k, v in moz().state_dict().items() if k != "conv1.weight"}),
     ValueError),
    ("Mozafari2019.load_state_dict", "state_dict['conv1.weight']",
     lambda: moz().load_state_dict({**moz().state_dict(), "conv1.weight": [0.5]}), TypeError),
    ("Mozafari2019.load_state_dict", "conv1.weight",
     lambda: moz().load_state_dict({**moz().state_dict(),
                                    "conv1.weight": torch.full((30, 6, 5, 5), 1e300, dtype=torch.float64)}),
     ValueError),
    ("DiehlCook2015.load_state_dict", "weight", lambda: dcm().load_state_dict(_dc_state("weight", _set(0, NAN))),
     ValueError),
    ("DiehlCook2015.load_state_dict", "weight", lambda: dcm().load_state_dict(_dc_state("weight", _set(0, -0.1))),
     ValueError),
    ("DiehlCook2015.load_state_dict", "labels", lambda: dcm().load_state_dict(_dc_state("labels", _set(0, 10))),
     ValueError),
    ("DiehlCook2015.load_state_dict", "theta", lambda: dcm().load_state_dict(_dc_state("theta", _set(0, NAN))),
     ValueError),
    ("DiehlCook2015.load_state_dict", "presented",
     lambda: dcm().load_state_dict(_dc_state("presented", lambda t: t.fill_(-1))), ValueError),
    ("DiehlCook2015.load_state_dict", "state_last_pre",
     lambda: dcm().load_state_dict(_dc_state("state_last_pre", _set(0, 5))), ValueError),
    ("DiehlCook2015.load_state_dict", "weight",
     lambda: dcm().load_state_dict({**dcm().state_dict(), "weight": torch.rand(784, 5, dtype=torch.float64)}),
     ValueError),
    # -------- weights set another way are checked at the next call
    ("Mozafari2019.forward", "conv3.weight", lambda: _moz_weight(-1.0)(moz_times()), ValueError),
    ("Mozafari2019.classify_s3", "conv3.weight", lambda: _moz_weight(NAN).classify_s3(moz_active()), ValueError),
    ("Mozafari2019.s3_input", "conv1.weight", lambda: _moz_conv1(-0.2).s3_input(moz_times()), ValueError),
    ("Mozafari2019.learn_stdp", "conv1.weight", lambda: _moz_conv1(-0.2).learn_stdp(1, moz_times()), ValueError),
    ("Mozafari2019.forward", "conv1.weight", lambda: moz().half()(moz_times()), TypeError),
    # -------- SpikeProp: times before the start, a layer of another size
    ("first_spike_times", "input_times",
     lambda: sp.first_spike_times(torch.tensor([[-1.0, 0.0]]), torch.ones(1, 2)), ValueError),
    ("first_spike_times", "input_times",
     lambda: sp.first_spike_times(torch.tensor([[-INF, 0.0]]), torch.ones(1, 2)), ValueError),
    ("SpikePropLayer.forward", "input_times", lambda: sp.SpikePropLayer(3, 2)(torch.zeros(1, 4)), ValueError),
    ("SpikePropLayer.forward", "input_times", lambda: sp.SpikePropLayer(3, 2)(torch.full((1, 3), -2.0)), ValueError),
    ("SpikePropNet", "sizes", lambda: sp.SpikePropNet((3, 0, 2)), ValueError),
    ("SpikePropNet", "sizes", lambda: sp.SpikePropNet((3, 2.5, 2)), TypeError),
    ("SpikePropNet", "sizes", lambda: sp.SpikePropNet(5), ValueError),
    ("train_spikeprop", "target_times",
     lambda: sp.train_spikeprop(sp.SpikePropLayer(2, 1), torch.zeros(1, 2), torch.tensor([[-3.0]])), ValueError),
    ("train_spikeprop", "input_times",
     lambda: sp.train_spikeprop(sp.SpikePropLayer(2, 1), torch.full((1, 2), -1.0), torch.ones(1, 1)), ValueError),
    ("train_spikeprop", "model", lambda: sp.train_spikeprop("layer", torch.zeros(1, 2), torch.ones(1, 1)), TypeError),
    ("ttfs_digits", "classes", lambda: sp.ttfs_digits(classes=(True, False)), ValueError),
    ("ttfs_digits", "classes", lambda: sp.ttfs_digits(classes=(1, 10)), ValueError),
    ("ttfs_digits", "n_train", lambda: sp.ttfs_digits(n_train=0), ValueError),
    ("ttfs_digits", "epochs", lambda: sp.ttfs_digits(epochs=-1), ValueError),
    ("ttfs_digits", "lr", lambda: sp.ttfs_digits(lr=0.0), ValueError),
    ("ttfs_digits", "early", lambda: sp.ttfs_digits(early=10.0, late=9.0), ValueError),
    ("ttfs_digits", "hidden", lambda: sp.ttfs_digits(hidden=0), ValueError),
    ("quickstart", "n_neurons", lambda: dc.quickstart(n_neurons=0), ValueError),
    ("quickstart", "seed", lambda: dc.quickstart(seed=-1), ValueError),
    ("quickstart", "train_digits", lambda: dc.quickstart(train_digits=60_000), ValueError),
    # -------- the gradient networks' other arguments
    ("SurrogateFC.encode", "generator", lambda: sg.SurrogateFC(hidden=4).encode(floats01(), generator=3), TypeError),
    ("SurrogateFC.forward", "generator", lambda: sg.SurrogateFC(hidden=4)(floats01(), generator="x"), TypeError),
    ("ChevalierSpiking.forward", "generator", lambda: ch.ChevalierSpiking(4, 5)(floats01(), generator=1), TypeError),
    ("ChevalierNonSpiking.forward", "generator", lambda: ch.ChevalierNonSpiking(5)(floats01(), generator=1),
     TypeError),
    ("chevalier_step", "inner_prev", lambda: ch.chevalier_step(torch.ones(2, 3), torch.ones(2, 4)), ValueError),
    ("ChevalierLayer.forward", "x", lambda: ch.ChevalierLayer(4, 3)(torch.ones(2, 5, 3)), ValueError),
    # -------- events
    ("events_batch", "indices", lambda: ev.events_batch(FakeEvents(), [7], "binned"), ValueError),
    ("events_batch", "indices", lambda: ev.events_batch(FakeEvents(), [], "binned"), ValueError),
    ("events_batch", "indices", lambda: ev.events_batch(FakeEvents(), [0.5], "binned"), TypeError),
    ("events_batch", "indices", lambda: ev.events_batch(FakeEvents(), 3, "binned"), TypeError),
    ("events_batch", "ds", lambda: ev.events_batch([1, 2], [0], "binned"), TypeError),
    ("events_batch", "device", lambda: ev.events_batch(FakeEvents(), [0], "binned", device="nowhere"), ValueError),
    ("events_batch", "device", lambda: ev.events_batch(FakeEvents(), [0], "binned", device=1.5), TypeError),
    ("events_batch", "device", lambda: ev.events_batch(FakeEvents(), [0], "binned", device="meta"), ValueError),
    ("frame_images", "indices", lambda: ev.frame_images(FakeEvents(), [5]), ValueError),
    ("frame_images", "ds", lambda: ev.frame_images(None, [0]), TypeError),
]


@pytest.mark.parametrize("fn_name,arg,call,exc", [pytest.param(*c, id=f"{c[0]}-{c[1]}-{i}")
                                                  for i, c in enumerate(EXTRA)])
def test_extra_bad_input(fn_name, arg, call, exc):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert f"{fn_name}:" in msg and arg in msg, msg


# ----------------------------------------------------------------------------------------------
# each network: its documented image convention works, the other is refused by name
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("network", ["Mozafari2019", "DiehlCook2015"])
def test_0_255_networks_take_uint8_and_0_255_floats_and_refuse_0_1_floats(network):
    import inspect
    cls = mz.Mozafari2019 if network == "Mozafari2019" else dc.DiehlCook2015
    doc = " ".join(inspect.getdoc(cls).split())
    assert "0..255" in doc and "[0, 1] floats" in doc and "multiply by 255" in doc
    x = digits(2)
    if network == "Mozafari2019":
        m = moz().eval()
        run = m.encode
    else:
        m = dcm().eval()
        run = m.responses
    ref = run(x)
    assert torch.equal(run(x.float()), ref) and torch.equal(run(x.double()), ref)  # 0..255 floats: the same
    if network == "Mozafari2019":
        assert torch.equal(m(ref), m(run(x[:, None])))                                # [batch, 1, 28, 28]
    else:
        assert torch.equal(run(x.reshape(2, 784)), ref) and int(ref.sum()) > 0
    for given in (x.float() / 255, x.double() / 255, x.half() / 255):
        with pytest.raises(ValueError) as info:
            run(given)
        msg = str(info.value)
        assert "look like [0, 1] floats" in msg and network in msg and "0..255" in msg and "multiply by 255" in msg
    with pytest.raises(ValueError, match=r"0\.\.255.*got values in \[0, 1020\]"):
        run(x.float() * 4)
    run(torch.zeros(2, 28, 28))  # a blank image is no convention error


@pytest.mark.parametrize("network", ["SurrogateFC", "SurrogateConv", "ChevalierSpiking", "ChevalierNonSpiking",
                                     "latency_times"])
def test_0_1_networks_take_floats_and_uint8_and_refuse_0_255_floats(network):
    import inspect
    torch.manual_seed(0)
    make = {"SurrogateFC": lambda: sg.SurrogateFC(hidden=6, time_steps=3, coding="direct").eval(),
            "SurrogateConv": lambda: sg.SurrogateConv(channels=(2, 4), hidden=8).eval(),
            "ChevalierSpiking": lambda: ch.ChevalierSpiking(time_steps=4, hidden=5).eval(),
            "ChevalierNonSpiking": lambda: ch.ChevalierNonSpiking(hidden=5).eval(),
            "latency_times": lambda: sp.latency_times}[network]
    run = make()
    obj = run if network == "latency_times" else type(run)
    doc = " ".join(inspect.getdoc(obj).split())
    assert "[0, 1]" in doc and "uint8" in doc
    x = digits(2)
    with torch.no_grad():
        ref = run(x.double() / 255 if network == "latency_times" else x.float() / 255)
        out = run(x)                                                    # uint8 0..255 is divided by 255
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
        if network != "latency_times":
            torch.testing.assert_close(run((x.float() / 255).reshape(2, 1, 28, 28)), ref, rtol=0, atol=0)
            torch.testing.assert_close(run((x.float() / 255).reshape(2, 784)), ref, rtol=0, atol=0)
        for given in (x.float(), x.double()):
            with pytest.raises(ValueError) as info:
                run(given)
            msg = str(info.value)
            assert "[0, 1]" in msg and "got values in [0, 255]" in msg and "divide them by 255" in msg, msg


def test_gradient_networks_follow_their_parameters_dtype():
    """A network converted with .double() takes the same images (no torch dtype error)."""
    torch.manual_seed(0)
    for net in (sg.SurrogateConv(channels=(2, 4), hidden=8).eval(), ch.ChevalierNonSpiking(5),
                ch.ChevalierSpiking(4, 5).eval(), sg.SurrogateFC(hidden=4, time_steps=2).eval()):
        ref = net(digits(2))
        out = net.double()(digits(2))
        first = out[0] if isinstance(out, tuple) else out
        assert first.dtype == torch.float64
        torch.testing.assert_close(first.float(), ref[0] if isinstance(ref, tuple) else ref, rtol=1e-5, atol=1e-5)


def test_valid_state_dicts_load_and_give_the_same_model():
    a, b = moz(), mz.Mozafari2019(s3_features=10, seed=1)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.eval()(moz_times()), b.eval()(moz_times()))
    c, d = dcm(), dc.DiehlCook2015(n_neurons=4, seed=1)
    c.learn(digits(1))
    d.load_state_dict(c.state_dict())
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in c.state_dict().items())
    d.load_state_dict({"weight": c.weight.float()}, strict=False)   # another float dtype, within range
    assert torch.equal(d.weight, c.weight.float().double())


def test_event_network_counts_and_indices():
    net = ev.EventConvSNN(channels=(2, 4)).eval()
    assert net(torch.zeros(1, 2, 2, 34, 34)).shape == (1, 10)        # no event at all is valid
    x = ev.events_batch(FakeEvents(), np.array([0, -1]), "frame", time_bins=4)
    assert x.shape == (2, 4, 2, 34, 34) and float(x.sum()) == 2 * 2 * 34 * 34
    assert ev.frame_images(FakeEvents(), range(3)).shape == (3, 28, 28)
