"""The Mozafari et al. (2019) network: forward and learning steps equal SpykeTorch's end-to-end
fixtures layer by layer (both engines), the event-driven engine equals the dense path over long
sequential training (S1/S2: 1 000 steps each, S3: 500 digits), the cached S3 input equals
recomputing S1-C2, eval freezes everything, and bad input is rejected."""
from __future__ import annotations

import copy

import pytest
import torch

from snnbook import data
from snnbook.coding import times_to_wave, wave_to_times
from snnbook.models import Mozafari2019
from reference import load

ENGINES = ["event", "dense"]


def fixture_model() -> Mozafari2019:
    w = load("e2e_mozafari2019_weights.pt")
    model = Mozafari2019()
    for i in (1, 2, 3):
        getattr(model, f"conv{i}").load_weight(w[f"conv{i}_weight_code"].float() / 256)
    return model


@pytest.fixture(scope="module")
def e2e():
    return load("e2e_mozafari2019_eval.pt"), load("e2e_mozafari2019_train.pt")


@pytest.fixture(scope="module")
def digits():
    images, labels = data.mnist_tensors(train=True, n=1000)
    return Mozafari2019().encode(images), labels


def winner_rows(winners):
    return [list(r) for r in winners.tolist() if r[0] >= 0]


def test_encode_equals_the_reference_transform(e2e):
    ev, _ = e2e
    assert torch.equal(Mozafari2019().encode(ev["images_uint8"]), wave_to_times(ev["input_spikes"]))


@pytest.mark.parametrize("engine", ENGINES)
def test_forward_equals_the_e2e_fixture(e2e, engine):
    ev, _ = e2e
    model = fixture_model().eval()
    x = wave_to_times(ev["input_spikes"])
    decisions, layer_out = model(x, engine=engine, return_layers=True)
    assert decisions.tolist() == [d["output"] for d in ev["per_digit"]]
    for n, d in enumerate(ev["per_digit"]):
        assert torch.equal(layer_out["s1"][n], d["layer1_first_spike"].to(torch.uint8))
        assert torch.equal(layer_out["s2"][n], d["layer2_first_spike"].to(torch.uint8))
        assert torch.equal(layer_out["s3_potentials"][n], d["layer3_potential_last"])
        assert winner_rows(layer_out["winners"][n]) == [list(map(int, w)) for w in d["layer3_winners"]]
    # a dense spike-wave is accepted too, and the cached-input classifier agrees
    assert torch.equal(model(ev["input_spikes"], engine=engine), decisions)
    assert torch.equal(model.classify_s3(model.s3_input(x)), decisions)


@pytest.mark.parametrize("engine", ENGINES)
def test_learning_steps_equal_the_e2e_fixture(e2e, engine):
    ev, tr = e2e
    x = wave_to_times(ev["input_spikes"])
    model = fixture_model().train()
    for n, st in enumerate(tr["stage1_layer1"]):
        winners = model.learn_stdp(1, x[n:n + 1], engine=engine)
        assert winner_rows(winners[0]) == [list(map(int, w)) for w in st["winners"]]
        torch.testing.assert_close(model.conv1.weight, st["conv1_weight_after"], atol=1e-6, rtol=1e-5)
    model = fixture_model().train()
    for n, st in enumerate(tr["stage2_layer2"]):
        winners = model.learn_stdp(2, x[n:n + 1], engine=engine)
        assert winner_rows(winners[0]) == [list(map(int, w)) for w in st["winners"]]
        rows = model.conv2.weight[torch.tensor(st["winner_features"])]
        torch.testing.assert_close(rows, st["conv2_winner_rows_after"], atol=1e-6, rtol=1e-5)
    model = fixture_model().train()
    for n, st in enumerate(tr["stage3_layer3"]):
        decision = model.learn_rstdp(x[n:n + 1], torch.tensor([tr["targets"][n]]), engine=engine)
        assert int(decision) == st["output"]
        rows = model.conv3.weight[torch.tensor(st["winner_features"])]
        torch.testing.assert_close(rows, st["conv3_winner_rows_after"], atol=1e-6, rtol=1e-5)


def test_stdp_layers_event_equals_dense_over_1000_steps(digits):
    x, _ = digits
    event = Mozafari2019(seed=3).train()
    dense = copy.deepcopy(event)
    for layer in (1, 2):
        n = 1000
        w_event = event.learn_stdp(layer, x[:n])
        w_dense = dense.learn_stdp(layer, x[:n], engine="dense")
        assert torch.equal(w_event, w_dense), f"S{layer} winners differ"
        for name in (f"conv{layer}.weight", f"stdp{layer}_ltp", f"stdp{layer}_ltd", f"stdp{layer}_count"):
            assert torch.equal(event.state_dict()[name], dense.state_dict()[name]), name
    assert float(event.stdp1_ltp[0]) == pytest.approx(0.004 * 4)  # doubled after 500 and 1 000 digits


def test_rstdp_event_equals_dense_over_500_digits(digits):
    x, labels = digits
    event = Mozafari2019(seed=4).train()
    event.learn_stdp(1, x[:300])
    event.learn_stdp(2, x[:300])
    dense = copy.deepcopy(event)
    d_event = event.learn_rstdp(x[:500], labels[:500])
    d_dense = dense.learn_rstdp(x[:500], labels[:500], engine="dense")
    assert torch.equal(d_event, d_dense)
    for name in ("conv3.weight", "rstdp_rates", "rstdp_block"):
        assert torch.equal(event.state_dict()[name], dense.state_dict()[name]), name
    # the first block of 1 000 digits is not complete: base rates, 500 digits counted
    assert torch.equal(event.rstdp_rates, Mozafari2019().rstdp_rates)
    assert int(event.rstdp_block[2]) == 500


def test_rstdp_rates_adapt_per_block(digits):
    x, labels = digits
    model = Mozafari2019(seed=5).train()
    decisions = model.learn_rstdp(x, labels)
    hit = float((decisions == labels).float().mean())
    miss = float(((decisions != labels) & (decisions >= 0)).float().mean())
    expected = [0.004 * miss, -0.003 * miss, -0.004 * hit, 0.0005 * hit]
    torch.testing.assert_close(model.rstdp_rates, torch.tensor(expected), rtol=1e-6, atol=0)
    assert model.rstdp_block.tolist() == [0, 0, 0]


def test_cached_s3_input_equals_recomputing(digits):
    x, _ = digits
    model = Mozafari2019(seed=6)
    model.learn_stdp(1, x[:200])
    model.learn_stdp(2, x[:200])
    model.eval()
    active = model.s3_input(x[:60])
    _, layer_out = model(x[:60], engine="dense", return_layers=True)
    # C2 = pool 3 of S2's spikes: recompute from the dense path's S2 wave
    from snnbook import layers
    c2 = layers.pool(times_to_wave(layer_out["s2"], 15), 3, 3)[:, -1] > 0
    assert torch.equal(active, c2)
    assert torch.equal(model.classify_s3(active), model(x[:60], engine="dense"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_without_time_equals_the_timed_layers(digits, dtype):
    """Decisions and the cached S3 input come from final potentials only (a neuron has spiked by the
    last step iff its final potential exceeds the threshold); they must equal the timed event
    layers' spikes, in both dtypes, serial (batch < 8) and parallel."""
    from pathlib import Path
    from snnbook.training import load_mozafari2019
    x, _ = digits
    model = load_mozafari2019(Path(__file__).resolve().parents[1] / "results" / "mozafari2019-seed0.pt")
    model = model.to(dtype).eval()  # trained weights: realistic, sparse C2 activity
    timed = model._layer_input(3, x) < model.time_steps
    assert torch.equal(model.s3_input(x), timed)
    assert torch.equal(torch.cat([model.s3_input(x[i:i + 3]) for i in range(0, 30, 3)]), timed[:30])
    assert 0.05 < timed.float().mean() < 0.9  # neither silent nor saturated
    decisions, _ = model(x[:300], return_layers=True)
    assert torch.equal(model(x[:300]), decisions)
    assert torch.equal(torch.cat([model(x[i:i + 3]) for i in range(0, 30, 3)]), decisions[:30])  # serial


def test_eval_freezes_every_learned_quantity(digits):
    x, labels = digits
    model = Mozafari2019(seed=7).train()
    model.learn_stdp(1, x[:600])  # past the first doubling of the schedule
    model.learn_rstdp(x[:100], labels[:100])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    for engine, n in (("event", 100), ("dense", 8)):
        model.learn_stdp(1, x[:n], engine=engine)
        model.learn_stdp(2, x[:n], engine=engine)
        model.learn_rstdp(x[:n], labels[:n], engine=engine)
        model(x[:n], engine=engine)
    model.learn_rstdp(model.s3_input(x[:100]), labels[:100], s3_input=True)
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), f"{k} changed in eval mode"


def test_batched_inference_engines_agree_and_chunk(digits):
    x, _ = digits
    model = Mozafari2019(seed=8)
    model.learn_stdp(1, x[:200])
    model.learn_stdp(2, x[:200])
    model.eval()
    event = model(x[:600])  # more than one internal chunk
    assert event.shape == (600,)
    assert torch.equal(event[:64], model(x[:64], engine="dense"))
    assert torch.equal(event[:10], torch.cat([model(x[i:i + 1]) for i in range(10)]))
    silent = torch.full((2, 6, 28, 28), 15, dtype=torch.uint8)  # no input spike at all
    assert model(silent).tolist() == [-1, -1]
    assert model(silent, engine="dense").tolist() == [-1, -1]


def test_bad_input_is_rejected():
    model = Mozafari2019()
    with pytest.raises(TypeError, match="uint8"):
        model(torch.zeros(1, 6, 28, 28))
    with pytest.raises(ValueError, match="6 input channels"):
        model(torch.zeros(1, 3, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="engine"):
        model(torch.zeros(1, 6, 28, 28, dtype=torch.uint8), engine="gpu")
    with pytest.raises(ValueError, match="layer must be 1 or 2"):
        model.learn_stdp(3, torch.zeros(1, 6, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="labels"):
        model.learn_rstdp(torch.zeros(2, 6, 28, 28, dtype=torch.uint8), torch.tensor([1]))
    with pytest.raises(ValueError, match="multiple of 10"):
        Mozafari2019(s3_features=25)
    with pytest.raises(ValueError, match="steps"):
        model(torch.zeros(1, 10, 6, 28, 28))


def test_image_convention_and_domain_errors():
    """0..255 digits (uint8 or floats) are the convention; [0, 1] floats, 32 x 32 digits, times
    beyond time_steps, maps of another shape and negative weights in a state dict are refused by
    name (tests/test_bad_input_models.py has the full table), and a refused state dict loads nothing."""
    model = Mozafari2019(s3_features=10, seed=0).eval()
    images, _ = data.mnist_tensors(train=False, n=2)
    times = model.encode(images)
    assert torch.equal(model.encode(images.float()), times) and torch.equal(model.encode(images[:, None]), times)
    with pytest.raises(ValueError, match=r"Mozafari2019.encode: images look like \[0, 1\] floats.*multiply by 255"):
        model.encode(images.float() / 255)
    with pytest.raises(ValueError, match="Mozafari2019.encode: images must be 28 x 28"):
        model.encode(torch.zeros(2, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"Mozafari2019.forward: x \(first-spike times\) must lie in \[0, 15\]"):
        model(torch.full_like(times, 16))
    with pytest.raises(ValueError, match="Mozafari2019.classify_s3: active must be the maps"):
        model.classify_s3(torch.zeros(2, 250, 5, 5, dtype=torch.bool))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = model.state_dict()
    state["conv2.weight"] = -state["conv2.weight"]
    with pytest.raises(ValueError, match=r"Mozafari2019.load_state_dict: state_dict\['conv2.weight'\]"):
        model.load_state_dict(state)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_rstdp_variants_event_equals_dense(digits, monkeypatch):
    """The named variants (rate floor, per-call S3 dropout) behave the same on both engines, the
    dropped features never win, the masks are renewed per call and reproducible, and eval draws none."""
    from snnbook.models import mozafari2019 as m
    monkeypatch.setattr(m, "RSTDP_BLOCK", 100)  # several adaptations within the test
    x, labels = digits
    event = Mozafari2019(seed=6, rstdp_rate_floor=0.2, s3_dropout=0.5).train()
    event.learn_stdp(1, x[:200])
    event.learn_stdp(2, x[:200])
    dense = copy.deepcopy(event)
    masks = []
    for lo, hi in ((0, 150), (150, 300)):
        d_event = event.learn_rstdp(x[lo:hi], labels[lo:hi])
        d_dense = dense.learn_rstdp(x[lo:hi], labels[lo:hi], engine="dense")
        assert torch.equal(d_event, d_dense)
        masks.append(event.s3_alive.clone())
        alive_classes = {f // event.per_class for f in range(200) if event.s3_alive[f]}
        assert set(d_event[d_event >= 0].tolist()) <= alive_classes
    for name in ("conv3.weight", "rstdp_rates", "rstdp_block", "s3_alive", "s3_dropout_state"):
        assert torch.equal(event.state_dict()[name], dense.state_dict()[name]), name
    assert not torch.equal(masks[0], masks[1]) and 0.3 < float(masks[0].float().mean()) < 0.7
    # floor: the rates after the last block are base * (0.2 + 0.8 * miss (hit)) of that block
    d = d_event[-100:]
    hit = float((d == labels[200:300]).float().mean())
    miss = float(((d != labels[200:300]) & (d >= 0)).float().mean())
    expected = [0.004 * (0.2 + 0.8 * miss), -0.003 * (0.2 + 0.8 * miss),
                -0.004 * (0.2 + 0.8 * hit), 0.0005 * (0.2 + 0.8 * hit)]
    torch.testing.assert_close(event.rstdp_rates, torch.tensor(expected, dtype=event.rstdp_rates.dtype),
                               rtol=1e-6, atol=0)
    again = Mozafari2019(seed=6, s3_dropout=0.5).train()  # the masks depend on the seed and the count only
    again.learn_rstdp(x[:10], labels[:10])
    assert torch.equal(again.s3_alive, masks[0])
    assert bool(Mozafari2019(seed=6).train().s3_alive.all())  # no dropout: every feature takes part
    frozen = copy.deepcopy(event).eval()
    frozen.learn_rstdp(x[:20], labels[:20])
    assert torch.equal(frozen.s3_dropout_state, event.s3_dropout_state)


# ------------------------------------------------------------------ the two-pass readout winner
def _readout(active, weight, screened, limit=10 ** 9):
    """Winners (flat [F, 4, 4] indices) of the one-pass exact readout or the two-pass screened one
    (``limit``: the most candidates checked one by one before the one-pass readout takes over;
    by default never, so that pass 2 itself is tested)."""
    import numpy as np
    from snnbook import _engine
    act = np.ascontiguousarray(active.numpy())
    out = np.empty(len(act), np.int64)
    tarr = _engine.tarr_of(15, weight.dtype)
    wt = _engine.weight_rows(weight)
    if screened:
        q, ok = _engine.screen_rows(wt)
        assert ok[0]
        _engine._screened_serial(act, 2, q, weight.numpy(), wt, 5, 5, tarr, out, limit)
    else:
        _engine._readout_serial(act, 2, wt, 5, 5, 15, tarr, 4, 4, np.zeros(1, np.float32), out)
    return torch.from_numpy(out)


def _shipped_model():
    from pathlib import Path
    from snnbook.training import load_mozafari2019
    return load_mozafari2019(Path(__file__).resolve().parents[1] / "results" / "mozafari2019-seed0.pt")


def test_screened_readout_picks_the_exact_winner():
    """The int8 screen only discards neurons that provably score below the winner: on trained
    weights and real digits, on random weights and densities, and where potentials tie exactly
    (duplicated features, coarse weights: lowest index wins) or differ below float32 resolution,
    the two-pass winner equals the exact one-pass winner."""
    from snnbook import _engine
    model = _shipped_model().eval()
    images, _ = data.mnist_tensors(train=True, n=1000)
    active = model.s3_input(model.encode(images))
    weight = model.conv3.weight.detach()
    screened = _readout(active, weight, True)
    assert torch.equal(screened, _readout(active, weight, False))
    assert screened.unique().numel() > 100  # many different winners, no silent digit
    g = torch.Generator().manual_seed(0)
    for density in (0.02, 0.3, 0.95):
        act = torch.rand(300, 250, 4, 4, generator=g) < density
        w = 0.2 + 0.6 * torch.rand(200, 250, 5, 5, generator=g)
        assert torch.equal(_readout(act, w, True), _readout(act, w, False))
        # the engine's own limit: where the screen rules out little, the one-pass readout decides
        assert torch.equal(_readout(act, w, True, _engine.screen_limit(5, 5, 200)), _readout(act, w, False))
        coarse = torch.round(w * 4) / 4  # many exact ties between features and positions
        coarse[7] = coarse[3]
        wins = _readout(act, coarse, True)
        assert torch.equal(wins, _readout(act, coarse, False))
        near = w.clone()  # feature 11 = feature 10 + one float32 step: a gap the score cannot see
        near[11] = torch.nextafter(near[10], torch.tensor(1.0))
        assert torch.equal(_readout(act, near, True), _readout(act, near, False))
    silent = torch.zeros(2, 250, 4, 4, dtype=torch.bool)
    assert _readout(silent, weight, True).tolist() == [-1, -1]


def test_screen_falls_back_and_training_pass_is_unchanged(digits, monkeypatch):
    """Weights the int8 screen cannot hold (>= 1) fall back to the exact readout; R-STDP over 1 000
    digits from trained weights gives the same decisions, weights and rates with the screen (kept in
    sync after every update) as without it."""
    import numpy as np
    from snnbook import _engine
    x, labels = digits
    model = _shipped_model()
    active = model.s3_input(x)
    big = copy.deepcopy(model).eval()
    with torch.no_grad():
        big.conv3.weight.mul_(1.3)
    q, ok = big._screen_state()
    assert q.size and not ok[0]  # some weight >= 1: no screen
    assert torch.equal(big.classify_s3(active[:100]), big(x[:100], engine="dense"))
    assert not _engine.screen_rows(np.full((2, 2), np.nan, np.float32))[1][0]
    screened = copy.deepcopy(model).train()
    exact = copy.deepcopy(model).train()
    d_screened = screened.learn_rstdp(active, labels, s3_input=True)
    assert screened._screen_state()[1][0]
    q, _ = screened._screen_state()  # the screen followed every update
    assert np.array_equal(q, _engine.screen_rows(screened._weight_state(3)[1])[0])
    monkeypatch.setattr(Mozafari2019, "_screen_state", lambda self: (np.zeros((0, 0), np.int8), np.array([False])))
    d_exact = exact.learn_rstdp(active, labels, s3_input=True)
    assert torch.equal(d_screened, d_exact)
    for name in ("conv3.weight", "rstdp_rates", "rstdp_block"):
        assert torch.equal(screened.state_dict()[name], exact.state_dict()[name]), name
