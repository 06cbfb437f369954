"""Devices of the model classes: the checks that keep random draws, inputs and parameters on one device.

Chapter: Learning by gradient (book/gradient.md), and the STDP networks' chapters (their CPU-only
engine).

The networks trained by gradient (:mod:`snnbook.models.surrogate`, :mod:`snnbook.models.chevalier`,
:mod:`snnbook.models.events_nets`) compute on the device of their parameters: every random draw uses
a generator on the input's device (a ``generator=`` argument must be on it; a generator the model
creates itself, e.g. from ``eval_seed``, is created there), and an input on another device than the
parameters is refused with a clear ``ValueError`` (not torch's internal error). The event-driven
STDP networks (:class:`~snnbook.models.Mozafari2019`, :class:`~snnbook.models.DiehlCook2015`) run on
a compiled CPU engine: their inputs are moved to the CPU (:func:`cpu_engine_input`). Messages follow
:mod:`snnbook._checks`: the function, the argument, what was expected and what came.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

__all__ = ["same_device", "check_generator", "seeded_generator", "check_module_device", "module_device",
           "cpu_engine_input"]


def _current_index(kind: str) -> int:
    """The index of the current device of type ``kind`` (0 where the backend does not say)."""
    backend = getattr(torch, kind, None)
    try:
        if backend is not None and backend.is_available():
            return int(backend.current_device())
    except (AttributeError, RuntimeError):
        pass
    return 0


def same_device(a, b) -> bool:
    """True if the devices ``a`` and ``b`` are one device (``"cuda"`` without an index is the
    current CUDA device, as torch reads it; the CPU has one device whatever the index)."""
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.index == b.index or a.type == "cpu":
        return True
    current = _current_index(a.type)
    return (current if a.index is None else a.index) == (current if b.index is None else b.index)


def check_generator(fn: str, name: str, generator, x, what: str = "the input"):
    """Check that ``generator`` is ``None`` or a ``torch.Generator`` on the device of the tensor
    ``x`` (``what`` names ``x`` in the message); return it. ``TypeError`` for another type,
    ``ValueError`` for a generator on another device (torch would raise an internal error or, for a
    CPU generator and a CUDA tensor, refuse the draw)."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{fn}: {name} must be a torch.Generator or None, got {type(generator).__name__}")
    if isinstance(x, torch.Tensor) and x.device.type != "meta" and not same_device(generator.device, x.device):
        raise ValueError(f"{fn}: {name} must be a torch.Generator on the device of {what} ({x.device}), got one on "
                         f"{generator.device} (create it with torch.Generator(device={str(x.device)!r}))")
    return generator


def seeded_generator(seed: int, device) -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed`` (on the CPU the same draws as
    ``torch.Generator().manual_seed(seed)``)."""
    return torch.Generator(device=device).manual_seed(seed)


def module_device(module: nn.Module) -> torch.device | None:
    """The device of ``module``'s first parameter (or buffer); ``None`` if it holds neither."""
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return None if first is None else first.device


def check_module_device(fn: str, name: str, x, module: nn.Module) -> None:
    """``ValueError`` if the tensor ``x`` (argument ``name`` of ``fn``) is not on the device of
    ``module``'s parameters. Non-tensors and ``meta`` tensors pass (the argument checks name them)."""
    if not isinstance(x, torch.Tensor) or x.device.type == "meta":
        return
    device = module_device(module)
    if device is not None and not same_device(device, x.device):
        raise ValueError(f"{fn}: {name} must be on the model's device {device} (where its parameters are), "
                         f"got {name} on {x.device}; move one of them: {name}.to({str(device)!r}) "
                         f"or model.to({str(x.device)!r})")


def cpu_engine_input(fn: str, module: nn.Module, x):
    """An input of a model that runs on a CPU-only engine: ``x`` moved to the CPU (a tensor on
    another device is copied; a CPU tensor or a non-tensor is returned as it is, for the argument
    checks). ``ValueError`` if the model's own parameters or buffers were moved off the CPU."""
    for t in itertools.chain(module.parameters(), module.buffers()):
        if t.device.type != "cpu":
            raise ValueError(f"{fn}: the model must stay on the CPU (its engine is compiled for the CPU "
                             f"only), got its parameters or buffers on {t.device}; call model.cpu() "
                             "(inputs on any device are moved to the CPU by the model itself)")
    if isinstance(x, torch.Tensor) and x.device.type not in ("cpu", "meta"):
        return x.cpu()
    return x
