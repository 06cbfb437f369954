"""Benchmark of snnbook's batched core against a straightforward per-sample loop (SpykeTorch style).

Two workloads, each run side by side in one process:

1. ``coding``: DoG filtering + latency coding of ``--digits`` MNIST test digits, the 2019 pipeline
   (images as float 0..255 -> 6 DoG kernels, padding 6, threshold 50 -> local normalisation,
   radius 8 -> intensity-to-latency, T = 15 -> uint8 spike-wave, as the 2019 example's transform).
2. ``kwta_stdp``: one layer-1-sized learning step on a batch of ``--batch`` coded digits
   (input padded by 2 -> 32x32, conv 30 features 5x5 over 6 channels -> 28x28, 15 steps, fire at
   threshold 15 -> pointwise inhibition -> k-winners k=5, r=3 -> STDP with lr (0.004, -0.003),
   stabiliser, bounds 0..1).

The reference side is written here, one sample at a time, mirroring SpykeTorch's code
(github.com/miladmozafari/SpykeTorch @ aa302c7: ``utils.Filter``, ``functional.local_normalization``,
``utils.Intensity2Latency``, ``functional.fire``, ``functional.pointwise_inhibition``,
``functional.get_k_winners``, ``snn.STDP``). Before any ratio is reported, the outputs of both sides
are asserted equal (spikes and winners exactly, weights with ``atol=1e-6``).

Run from the repository root::

    .venv/bin/python benchmarks/core.py                 # full run, writes results/bench_core.json
    .venv/bin/python benchmarks/core.py --quick --out /tmp/bench.json   # small sizes (tests)

Prints a small table; the JSON holds the command, git commit, machine, date, timings and ratios.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

# Large tensors (hundreds of MB per batch) spend much of their time in first-touch page faults;
# PyTorch's CPU allocator backs large allocations with transparent huge pages when this is set
# before torch is imported. It applies to both sides of every comparison (one process); the JSON
# records it, and `THP_MEM_ALLOC_ENABLE=0 python benchmarks/core.py` measures without it.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import numpy as np
import torch
import torch.nn.functional as F

from snnbook import data
from snnbook.coding import intensity_to_latency
from snnbook.competition import k_winners, pointwise_inhibition, threshold_, winners_to_lists
from snnbook.layers import conv, pad
from snnbook.plasticity import stdp_update
from snnbook.retina import (MOZAFARI2019_FILTER_PADDING, MOZAFARI2019_FILTER_THRESHOLD, MOZAFARI2019_NORM_RADIUS,
                            filter_bank, local_normalization, mozafari2019_dog_kernels)

ROOT = Path(__file__).resolve().parents[1]

#: Workload constants (the 2019 MNIST network's first stage and layer 1).
TIME_STEPS = 15
FEATURES = 30
KERNEL = 5
INPUT_PAD = 2
FIRE_THRESHOLD = 15.0
KWTA = 5
INHIBITION_RADIUS = 3
LEARNING_RATE = (0.004, -0.003)
BOUNDS = (0.0, 1.0)
WEIGHT_INIT = (0.8, 0.05)  # mean, std of the initial weights (MozafariDeep.py)
SEED = 0

QUICK = {"digits": 16, "batch": 4, "repeats": 1, "warmup": 0}


# =============================================================================================
# REFERENCE: a straightforward per-sample implementation mirroring SpykeTorch's semantics.
# Each function processes ONE sample ([1, C, H, W] image or [T, C, H, W] wave), written the way
# SpykeTorch writes it (Python loops over time bins, winners and k; .item() in the k-WTA loop).
# It exists only to check and time snnbook against; do not use it elsewhere.
# =============================================================================================
def ref_filter(image: torch.Tensor, kernels: torch.Tensor, padding: int, threshold: float) -> torch.Tensor:
    """SpykeTorch ``utils.Filter.__call__`` on one image ``[1, 1, H, W]`` -> ``[1, n_kernels, H', W']``."""
    output = F.conv2d(image, kernels, padding=padding).float()
    output = torch.where(output < threshold, torch.tensor(0.0, device=output.device), output)
    return output


def ref_local_normalization(x: torch.Tensor, radius: int, eps: float = 1e-12) -> torch.Tensor:
    """SpykeTorch ``functional.local_normalization`` on one sample ``[1, C, H, W]``."""
    kernel = torch.ones(1, 1, radius * 2 + 1, radius * 2 + 1, device=x.device).float() / ((radius * 2 + 1) ** 2)
    y = x.squeeze(0)          # channels become the conv batch
    y = y.unsqueeze(1)
    means = F.conv2d(y, kernel, padding=radius) + eps
    y = y / means
    y = y.squeeze(1)
    return y.unsqueeze(0)


def ref_intensity_to_latency(intensities: torch.Tensor, time_steps: int) -> torch.Tensor:
    """SpykeTorch ``utils.Intensity2Latency(time_steps, to_spike=True)`` on one sample ``[1, C, H, W]``.

    Sort all values, ``torch.split`` the sorted indices into bins of ``nonzero // T`` and accumulate
    one bin per step in a Python loop; returns the cumulative wave ``[T, C, H, W]``. The one change
    from SpykeTorch: ``stable=True`` in the sort, so that equal values straddling a bin boundary
    are split in a defined order (SpykeTorch leaves it to the sort implementation; SEMANTICS.md).
    """
    bins = []
    nonzero_cnt = torch.nonzero(intensities).size()[0]
    bin_size = nonzero_cnt // time_steps
    flat = torch.reshape(intensities, (-1,))
    values, indices = torch.sort(flat, descending=True, stable=True)
    sorted_bins_value, sorted_bins_idx = torch.split(values, bin_size), torch.split(indices, bin_size)
    spike_map = torch.zeros_like(values)
    for i in range(time_steps):
        spike_map.scatter_(0, sorted_bins_idx[i], sorted_bins_value[i])
        spike_map_copy = spike_map.clone().detach()
        spike_map_copy = spike_map_copy.reshape(tuple(intensities.shape))
        bins.append(spike_map_copy.squeeze(0).float())
    return torch.stack(bins).sign()


def ref_coding(images: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The 2019 S1C1 transform one image at a time: ``[N, 1, H, W]`` -> ``[N, T, 6, H, W]`` uint8.

    As in the 2019 MNIST example (``S1C1Transform``: ``Intensity2Latency`` -> ``sign`` -> ``uint8``),
    each sample's spike-wave is converted to ``torch.uint8``.
    """
    out = []
    for n in range(images.shape[0]):
        x = ref_filter(images[n:n + 1], kernels, MOZAFARI2019_FILTER_PADDING, MOZAFARI2019_FILTER_THRESHOLD)
        x = ref_local_normalization(x, MOZAFARI2019_NORM_RADIUS)
        out.append(ref_intensity_to_latency(x, TIME_STEPS).to(torch.uint8))
    return torch.stack(out)


def ref_fire(potentials: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SpykeTorch ``functional.fire(potentials, threshold, True)`` on one wave ``[T, F, H, W]``."""
    thresholded = potentials.clone().detach()
    F.threshold(thresholded, threshold, 0, inplace=True)
    return thresholded.sign(), thresholded


def ref_pointwise_inhibition(thresholded: torch.Tensor) -> torch.Tensor:
    """SpykeTorch ``functional.pointwise_inhibition`` on one wave ``[T, F, H, W]``."""
    maximum = torch.max(thresholded, dim=1, keepdim=True)
    clamp_pot = maximum[0].sign()
    clamp_pot_max_1 = (clamp_pot.size(0) - clamp_pot.sum(dim=0, keepdim=True)).long()
    clamp_pot_max_1.clamp_(0, clamp_pot.size(0) - 1)
    clamp_pot_max_0 = clamp_pot[-1:, :, :, :]
    winners = maximum[1].gather(0, clamp_pot_max_1)
    coef = torch.zeros_like(thresholded[0]).unsqueeze_(0)
    coef.scatter_(1, winners, clamp_pot_max_0)
    return torch.mul(thresholded, coef)


def ref_get_k_winners(potentials: torch.Tensor, kwta: int, inhibition_radius: int,
                      spikes: torch.Tensor) -> list[tuple[int, int, int]]:
    """SpykeTorch ``functional.get_k_winners`` on one wave ``[T, F, H, W]``: a Python loop over k."""
    maximum = (spikes.size(0) - spikes.sum(dim=0, keepdim=True)).long()
    maximum.clamp_(0, spikes.size(0) - 1)
    values = potentials.gather(dim=0, index=maximum)
    truncated_pot = spikes * values
    v = truncated_pot.max() * potentials.size(0)
    truncated_pot.addcmul_(spikes, v)
    total = truncated_pot.sum(dim=0, keepdim=True)
    total.squeeze_(0)
    global_pooling_size = tuple(total.size())
    winners = []
    for _ in range(kwta):
        max_val, max_idx = total.view(-1).max(0)
        if max_val.item() != 0:
            f, r, c = (int(i) for i in np.unravel_index(max_idx.item(), global_pooling_size))
            winners.append((f, r, c))
            total[f, :, :] = 0
            if inhibition_radius != 0:
                row_min, row_max = max(0, r - inhibition_radius), min(total.size(-2), r + inhibition_radius + 1)
                col_min, col_max = max(0, c - inhibition_radius), min(total.size(-1), c + inhibition_radius + 1)
                total[:, row_min:row_max, col_min:col_max] = 0
        else:
            break
    return winners


def ref_pre_post_ordering(input_spikes: torch.Tensor, output_spikes: torch.Tensor,
                          winners: list[tuple[int, int, int]], kernel_size: tuple[int, int]) -> list[torch.Tensor]:
    """SpykeTorch ``snn.STDP.get_pre_post_ordering``: one ``[C, kh, kw]`` bool mask per winner."""
    input_latencies = torch.sum(input_spikes, dim=0)
    output_latencies = torch.sum(output_spikes, dim=0)
    result = []
    for winner in winners:
        out_tensor = torch.ones(*kernel_size, device=output_latencies.device) * output_latencies[winner]
        in_tensor = input_latencies[:, winner[-2]:winner[-2] + kernel_size[-2], winner[-1]:winner[-1] + kernel_size[-1]]
        result.append(torch.ge(in_tensor, out_tensor))
    return result


def ref_stdp(weight: torch.Tensor, input_spikes: torch.Tensor, output_spikes: torch.Tensor,
             winners: list[tuple[int, int, int]], learning_rate: list, use_stabilizer: bool,
             lower_bound: float, upper_bound: float) -> None:
    """SpykeTorch ``snn.STDP.forward`` on one sample: a loop over winners, updates ``weight`` in place."""
    pairings = ref_pre_post_ordering(input_spikes, output_spikes, winners, tuple(weight.shape[-2:]))
    lr = torch.zeros_like(weight)
    for i in range(len(winners)):
        f = winners[i][0]
        lr[f] = torch.where(pairings[i], *(learning_rate[f]))
    weight += lr * ((weight - lower_bound) * (upper_bound - weight) if use_stabilizer else 1)
    weight.clamp_(lower_bound, upper_bound)


def ref_kwta_stdp(input_spikes: torch.Tensor, weight: torch.Tensor):
    """One mini-batch step, one sample at a time: per-sample pad -> conv -> fire -> pointwise inhibition
    -> k winners -> STDP. As in snnbook's batched step, every sample's forward pass sees the weights of
    the start of the batch, and the STDP updates are applied one after the other in batch order.

    Returns ``(new_weight, output_spikes [B, T, F, H, W], winners as per-sample lists)``.
    """
    w0 = weight
    w = weight.clone()
    lr = [(torch.tensor([LEARNING_RATE[0]]), torch.tensor([LEARNING_RATE[1]])) for _ in range(w.shape[0])]
    all_spikes, all_winners = [], []
    for b in range(input_spikes.shape[0]):
        x = F.pad(input_spikes[b], (INPUT_PAD,) * 4, value=0.0)
        pot = F.conv2d(x, w0)
        _, pot = ref_fire(pot, FIRE_THRESHOLD)
        pot = ref_pointwise_inhibition(pot)
        spk = pot.sign()
        winners = ref_get_k_winners(pot, KWTA, INHIBITION_RADIUS, spk)
        ref_stdp(w, x, spk, winners, lr, True, *BOUNDS)
        all_spikes.append(spk)
        all_winners.append(winners)
    return w, torch.stack(all_spikes), all_winners


# =============================================================================================
# snnbook: the batched library path
# =============================================================================================
def lib_coding(images: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` float 0..255 -> ``[N, T, 6, H, W]`` cumulative uint8 spike-wave."""
    x = filter_bank(images, kernels, MOZAFARI2019_FILTER_PADDING, MOZAFARI2019_FILTER_THRESHOLD)
    x = local_normalization(x, MOZAFARI2019_NORM_RADIUS)
    return intensity_to_latency(x, TIME_STEPS, dtype=torch.uint8)


def lib_kwta_stdp(input_spikes: torch.Tensor, weight: torch.Tensor):
    """Batched pad -> conv -> threshold (in place) -> pointwise inhibition -> k winners -> STDP."""
    x = pad(input_spikes, (INPUT_PAD,) * 4)
    pot = threshold_(conv(x, weight), FIRE_THRESHOLD)  # in place: the conv output is ours
    pot = pointwise_inhibition(pot)
    spk = pot.sign()
    winners = k_winners(pot, KWTA, INHIBITION_RADIUS, spk)
    new = stdp_update(weight, x, spk, winners, LEARNING_RATE[0], LEARNING_RATE[1], True, *BOUNDS)
    return new, spk, winners


# =============================================================================================
# harness
# =============================================================================================
def load_images(n: int) -> torch.Tensor:
    """The first ``n`` MNIST test digits as float 0..255, ``[n, 1, 28, 28]``."""
    images, _ = data.mnist_tensors(False, n)
    return images.float().unsqueeze(1)


def initial_weight() -> torch.Tensor:
    g = torch.Generator().manual_seed(SEED)
    return torch.empty(FEATURES, 6, KERNEL, KERNEL).normal_(*WEIGHT_INIT, generator=g)


def check_coding(images: torch.Tensor, kernels: torch.Tensor) -> dict:
    """Assert that both sides code ``images`` to exactly the same spikes; return a summary."""
    ref = ref_coding(images, kernels)
    lib = lib_coding(images, kernels)
    if ref.shape != lib.shape or not torch.equal(ref, lib):
        bad = (ref != lib).flatten(1).any(1).nonzero().flatten().tolist() if ref.shape == lib.shape else "shape"
        raise AssertionError(f"coding: reference and snnbook spikes differ (samples {bad})")
    return {"digits": images.shape[0], "shape": list(lib.shape), "spikes_last_step": int(lib[:, -1].sum())}


def check_kwta_stdp(spikes: torch.Tensor, weight: torch.Tensor) -> dict:
    """Assert equal output spikes and winners (exactly) and new weights (atol 1e-6); return a summary."""
    w_ref, spk_ref, win_ref = ref_kwta_stdp(spikes, weight)
    w_lib, spk_lib, win_lib = lib_kwta_stdp(spikes, weight)
    if not torch.equal(spk_ref, spk_lib):
        raise AssertionError("kwta_stdp: reference and snnbook output spikes differ")
    if win_ref != winners_to_lists(win_lib):
        raise AssertionError(f"kwta_stdp: winners differ: reference {win_ref} vs snnbook {winners_to_lists(win_lib)}")
    if not torch.allclose(w_ref, w_lib, rtol=0.0, atol=1e-6):
        diff = float((w_ref - w_lib).abs().max())
        raise AssertionError(f"kwta_stdp: new weights differ by up to {diff:.3g} (> atol 1e-6)")
    return {"batch": spikes.shape[0], "winners": sum(len(w) for w in win_ref),
            "max_weight_diff": float((w_ref - w_lib).abs().max()),
            "weight_change": float((w_lib - weight).abs().sum())}


def measure(func: Callable[[], object], repeats: int, warmup: int) -> dict:
    """Wall time of ``func()`` in seconds: ``warmup`` untimed calls, then ``repeats`` timed ones."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return {"best_s": min(times), "median_s": statistics.median(times), "times_s": times}


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return out.stdout.strip() + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "torch_threads_note": "torch.set_num_threads left at default",
            "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"),
            "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def run(digits: int, batch: int, repeats: int, warmup: int = 1, check_only: bool = False) -> dict:
    """Check both workloads and (unless ``check_only``) time them. Returns the result dictionary."""
    if batch > digits:
        raise ValueError(f"run: batch must be <= digits, got batch={batch}, digits={digits}")
    torch.manual_seed(SEED)
    kernels = mozafari2019_dog_kernels()
    images = load_images(digits)
    weight = initial_weight()
    with torch.no_grad():
        checks = {"coding": check_coding(images, kernels)}
        spikes = lib_coding(images[:batch], kernels).float()  # the 2019 network's forward: input.float()
        checks["kwta_stdp"] = check_kwta_stdp(spikes, weight)
        result = {"checks": checks, "sizes": {"digits": digits, "batch": batch, "repeats": repeats,
                                              "warmup": warmup}}
        if check_only:
            return result
        timings = {}
        timings["coding"] = {"reference": measure(lambda: ref_coding(images, kernels), repeats, warmup),
                             "snnbook": measure(lambda: lib_coding(images, kernels), repeats, warmup)}
        timings["kwta_stdp"] = {"reference": measure(lambda: ref_kwta_stdp(spikes, weight), repeats, warmup),
                                "snnbook": measure(lambda: lib_kwta_stdp(spikes, weight), repeats, warmup)}
        stages = coding_stages(images, kernels, repeats, warmup)
    for t in timings.values():
        t["ratio_median"] = t["reference"]["median_s"] / t["snnbook"]["median_s"]
        t["ratio_best"] = t["reference"]["best_s"] / t["snnbook"]["best_s"]
    result["timings"] = timings
    result["ratios"] = {name: t["ratio_median"] for name, t in timings.items()}
    result["coding_stages_s"] = stages
    return result


def coding_stages(images: torch.Tensor, kernels: torch.Tensor, repeats: int, warmup: int) -> dict:
    """Median time of each stage of snnbook's coding path, each timed alone on its own input:
    where the time goes, and so what bounds the coding ratio."""
    filtered = filter_bank(images, kernels, MOZAFARI2019_FILTER_PADDING, MOZAFARI2019_FILTER_THRESHOLD)
    normalised = local_normalization(filtered, MOZAFARI2019_NORM_RADIUS)
    stages = {
        "dog_conv": lambda: F.conv2d(images, kernels, padding=MOZAFARI2019_FILTER_PADDING),
        "filter_bank (conv + threshold)": lambda: filter_bank(images, kernels, MOZAFARI2019_FILTER_PADDING,
                                                              MOZAFARI2019_FILTER_THRESHOLD),
        "local_normalization": lambda: local_normalization(filtered, MOZAFARI2019_NORM_RADIUS),
        "intensity_to_latency (uint8)": lambda: intensity_to_latency(normalised, TIME_STEPS, dtype=torch.uint8),
    }
    return {name: measure(fn, repeats, warmup)["median_s"] for name, fn in stages.items()}


def table(result: dict) -> str:
    s = result["sizes"]
    sizes = {"coding": f"{s['digits']} digits", "kwta_stdp": f"batch {s['batch']}"}
    lines = [f"{'workload':<11} {'size':<12} {'reference (s)':>14} {'snnbook (s)':>12} {'ratio':>7}"]
    for name, t in result["timings"].items():
        lines.append(f"{name:<11} {sizes[name]:<12} {t['reference']['median_s']:>14.4f} "
                     f"{t['snnbook']['median_s']:>12.4f} {t['ratio_median']:>6.1f}x")
    lines.append("snnbook coding stages: " + ", ".join(f"{name} {1e3 * sec:.1f} ms"
                                                     for name, sec in result["coding_stages_s"].items()))
    lines.append(f"(median of {s['repeats']} repeats after {s['warmup']} warm-up; "
                 f"torch threads {torch.get_num_threads()}, default)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--digits", type=int, default=1000, help="MNIST test digits to code (default 1000)")
    p.add_argument("--batch", type=int, default=128, help="batch of coded digits for k-WTA + STDP (default 128)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per side (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up calls per side (default 1)")
    p.add_argument("--out", default="results/bench_core.json", help="JSON output (default results/bench_core.json)")
    p.add_argument("--quick", action="store_true",
                   help=f"small sizes for tests ({QUICK['digits']} digits, batch {QUICK['batch']}, 1 repeat)")
    p.add_argument("--check-only", action="store_true", help="only assert reference == snnbook, no timing")
    args = p.parse_args(argv)
    if args.quick:
        args.digits, args.batch, args.repeats, args.warmup = (QUICK[k] for k in ("digits", "batch", "repeats", "warmup"))
    for name in ("digits", "batch", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result = run(args.digits, args.batch, args.repeats, args.warmup, check_only=args.check_only)
    print(f"equality checks passed: {json.dumps(result['checks'])}")
    if args.check_only:
        return result
    print(table(result))
    record = {"command": " ".join([Path(sys.executable).name] + [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
              if argv is None else "benchmarks/core.py " + " ".join(argv),
              "git_commit": git_commit(), "machine": {**machine(), "load_average_at_start": load_before}, "date": started.isoformat(timespec="seconds"),
              "target": {"coding_ratio": 20.0, "met": result["ratios"]["coding"] >= 20.0}, **result}
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    from snnbook._resources import update_manifest  # the published record lists its files' SHA-256
    update_manifest(out.parent, [out])
    print(f"wrote {os.path.relpath(out, Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return record


if __name__ == "__main__":
    main()
