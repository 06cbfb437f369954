"""The core benchmark's per-sample SpykeTorch-style reference agrees with snnbook (quick sizes, no timing)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def core():
    spec = importlib.util.spec_from_file_location("benchmarks_core", ROOT / "benchmarks" / "core.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_checks_reference_equals_snnbook(core):
    q = core.QUICK
    result = core.run(q["digits"], q["batch"], repeats=1, warmup=0, check_only=True)
    assert result["checks"]["coding"]["digits"] == q["digits"]
    assert result["checks"]["coding"]["spikes_last_step"] > 0
    assert result["checks"]["kwta_stdp"]["winners"] > 0          # STDP really had something to learn
    assert result["checks"]["kwta_stdp"]["weight_change"] > 0
    assert result["checks"]["kwta_stdp"]["max_weight_diff"] <= 1e-6


def test_reference_and_snnbook_outputs_directly(core):
    torch.manual_seed(0)
    kernels = core.mozafari2019_dog_kernels()
    images = core.load_images(8)
    with torch.no_grad():
        ref, lib = core.ref_coding(images, kernels), core.lib_coding(images, kernels)
        assert ref.dtype == lib.dtype == torch.uint8 and torch.equal(ref, lib)
        weight = core.initial_weight()
        spikes = lib[:3].float()
        w_ref, spk_ref, win_ref = core.ref_kwta_stdp(spikes, weight)
        w_lib, spk_lib, win_lib = core.lib_kwta_stdp(spikes, weight)
    assert torch.equal(spk_ref, spk_lib)
    assert win_ref == core.winners_to_lists(win_lib)
    torch.testing.assert_close(w_ref, w_lib, rtol=0.0, atol=1e-6)


def test_quick_cli_writes_json(core, tmp_path, capsys):
    out = tmp_path / "bench.json"
    record = core.main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["command"].startswith("benchmarks/core.py --quick")
    assert set(data["ratios"]) == {"coding", "kwta_stdp"}
    for key in ("platform", "cpu_count", "torch", "torch_threads"):
        assert key in data["machine"]
    for side in ("reference", "snnbook"):
        assert data["timings"]["coding"][side]["median_s"] > 0
    assert record["sizes"]["digits"] == core.QUICK["digits"]
    stages = data["coding_stages_s"]
    assert {"dog_conv", "local_normalization", "intensity_to_latency (uint8)"} <= set(stages)
    assert all(sec > 0 for sec in stages.values())
    assert "ratio" in capsys.readouterr().out


def _load(name):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engine_and_mozafari2019_benchmarks_quick(tmp_path):
    """Both sides of every workload are asserted equal inside the scripts; here at quick sizes."""
    engine = _load("engine")
    rec = engine.main(["--quick", "--out", str(tmp_path / "e.json"), "--weights", ""])
    data = json.loads((tmp_path / "e.json").read_text())
    assert set(data["ratios"]) >= {"coding", "step_l1", "step_l2", "step_l3", "inference_batch1",
                                   "inference_batched_vs_dense_batch1"}
    assert all(v > 0 for v in data["ratios"].values())
    assert data["spikes_per_digit"]["s1"] > 0 and rec["git_commit"]
    m = _load("mozafari2019").main(["--quick", "--out", str(tmp_path / "m.json"), "--weights", "",
                                     "--run", str(tmp_path / "none.json")])
    assert set(m["per_digit"]) == {"encode", "s1_stdp_step", "s2_stdp_step", "s3_rstdp_step",
                                   "s3_rstdp_step_in_training_pass", "inference"}
    assert m["schedule_projection_s"]["ratio"] > 0
    # untrained S3 weights (initial N(0.8, 0.05), some above 1) do not fit the int8 screen
    screen = m["s3_readout_screen"]
    assert screen.get("winners_equal") or "skipped" in screen
