"""snnbook.monitors: the monitors on hand-made inputs, the Diehl & Cook command line writes them,
monitoring never changes what a network learns, and bad input is refused with a clear error."""
from __future__ import annotations

import json

import pytest
import torch

from snnbook import data, monitors
from snnbook.models import DiehlCook2015
from snnbook import training
from snnbook.models import diehl_cook2015 as dc


def test_pure_functions_on_hand_made_counts():
    counts = torch.tensor([[0, 2, 1, 0], [0, 0, 0, 0], [4, 4, 0, 0], [0, 1, 0, 0]])
    before = counts.clone()
    assert monitors.spike_counts(counts).tolist() == [4, 7, 1, 0]
    assert monitors.silent_fraction(counts) == 0.25                      # neuron 3
    assert monitors.silent_fraction(counts, over="digits") == 0.25      # digit 1
    assert monitors.silent_fraction(counts, over="digits", min_spikes=5) == 0.75
    win = monitors.winners(counts)
    assert win.tolist() == [1, -1, 0, 1]                                # ties: lowest index
    hist = monitors.winner_histogram(win, 4)
    assert hist.tolist() == [1, 2, 0, 0]
    assert monitors.top_share(hist) == pytest.approx(2 / 3)
    assert monitors.top_share(torch.zeros(3, dtype=torch.int64)) == 0.0
    assert torch.equal(counts, before)                                   # pure
    assert monitors.spike_counts(counts.double()).dtype == torch.float64


def test_winner_counts_weight_histogram_quantiles():
    w = torch.tensor([[[2, 0, 0], [0, 1, 1], [-1, -1, -1]], [[1, 3, 3], [-1, -1, -1], [-1, -1, -1]]])
    assert monitors.winner_counts(w, 3).tolist() == [[1, 0, 1], [0, 1, 0]]
    weight = torch.tensor([[0.0, 0.05, 0.5], [0.95, 1.0, 1.2]])
    h = monitors.weight_histogram(weight, bins=10)
    assert h.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 3] and int(h.sum()) == weight.numel()
    assert monitors.weight_histogram(torch.tensor([-5.0, 5.0]), bins=2, low=-1, high=1).tolist() == [1, 1]
    assert monitors.quantiles(torch.arange(5.0)) == [0.0, 0.4, 2.0, 3.6, 4.0]


def test_monitor_snapshots_and_resume_state():
    mon = monitors.Monitor(every=3, bins=4)
    mon.update(torch.tensor([[0, 5, 0], [0, 0, 0]]), attempts=torch.tensor([1, 4]))
    assert not mon.due(2)
    state = mon.state_dict()
    mon.update(torch.tensor([[1, 0, 0]]), attempts=torch.tensor([2]))
    assert mon.due(3)
    snap = mon.snapshot(3, weight=torch.tensor([0.0, 0.3, 1.0]), theta=torch.tensor([20.0, 21.0, 22.0]))
    assert snap == {"digits": 3, "interval_digits": 3, "spikes_per_digit": 2.0, "silent_neurons": round(1 / 3, 6),
                    "silent_digits": round(1 / 3, 6), "distinct_winners": 2, "top_winner_share": 0.5,
                    "spikes_per_neuron": [1, 5, 0], "wins_per_neuron": [1, 1, 0], "attempts_mean": round(7 / 3, 4),
                    "attempts_max": 4, "weight_histogram": [1, 1, 0, 1], "weight_mean": round(1.3 / 3, 6),
                    "theta_quantiles": [20.0, 20.2, 21.0, 21.8, 22.0]}
    json.dumps(mon.to_dict())
    assert mon.series("digits") == [3]
    # the open interval survives a checkpoint
    other = monitors.Monitor(every=3, bins=4)
    other.load_state_dict(state)
    other.update(torch.tensor([[1, 0, 0]]), attempts=torch.tensor([2]))
    assert other.snapshot(3, weight=torch.tensor([0.0, 0.3, 1.0]),
                          theta=torch.tensor([20.0, 21.0, 22.0])) == snap
    # large layers: summaries only
    big = monitors.Monitor(every=1, per_neuron_max=2)
    big.update(torch.ones(1, 3, dtype=torch.int64))
    assert "spikes_per_neuron" not in big.snapshot(1)


def test_learn_reports_attempts_without_changing_anything():
    x, _ = data.mnist_tensors(train=True, n=3)
    faint = (x[2] > 0).to(torch.uint8) * 2  # needs re-presentations
    x = torch.cat([x[:2], faint[None]])
    a, b = DiehlCook2015(n_neurons=10, seed=2), DiehlCook2015(n_neurons=10, seed=2)
    counts, attempts = a.learn(x, return_attempts=True)
    assert torch.equal(counts, b.learn(x))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.theta, b.theta)
    assert attempts.dtype == torch.int64 and attempts.shape == (3,)
    assert int(attempts.min()) >= 1 and int(attempts[2]) > 1 and int(attempts.max()) <= 1 + dc.MAX_RETRIES
    _, attempts_ref = DiehlCook2015(n_neurons=10, seed=2).learn(x, engine="reference", return_attempts=True)
    assert torch.equal(attempts, attempts_ref)


def _train(out, **kw):
    args = dict(out=out, n_neurons=100, train_digits=300, test_digits=50, label_digits=300, seed=0,
                checkpoint_every=150, progress=False)
    args.update(kw)
    return training.train_diehl_cook2015(**args)


def test_command_line_writes_monitors_and_monitoring_changes_nothing(tmp_path):
    from snnbook.train import main
    assert main(["diehl_cook2015", "--neurons", "100", "--train-digits", "300", "--test-digits", "50",
                 "--label-digits", "300", "--monitor-every", "100", "--out", str(tmp_path / "cli"),
                 "--no-progress"]) == 0
    r = json.loads((tmp_path / "cli" / "diehl_cook2015_100-seed0.json").read_text())
    mon = r["monitors"]
    assert mon["every"] == 100 and [s["digits"] for s in mon["snapshots"]] == [100, 200, 300]
    for s in mon["snapshots"]:
        assert s["interval_digits"] == 100 and len(s["wins_per_neuron"]) == 100
        assert sum(s["wins_per_neuron"]) + round(s["silent_digits"] * 100) == 100
        assert sum(s["weight_histogram"]) == 784 * 100 and 1 <= s["attempts_mean"] <= s["attempts_max"]
        assert len(s["theta_quantiles"]) == len(monitors.QUANTILES)
    # without monitors (and resumed half way with them): the very same weights and numbers
    plain = _train(tmp_path / "plain", monitor_every=None)
    assert plain["monitors"] is None
    assert _train(tmp_path / "resumed", monitor_every=100, stop_after=150) is None
    resumed = _train(tmp_path / "resumed", monitor_every=100, resume=True, keep_checkpoint=True)
    name = "diehl_cook2015_100-seed0.pt"
    w = [torch.load(tmp_path / d / name, weights_only=True) for d in ("cli", "plain", "resumed")]
    for k in ("weight", "theta", "labels"):
        assert torch.equal(w[0][k], w[1][k]) and torch.equal(w[0][k], w[2][k]), k
    assert plain["test_accuracy"] == r["test_accuracy"] == resumed["test_accuracy"]
    assert resumed["monitors"]["snapshots"] == mon["snapshots"]
    with pytest.raises(ValueError, match="monitor_every"):
        _train(tmp_path / "resumed", monitor_every=50, resume=True, stop_after=200)


def test_bad_input():
    with pytest.raises(ValueError, match="spike_counts: counts must have 2 dimensions"):
        monitors.spike_counts(torch.zeros(3))
    with pytest.raises(ValueError, match="silent_fraction: counts must be spike counts >= 0"):
        monitors.silent_fraction(torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match="silent_fraction: over must be"):
        monitors.silent_fraction(torch.zeros(2, 2), over="time")
    with pytest.raises(TypeError, match="winners: counts must be a torch.Tensor"):
        monitors.winners([[1, 2]])
    with pytest.raises(ValueError, match="winner_histogram: winner must hold neuron indices in -1..2"):
        monitors.winner_histogram(torch.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="winner_histogram: winner must be an integer tensor"):
        monitors.winner_histogram(torch.tensor([0.0]), 3)
    with pytest.raises(ValueError, match="winner_counts: winner must be an integer tensor"):
        monitors.winner_counts(torch.zeros(1, 2, 2, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="weight_histogram: high must be > low"):
        monitors.weight_histogram(torch.zeros(3), low=1.0, high=1.0)
    with pytest.raises(ValueError, match="weight_histogram: weight contains NaN"):
        monitors.weight_histogram(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="quantiles: q must be <= 1"):
        monitors.quantiles(torch.zeros(3), q=(0.5, 2.0))
    with pytest.raises(ValueError, match="Monitor: every must be >= 1"):
        monitors.Monitor(every=0)
    mon = monitors.Monitor(every=2)
    mon.update(torch.zeros(1, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="Monitor.update: counts must have 3 neurons"):
        mon.update(torch.zeros(1, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="Monitor.update: attempts must have shape"):
        mon.update(torch.zeros(2, 3, dtype=torch.int64), attempts=torch.ones(3))
    with pytest.raises(TypeError, match="DiehlCook2015.learn: return_attempts must be a bool"):
        DiehlCook2015(n_neurons=2).learn(torch.zeros(1, 28, 28, dtype=torch.uint8), return_attempts=1)
    with pytest.raises(ValueError, match="train_diehl_cook2015: monitor_every must be >= 1"):
        training.train_diehl_cook2015(monitor_every=0)


def test_feature_similarity():
    same = torch.ones(4, 2, 3, 3)
    assert monitors.feature_similarity(same) == pytest.approx(1.0)
    assert monitors.feature_similarity(torch.eye(5)) == 0.0
    assert monitors.feature_similarity(torch.eye(5).repeat(2, 1), dim=1) == 0.0
    with pytest.raises(ValueError, match="feature_similarity: weight must have at least 2 features"):
        monitors.feature_similarity(torch.ones(1, 4))


def test_reference_records_the_raster():
    x, _ = data.mnist_tensors(train=True, n=1)
    net = DiehlCook2015(n_neurons=20, seed=0)
    pix, off = dc.poisson_events(x[0], 2, dc.digit_generator(0, 0, 0, 0))
    spikes = dc.events_to_spikes(pix, off)
    plain = dc.run_digit_reference(net.weight, net.theta, net.state, spikes, True)
    counts, w, theta, state, raster = dc.run_digit_reference(net.weight, net.theta, net.state, spikes, True,
                                                             record=True)
    assert raster.dtype == torch.bool and raster.shape == (spikes.shape[0], 20)
    assert torch.equal(raster.sum(0), counts) and int(counts.sum()) > 0
    assert torch.equal(plain[0], counts) and torch.equal(plain[1], w) and torch.equal(plain[2], theta)
    with pytest.raises(TypeError, match="run_digit_reference: record must be a bool"):
        dc.run_digit_reference(net.weight, net.theta, net.state, spikes, True, record="yes")


def test_monitor_takes_k_wta_wins():
    mon = monitors.Monitor(every=1)
    counts = torch.tensor([[3, 1, 0]])
    mon.update(counts, wins=monitors.winner_counts(torch.tensor([[[0, 0, 0], [1, 2, 2]]]), 3))
    assert mon.snapshot(1)["wins_per_neuron"] == [1, 1, 0]
    with pytest.raises(ValueError, match="Monitor.update: wins must have the shape of counts"):
        mon.update(counts, wins=torch.zeros(1, 2, dtype=torch.int64))
