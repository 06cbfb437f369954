"""Benchmark of the event-driven engine against the dense torch path, side by side in one run.

Workloads (the Mozafari et al. 2019 MNIST network, 2-core CPU):

1. ``coding``: the input transform of ``--digits`` digits: a per-digit loop mirroring SpykeTorch
   (``core.ref_coding``: DoG, local normalisation, ``Intensity2Latency`` -> uint8 wave) against
   ``Mozafari2019.encode`` (batched, first-spike times); asserted equal.
2. ``step_l1``, ``step_l2``: one STDP training step at batch 1 (conv, fire, pointwise inhibition,
   k-WTA, STDP; S2 includes S1's inference as in SpykeTorch's loop) with ``engine="dense"`` (the
   readable functions) against ``engine="event"``, each over the same ``--steps`` digits in sequence
   from the same weights; winners and weights asserted identical.
3. ``step_l3``: one R-STDP step of the decision layer at batch 1 from its input wave: the
   straightforward dense step written here (15-step float32 convolution, ``fire`` without threshold,
   ``k_winners``, ``rstdp_update``, as SpykeTorch runs it) against the event step on the cached
   input bits (what training does). Asserted equal to the same dense step with exactly summed
   potentials (see ``snnbook._engine``: the decision layer's score grid makes float32 rounding
   decide ties); agreement with the plain float32 step is reported. Also per digit inside one
   training call over ``10 * --steps`` digits (how training runs it), asserted identical to
   digit-by-digit calls.
4. ``inference``: decisions of S1-S3 at batch 1 (dense and event) and batched (event, chunked),
   per digit; decisions asserted equal. Peak memory of one call on 10 000 digits (subprocess).

Layers run on trained weights (``--weights``, default the shipped ``results/mozafari2019-seed0.pt``;
without it S1 and S2 are trained briefly first) so spike counts are realistic; spikes per layer
are reported. Writes ``results/bench_engine.json``::

    .venv/bin/python benchmarks/engine.py            # full run
    .venv/bin/python benchmarks/engine.py --quick --out /tmp/bench_engine.json
"""
from __future__ import annotations

import argparse
import copy
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as benchmarks/core.py, for both sides

import torch

from snnbook import _engine, competition, data, layers, plasticity
from snnbook.coding import times_to_wave, wave_to_times
from snnbook.models import Mozafari2019
from snnbook.models.mozafari2019 import S3, _exact_conv
from snnbook.training import git_commit, load_mozafari2019, machine_info

ROOT = Path(__file__).resolve().parents[1]
QUICK = dict(digits=40, steps=8, infer=16, batched=64, memory_batch=0)
FULL = dict(digits=1000, steps=200, infer=100, batched=1000, memory_batch=10_000)
PARALLEL_WARMUP = 2 * _engine.PARALLEL_MIN_BATCH
ROUNDS = 3  # timed rounds of the training steps (best of)
TARGETS = {"step_l1": 10.0, "step_l2": 10.0, "step_l3": 10.0, "inference_batched_vs_dense_batch1": 20.0,
           "coding": 20.0}


def _core():
    spec = importlib.util.spec_from_file_location("benchmarks_core", ROOT / "benchmarks" / "core.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, repeats: int = 1) -> float:
    """Best wall time of ``repeats`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def trained_model(weights: Path | None, train_digits: int) -> tuple[Mozafari2019, str]:
    if weights is not None and weights.exists():
        model = load_mozafari2019(weights)
        return model, f"shipped weights {weights.relative_to(ROOT) if weights.is_relative_to(ROOT) else weights}"
    model = Mozafari2019(seed=0)
    images, _ = data.mnist_tensors(train=True, n=train_digits)
    x = model.encode(images)
    model.learn_stdp(1, x)
    model.learn_stdp(2, x)
    return model.eval(), f"S1 and S2 trained by STDP on {train_digits} digits (no shipped weights)"


def dense_s3_step(weight: torch.Tensor, wave: torch.Tensor, label: int, rates, exact: bool):
    """The straightforward decision-layer step at batch 1 (SpykeTorch's order of operations)."""
    pot = _exact_conv(wave, weight) if exact else layers.conv(wave, weight)
    spikes = competition.fire(pot)
    winners = competition.k_winners(pot, 1, 0, spikes)
    f = int(winners[0, 0, 0])
    if f < 0:
        return weight, -1
    decision = f // S3["per_class"]
    reward = torch.tensor([1 if decision == label else -1])
    new = plasticity.rstdp_update(weight, wave, spikes, winners, reward, (rates[0], rates[1]),
                                  (rates[2], rates[3]), False, 0.2, 0.8)
    return new, decision


def run(sizes: dict, weights: Path | None) -> dict:
    torch.manual_seed(0)
    core = _core()
    model, weights_note = trained_model(weights, 2000 if sizes["digits"] >= 1000 else 200)
    steps_t = model.time_steps
    images, labels = data.mnist_tensors(train=False, n=max(sizes["digits"], sizes["batched"]))
    res: dict = {"weights": weights_note, "sizes": sizes}
    timings: dict = {}

    # ---- 1. coding --------------------------------------------------------------------------
    imgs = images[:sizes["digits"]]
    kernels = core.mozafari2019_dog_kernels()
    x_float = imgs.float().div(255).mul(255).unsqueeze(1)
    ref_wave = core.ref_coding(x_float, kernels)
    times = model.encode(imgs)
    assert torch.equal(wave_to_times(ref_wave), times), "coding: event times differ from the per-digit loop"
    model.encode(imgs[:8])
    timings["coding"] = {"reference_per_digit_loop_s": timed(lambda: core.ref_coding(x_float, kernels)),
                         "event_s": timed(lambda: model.encode(imgs), 3), "digits": len(imgs)}

    # ---- spikes per layer on these digits ---------------------------------------------------
    _, lay = model(times[:200], return_layers=True)
    res["spikes_per_digit"] = {"input": float((times[:200] < steps_t).sum((1, 2, 3)).float().mean()),
                               "s1": float((lay["s1"] < steps_t).sum((1, 2, 3)).float().mean()),
                               "s2": float((lay["s2"] < steps_t).sum((1, 2, 3)).float().mean()),
                               "c2_s3_input": float(model.s3_input(times[:200]).sum((1, 2, 3)).float().mean())}

    # ---- 2. STDP steps at batch 1 ------------------------------------------------------------
    n = sizes["steps"]
    for layer in (1, 2):
        start = copy.deepcopy(model).train()
        start.learn_stdp(layer, times[:1])  # compile / load the kernels
        copy.deepcopy(start).learn_stdp(layer, times[:1], engine="dense")
        seq = times[1:1 + n]
        best = {"dense": float("inf"), "event": float("inf")}
        for rnd in range(ROUNDS):  # best of ROUNDS, each from the same weights, the sides alternating
            runs = {}
            for side in ("dense", "event"):
                m_ = copy.deepcopy(start)
                wins = []
                t = timed(lambda: wins.extend(m_.learn_stdp(layer, seq[i:i + 1], engine=side) for i in range(n)))
                best[side] = min(best[side], t)
                runs[side] = (wins, m_.state_dict()[f"conv{layer}.weight"])
            if rnd == 0:
                assert all(torch.equal(a, b) for a, b in zip(runs["dense"][0], runs["event"][0])), \
                    f"S{layer}: winners differ"
                assert torch.equal(runs["dense"][1], runs["event"][1]), f"S{layer}: weights differ"
        timings[f"step_l{layer}"] = {"dense_s_per_step": best["dense"] / n, "event_s_per_step": best["event"] / n,
                                     "steps": n, "best_of_rounds": ROUNDS}

    # ---- 3. R-STDP step of S3 at batch 1 -----------------------------------------------------
    active = model.s3_input(times[1:1 + n])
    waves = times_to_wave(layers.pad_times(torch.where(active, 0, steps_t).to(torch.uint8), (2, 2, 2, 2), steps_t),
                          steps_t, torch.float32)
    lab = labels[1:1 + n]
    event0 = copy.deepcopy(model).train()
    event0.learn_rstdp(active[:1], lab[:1], s3_input=True)  # compile; start everyone from here
    w0 = event0.conv3.weight.detach().clone()
    rates = event0.rstdp_rates.clone()
    t_event = float("inf")
    for rnd in range(ROUNDS):
        ev, dec = copy.deepcopy(event0), []
        t_event = min(t_event, timed(lambda: dec.extend(int(ev.learn_rstdp(active[i:i + 1], lab[i:i + 1],
                                                                            s3_input=True)) for i in range(n))))
        if rnd == 0:
            event, dec_e = ev, dec
    agreement = {}
    for exact in (True, False):
        w = w0.clone()
        dec_d = []

        def dense_run():
            nonlocal w
            for i in range(n):
                w, d = dense_s3_step(w, waves[i:i + 1], int(lab[i]), rates, exact)
                dec_d.append(d)
        t = timed(dense_run)
        if exact:
            assert dec_d == dec_e, "S3: decisions differ from the exact dense step"
            assert torch.equal(w, event.conv3.weight), "S3: weights differ from the exact dense step"
            t_exact = t
        else:
            t_dense = t
            agreement = {"decisions_equal": sum(a == b for a, b in zip(dec_d, dec_e)), "of": n,
                         "weights_equal": bool(torch.equal(w, event.conv3.weight))}
    # the training path: one call over many digits (the sequential R-STDP pass); asserted equal to
    # digit-by-digit steps
    m_pass = 10 * n
    reps = m_pass // len(times) + 1
    act_pass = model.s3_input(torch.cat([times] * reps)[:m_pass])
    lab_pass = torch.cat([labels[:len(times)]] * reps)[:m_pass]

    def from_w0():
        m_ = copy.deepcopy(model).train()
        m_.conv3.weight.data.copy_(w0)
        m_._cache.clear()
        return m_
    from_w0().learn_rstdp(act_pass[:64], lab_pass[:64], s3_input=True)  # compile / load the kernel
    t_pass = float("inf")
    for rnd in range(ROUNDS):
        pm, dec = from_w0(), []
        t_pass = min(t_pass, timed(lambda: dec.extend(pm.learn_rstdp(act_pass, lab_pass, s3_input=True).tolist())))
        if rnd == 0:
            pass_model, dec_pass = pm, dec
    one_by_one = from_w0()
    dec_one = [int(one_by_one.learn_rstdp(act_pass[i:i + 1], lab_pass[i:i + 1], s3_input=True))
               for i in range(m_pass)]
    assert dec_pass == dec_one, "S3: the training pass decides differently from digit-by-digit steps"
    assert torch.equal(pass_model.conv3.weight, one_by_one.conv3.weight), "S3: training pass weights differ"
    timings["step_l3"] = {"dense_s_per_step": t_dense / n, "dense_exact_sums_s_per_step": t_exact / n,
                          "event_s_per_step": t_event / n, "steps": n,
                          "event_training_pass_s_per_digit": t_pass / m_pass, "training_pass_digits": m_pass,
                          "plain_float32_dense_agreement": agreement}

    # ---- 4. inference ------------------------------------------------------------------------
    m = sizes["infer"]
    model.eval()
    model(times[:1], engine="dense"), model(times[:1]), model(times[:PARALLEL_WARMUP])  # compile / load kernels
    d_dense = []
    t_dense1 = timed(lambda: d_dense.extend(int(model(times[i:i + 1], engine="dense")) for i in range(m)))
    d_event1 = []
    t_event1 = timed(lambda: d_event1.extend(int(model(times[i:i + 1])) for i in range(m)))
    assert d_dense == d_event1, "inference: decisions differ at batch 1"
    allx = model.encode(images[:sizes["batched"]])
    d_batched = model(allx)
    t_batched = timed(lambda: model(allx), 2)
    assert d_batched[:m].tolist() == d_event1
    timings["inference"] = {"dense_batch1_s_per_digit": t_dense1 / m, "event_batch1_s_per_digit": t_event1 / m,
                            "event_batched_s_per_digit": t_batched / sizes["batched"], "batch": sizes["batched"]}
    if sizes["memory_batch"]:
        timings["inference"]["peak_rss_gb_batch"] = peak_memory(sizes["memory_batch"])
        timings["inference"]["memory_batch"] = sizes["memory_batch"]

    # ---- components of the event path (batch 1, S1 / S2 on their real inputs) -----------------
    comp = {}
    for layer, thr, cfg in ((1, 15.0, (5, 3)), (2, 10.0, (8, 1))):
        tin = model._layer_input(layer, times[:1])
        wgt = getattr(model, f"conv{layer}").weight.detach()
        first, pot = layers.conv_fire_times(tin, wgt, thr, steps_t)
        f_i, p_i = competition.pointwise_inhibition_times(first, pot, steps_t)
        win = competition.k_winners_times(f_i, p_i, steps_t, *cfg)
        reps = 50  # best of 3 rounds of 50 calls (the first round also warms up / loads compiled code)
        comp[f"s{layer}"] = {
            "conv_fire_s": timed(lambda: [_engine.conv_fire(tin, steps_t, wgt, thr) for _ in range(reps)], 3) / reps,
            "conv_fire_with_fused_inhibition_s (training)": timed(
                lambda: [_engine.conv_fire(tin, steps_t, wgt, thr, inhibit=True) for _ in range(reps)], 3) / reps,
            "pointwise_inhibition_s": timed(lambda: [_engine.inhibit(first, pot, steps_t) for _ in range(reps)],
                                            3) / reps,
            "k_winners_s": timed(lambda: [_engine.kwta(f_i, p_i, steps_t, *cfg) for _ in range(reps)], 3) / reps,
            "stdp_update_s (functional, with checks)": timed(
                lambda: [plasticity.stdp_update_times(wgt, tin, f_i, win, steps_t, 0.004, -0.003)
                         for _ in range(reps)], 3) / reps}
    res["event_components_batch1"] = comp

    ratios = {
        "coding": timings["coding"]["reference_per_digit_loop_s"] / timings["coding"]["event_s"],
        "step_l1": timings["step_l1"]["dense_s_per_step"] / timings["step_l1"]["event_s_per_step"],
        "step_l2": timings["step_l2"]["dense_s_per_step"] / timings["step_l2"]["event_s_per_step"],
        "step_l3": timings["step_l3"]["dense_s_per_step"] / timings["step_l3"]["event_s_per_step"],
        "step_l3_in_training_pass": timings["step_l3"]["dense_s_per_step"]
        / timings["step_l3"]["event_training_pass_s_per_digit"],
        "inference_batch1": timings["inference"]["dense_batch1_s_per_digit"]
        / timings["inference"]["event_batch1_s_per_digit"],
        "inference_batched_vs_dense_batch1": timings["inference"]["dense_batch1_s_per_digit"]
        / timings["inference"]["event_batched_s_per_digit"],
    }
    res.update(timings=timings, ratios=ratios,
               targets={k: {"target": v, "met": ratios[k] >= v} for k, v in TARGETS.items()})
    return res


def peak_memory(batch: int) -> float:
    """Peak resident memory (GB) of a fresh process that runs inference on ``batch`` digits at once:
    its VmHWM (``ru_maxrss`` of a child started by vfork/exec would start at this process's peak)."""
    code = ("import torch\nfrom snnbook import data\nfrom snnbook.models import Mozafari2019\n"
            "m = Mozafari2019(seed=0).eval()\nimages, _ = data.mnist_tensors(train=False, n=1000)\n"
            f"x = m.encode(images).repeat({batch} // 1000 + 1, 1, 1, 1)[:{batch}]\nm(x)\n"
            "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1e6


def table(res: dict) -> str:
    t, r = res["timings"], res["ratios"]
    rows = [("coding (1 000 digits)", t["coding"]["reference_per_digit_loop_s"], t["coding"]["event_s"], r["coding"], "s"),
            ("S1 STDP step, batch 1", t["step_l1"]["dense_s_per_step"], t["step_l1"]["event_s_per_step"], r["step_l1"], "s"),
            ("S2 STDP step, batch 1", t["step_l2"]["dense_s_per_step"], t["step_l2"]["event_s_per_step"], r["step_l2"], "s"),
            ("S3 R-STDP step, batch 1", t["step_l3"]["dense_s_per_step"], t["step_l3"]["event_s_per_step"], r["step_l3"], "s"),
            ("S3 step in a training pass", t["step_l3"]["dense_s_per_step"],
             t["step_l3"]["event_training_pass_s_per_digit"], r["step_l3_in_training_pass"], "s"),
            ("inference, batch 1", t["inference"]["dense_batch1_s_per_digit"], t["inference"]["event_batch1_s_per_digit"],
             r["inference_batch1"], "s/digit"),
            (f"inference, batched {t['inference']['batch']}", t["inference"]["dense_batch1_s_per_digit"],
             t["inference"]["event_batched_s_per_digit"], r["inference_batched_vs_dense_batch1"], "s/digit")]
    lines = [f"{'workload':28s} {'dense/ref':>12s} {'event':>12s} {'ratio':>8s}"]
    for name, a, b, ratio, unit in rows:
        lines.append(f"{name:28s} {a * 1e3:10.3f}ms {b * 1e3:10.3f}ms {ratio:7.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (what the test runs)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_engine.json"))
    parser.add_argument("--weights", default=str(ROOT / "results" / "mozafari2019-seed0.pt"))
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    load_start = list(os.getloadavg())
    res = run(sizes, Path(args.weights) if args.weights else None)
    record = {"command": "benchmarks/engine.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "git_commit": git_commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "machine": dict(machine_info(), load_average_at_start=load_start,
                              load_average_at_end=list(os.getloadavg()),
                              THP_MEM_ALLOC_ENABLE=os.environ.get("THP_MEM_ALLOC_ENABLE")), **res}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    from snnbook._resources import update_manifest  # the published record lists its files' SHA-256
    update_manifest(Path(args.out).parent, [Path(args.out)])
    print(table(record))
    print(f"spikes per digit: {record['spikes_per_digit']}")
    print(f"-> {args.out}")
    return record


if __name__ == "__main__":
    main()
