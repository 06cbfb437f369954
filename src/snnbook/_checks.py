"""Argument checks shared by every module: each raises a ``TypeError``/``ValueError`` that names
the function, the argument, what was expected and what came (STYLE.md, point 7)."""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Sequence

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_tensor(fn: str, name: str, x, *, ndim: int | Sequence[int] | None = None,
                 axes: str = "", dtypes=None, finite: bool = True, nonempty: bool = True) -> None:
    """Check that ``x`` is a tensor of the given rank (``axes`` names the axes for the message),
    with an allowed dtype, finite values and a non-empty batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor {axes}, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            raise ValueError(f"{fn}: {name} must have {' or '.join(map(str, allowed))} dimensions "
                             f"{axes}, got shape {tuple(x.shape)}")
    if dtypes is not None and x.dtype not in dtypes:
        raise TypeError(f"{fn}: {name} must have dtype in {[str(d) for d in dtypes]}, got {x.dtype}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{fn}: {name} is empty (shape {tuple(x.shape)}); expected at least one element "
                         "in every axis")
    if finite and x.is_floating_point() and x.numel() and not _all_finite(x):
        raise ValueError(f"{fn}: {name} contains NaN or infinite values")


def _all_finite(x: torch.Tensor) -> bool:
    """True if every value of the floating-point tensor ``x`` is finite.

    One reduction pass (``aminmax``) instead of ``isfinite(x).all()``, which builds a bool copy of
    ``x``: NaN propagates into both the minimum and the maximum, and any infinity is one of them.
    """
    lo, hi = torch.aminmax(x.reshape(-1))
    return bool(torch.isfinite(torch.stack((lo, hi))).all())


def check_float(fn: str, name: str, x) -> None:
    """Check that ``x`` is a floating-point tensor (float16/32/64, bfloat16)."""
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be a floating-point tensor (float32 or float64), got {x.dtype}")


def check_int(fn: str, name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer (not a bool) within ``[minimum, maximum]``; return it."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {name}={value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{fn}: {name} must be <= {maximum}, got {name}={value!r}")
    return int(value)


def check_real(fn: str, name: str, value, *, minimum: float | None = None, maximum: float | None = None,
               strict_min: bool = False, strict_max: bool = False) -> float:
    """Check that ``value`` is a finite real number within the given bounds; return it as float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {name}={value!r}")
    if minimum is not None and (value <= minimum if strict_min else value < minimum):
        raise ValueError(f"{fn}: {name} must be {'>' if strict_min else '>='} {minimum}, got {name}={value!r}")
    if maximum is not None and (value >= maximum if strict_max else value > maximum):
        raise ValueError(f"{fn}: {name} must be {'<' if strict_max else '<='} {maximum}, got {name}={value!r}")
    return value


def check_same_device(fn: str, **tensors: torch.Tensor) -> None:
    """Check that all given tensors live on one device."""
    devices = {name: t.device for name, t in tensors.items() if isinstance(t, torch.Tensor)}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{n} on {d}" for n, d in devices.items())
        raise ValueError(f"{fn}: tensors must be on the same device, got {listed}")
