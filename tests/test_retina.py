"""Tests of snnbook.retina against the SpykeTorch fixtures (every parameter is read from the fixture)."""

import pytest
import torch
from torch.testing import assert_close

from snnbook import retina
from snnbook.retina import (Filter, LateralIntensityInhibition, LocalNormalization, dog_bank, dog_kernel,
                            filter_bank, gabor_kernel, inhibition_kernel, intensity_lateral_inhibition,
                            kernel_stack, local_normalization, mozafari2019_dog_kernels, on_off_dog)
from reference import CUDA, TOL, load




# --- kernels --------------------------------------------------------------------------------------
def test_dog_kernels_match_spyketorch():
    d = load("kernels_dog.pt")
    assert len(d["settings"]) == len(d["kernels"])
    for (w, s1, s2), ref in zip(d["settings"], d["kernels"]):
        k = dog_kernel(int(w), s1, s2)
        assert k.dtype == torch.float32 and k.shape == ref.shape
        assert_close(k, ref, **TOL)


def test_gabor_kernels_match_spyketorch():
    d = load("kernels_gabor.pt")
    for (w, o, div), ref in zip(d["settings"], d["kernels"]):
        k = gabor_kernel(int(w), o, div)
        assert k.shape == ref.shape
        assert_close(k, ref, **TOL)


def test_dog_kernel_float64_is_float64_maths():
    k64 = dog_kernel(7, 1.0, 2.0, dtype=torch.float64)
    assert k64.dtype == torch.float64
    assert_close(k64.float(), dog_kernel(7, 1.0, 2.0), atol=0, rtol=0)
    assert k64.max().item() == 1.0
    assert abs(k64.mean().item()) < 1e-12  # mean-subtracted before the division by the max


def test_kernel_stack_centres_smaller_kernels():
    a, b = torch.full((3, 3), 2.0), torch.ones(7, 7)
    s = kernel_stack([a, b])
    assert s.shape == (2, 1, 7, 7)
    assert torch.equal(s[0, 0, 2:5, 2:5], a)
    assert s[0].sum().item() == a.sum().item()
    assert torch.equal(s[1, 0], b)


def test_mozafari_kernels_equal_fixture_stack():
    d = load("filter_dog6_mnist.pt")
    assert_close(mozafari2019_dog_kernels(), d["filter_kernels"], **TOL)
    assert_close(dog_bank(retina.MOZAFARI2019_DOG_SETTINGS), d["filter_kernels"], **TOL)


def test_on_off_dog_swaps_sigmas():
    k = on_off_dog(7, (1.0, 2.0))
    assert k.shape == (2, 1, 7, 7)
    assert_close(k[0, 0], dog_kernel(7, 1.0, 2.0), atol=0, rtol=0)
    assert_close(k[1, 0], dog_kernel(7, 2.0, 1.0), atol=0, rtol=0)
    assert k[0, 0, 3, 3] > 0 > k[1, 0, 3, 3]


# --- filters --------------------------------------------------------------------------------------
def test_filter_mnist_raw_and_thresholded():
    d = load("filter_dog6_mnist.pt")
    imgs, kern, pad, thr = d["images"], d["filter_kernels"], d["padding"], d["threshold"]
    for i in range(imgs.shape[0]):  # each image alone, as the fixture was made
        assert_close(filter_bank(imgs[i:i + 1], kern, pad), d["out_raw"][i:i + 1], **TOL)
        assert_close(filter_bank(imgs[i:i + 1], kern, pad, thr), d["out_thresholded"][i:i + 1], **TOL)
    # batched call equals the per-image results, and the zero pattern is exact
    out = filter_bank(imgs, kern, pad, thr)
    assert_close(out, d["out_thresholded"], **TOL)
    assert torch.equal(out == 0, d["out_thresholded"] == 0)
    assert_close(Filter(kern, padding=pad, threshold=thr)(imgs), d["out_thresholded"], **TOL)


def test_filter_camera_raw_thresholded_abs():
    d = load("filter_dog6_camera.pt")
    img, kern, pad, thr = d["image"], d["filter_kernels"], d["padding"], d["threshold"]
    assert_close(filter_bank(img, kern, pad), d["out_raw"], **TOL)
    assert_close(filter_bank(img, kern, pad, threshold=thr), d["out_thresholded"], **TOL)
    assert_close(filter_bank(img, kern, pad, use_abs=True), d["out_abs"], **TOL)
    m = Filter(kern, padding=pad, use_abs=True)
    assert_close(m(img), d["out_abs"], **TOL)
    assert "padding=" in repr(m)


def test_threshold_rule_keeps_equal_values_and_abs_after_threshold():
    img = torch.zeros(1, 1, 3, 3)
    img[0, 0, 1, 1] = 1.0
    k = torch.tensor([[[[0.0, 0, 0], [0, 2.0, 0], [0, 0, -3.0]]]])
    raw = filter_bank(img, k, padding=1)
    assert sorted(raw.flatten().tolist()) == [-3.0] + [0.0] * 7 + [2.0]
    out = filter_bank(img, k, padding=1, threshold=2.0)
    assert out[0, 0, 1, 1] == 2.0 and (out != 0).sum() == 1  # equal kept, negative dropped
    out_abs = filter_bank(img, k, padding=1, threshold=-3.0, use_abs=True)
    assert out_abs.min() == 0 and out_abs.max() == 3.0


def test_per_kernel_thresholds():
    img = torch.ones(2, 1, 4, 4)
    k = torch.stack([torch.ones(1, 1, 1), 2 * torch.ones(1, 1, 1)])
    out = filter_bank(img, k, threshold=[1.5, 1.5])
    assert torch.equal(out[:, 0], torch.zeros(2, 4, 4)) and torch.equal(out[:, 1], torch.full((2, 4, 4), 2.0))


def test_filter_multichannel_and_float64():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 2, 10, 10, generator=g, dtype=torch.float64)
    k = torch.rand(4, 2, 3, 3, generator=g, dtype=torch.float64)
    out = filter_bank(img, k, padding=1)
    assert out.dtype == torch.float64 and out.shape == (3, 4, 10, 10)
    assert_close(out[1, 2, 4, 5], (img[1, :, 3:6, 4:7] * k[2]).sum())


# --- local normalisation --------------------------------------------------------------------------
def test_local_normalization_fixture_per_sample_and_batched():
    d = load("local_norm_latency.pt")
    r = d["radius"]
    for i in range(d["mnist_in"].shape[0]):
        assert_close(local_normalization(d["mnist_in"][i:i + 1], r), d["mnist_norm"][i:i + 1], **TOL)
    assert_close(local_normalization(d["mnist_in"], r), d["mnist_norm"], **TOL)
    assert_close(local_normalization(d["camera_in"], r), d["camera_norm"], **TOL)
    assert_close(LocalNormalization(r)(d["mnist_in"]), d["mnist_norm"], **TOL)


def test_local_normalization_border_divides_by_full_area():
    x = torch.full((2, 3, 6, 6), 5.0, dtype=torch.float64)
    y = local_normalization(x, 1, eps=0.0)
    assert_close(y[:, :, 2, 2], torch.ones(2, 3, dtype=torch.float64))
    assert_close(y[:, :, 0, 0], torch.full((2, 3), 9 / 4, dtype=torch.float64))  # corner: 4 of 9 pixels
    assert_close(y[:, :, 0, 3], torch.full((2, 3), 9 / 6, dtype=torch.float64))  # edge: 6 of 9


# --- lateral inhibition ---------------------------------------------------------------------------
def test_inhibition_kernel_matches_fixture():
    d = load("inhibition.pt")
    assert_close(inhibition_kernel(d["inhibition_percents"]), d["inhibition_kernel"], **TOL)
    assert_close(inhibition_kernel(torch.tensor(d["inhibition_percents"])), d["inhibition_kernel"], **TOL)


def test_lateral_inhibition_matches_fixture_and_leaves_input():
    d = load("inhibition.pt")
    x = d["intensities"].clone()
    out = intensity_lateral_inhibition(x, d["inhibition_kernel"])
    assert torch.equal(x, d["intensities"])
    assert_close(out, d["lateral_inhibited"], **TOL)
    assert_close(intensity_lateral_inhibition(x, d["inhibition_kernel"][None, None]), d["lateral_inhibited"], **TOL)
    assert_close(LateralIntensityInhibition(d["inhibition_percents"])(x), d["lateral_inhibited"], **TOL)


def test_lateral_inhibition_batched_equals_per_sample_and_brute_force():
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 4, (9, 2, 7, 6), generator=g).double() / 4  # many equal neighbours
    x[4] = 0.0  # an all-zero sample
    k = inhibition_kernel([0.2, 0.1], dtype=torch.float64)
    out = intensity_lateral_inhibition(x, k)
    for b in range(x.shape[0]):
        assert_close(out[b:b + 1], intensity_lateral_inhibition(x[b:b + 1], k))
    assert torch.equal(out[4], torch.zeros_like(out[4]))
    # brute force for one sample, with zero padding counting as lower
    b, c, i, j = 2, 1, 0, 3
    xp = torch.nn.functional.pad(x[b, c], (2, 2, 2, 2))
    f = sum(k[di, dj].item() for di in range(5) for dj in range(5)
            if xp[i + di, j + dj] < x[b, c, i, j])
    assert out[b, c, i, j].item() == pytest.approx(x[b, c, i, j].item() * (1 + f))
    assert (out >= x).all()


@pytest.mark.parametrize("device", CUDA)
def test_retina_on_cuda(device):
    d = load("filter_dog6_camera.pt")
    out = filter_bank(d["image"].to(device), d["filter_kernels"].to(device), d["padding"], d["threshold"])
    assert out.device.type == "cuda"
    assert_close(out.cpu(), d["out_thresholded"], atol=1e-3, rtol=1e-5)
    y = local_normalization(out, 8)
    assert y.device.type == "cuda"
    k = inhibition_kernel([0.1, 0.05], device=device)
    assert intensity_lateral_inhibition(y, k).device.type == "cuda"


# --- bad input ------------------------------------------------------------------------------------
IMG = torch.ones(1, 1, 8, 8)
K = torch.ones(2, 1, 3, 3)
BAD = [
    (lambda: dog_kernel(0, 1.0, 2.0), ValueError, "window_size"),
    (lambda: dog_kernel(3.0, 1.0, 2.0), TypeError, "window_size"),
    (lambda: dog_kernel(5, -1.0, 2.0), ValueError, "sigma1"),
    (lambda: dog_kernel(5, 1.0, float("nan")), ValueError, "sigma2"),
    (lambda: dog_kernel(5, 1.0, 2.0, dtype=torch.int64), TypeError, "dtype"),
    (lambda: gabor_kernel(5, 45.0, div=0.0), ValueError, "div"),
    (lambda: kernel_stack([]), ValueError, "kernels"),
    (lambda: kernel_stack([torch.ones(3, 3), torch.ones(4, 4)]), ValueError, "kernels"),
    (lambda: kernel_stack([torch.ones(3, 3), torch.ones(5, 5, dtype=torch.float64)]), TypeError, "dtype"),
    (lambda: filter_bank(torch.ones(8, 8), K), ValueError, "images"),
    (lambda: filter_bank(IMG.long(), K.long()), TypeError, "images"),
    (lambda: filter_bank(IMG, torch.ones(2, 1, 9, 9)), ValueError, "kernels"),
    (lambda: filter_bank(IMG, torch.ones(2, 3, 3, 3)), ValueError, "channels"),
    (lambda: filter_bank(IMG, K.double()), TypeError, "dtype"),
    (lambda: filter_bank(IMG, K, padding=-1), ValueError, "padding"),
    (lambda: filter_bank(IMG, K, threshold=[1.0, 2.0, 3.0]), ValueError, "threshold"),
    (lambda: filter_bank(IMG, K, threshold="50"), TypeError, "threshold"),
    (lambda: filter_bank(torch.full((1, 1, 8, 8), float("nan")), K), ValueError, "NaN"),
    (lambda: filter_bank(torch.ones(0, 1, 8, 8), K), ValueError, "images"),
    (lambda: local_normalization(IMG, -1), ValueError, "radius"),
    (lambda: local_normalization(torch.ones(1, 8, 8), 2), ValueError, "x"),
    (lambda: local_normalization(IMG, 2, eps=-1.0), ValueError, "eps"),
    (lambda: inhibition_kernel([]), ValueError, "percents"),
    (lambda: inhibition_kernel(0.5), TypeError, "percents"),
    (lambda: intensity_lateral_inhibition(IMG, torch.ones(4, 4)), ValueError, "kernel"),
    (lambda: intensity_lateral_inhibition(IMG[0], torch.ones(3, 3)), ValueError, "intensities"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}-{m}" for i, (_, _, m) in enumerate(BAD)])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_error_names_function():
    with pytest.raises(ValueError, match=r"^filter_bank: .*padding"):
        filter_bank(IMG, K, padding=-2)


# --- finiteness check (one aminmax pass) and the separable local mean ----------------------------
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_check_tensor_finiteness_catches_nan_and_inf_anywhere(dtype, bad):
    from snnbook._checks import check_tensor
    x = torch.rand(3, 1, 37, 41, dtype=dtype)
    check_tensor("f", "x", x)
    for pos in (0, 1, 7, 16, 31, 500, x.numel() - 1):
        y = x.clone()
        y.view(-1)[pos] = bad
        with pytest.raises(ValueError, match="f: x contains NaN or infinite values"):
            check_tensor("f", "x", y)
        with pytest.raises(ValueError, match="f: x contains NaN or infinite values"):
            check_tensor("f", "x", y.transpose(-1, -2))          # non-contiguous
    y = x.clone()
    y[0, 0, 0, 0], y[1, 0, 5, 5] = float("nan"), -float("inf")   # NaN next to an infinity
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_tensor("f", "x", y)
    check_tensor("f", "x", torch.full((4,), torch.finfo(dtype).max, dtype=dtype))   # huge but finite
    check_tensor("f", "x", y, finite=False)
    with pytest.raises(ValueError, match="local_normalization: x contains NaN"):
        local_normalization(torch.full((1, 1, 4, 4), float("nan"), dtype=dtype), 1)


@pytest.mark.parametrize("radius", [0, 1, 3, 8, 40])
@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (1, 2, 5, 9)])
def test_local_normalization_equals_zero_padded_box_convolution(radius, shape):
    g = torch.Generator().manual_seed(radius)
    x = torch.rand(*shape, generator=g, dtype=torch.float64) * 100
    x[x < 30] = 0
    k = 2 * radius + 1
    kernel = torch.ones(1, 1, k, k, dtype=torch.float64) / (k * k)
    y = x.reshape(-1, 1, *shape[-2:])
    ref = (y / (torch.nn.functional.conv2d(y, kernel, padding=radius) + 1e-12)).reshape(shape)
    assert_close(local_normalization(x, radius), ref, rtol=1e-12, atol=1e-12)
    assert_close(local_normalization(x.float(), radius), ref.float(), **TOL)
