"""Retina: difference-of-Gaussians and Gabor filters, local normalisation and lateral inhibition of
intensities, the first stage of every network in the book.

Chapter: The retina (book/retina.md)

The maths follows SpykeTorch (``utils.DoGKernel``, ``utils.GaborKernel``, ``utils.Filter``,
``functional.local_normalization``, ``functional.intensity_lateral_inhibition``) exactly, but every
function works on a batch of images ``[batch, channel, height, width]`` at once, on the input's
device and dtype.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (FLOAT_DTYPES, HALF_DTYPES, check_bool, check_device, check_finite_result, check_float,
                      check_int, check_real, check_same_device, check_sum_bound, check_tensor, value_range)

__all__ = [
    "MOZAFARI2019_DOG_SETTINGS", "MOZAFARI2019_FILTER_PADDING", "MOZAFARI2019_FILTER_THRESHOLD",
    "MOZAFARI2019_NORM_RADIUS", "LOCAL_NORM_EPS", "GABOR_GAMMA", "GABOR_SIGMA_FACTOR",
    "dog_kernel", "gabor_kernel", "kernel_stack", "dog_bank", "gabor_bank", "mozafari2019_dog_kernels",
    "on_off_dog", "filter_bank", "Filter", "FilterBank", "local_normalization", "LocalNormalization",
    "inhibition_kernel", "intensity_lateral_inhibition", "LateralIntensityInhibition",
]

#: The six DoG kernels ``(window_size, sigma1, sigma2)`` of the 2019 MNIST example (MozafariDeep.py).
MOZAFARI2019_DOG_SETTINGS = ((3, 3 / 9, 6 / 9), (3, 6 / 9, 3 / 9), (7, 7 / 9, 14 / 9), (7, 14 / 9, 7 / 9),
                             (13, 13 / 9, 26 / 9), (13, 26 / 9, 13 / 9))
#: Zero padding of the 2019 example's filter (keeps a 28x28 image 28x28 with 13x13 kernels).
MOZAFARI2019_FILTER_PADDING = 6
#: Threshold of the 2019 example's filter (responses below it become 0).
MOZAFARI2019_FILTER_THRESHOLD = 50.0
#: Radius of the 2019 example's local normalisation.
MOZAFARI2019_NORM_RADIUS = 8
#: ``eps`` added to the local mean in :func:`local_normalization` (SpykeTorch's value).
LOCAL_NORM_EPS = 1e-12
#: Aspect ratio ``gamma`` of SpykeTorch's Gabor kernel.
GABOR_GAMMA = 0.3
#: ``sigma = GABOR_SIGMA_FACTOR * lambda`` in SpykeTorch's Gabor kernel.
GABOR_SIGMA_FACTOR = 0.8


def _check_dtype(fn: str, dtype) -> None:
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: dtype must be a floating-point torch.dtype, got {dtype!r}")


def _kernels(fn: str, name: str, make, items) -> list:
    """``[make(*item) for item in items]``, an error of one kernel re-raised naming ``fn`` and ``name[i]``."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(make(*item))
        except (TypeError, ValueError) as err:
            raise type(err)(f"{fn}: {name}[{i}]: {err}") from None
    return out


def _grid(window_size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    w = window_size // 2
    r = torch.arange(-w, w + 1, dtype=torch.float64, device=device)
    return torch.meshgrid(r, r, indexing="ij")  # x varies along rows (numpy mgrid)


def _normalise_kernel(fn: str, k: torch.Tensor, dtype, args: str) -> torch.Tensor:
    """Mean-subtract ``k`` (float64), divide by its maximum, cast to ``dtype``; ``ValueError`` where
    that is not a finite kernel with maximum 1 (a flat or underflowing kernel, or one whose
    minimum does not fit ``dtype``)."""
    k = k - k.mean()
    top = float(k.max()) if k.numel() else float("nan")
    if not (math.isfinite(top) and top > 0):
        raise ValueError(f"{fn}: {args} give no usable kernel (after mean subtraction its maximum is {top}); "
                         "expected parameters whose kernel varies over the window")
    out = (k / top).to(dtype)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{fn}: {args} give a kernel whose values overflow {dtype} "
                         f"(minimum {float((k / top).min()):.3g}); use a wider dtype or other parameters")
    return out


def dog_kernel(window_size: int, sigma1: float, sigma2: float, dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None) -> torch.Tensor:
    r"""Difference-of-Gaussians kernel, exactly as SpykeTorch's ``utils.DoGKernel``.

    On the integer grid ``-w..w`` (``w = window_size // 2``) the kernel is
    :math:`\frac{1}{2\pi}\left(\frac{e^{-r^2/2\sigma_1^2}}{\sigma_1^2} - \frac{e^{-r^2/2\sigma_2^2}}{\sigma_2^2}\right)`,
    computed in float64, then mean-subtracted, divided by its maximum and cast to ``dtype``.
    ``sigma1 < sigma2`` gives an ON-centre kernel, ``sigma1 > sigma2`` an OFF-centre kernel.

    Args:
        window_size (int): side of the window in pixels (>= 2). An even size gives a
            ``window_size + 1`` kernel, as in SpykeTorch.
        sigma1 (float): width of the first (positive) Gaussian, in pixels (> 0).
        sigma2 (float): width of the second (negative) Gaussian, in pixels (> 0).
        dtype (torch.dtype): floating-point dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU.

    Shape:
        - Output: ``[height, width]`` with ``height = width = 2 * (window_size // 2) + 1``.

    Returns:
        Tensor: the kernel; its maximum is exactly 1 and its mean is 0 (up to rounding).

    Example:
        >>> k = dog_kernel(3, 1 / 3, 2 / 3)
        >>> k.shape, k.dtype, round(float(k.max()), 4), round(float(k[0, 0]), 4)
        (torch.Size([3, 3]), torch.float32, 1.0, -0.0941)
    """
    fn = "dog_kernel"
    window_size = check_int(fn, "window_size", window_size, minimum=2)
    s1 = check_real(fn, "sigma1", sigma1, minimum=0.0, strict_min=True)
    s2 = check_real(fn, "sigma2", sigma2, minimum=0.0, strict_min=True)
    for name, s in (("sigma1", s1), ("sigma2", s2)):
        if not (0 < s * s < math.inf and 1 / (s * s) < math.inf):
            raise ValueError(f"{fn}: {name}={s!r} px is too extreme (its square over- or underflows); "
                             "expected a width of a fraction of a pixel up to many windows")
    if s1 == s2:
        raise ValueError(f"{fn}: sigma1 and sigma2 must differ (equal widths cancel to a zero kernel), "
                         f"got sigma1=sigma2={s1!r}")
    _check_dtype(fn, dtype)
    device = check_device(fn, "device", device)
    x, y = _grid(window_size, device)
    prod = x * x + y * y
    f1 = (1 / (s1 * s1)) * torch.exp(-0.5 * (1 / (s1 * s1)) * prod)
    f2 = (1 / (s2 * s2)) * torch.exp(-0.5 * (1 / (s2 * s2)) * prod)
    dog = (1.0 / (2 * math.pi)) * (f1 - f2)
    return _normalise_kernel(fn, dog, dtype, f"window_size={window_size}, sigma1={s1!r}, sigma2={s2!r}")


def gabor_kernel(window_size: int, orientation: float, div: float = 4.0, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> torch.Tensor:
    r"""Gabor kernel, exactly as SpykeTorch's ``utils.GaborKernel``.

    With ``lambda = 2 * window_size / div``, ``sigma = 0.8 * lambda`` and ``gamma = 0.3``; ``x`` is the
    row and ``y`` the column offset on the grid ``-w..w``; ``X = y sin(theta) + x cos(theta)``,
    ``Y = y cos(theta) - x sin(theta)``; the value is
    ``exp(-(X^2 + gamma^2 Y^2) / (2 sigma^2)) cos(2 pi X / lambda)``, computed in float64, mean-subtracted,
    divided by its maximum and cast to ``dtype``.

    Args:
        window_size (int): side of the window in pixels (>= 2; even sizes give ``window_size + 1``).
        orientation (float): orientation ``theta`` in degrees.
        div (float): divisor of the wavelength equation (> 0). Default: 4.0.
        dtype (torch.dtype): floating-point dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU.

    Shape:
        - Output: ``[height, width]`` with ``height = width = 2 * (window_size // 2) + 1``.

    Returns:
        Tensor: the kernel (maximum 1, mean 0).

    Example:
        >>> k = gabor_kernel(5, 0.0)
        >>> k.shape, round(float(k.max()), 4), bool(torch.allclose(k, k.flip(1)))
        (torch.Size([5, 5]), 1.0, True)
    """
    fn = "gabor_kernel"
    window_size = check_int(fn, "window_size", window_size, minimum=2)
    orientation = check_real(fn, "orientation", orientation)
    if abs(orientation) >= 360.0:  # the same angle, without overflowing orientation * pi
        orientation = math.fmod(orientation, 360.0)
    div = check_real(fn, "div", div, minimum=0.0, strict_min=True)
    _check_dtype(fn, dtype)
    device = check_device(fn, "device", device)
    x, y = _grid(window_size, device)
    lamda = window_size * 2 / div
    sigma = lamda * GABOR_SIGMA_FACTOR
    theta = (orientation * math.pi) / 180
    Y = y * math.cos(theta) - x * math.sin(theta)
    X = y * math.sin(theta) + x * math.cos(theta)
    g = GABOR_GAMMA
    if not (math.isfinite(lamda) and lamda > 0 and 2 * sigma * sigma > 0 and math.isfinite(2 * sigma * sigma)):
        raise ValueError(f"{fn}: div={div!r} gives the wavelength {lamda!r} px for window_size={window_size}; "
                         "expected a positive finite wavelength (a moderate div)")
    gabor = torch.exp(-(X * X + g * g * Y * Y) / (2 * sigma * sigma)) * torch.cos(2 * math.pi * X / lamda)
    return _normalise_kernel(fn, gabor, dtype, f"window_size={window_size}, div={div!r}")


def kernel_stack(kernels: Sequence[torch.Tensor]) -> torch.Tensor:
    """Zero-pad (centred) every kernel to the largest one and stack them, as SpykeTorch's ``Filter`` does.

    Args:
        kernels (sequence of Tensor): 2-D kernels ``[k, k]`` (one input channel) or 3-D kernels
            ``[channel, k, k]``, all with the same rank, dtype and device. Sizes may differ, but every
            size must differ from the largest by an even number so that centring is exact.

    Shape:
        - Input: each ``[k_i, k_i]`` or ``[channel, k_i, k_i]``.
        - Output: ``[n_kernels, channel, k, k]`` with ``k = max(k_i)`` (``channel = 1`` for 2-D kernels).

    Returns:
        Tensor: the stacked kernels, ready for :func:`filter_bank`.

    Example:
        >>> s = kernel_stack([torch.ones(1, 1), torch.ones(3, 3)])
        >>> s.shape, s[0, 0].tolist()
        (torch.Size([2, 1, 3, 3]), [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    """
    fn = "kernel_stack"
    if isinstance(kernels, torch.Tensor) or not isinstance(kernels, Sequence):
        raise TypeError(f"kernel_stack: kernels must be a sequence of tensors, got {type(kernels).__name__}")
    if len(kernels) == 0:
        raise ValueError("kernel_stack: kernels must contain at least one kernel, got an empty sequence")
    ref = kernels[0]
    check_tensor(fn, "kernels[0]", ref, ndim=(2, 3), axes="[k, k] or [channel, k, k]")
    for i, k in enumerate(kernels):
        name = f"kernels[{i}]"
        check_tensor(fn, name, k, ndim=ref.dim(), axes="[k, k] or [channel, k, k]")
        check_float(fn, name, k)
        if k.shape[-1] != k.shape[-2]:
            raise ValueError(f"kernel_stack: {name} must be square, got shape {tuple(k.shape)}")
        if k.dtype != ref.dtype:
            raise TypeError(f"kernel_stack: all kernels must share one dtype, got {ref.dtype} and {k.dtype} ({name})")
        if k.device != ref.device:
            raise ValueError(f"kernel_stack: all kernels must be on one device, got {ref.device} and {k.device} ({name})")
        if ref.dim() == 3 and k.shape[0] != ref.shape[0]:
            raise ValueError(f"kernel_stack: all kernels must have {ref.shape[0]} channels, got {name} "
                             f"with shape {tuple(k.shape)}")
    size = max(k.shape[-1] for k in kernels)
    padded = []
    for i, k in enumerate(kernels):
        d = size - k.shape[-1]
        if d % 2:
            raise ValueError(f"kernel_stack: kernels[{i}] has size {k.shape[-1]} and cannot be centred in {size}; "
                             "expected sizes that differ from the largest by an even number")
        p = d // 2
        padded.append(F.pad(k, (p, p, p, p)))
    out = torch.stack(padded)
    return out.unsqueeze(1) if ref.dim() == 2 else out


def dog_bank(settings: Sequence[Sequence[float]], dtype: torch.dtype = torch.float32,
             device: torch.device | str | None = None) -> torch.Tensor:
    """Stack of DoG kernels, one per ``(window_size, sigma1, sigma2)`` row of ``settings``.

    Args:
        settings (sequence of triples): ``(window_size, sigma1, sigma2)`` per kernel (pixels), see :func:`dog_kernel`.
        dtype (torch.dtype): dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU.

    Shape:
        - Output: ``[n_kernels, 1, k, k]``, ``k`` the largest window.

    Returns:
        Tensor: kernels zero-padded to a common size (:func:`kernel_stack`).

    Example:
        >>> dog_bank([(3, 1.0, 2.0), (5, 2.0, 1.0)]).shape
        torch.Size([2, 1, 5, 5])
    """
    _check_dtype("dog_bank", dtype)
    device = check_device("dog_bank", "device", device)
    if isinstance(settings, torch.Tensor) or not isinstance(settings, Sequence) or len(settings) == 0:
        raise ValueError(f"dog_bank: settings must be a non-empty sequence of (window_size, sigma1, sigma2), "
                         f"got {settings!r}")
    for i, s in enumerate(settings):
        if not isinstance(s, Sequence) or len(s) != 3:
            raise ValueError(f"dog_bank: settings[{i}] must be (window_size, sigma1, sigma2), got {s!r}")
    return kernel_stack(_kernels("dog_bank", "settings", lambda w, s1, s2: dog_kernel(w, s1, s2, dtype, device),
                                 settings))


def gabor_bank(window_size: int, orientations: Sequence[float], div: float = 4.0,
               dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Stack of Gabor kernels of one size, one per orientation.

    Args:
        window_size (int): side of each kernel in pixels.
        orientations (sequence of float): orientations in degrees.
        div (float): divisor of the wavelength equation. Default: 4.0.
        dtype (torch.dtype): dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU.

    Shape:
        - Output: ``[n_orientations, 1, k, k]``.

    Returns:
        Tensor: the kernels.

    Example:
        >>> gabor_bank(5, [0, 45, 90, 135]).shape
        torch.Size([4, 1, 5, 5])
    """
    _check_dtype("gabor_bank", dtype)
    device = check_device("gabor_bank", "device", device)
    if isinstance(orientations, torch.Tensor) or not isinstance(orientations, Sequence) or len(orientations) == 0:
        raise ValueError(f"gabor_bank: orientations must be a non-empty sequence of degrees, got {orientations!r}")
    return kernel_stack(_kernels("gabor_bank", "orientations",
                                 lambda o: gabor_kernel(window_size, o, div, dtype, device),
                                 [(o,) for o in orientations]))


def mozafari2019_dog_kernels(dtype: torch.dtype = torch.float32,
                             device: torch.device | str | None = None) -> torch.Tensor:
    """The six DoG kernels of the 2019 MNIST example (:data:`MOZAFARI2019_DOG_SETTINGS`), padded to 13x13.

    Args:
        dtype (torch.dtype): dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU.

    Shape:
        - Output: ``[6, 1, 13, 13]``.

    Returns:
        Tensor: ON/OFF pairs for windows 3, 7 and 13 (ON first in each pair).

    Example:
        >>> mozafari2019_dog_kernels().shape
        torch.Size([6, 1, 13, 13])
    """
    _check_dtype("mozafari2019_dog_kernels", dtype)
    device = check_device("mozafari2019_dog_kernels", "device", device)
    return dog_bank(MOZAFARI2019_DOG_SETTINGS, dtype, device)


def on_off_dog(window: int = 7, sigmas: tuple[float, float] = (1.0, 2.0), dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None) -> torch.Tensor:
    """ON-centre and OFF-centre DoG kernels (the OFF kernel swaps the two sigmas).

    Args:
        window (int): side of the window in pixels. Default: 7.
        sigmas (pair of float): ``(centre sigma, surround sigma)`` in pixels. Default: ``(1, 2)``.
        dtype (torch.dtype): dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU.

    Shape:
        - Output: ``[2, 1, window, window]`` (ON first, then OFF).

    Returns:
        Tensor: the two kernels.

    Example:
        >>> k = on_off_dog(5, (1.0, 2.0))
        >>> k.shape, bool(k[0, 0, 2, 2] > 0), bool(k[1, 0, 2, 2] < 0)
        (torch.Size([2, 1, 5, 5]), True, True)
    """
    _check_dtype("on_off_dog", dtype)
    device = check_device("on_off_dog", "device", device)
    if isinstance(sigmas, str) or not isinstance(sigmas, Sequence) or len(sigmas) != 2:
        raise ValueError(f"on_off_dog: sigmas must be a pair (centre, surround), got {sigmas!r}")
    s1, s2 = sigmas
    return kernel_stack(_kernels("on_off_dog", "sigmas", lambda a, b: dog_kernel(window, a, b, dtype, device),
                                 [(s1, s2), (s2, s1)]))


def _threshold_tensor(fn: str, threshold, n_kernels: int, like: torch.Tensor) -> torch.Tensor | None:
    if threshold is None:
        return None
    if isinstance(threshold, torch.Tensor):
        check_tensor(fn, "threshold", threshold, ndim=(0, 1), axes="[] or [n_kernels]")
        if threshold.dtype == torch.bool:
            raise TypeError(f"{fn}: threshold must be a real tensor, got {threshold.dtype}")
        check_same_device(fn, threshold=threshold, **{"images" if fn == "filter_bank" else "kernels": like})
        t = threshold.to(dtype=like.dtype)
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{fn}: threshold overflows {like.dtype}, got values up to {float(threshold.abs().max())}")
    elif isinstance(threshold, Real) and not isinstance(threshold, bool):
        check_real(fn, "threshold", threshold)
        return torch.tensor(float(threshold), dtype=torch.float64).to(dtype=like.dtype, device=like.device)
    elif isinstance(threshold, Sequence) and not isinstance(threshold, str):
        vals = [check_real(fn, f"threshold[{i}]", v) for i, v in enumerate(threshold)]
        t = torch.tensor(vals, dtype=torch.float64).to(dtype=like.dtype, device=like.device)  # beyond range -> inf
    else:
        raise TypeError(f"{fn}: threshold must be None, a number or a sequence of numbers, got "
                        f"{type(threshold).__name__}")
    if t.numel() == 0:
        raise ValueError(f"{fn}: threshold must hold one value per kernel ({n_kernels}) or one for all, got none")
    if t.dim() == 1:
        if t.numel() != n_kernels:
            raise ValueError(f"{fn}: threshold must have one value per kernel ({n_kernels}), got {t.numel()}")
        t = t.view(1, -1, 1, 1)
    return t


def filter_bank(images: torch.Tensor, kernels: torch.Tensor | Sequence[torch.Tensor], padding: int = 0,
                threshold=None, use_abs: bool = False) -> torch.Tensor:
    """Filter a batch of images with a bank of kernels (SpykeTorch ``utils.Filter``, batched).

    The result is the cross-correlation (``conv2d``, stride 1, zero padding, no bias); then, if
    ``threshold`` is given, every response strictly below it becomes 0 (responses equal to it are kept,
    negative ones are therefore zeroed by a positive threshold); then, if ``use_abs``, the absolute value.

    Args:
        images (Tensor): floating-point images (intensities, e.g. 0..255).
        kernels (Tensor or sequence of Tensor): ``[n_kernels, channel, k, k]`` or a list of kernels that
            :func:`kernel_stack` accepts. Same dtype and device as ``images``.
        padding (int): zero padding on every side, in pixels. Default: 0.
        threshold (float, sequence of float or Tensor, optional): one threshold for all kernels, or one per
            kernel. Default: ``None`` (no thresholding).
        use_abs (bool): take ``|response|`` after thresholding. Default: ``False``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: ``[batch, n_kernels, height + 2 padding - k + 1, width + 2 padding - k + 1]``.

    Returns:
        Tensor: the filter responses, in ``images``' dtype (float16/bfloat16 images are filtered in
        float32; ``ValueError`` where the inputs are so large that the responses would overflow).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> img = torch.rand(2, 1, 28, 28, generator=g) * 255
        >>> out = filter_bank(img, mozafari2019_dog_kernels(), padding=6, threshold=50)
        >>> out.shape, bool((out[out != 0] >= 50).all())
        (torch.Size([2, 6, 28, 28]), True)
    """
    fn = "filter_bank"
    if not isinstance(kernels, torch.Tensor):
        kernels = kernel_stack(kernels)
    check_same_device(fn, images=images, kernels=kernels)
    check_tensor(fn, "images", images, ndim=4, axes="[batch, channel, height, width]", finite=False)
    check_float(fn, "images", images)
    check_tensor(fn, "kernels", kernels, ndim=4, axes="[n_kernels, channel, k, k]")
    check_float(fn, "kernels", kernels)
    if kernels.dtype != images.dtype:
        raise TypeError(f"{fn}: kernels must have the dtype of images ({images.dtype}), got {kernels.dtype}")
    if kernels.shape[1] != images.shape[1]:
        raise ValueError(f"{fn}: kernels have {kernels.shape[1]} input channels, expected {images.shape[1]} "
                         f"(the channels of images {tuple(images.shape)})")
    padding = check_int(fn, "padding", padding, minimum=0)
    check_bool(fn, "use_abs", use_abs)
    lo, hi = value_range(fn, "images", images)
    bound = max(abs(lo), abs(hi)) * float(kernels.detach().abs().sum(dim=(1, 2, 3)).max())
    check_sum_bound(fn, bound, torch.float32 if images.dtype in HALF_DTYPES else images.dtype,
                    "the filter responses (|images| times the summed |kernel|)")
    h, w = images.shape[-2] + 2 * padding, images.shape[-1] + 2 * padding
    if kernels.shape[-2] > h or kernels.shape[-1] > w:
        raise ValueError(f"{fn}: kernels of size {tuple(kernels.shape[-2:])} are larger than the padded images "
                         f"({h}, {w}); expected kernel size <= image size + 2 * padding")
    thr = _threshold_tensor(fn, threshold, kernels.shape[0], images)
    if images.dtype in HALF_DTYPES:  # summed in float32, returned in the images' dtype
        out = _filter_bank(images.float(), kernels.float(), padding, None if thr is None else thr.float(), use_abs)
        return check_finite_result(fn, out.to(images.dtype), "the filter response",
                                   "filter in float32 or scale the images down")
    return _filter_bank(images, kernels, padding, thr, use_abs)


def _filter_bank(images: torch.Tensor, kernels: torch.Tensor, padding: int, thr: torch.Tensor | None,
                 use_abs: bool) -> torch.Tensor:
    """:func:`filter_bank` on checked arguments (``thr``: a tensor that broadcasts, or None)."""
    out = F.conv2d(images, kernels, padding=padding)
    if thr is not None:
        out.masked_fill_(out < thr, 0.0)  # strictly below the threshold -> +0
    if use_abs:
        out = out.abs()
    return out


class Filter(nn.Module):
    """Module shell of :func:`filter_bank`: a fixed bank of kernels with padding, threshold and abs.

    Args:
        kernels (Tensor or sequence of Tensor): ``[n_kernels, channel, k, k]`` or a list for :func:`kernel_stack`.
        padding (int): zero padding in pixels. Default: 0.
        threshold (float, sequence of float or Tensor, optional): see :func:`filter_bank`. Default: ``None``.
        use_abs (bool): absolute value after thresholding. Default: ``False``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: ``[batch, n_kernels, height', width']``.

    Example:
        >>> f = Filter(mozafari2019_dog_kernels(), padding=6, threshold=50.0)
        >>> f(torch.zeros(3, 1, 28, 28)).shape
        torch.Size([3, 6, 28, 28])
    """

    def __init__(self, kernels, padding: int = 0, threshold=None, use_abs: bool = False) -> None:
        super().__init__()
        if not isinstance(kernels, torch.Tensor):
            kernels = kernel_stack(kernels)
        check_tensor("Filter", "kernels", kernels, ndim=4, axes="[n_kernels, channel, k, k]")
        check_float("Filter", "kernels", kernels)
        self.register_buffer("kernels", kernels.clone())
        self.padding = check_int("Filter", "padding", padding, minimum=0)
        thr = _threshold_tensor("Filter", threshold, kernels.shape[0], kernels)
        self.register_buffer("threshold", None if thr is None else thr.flatten())
        self.use_abs = check_bool("Filter", "use_abs", use_abs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Filter ``images`` ``[batch, channel, height, width]`` (see :func:`filter_bank`)."""
        thr = self.threshold
        if thr is not None and thr.dim() == 1 and thr.numel() == 1:
            thr = thr.reshape(())
        return filter_bank(images, self.kernels, self.padding, thr, self.use_abs)

    def extra_repr(self) -> str:
        thr = None if self.threshold is None else self.threshold.tolist()
        return (f"n_kernels={self.kernels.shape[0]}, kernel_size={self.kernels.shape[-1]}, padding={self.padding}, "
                f"threshold={thr}, use_abs={self.use_abs}")


#: Alias of :class:`Filter`.
FilterBank = Filter


def local_normalization(x: torch.Tensor, radius: int, eps: float = LOCAL_NORM_EPS) -> torch.Tensor:
    r"""Divide every value by the mean of its ``(2 radius + 1)^2`` neighbourhood (SpykeTorch, batched).

    The local mean is a zero-padded box filter of each channel separately, so windows at the border
    still divide their sum by the full area :math:`(2r+1)^2`; ``eps`` is added to the mean.

    Args:
        x (Tensor): non-normalised maps, e.g. filter responses.
        radius (int): radius ``r`` of the square window, in pixels (>= 0).
        eps (float): added to the local mean to avoid division by zero. Default: ``1e-12``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: same as input.

    Returns:
        Tensor: ``x / (local_mean(x) + eps)``, in ``x``'s dtype (float16/bfloat16 summed in float32;
        values whose box sums would overflow are scaled by a power of two first, which is exact).

    Example:
        >>> y = local_normalization(torch.ones(1, 1, 5, 5), radius=1)
        >>> y[0, 0, 2, 2].item(), y[0, 0, 0, 0].item()
        (1.0, 2.25)
    """
    fn = "local_normalization"
    check_tensor(fn, "x", x, ndim=4, axes="[batch, channel, height, width]", finite=False)
    check_float(fn, "x", x)
    radius = check_int(fn, "radius", radius, minimum=0)
    eps = check_real(fn, "eps", eps, minimum=0.0)
    lo, hi = value_range(fn, "x", x)
    half = x.dtype in HALF_DTYPES
    y = x.float() if half else x  # float16 box sums overflow: summed in float32, returned in x's dtype
    top = max(abs(lo), abs(hi)) * (2 * radius + 1) ** 2
    if top > torch.finfo(y.dtype).max / 4:
        # the box sums would overflow: x / (mean(x) + eps) is unchanged by scaling x and eps by the
        # same power of two, which is exact
        scale = 2.0 ** -math.frexp(top / torch.finfo(y.dtype).max * 16)[1]
        y, eps = y * scale, eps * scale
    out = _local_normalization(y, radius, eps)
    if half:
        out = check_finite_result(fn, out.to(x.dtype), "the normalised map",
                                  "x has values of both signs whose local mean is near 0; use float32")
    return out


def _local_normalization(x: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """:func:`local_normalization` on checked arguments."""
    k = 2 * radius + 1
    # The zero-padded (2r+1)^2 box sum is separable: band_h @ x @ band_w with banded 0/1 matrices
    # (band[i, j] = 1 where |i - j| <= r), two batched matmuls instead of a (2r+1)^2 convolution.
    sums = _band(x.shape[-2], radius, x) @ (x @ _band(x.shape[-1], radius, x))
    if x.requires_grad and torch.is_grad_enabled():  # autograd: the same operations, out of place
        return x / sums.div(k * k).add(eps)
    means = sums.div_(k * k).add_(eps)  # no gradient needed: in place, one temporary less
    return torch.div(x, means, out=means)


def _band(n: int, radius: int, like: torch.Tensor) -> torch.Tensor:
    """``[n, n]`` 0/1 matrix with ones where ``|i - j| <= radius``, in ``like``'s dtype and device."""
    i = torch.arange(n, device=like.device)
    return ((i[:, None] - i[None, :]).abs() <= radius).to(like.dtype)


class LocalNormalization(nn.Module):
    """Module shell of :func:`local_normalization`.

    Args:
        radius (int): window radius in pixels.
        eps (float): added to the local mean. Default: ``1e-12``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: same.

    Example:
        >>> LocalNormalization(8)(torch.ones(2, 6, 28, 28)).shape
        torch.Size([2, 6, 28, 28])
    """

    def __init__(self, radius: int, eps: float = LOCAL_NORM_EPS) -> None:
        super().__init__()
        self.radius = check_int("LocalNormalization", "radius", radius, minimum=0)
        self.eps = check_real("LocalNormalization", "eps", eps, minimum=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``[batch, channel, height, width]``."""
        return local_normalization(x, self.radius, self.eps)

    def extra_repr(self) -> str:
        return f"radius={self.radius}, eps={self.eps}"


def inhibition_kernel(percents: Sequence[float] | torch.Tensor, dtype: torch.dtype = torch.float32,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """Lateral-inhibition kernel (SpykeTorch ``utils.generate_inhibition_kernel``).

    The entry at Chebyshev distance ``d >= 1`` from the centre is ``percents[d - 1]``; the centre is 0.

    Args:
        percents (sequence of float or 1-D Tensor): inhibition factor per distance (fractions, usually in [0, 1]).
        dtype (torch.dtype): dtype of the result. Default: ``torch.float32``.
        device: device of the result. Default: CPU (or ``percents``' device for a tensor).

    Shape:
        - Output: ``[2n + 1, 2n + 1]`` with ``n = len(percents)``.

    Returns:
        Tensor: the kernel.

    Example:
        >>> inhibition_kernel([0.5, 0.25])[2].tolist()
        [0.25, 0.5, 0.0, 0.5, 0.25]
    """
    return _inhibition_kernel("inhibition_kernel", percents, dtype, device)


def _inhibition_kernel(fn: str, percents, dtype, device) -> torch.Tensor:
    _check_dtype(fn, dtype)
    device = check_device(fn, "device", device)
    if isinstance(percents, torch.Tensor):
        check_tensor(fn, "percents", percents, ndim=1, axes="[n]")
        if percents.dtype == torch.bool:
            raise TypeError(f"{fn}: percents must be a real tensor, got {percents.dtype}")
        p = percents.to(dtype=dtype, device=device if device is not None else percents.device)
    elif isinstance(percents, Sequence) and not isinstance(percents, str):
        if len(percents) == 0:
            raise ValueError(f"{fn}: percents must contain at least one value, got an empty sequence")
        vals = [check_real(fn, f"percents[{i}]", v) for i, v in enumerate(percents)]
        p = torch.tensor(vals, dtype=dtype, device=device)
    else:
        raise TypeError(f"{fn}: percents must be a sequence of numbers or a 1-D tensor, got {type(percents).__name__}")
    n = p.numel()
    r = torch.arange(-n, n + 1, device=p.device).abs()
    dist = torch.maximum(r.view(-1, 1), r.view(1, -1))
    check_finite_result(fn, p, "percents", "use a wider dtype")
    padded = torch.cat([torch.zeros(1, dtype=p.dtype, device=p.device), p])
    return padded[dist]


def intensity_lateral_inhibition(intensities: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Lateral inhibition of intensities as SpykeTorch actually computes it (batched, vectorised).

    For each channel separately, ``out = I + I * sum(kernel[j] for neighbours j with I_j < I)``: every
    value grows by the kernel weights of the neighbours that are STRICTLY LOWER than it. Neighbours
    outside the image count as 0, so positive border pixels gain from them. Despite the name
    (inherited from SpykeTorch), values never decrease. The input is not modified.

    Args:
        intensities (Tensor): intensities (e.g. filter responses).
        kernel (Tensor): square kernel of odd size ``[k, k]`` (or ``[1, 1, k, k]``), e.g. from
            :func:`inhibition_kernel`; same dtype and device as ``intensities``.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: same as input.

    Returns:
        Tensor: the inhibited intensities.

    Example:
        >>> x = torch.tensor([[[[1.0, 2.0, 1.0]]]])
        >>> intensity_lateral_inhibition(x, inhibition_kernel([0.125])).tolist()  # 7 and 8 lower neighbours
        [[[[1.875, 4.0, 1.875]]]]
    """
    fn = "intensity_lateral_inhibition"
    check_same_device(fn, intensities=intensities, kernel=kernel)
    check_tensor(fn, "intensities", intensities, ndim=4, axes="[batch, channel, height, width]", finite=False)
    check_float(fn, "intensities", intensities)
    check_tensor(fn, "kernel", kernel, ndim=(2, 4), axes="[k, k] or [1, 1, k, k]")
    if kernel.dtype == torch.bool:
        raise TypeError(f"{fn}: kernel must be a real tensor, got {kernel.dtype}")
    if kernel.dim() == 4:
        if kernel.shape[0] != 1 or kernel.shape[1] != 1:
            raise ValueError(f"{fn}: kernel must have shape [1, 1, k, k], got {tuple(kernel.shape)}")
        kernel = kernel[0, 0]
    k = kernel.shape[-1]
    if kernel.shape[0] != k or k % 2 == 0:
        raise ValueError(f"{fn}: kernel must be square with an odd size, got shape {tuple(kernel.shape)}")
    lo, hi = value_range(fn, "intensities", intensities)
    dtype = intensities.dtype
    work = torch.float32 if dtype in HALF_DTYPES else dtype  # factors summed in float32 for float16
    check_sum_bound(fn, max(abs(lo), abs(hi)) * (1.0 + float(kernel.detach().double().abs().sum())), work,
                    "the inhibited intensities (|intensities| times 1 + the summed |kernel|)")
    kernel = kernel.to(work)
    intensities = intensities.to(work)
    b, c, h, w = intensities.shape
    r = k // 2
    y = intensities.reshape(b * c, 1, h, w)
    # [b*c, k*k, h*w], zero padding
    patches = F.unfold(F.pad(y, (r, r, r, r)), k)
    lower = (patches < y.reshape(b * c, 1, h * w)).to(y.dtype)
    factors = (lower * kernel.reshape(1, k * k, 1)).sum(1).reshape(b, c, h, w)
    out = intensities + intensities * factors
    if dtype != work:
        out = check_finite_result(fn, out.to(dtype), "the inhibited intensities", "use float32")
    return out


class LateralIntensityInhibition(nn.Module):
    """Module shell of :func:`intensity_lateral_inhibition` (SpykeTorch ``LateralIntencityInhibition``).

    Args:
        percents (sequence of float): inhibition factor per Chebyshev distance, see :func:`inhibition_kernel`.

    Shape:
        - Input: ``[batch, channel, height, width]``.
        - Output: same.

    Example:
        >>> m = LateralIntensityInhibition([0.15, 0.12, 0.1])
        >>> m.kernel.shape, m(torch.ones(2, 3, 8, 8)).shape
        (torch.Size([7, 7]), torch.Size([2, 3, 8, 8]))
    """

    def __init__(self, percents: Sequence[float] | torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("kernel", _inhibition_kernel("LateralIntensityInhibition", percents, torch.float32,
                                                          None))

    def forward(self, intensities: torch.Tensor) -> torch.Tensor:
        """Inhibit ``intensities`` ``[batch, channel, height, width]``."""
        return intensity_lateral_inhibition(intensities, self.kernel)

    def extra_repr(self) -> str:
        n = self.kernel.shape[-1] // 2
        return f"percents={self.kernel[n, n + 1:].tolist()}"
