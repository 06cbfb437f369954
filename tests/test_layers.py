"""Tests of snnbook.layers against the SpykeTorch fixtures, plus batching and bad inputs."""

import pytest
import torch
from torch.testing import assert_close

from snnbook.layers import Convolution, Pooling, conv, pad, pool
from reference import load




def _ks(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


@pytest.mark.parametrize("suffix", ["", "_rect"])
def test_convolution_fixture(suffix):
    d = load("convolution.pt")
    weight = d["weight" + suffix]
    ks = _ks(d["kernel_size" + suffix])
    assert tuple(weight.shape[-2:]) == ks
    x = d["input"][None]
    out = conv(x, weight)
    assert torch.equal(out[0], d["output" + suffix])
    layer = Convolution(weight.shape[1], weight.shape[0], ks)
    layer.load_weight(weight)
    assert torch.equal(layer(x)[0], d["output" + suffix])


def test_convolution_batched_equals_per_sample_and_float64():
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(8, 4, 3, 9, 9, generator=g) > 0.6).float().cumsum(1).clamp(max=1)
    x[5] = 0
    w = torch.randint(0, 256, (4, 3, 3, 3), generator=g).float() / 256
    out = conv(x, w)
    for b in range(8):
        assert torch.equal(out[b:b + 1], conv(x[b:b + 1], w))
    assert torch.equal(out[5], torch.zeros_like(out[5]))
    out64 = conv(x.double(), w.double())
    assert out64.dtype == torch.float64
    assert_close(out64.float(), out)
    # uint8 / bool spikes are converted to the weight's dtype
    assert torch.equal(conv(x.to(torch.uint8), w), out)


def test_convolution_module_init_is_seeded():
    a = Convolution(2, 3, 5, 0.8, 0.05, generator=torch.Generator().manual_seed(7))
    b = Convolution(2, 3, 5, 0.8, 0.05, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.weight, b.weight)
    assert a.weight.shape == (3, 2, 5, 5)
    assert not a.weight.requires_grad
    big = Convolution(10, 20, 5, 0.8, 0.05, generator=torch.Generator().manual_seed(0))
    assert abs(big.weight.mean().item() - 0.8) < 0.01
    assert abs(big.weight.std().item() - 0.05) < 0.01
    assert "kernel_size=(5, 5)" in repr(a)


def test_pooling_fixture():
    d = load("pooling.pt")
    for name in ("spikes", "potentials"):
        x = d[name][None]
        assert torch.equal(pool(x, 2, 2, 1)[0], d[f"{name}_k2s2p1"])
        assert torch.equal(pool(x, 3, 3)[0], d[f"{name}_k3s3"])
    p = d["potentials"][None]
    assert torch.equal(Pooling(2)(p)[0], d["potentials_module_k2"])
    assert torch.equal(Pooling(3, 2, 1)(p)[0], d["potentials_module_k3s2p1"])


def test_pooling_padding_is_minus_infinity_and_batched():
    x = -torch.ones(2, 1, 1, 2, 2)
    assert torch.equal(pool(x, 2, 2, 1), -torch.ones(2, 1, 1, 2, 2))
    g = torch.Generator().manual_seed(0)
    y = torch.randn(8, 3, 2, 7, 7, generator=g, dtype=torch.float64)
    out = pool(y, 3, 2, 1)
    assert out.dtype == torch.float64
    for b in range(8):
        assert torch.equal(out[b:b + 1], pool(y[b:b + 1], 3, 2, 1))


def test_pad_fixture():
    d = load("pad.pt")
    assert len(d["cases"]) > 0
    for case in d["cases"]:
        out = pad(d["input"][None], tuple(case["pad"]), case["value"])
        assert torch.equal(out[0], case["output"])


BAD = [
    (lambda: conv(torch.ones(3, 1, 5, 5), torch.ones(1, 1, 3, 3)), ValueError, "spikes"),
    (lambda: conv(torch.ones(1, 1, 1, 2, 2), torch.ones(1, 1, 3, 3)), ValueError, "kernel"),
    (lambda: conv(torch.ones(1, 1, 2, 5, 5), torch.ones(1, 1, 3, 3)), ValueError, "channels"),
    (lambda: conv(torch.full((1, 1, 1, 5, 5), float("nan")), torch.ones(1, 1, 3, 3)), ValueError, "spikes"),
    (lambda: conv(torch.ones(1, 1, 1, 5, 5, dtype=torch.float64), torch.ones(1, 1, 3, 3)), TypeError, "spikes"),
    (lambda: conv(torch.ones(0, 1, 1, 5, 5), torch.ones(1, 1, 3, 3)), ValueError, "spikes"),
    (lambda: conv(torch.ones(1, 1, 1, 5, 5), torch.ones(1, 1, 3, 3, dtype=torch.long)), TypeError, "weight"),
    (lambda: conv([[1.0]], torch.ones(1, 1, 3, 3)), TypeError, "spikes"),
    (lambda: pool(torch.ones(1, 1, 1, 2, 2), 3), ValueError, "kernel_size"),
    (lambda: pool(torch.ones(1, 1, 1, 4, 4), 2, 0), ValueError, "stride"),
    (lambda: pool(torch.ones(1, 1, 1, 4, 4), 2, 2, 2), ValueError, "padding"),
    (lambda: pool(torch.ones(1, 1, 4, 4), 2), ValueError, "x"),
    (lambda: pad(torch.ones(1, 1, 1, 4, 4), (1, 1)), TypeError, "padding"),
    (lambda: pad(torch.ones(1, 1, 1, 4, 4), (1, -1, 0, 0)), ValueError, "padding"),
    (lambda: Convolution(0, 2, 3), ValueError, "in_channels"),
    (lambda: Convolution(1, 2, 3, weight_std=-1.0), ValueError, "weight_std"),
    (lambda: Convolution(1, 2, 3).load_weight(torch.ones(2, 1, 5, 5)), ValueError, "weight"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    d = load("convolution.pt")
    x, w = d["input"][None], d["weight"]
    assert torch.equal(conv(x.cuda(), w.cuda()).cpu(), conv(x, w))
    assert torch.equal(pool(x.cuda(), 2, 2, 1).cpu(), pool(x, 2, 2, 1))
    with pytest.raises(ValueError, match="device"):
        conv(x.cuda(), w)
