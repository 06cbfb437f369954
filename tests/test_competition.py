"""Tests of snnbook.competition against the SpykeTorch fixtures, a literal port of SpykeTorch's
get_k_winners (per sample), k-WTA invariants, batching and bad inputs."""

import numpy as np
import pytest
import torch

from snnbook.competition import (KWTA, Fire, feature_inhibition, feature_inhibition_, fire, fire_,
                                 k_winners, pointwise_inhibition, threshold, threshold_, winners_to_lists)
from reference import load




def as_lists(winners):
    return [list(w) for w in winners_to_lists(winners)[0]]


def spyketorch_get_k_winners(potentials, kwta=1, inhibition_radius=0, spikes=None):
    """Literal port of SpykeTorch functional.get_k_winners (commit aa302c7), one [T,F,H,W] sample."""
    if spikes is None:
        spikes = potentials.sign()
    maximum = (spikes.size(0) - spikes.sum(dim=0, keepdim=True)).long()
    maximum.clamp_(0, spikes.size(0) - 1)
    values = potentials.gather(dim=0, index=maximum)
    truncated_pot = spikes * values
    v = truncated_pot.max() * potentials.size(0)
    truncated_pot.addcmul_(spikes, v)
    total = truncated_pot.sum(dim=0, keepdim=True)
    total.squeeze_(0)
    size = tuple(total.size())
    winners = []
    for _ in range(kwta):
        max_val, max_idx = total.view(-1).max(0)
        if max_val.item() != 0:
            w = np.unravel_index(max_idx.item(), size)
            winners.append([int(i) for i in w])
            total[w[0], :, :] = 0
            if inhibition_radius != 0:
                r0, r1 = max(0, w[-2] - inhibition_radius), min(total.size(-2), w[-2] + inhibition_radius + 1)
                c0, c1 = max(0, w[-1] - inhibition_radius), min(total.size(-1), w[-1] + inhibition_radius + 1)
                total[:, r0:r1, c0:c1] = 0
        else:
            break
    return winners


# ----------------------------------------------------------------------------- fire / threshold
def test_fire_fixture_all_keys():
    d = load("fire.pt")
    p, thr = d["potentials"][None], d["threshold"]
    spikes, thresholded = fire(p, thr, True)
    assert torch.equal(spikes[0], d["spikes_thr"])
    assert torch.equal(thresholded[0], d["thresholded_thr"])
    spikes, thresholded = fire(p, None, True)
    assert torch.equal(spikes[0], d["spikes_none"])
    assert torch.equal(thresholded[0], d["thresholded_none"])
    assert torch.equal(fire(p, thr)[0], d["fire_thr_spikes_only"])
    assert torch.equal(threshold(p, thr)[0], d["threshold_fn_thr"])
    assert torch.equal(threshold(p, None)[0], d["threshold_fn_none"])
    q = p.clone()
    out = fire_(q, thr)
    assert out.data_ptr() == q.data_ptr() and torch.equal(q[0], d["fire_inplace_thr"])
    q = p.clone()
    fire_(q, None)
    assert torch.equal(q[0], d["fire_inplace_none"])
    q = p.clone()
    threshold_(q, thr)
    assert torch.equal(q[0], d["threshold_fn_thr"])
    assert torch.equal(p[0], d["potentials"])  # the out-of-place versions leave the input alone
    # module, and the threshold as a tensor
    assert torch.equal(Fire(thr)(p)[0], d["fire_thr_spikes_only"])
    assert torch.equal(Fire(None)(p)[0], d["spikes_none"])
    assert torch.equal(fire(p, torch.tensor(thr))[0], d["fire_thr_spikes_only"])


def test_fire_strict_threshold_and_negative_last_step():
    p = torch.tensor([1.0, 2.0, 2.5, -3.0]).reshape(1, 1, 4, 1, 1).expand(1, 2, 4, 1, 1).contiguous()
    assert fire(p, 2.0)[0, 0, :, 0, 0].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert fire(p)[0, -1, :, 0, 0].tolist() == [1.0, 1.0, 1.0, -1.0]
    assert fire(p)[0, 0].abs().sum() == 0
    assert fire(p.double(), 2.0).dtype == torch.float64


# ----------------------------------------------------------------------------- inhibition
def test_pointwise_inhibition_fixture():
    d = load("inhibition.pt")
    out = pointwise_inhibition(d["thresholded_potentials"][None])
    assert torch.equal(out[0], d["pointwise_inhibited"])
    # at most one feature survives per pixel, over the whole time course
    assert int((out[0] != 0).any(0).sum(0).max()) <= 1


def test_feature_inhibition_fixture():
    d = load("inhibition.pt")
    x = d["thresholded_potentials"][None]
    feats = list(d["inhibited_features"])
    assert torch.equal(feature_inhibition(x, feats)[0], d["feature_inhibited"])
    assert torch.equal(x[0], d["thresholded_potentials"])
    y = x.clone()
    feature_inhibition_(y, feats)
    assert torch.equal(y[0], d["feature_inhibited_inplace"])
    assert torch.equal(feature_inhibition(x, torch.tensor(feats, dtype=torch.long))[0], d["feature_inhibited"])
    assert torch.equal(feature_inhibition(x, []), x)


def test_feature_inhibition_per_sample():
    x = torch.ones(3, 2, 4, 2, 2)
    out = feature_inhibition(x, torch.tensor([[0, 3], [-1, -1], [2, -1]]))
    assert out[:, 0, :, 0, 0].tolist() == [[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 1]]


def test_pointwise_inhibition_batched_equals_per_sample():
    g = torch.Generator().manual_seed(11)
    raw = (torch.randint(0, 4, (9, 5, 6, 7, 7), generator=g).float() * 0.5).cumsum(1)
    thr = threshold(raw, 2.0)
    thr[3] = 0
    out = pointwise_inhibition(thr)
    for b in range(9):
        assert torch.equal(out[b:b + 1], pointwise_inhibition(thr[b:b + 1]))
    assert torch.equal(out[3], torch.zeros_like(out[3]))


# ----------------------------------------------------------------------------- k winners
def test_k_winners_fixture_runs():
    d = load("k_winners.pt")
    pot, spk, raw = d["potentials"][None], d["spikes"][None], d["raw_potentials"][None]
    assert len(d["runs"]) > 0
    for run in d["runs"]:
        k, r = run["kwta"], run["inhibition_radius"]
        assert as_lists(k_winners(pot, k, r, spk)) == run["winners_with_spikes"], run
        assert as_lists(k_winners(pot, k, r)) == run["winners_no_spikes"], run
        assert as_lists(k_winners(raw, k, r)) == run["winners_raw_potentials_no_spikes"], run
        assert as_lists(KWTA(k, r)(pot, spk)) == run["winners_with_spikes"], run
        # our port of SpykeTorch agrees with the fixture too (checks the reference used below)
        assert spyketorch_get_k_winners(d["potentials"].clone(), k, r, d["spikes"]) == run["winners_with_spikes"]


def test_k_winners_fixture_last_step_only():
    d = load("k_winners.pt")
    w = d["winners_last_step_k3"]
    raw, spk = d["raw_potentials"][None], d["spikes_last_step_only"]
    assert torch.equal(spk, fire(raw)[0])
    assert as_lists(k_winners(raw, max(len(w), 1), 0, spk[None])) == w


def test_k_winners_fixture_ties():
    d = load("k_winners.pt")
    tie = d["tie_potentials"][None]
    assert len(d["tie_runs"]) > 0
    for run in d["tie_runs"]:
        got = as_lists(k_winners(tie, run["kwta"], run["inhibition_radius"], tie.sign()))
        assert got == run["winners"], run


def test_k_winners_float64_matches_fixture():
    d = load("k_winners.pt")
    pot, spk = d["potentials"][None].double(), d["spikes"][None].double()
    for run in d["runs"]:
        assert as_lists(k_winners(pot, run["kwta"], run["inhibition_radius"], spk)) == run["winners_with_spikes"]


def _random_potentials(seed, batch=10, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    steps, nfeat, size = 6, 7, 9
    # non-dyadic increments: the score's float rounding matters
    raw = (torch.rand(batch, steps, nfeat, size, size, generator=g, dtype=dtype) * 1.37).cumsum(1)
    raw = raw - 1.1
    pot = threshold(raw, 2.0)
    pot[2] = 0                       # a silent sample
    pot[4, :, :, 2:5, 2:5] = 0       # a hole
    pot[6] = pot[6].round()          # many exact ties
    return raw, pot


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k, radius", [(1, 0), (4, 0), (5, 1), (7, 2), (12, 1), (20, 4)])
def test_k_winners_batched_equals_spyketorch_per_sample(dtype, k, radius):
    raw, pot = _random_potentials(k * 10 + radius, dtype=dtype)
    for x, spikes in ((pot, pot.sign()), (pot, None), (raw, None), (raw, fire(raw))):
        w = k_winners(x, k, radius, spikes)
        assert w.shape == (x.shape[0], k, 3) and w.dtype == torch.long
        lists = winners_to_lists(w)
        for b in range(x.shape[0]):
            ref = spyketorch_get_k_winners(x[b].clone(), k, radius, None if spikes is None else spikes[b])
            assert [list(t) for t in lists[b]] == ref
            assert torch.equal(w[b:b + 1], k_winners(x[b:b + 1], k, radius,
                                                     None if spikes is None else spikes[b:b + 1]))
    assert (k_winners(pot, k, radius, pot.sign())[2] == -1).all()   # silent sample: no winner


@pytest.mark.parametrize("k, radius", [(3, 0), (6, 1), (10, 2), (25, 3)])
def test_k_winners_invariants(k, radius):
    _, pot = _random_potentials(100 + k)
    w = k_winners(pot, k, radius, pot.sign())
    valid = w[..., 0] >= 0
    # valid rows form a prefix and padding is all -1
    assert torch.equal(valid, valid.cumprod(1).bool())
    assert (w[~valid] == -1).all()
    for sample in winners_to_lists(w):
        feats = [f for f, _, _ in sample]
        assert len(feats) == len(set(feats))          # at most one winner per feature
        if radius > 0:  # local inhibition separates winners by more than the radius
            for i in range(len(sample)):
                for j in range(i):
                    cheb = max(abs(sample[i][1] - sample[j][1]), abs(sample[i][2] - sample[j][2]))
                    assert cheb > radius
    # every winner spiked
    spikes = pot.sign()
    fr = w.clamp(min=0)
    b = torch.arange(pot.shape[0])[:, None]
    assert (spikes[b, -1, fr[..., 0], fr[..., 1], fr[..., 2]][valid] > 0).all()


def test_winners_to_lists_format():
    w = torch.tensor([[[1, 2, 3], [0, 0, 0]], [[-1, -1, -1], [-1, -1, -1]]])
    assert winners_to_lists(w) == [[(1, 2, 3), (0, 0, 0)], []]


BAD = [
    (lambda: fire(torch.ones(2, 3, 4, 4), 1.0), ValueError, "potentials"),
    (lambda: fire(torch.ones(1, 2, 3, 4, 4, dtype=torch.long), 1.0), TypeError, "potentials"),
    (lambda: fire(torch.full((1, 2, 3, 4, 4), float("inf")), 1.0), ValueError, "potentials"),
    (lambda: fire(torch.ones(1, 2, 3, 4, 4), "1"), TypeError, "threshold"),
    (lambda: fire(torch.ones(1, 2, 3, 4, 4), float("nan")), ValueError, "threshold"),
    (lambda: threshold(torch.ones(0, 2, 3, 4, 4), 1.0), ValueError, "potentials"),
    (lambda: threshold(torch.ones(1, 2, 3, 4, 4), torch.ones(5)), ValueError, "threshold"),
    (lambda: pointwise_inhibition(torch.ones(2, 3, 4, 4)), ValueError, "thresholded_potentials"),
    (lambda: feature_inhibition(torch.ones(1, 2, 3, 4, 4), [5]), ValueError, "features"),
    (lambda: feature_inhibition(torch.ones(1, 2, 3, 4, 4), [1.5]), TypeError, "features"),
    (lambda: feature_inhibition(torch.ones(2, 2, 3, 4, 4), torch.zeros(3, 1, dtype=torch.long)), ValueError,
     "features"),
    (lambda: k_winners(torch.ones(1, 2, 3, 4, 4), 0), ValueError, "k"),
    (lambda: k_winners(torch.ones(1, 2, 3, 4, 4), 49), ValueError, "k"),
    (lambda: k_winners(torch.ones(1, 2, 3, 4, 4), 1.0), TypeError, "k"),
    (lambda: k_winners(torch.ones(1, 2, 3, 4, 4), 1, -1), ValueError, "inhibition_radius"),
    (lambda: k_winners(torch.ones(1, 2, 3, 4, 4), 1, 0, torch.ones(1, 2, 3, 4, 5)), ValueError, "spikes"),
    (lambda: k_winners(torch.ones(1, 2, 3, 4, 4), 1, 0, torch.ones(1, 2, 3, 4, 4, dtype=torch.float64)),
     TypeError, "spikes"),
    (lambda: k_winners(torch.ones(2, 3, 4, 4), 1), ValueError, "potentials"),
    (lambda: KWTA(0), ValueError, "k"),
    (lambda: winners_to_lists(torch.ones(2, 3, 3)), ValueError, "winners"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    raw, pot = _random_potentials(5)
    for k, r in ((1, 0), (5, 1), (12, 2)):
        assert torch.equal(k_winners(pot.cuda(), k, r, pot.sign().cuda()).cpu(), k_winners(pot, k, r, pot.sign()))
    assert torch.equal(pointwise_inhibition(pot.cuda()).cpu(), pointwise_inhibition(pot))
    assert torch.equal(fire(raw.cuda(), 2.0).cpu(), fire(raw, 2.0))
    with pytest.raises(ValueError, match="device"):
        k_winners(pot.cuda(), 1, 0, pot.sign())


# --- internal batch chunks (performance): every sample is computed exactly as on its own -----------
@pytest.mark.parametrize("chunk", [1, 3 * 6 * 7 * 9 * 9 + 1])
def test_chunked_pointwise_and_k_winners_equal_unchunked(monkeypatch, chunk):
    import snnbook.competition as competition
    raw, pot = _random_potentials(11)
    whole = pointwise_inhibition(raw), k_winners(pot, 5, 1, pot.sign()), k_winners(raw, 3, 0)
    monkeypatch.setattr(competition, "_CHUNK_ELEMENTS", chunk)  # 1 or 3 samples per chunk (10 in all)
    chunked = pointwise_inhibition(raw), k_winners(pot, 5, 1, pot.sign()), k_winners(raw, 3, 0)
    for a, b in zip(whole, chunked):
        assert torch.equal(a, b)
    for b in range(raw.shape[0]):
        assert torch.equal(chunked[0][b:b + 1], pointwise_inhibition(raw[b:b + 1]))


def test_threshold_and_fire_equal_masked_fill_formula():
    g = torch.Generator().manual_seed(5)
    p = torch.randn(3, 4, 5, 6, 6, generator=g).cumsum(1)
    per_feature = torch.linspace(-1.0, 2.0, 5).view(5, 1, 1)
    for thr in (0.5, 0.0, -1.0, per_feature):
        ref = p.masked_fill(p <= thr, 0)
        assert torch.equal(threshold(p, thr), ref)
        spikes, thresholded = fire(p, thr, True)
        assert torch.equal(thresholded, ref) and torch.equal(spikes, ref.sign())
        q = p.clone()
        assert threshold_(q, thr) is q and torch.equal(q, ref)


def test_pointwise_inhibition_keeps_autograd():
    x = torch.rand(2, 3, 4, 2, 2, requires_grad=True)
    y = pointwise_inhibition(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y.detach() != 0).float())
