"""Argument checks shared by every module: each raises a ``TypeError``/``ValueError`` that names
the function, the argument, what was expected and what came (STYLE.md, point 7).

One rule for every public entry point: a flag is a real ``bool``; a number may be a
Python number, a numpy scalar or a 0-dim tensor and goes through the same range and finiteness
checks either way; a tensor must be dense (strided), not quantized, hold values (not on the
``meta`` device) and be real unless a function says otherwise. The checks run once per public
call (O(1) Python, at most one reduction per tensor), never per time step.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Sequence

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: Floating-point dtypes whose sums overflow or lose ties easily; functions that sum compute them in
#: float32 and return the input's dtype.
HALF_DTYPES = (torch.float16, torch.bfloat16)
INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def check_tensor(fn: str, name: str, x, *, ndim: int | Sequence[int] | None = None,
                 axes: str = "", dtypes=None, finite: bool = True, nonempty: bool = True) -> None:
    """Check that ``x`` is a dense real tensor with values (not sparse, quantized, complex or on the
    ``meta`` device), of the given rank (``axes`` names the axes for the message), with an allowed
    dtype, finite values and a non-empty batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor {axes}, got {type(x).__name__}")
    check_dense(fn, name, x)
    if x.is_complex():
        raise TypeError(f"{fn}: {name} must be a real tensor, got {x.dtype} (complex values have no order "
                        "and no spikes; pass the real part or the magnitude)")
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


def value_range(fn: str, name: str, x: torch.Tensor) -> tuple[float, float]:
    """``(minimum, maximum)`` of the checked, non-empty real tensor ``x`` in one reduction pass;
    ``ValueError`` if a floating-point ``x`` holds NaN or infinite values. For functions that need
    the range (to bound sums) as well as the finiteness check: call ``check_tensor(...,
    finite=False)`` first."""
    if x.dtype == torch.bool:
        x = x.view(torch.uint8)
    lo, hi = torch.aminmax(x.detach().reshape(-1))
    lo, hi = float(lo), float(hi)
    if x.is_floating_point() and not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{fn}: {name} contains NaN or infinite values")
    return lo, hi


def check_sum_bound(fn: str, bound: float, dtype: torch.dtype, what: str) -> None:
    """``ValueError`` if ``bound`` (an upper bound of the magnitude of the sums a function forms) is
    not finite in ``dtype``: the inputs are too large for the result to be finite."""
    if not bound <= torch.finfo(dtype).max:
        raise ValueError(f"{fn}: {what} can reach {bound:.3g}, beyond the largest {dtype} "
                         f"({torch.finfo(dtype).max:.3g}); scale the inputs down")


def check_representable(fn: str, name: str, value: float, dtype: torch.dtype) -> float:
    """``ValueError`` if the finite number ``value`` lies beyond the range of the floating-point
    ``dtype`` it is combined with (torch then raises an unclear ``RuntimeError`` or makes inf)."""
    if dtype.is_floating_point and abs(value) > torch.finfo(dtype).max:
        raise ValueError(f"{fn}: {name}={value!r} is beyond the range of {dtype} "
                         f"(largest {torch.finfo(dtype).max:.3g})")
    return value


def check_dense(fn: str, name: str, x: torch.Tensor) -> None:
    """Reject the tensors no function here computes on: sparse or other non-strided layouts,
    quantized tensors and tensors on the ``meta`` device (shapes without values)."""
    if x.layout != torch.strided:
        raise TypeError(f"{fn}: {name} must be a dense (strided) tensor, got layout {x.layout}; "
                        "call .to_dense() first")
    if x.is_quantized:
        raise TypeError(f"{fn}: {name} must not be quantized, got {x.dtype}; call .dequantize() first")
    if x.device.type == "meta":
        raise ValueError(f"{fn}: {name} is on the meta device, which holds no values; expected a tensor "
                         "with data (cpu or cuda)")


def _all_finite(x: torch.Tensor) -> bool:
    """True if every value of the floating-point tensor ``x`` is finite.

    One reduction pass (``aminmax``) instead of ``isfinite(x).all()``, which builds a bool copy of
    ``x``: NaN propagates into both the minimum and the maximum, and any infinity is one of them.
    Only for dense tensors with values (:func:`check_dense` runs first); others count as not finite.
    """
    if x.layout != torch.strided or x.is_quantized or x.device.type == "meta":
        return False
    lo, hi = torch.aminmax(x.detach().reshape(-1))
    return bool(torch.isfinite(torch.stack((lo, hi))).all())


def check_float(fn: str, name: str, x) -> None:
    """Check that ``x`` is a floating-point tensor (float16/32/64, bfloat16)."""
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be a floating-point tensor (float16, bfloat16, float32 or float64), "
                        f"got {x.dtype}")


def check_finite_result(fn: str, out: torch.Tensor, what: str, hint: str = "") -> torch.Tensor:
    """Raise ``ValueError`` if the floating-point result ``out`` overflowed (one reduction); return it."""
    if out.is_floating_point() and out.numel() and not _all_finite(out):
        raise ValueError(f"{fn}: {what} is not finite in {out.dtype} (overflow){'; ' + hint if hint else ''}")
    return out


def _scalar(fn: str, name: str, value, kind: str):
    """A 0-dim tensor or 0-dim numpy array as a Python number (``value`` itself otherwise)."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 0:
            raise ValueError(f"{fn}: {name} must be {kind} or a 0-dim tensor, got a tensor of shape "
                             f"{tuple(value.shape)}")
        check_dense(fn, name, value)
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{fn}: {name} must be {kind}, got a 0-dim {value.dtype} tensor")
        return value.item()
    if type(value).__name__ == "ndarray" and getattr(value, "ndim", None) == 0:
        if value.dtype.kind not in "iuf":
            raise TypeError(f"{fn}: {name} must be {kind}, got a 0-dim numpy array of dtype {value.dtype}")
        return value.item()
    return value


def check_int(fn: str, name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer (not a bool; a Python int, numpy integer or 0-dim integer
    tensor) within ``[minimum, maximum]``; return it as an int."""
    v = _scalar(fn, name, value, "an int")
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {value!r} ({type(value).__name__})")
    v = int(v)
    if minimum is not None and v < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {name}={v!r}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{fn}: {name} must be <= {maximum}, got {name}={v!r}")
    return v


def check_real(fn: str, name: str, value, *, minimum: float | None = None, maximum: float | None = None,
               strict_min: bool = False, strict_max: bool = False, allow_inf: bool = False) -> float:
    """Check that ``value`` is a finite real number (a Python number, numpy scalar or 0-dim real
    tensor; not a bool) within the given bounds; return it as a float. ``allow_inf`` also accepts
    ``+-inf`` (still subject to the bounds)."""
    v = _scalar(fn, name, value, "a real number")
    if isinstance(v, bool) or not isinstance(v, Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        v = float(v)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{fn}: {name} must be a finite real number, got an int too large for a float") from None
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{fn}: {name} must be finite, got {name}={v!r}")
    if minimum is not None and (v <= minimum if strict_min else v < minimum):
        raise ValueError(f"{fn}: {name} must be {'>' if strict_min else '>='} {minimum}, got {name}={v!r}")
    if maximum is not None and (v >= maximum if strict_max else v > maximum):
        raise ValueError(f"{fn}: {name} must be {'<' if strict_max else '<='} {maximum}, got {name}={v!r}")
    return v


def check_bool(fn: str, name: str, value) -> bool:
    """Check that the flag ``value`` is a real ``bool`` (``True``/``False``; not ``0``/``1``, not
    ``"false"``, which ``bool()`` would silently read as ``True``); return it."""
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be a bool (True or False), got {value!r} ({type(value).__name__})")
    return value


def check_same_device(fn: str, **tensors: torch.Tensor) -> None:
    """Check that all given tensors live on one device."""
    devices = {name: t.device for name, t in tensors.items() if isinstance(t, torch.Tensor)}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{n} on {d}" for n, d in devices.items())
        raise ValueError(f"{fn}: tensors must be on the same device, got {listed}")


def check_device(fn: str, name: str, device) -> torch.device | None:
    """Check that ``device`` (a ``torch.device``, a string such as ``"cpu"``, ``"cuda"`` or
    ``"cuda:1"``, an accelerator index, or None for torch's default) names a device that exists
    here and holds values; return it as a ``torch.device`` (None stays None). ``TypeError`` for
    another type; ``ValueError`` for an unknown name (``"gpu"``: use ``"cuda"``), a backend torch
    was built without or a device it cannot find, and the ``meta`` device (shapes, no values)."""
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, (str, torch.device, Integral)):
        raise TypeError(f"{fn}: {name} must be a torch.device, a device string such as 'cpu' or 'cuda:0', or "
                        f"None, got {device!r} ({type(device).__name__})")
    if isinstance(device, Integral):
        if device < 0:
            raise ValueError(f"{fn}: {name} must be a device index >= 0, got {name}={device!r}")
        try:
            dev = torch.device(int(device))
        except (RuntimeError, ValueError, TypeError) as err:
            raise ValueError(f"{fn}: {name}={device!r} is an accelerator index, but torch finds no accelerator "
                             f"here ({err}); use 'cpu'") from None
    else:
        dev = _parse_device(fn, name, device)
    if dev.type == "meta":
        raise ValueError(f"{fn}: {name}={device!r} is the meta device, which holds no values; expected a device "
                         "with data (cpu or cuda)")
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{fn}: {name}={device!r} asks for CUDA, but torch finds no CUDA GPU here "
                         f"(torch {torch.__version__}); use 'cpu'")
    try:  # any other backend: it exists if torch can make a tensor there
        torch.empty(0, device=dev)
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, AssertionError, NotImplementedError
        first = (str(err).splitlines() or [""])[0].split(". ")[0][:150]
        raise ValueError(f"{fn}: {name}={device!r} is not available here ({type(err).__name__}: {first}); "
                         "use 'cpu'") from None
    return dev


def _parse_device(fn: str, name: str, device) -> torch.device:
    """``torch.device(device)``, or a ``ValueError`` that suggests the name torch knows."""
    try:
        return torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        pass
    guess = device.strip().lower() if isinstance(device, str) else ""
    guess = {"gpu": "cuda", "nvidia": "cuda", "metal": "mps", "apple": "mps", "host": "cpu"}.get(guess, guess)
    try:
        torch.device(guess)
        hint = f"; did you mean {guess!r}?"
    except (RuntimeError, ValueError, TypeError):
        hint = ""
    raise ValueError(f"{fn}: {name}={device!r} does not name a torch device{hint} (expected 'cpu', 'cuda', "
                     "'cuda:N', 'mps', ...)")


def check_fits(fn: str, name: str, x: torch.Tensor, dtype: torch.dtype) -> None:
    """``ValueError`` if a value of the checked, finite tensor ``x`` lies beyond the range of the
    floating-point ``dtype`` it is about to be cast to (the cast would make it inf). One reduction,
    and none where ``dtype`` holds every value of ``x``'s dtype."""
    if not dtype.is_floating_point or x.numel() == 0:
        return
    limit = torch.finfo(dtype).max
    if x.is_floating_point():
        if torch.finfo(x.dtype).max <= limit:
            return
    elif x.dtype == torch.bool or (x.dtype in INT_DTYPES and torch.iinfo(x.dtype).max <= limit):
        return
    lo, hi = value_range(fn, name, x)
    big = max(abs(lo), abs(hi))
    if big > limit:
        raise ValueError(f"{fn}: {name} holds values up to {big:.3g} in magnitude, beyond the range of {dtype} "
                         f"(largest {limit:.3g}); they would become inf. Scale them down or use a wider dtype")


# ----------------------------------------------------------------------------------------------
# the networks of snnbook.models: image conventions and state dicts
# ----------------------------------------------------------------------------------------------
def check_pixels(fn: str, name: str, x: torch.Tensor, scale: int, network: str) -> None:
    """Check the value convention of the checked, non-empty image tensor ``x`` (one reduction;
    none for ``uint8``, which holds 0..255 pixel values by construction and is valid for both).

    ``scale=255``: pixel values 0..255 (uint8 or real); values outside 0..255 are refused, and so
    are floating-point images whose maximum lies in ``(0, 1]``: [0, 1] images (``ToTensor()``'s
    convention) that a 0..255 network would see as nearly black (no input spike at all).
    ``scale=1``: floating-point values in ``[0, 1]``; a message for 0..255 floats says to divide by
    255. ``network`` names the convention's owner in the message. ``ValueError`` for NaN/inf."""
    if x.dtype == torch.uint8:
        return
    lo, hi = value_range(fn, name, x)
    if scale == 255:
        if lo < 0 or hi > 255:
            raise ValueError(f"{fn}: {name} must hold pixel values in 0..255 ({network} takes 0..255 images: "
                             f"uint8, or floats 0..255), got values in [{lo:g}, {hi:g}]")
        if x.is_floating_point() and 0 < hi <= 1:
            verb = "look" if name.endswith("s") else "looks"
            raise ValueError(f"{fn}: {name} {verb} like [0, 1] floats (max {hi:g}); {network} takes 0..255 images "
                             "(uint8, or floats 0..255), where these would be nearly black and evoke no input "
                             "spike; multiply by 255 (e.g. (images * 255).round().to(torch.uint8))")
        return
    if lo < 0 or hi > 1:
        hint = (" (if these are 0..255 pixel values, divide them by 255 or pass them as uint8)"
                if 0 <= lo and hi <= 255 else "")
        raise ValueError(f"{fn}: floating-point {name} must lie in [0, 1] ({network} takes [0, 1] floats, or "
                         f"uint8 0..255, which it divides by 255), got values in [{lo:g}, {hi:g}]{hint}")


def check_state_dict(fn: str, module, state_dict, strict, assign) -> None:
    """Check a ``state_dict`` for ``module.load_state_dict`` before torch copies it: a mapping of
    names to dense real tensors; with ``strict``, exactly the module's keys; each value of the
    shape of the module's entry, of a compatible kind (no float into an integer or bool entry,
    which the copy would truncate), finite and representable in the entry's dtype (one reduction
    per floating-point tensor). ``strict`` and ``assign`` must be bools. The model's own ranges
    are checked by the caller (:func:`check_entry_range`)."""
    from collections.abc import Mapping
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{fn}: state_dict must be a mapping of names to tensors (as model.state_dict() "
                        f"returns), got {type(state_dict).__name__}")
    check_bool(fn, "strict", strict)
    check_bool(fn, "assign", assign)
    own = module.state_dict()
    if strict:
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if missing or unexpected:
            raise ValueError(f"{fn}: state_dict must hold exactly the model's entries (strict=True), got "
                             f"missing {missing[:6]}{' ...' if len(missing) > 6 else ''}, unexpected "
                             f"{unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}")
    for key, value in state_dict.items():
        if key not in own:
            continue
        ref, label = own[key], f"state_dict[{key!r}]"
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{fn}: {label} must be a tensor, got {type(value).__name__}")
        check_dense(fn, label, value)
        if value.is_complex():
            raise TypeError(f"{fn}: {label} must be a real tensor, got {value.dtype}")
        if value.shape != ref.shape:
            raise ValueError(f"{fn}: {label} must have the model's shape {tuple(ref.shape)}, got "
                             f"{tuple(value.shape)}")
        if ref.dtype == torch.bool and value.dtype != torch.bool:
            raise TypeError(f"{fn}: {label} must be a bool tensor (as the model's), got {value.dtype}")
        if not ref.is_floating_point() and value.is_floating_point():
            raise TypeError(f"{fn}: {label} must be an integer tensor (the model's is {ref.dtype}), got "
                            f"{value.dtype}")
        if value.is_floating_point() and value.numel():
            if not _all_finite(value):
                raise ValueError(f"{fn}: {label} contains NaN or infinite values")
            check_fits(fn, label, value, ref.dtype)


def check_entry_range(fn: str, state_dict, key: str, *, low: float | None = None,
                      high: float | None = None, what: str = "") -> None:
    """``ValueError`` if the tensor ``state_dict[key]`` (checked by :func:`check_state_dict`;
    absent keys pass) holds a value below ``low`` or above ``high`` (one reduction)."""
    value = state_dict.get(key) if hasattr(state_dict, "get") else None
    if not isinstance(value, torch.Tensor) or value.numel() == 0:
        return
    lo, hi = value_range(fn, f"state_dict[{key!r}]", value)
    if (low is not None and lo < low) or (high is not None and hi > high):
        bounds = (f">= {low:g}" if high is None else f"<= {high:g}" if low is None else f"in [{low:g}, {high:g}]")
        raise ValueError(f"{fn}: state_dict[{key!r}] must hold values {bounds}{' (' + what + ')' if what else ''}, "
                         f"got values in [{lo:g}, {hi:g}]")
