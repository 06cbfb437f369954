"""Networks on EventMNIST: a convolutional LIF network trained with surrogate gradients on binned
events, on a single accumulated frame (the Iyer et al. 2021 control) or on events whose times were
shuffled within each digit.

Chapter: Event cameras (book/events.md)

Training: :mod:`snnbook.training.events` (``snnbook train events --input binned|frame|shuffled``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import check_device, check_int, check_real, check_tensor, value_range
from ..events import SACCADE_DURATION_US, EventMNIST
from ._devices import check_module_device
from .surrogate import LIF

__all__ = ["EVENTS_INPUTS", "EVENTS_TIME_BINS", "EventConvSNN", "events_batch", "frame_images"]

#: Inputs of :func:`snnbook.training.events.train_events`: events binned through time, one accumulated frame, or events
#: with shuffled times binned through time.
EVENTS_INPUTS = ("binned", "frame", "shuffled")
#: Time bins of the binned input (30 ms each over the 300 ms of three saccades).
EVENTS_TIME_BINS = 10
#: Membrane decay per time bin of the LIF neurons.
EVENTS_BETA = 0.8


def _per_step(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    b, t = x.shape[:2]
    y = module(x.reshape(b * t, *x.shape[2:]))
    return y.reshape(b, t, *y.shape[1:])


class EventConvSNN(nn.Module):
    """Convolutional LIF network on event tensors.

    ``SumPool(2) -> Conv2d(2, c1, 3, padding=1) -> BatchNorm2d -> LIF -> Conv2d(c1, c2, 3,
    stride=2, padding=1) -> BatchNorm2d -> LIF -> Flatten -> Linear(c2 * 9 * 9, 10)``: the 34 x 34
    events are first summed over 2 x 2 pixels (17 x 17, as small N-MNIST networks do); the logits
    are the Linear's outputs averaged over time. LIF: :class:`snnbook.models.surrogate.LIF` (reset
    by subtraction, arctan surrogate).

    Args:
        channels ((int, int)): feature maps of the two convolutions. Default: (12, 24).
        beta (float): membrane decay per time step. Default: :data:`EVENTS_BETA`.

    Devices: the network computes on the device of its parameters (``net.to(device)``); the input
    must be on it (else ``ValueError``; :func:`events_batch` takes a ``device``); it draws nothing
    at random.

    Input: event counts (finite, >= 0; :func:`events_batch`) in the floating-point dtype of the
    parameters (float32 unless the network was converted); negative counts, NaN, other dtypes and
    other sizes raise ``ValueError``/``TypeError``.

    Shape:
        - Input: ``[batch, time, 2, 34, 34]`` event counts (polarity 0 OFF, 1 ON).
        - Output: logits ``[batch, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = EventConvSNN(channels=(4, 8)).eval()
        >>> tuple(net(torch.rand(3, 5, 2, 34, 34)).shape)
        (3, 10)
    """

    def __init__(self, channels: tuple[int, int] = (12, 24), beta: float = EVENTS_BETA) -> None:
        super().__init__()
        if not (isinstance(channels, (tuple, list)) and len(channels) == 2):
            raise TypeError(f"EventConvSNN: channels must be a pair (c1, c2), got {channels!r}")
        c1, c2 = (check_int("EventConvSNN", "channels", c, minimum=1) for c in channels)
        beta = check_real("EventConvSNN", "beta", beta, minimum=0.0, maximum=1.0)
        self.channels = (c1, c2)
        self.conv1 = nn.Sequential(nn.AvgPool2d(2, divisor_override=1), nn.Conv2d(2, c1, 3, padding=1),
                                   nn.BatchNorm2d(c1))
        self.lif1 = LIF(beta, 1.0, "arctan")
        self.conv2 = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.BatchNorm2d(c2))
        self.lif2 = LIF(beta, 1.0, "arctan")
        self.fc = nn.Linear(c2 * 9 * 9, 10)
        self.spike_counts: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, 10]``; keeps the hidden spikes per digit in ``spike_counts`` ``[batch]``
        (on the input's device, which must be the parameters')."""
        fn = "EventConvSNN.forward"
        check_tensor(fn, "x", x, finite=False)
        if x.dim() != 5 or x.shape[2:] != (2, 34, 34):
            raise ValueError(f"{fn}: x must be [batch, time, 2, 34, 34], got {tuple(x.shape)}")
        check_module_device(fn, "x", x, self)
        dtype = self.fc.weight.dtype
        if x.dtype != dtype:
            raise TypeError(f"{fn}: x must be event counts in the parameters' dtype {dtype}, got {x.dtype}; "
                            f"call x.to({dtype})")
        lo, hi = value_range(fn, "x", x)  # finite, in one pass
        if lo < 0:
            raise ValueError(f"{fn}: x must hold event counts >= 0, got values in [{lo:g}, {hi:g}]")
        self.lif1.reset_state()
        self.lif2.reset_state()
        s1 = self.lif1(_per_step(self.conv1, x))
        s2 = self.lif2(_per_step(self.conv2, s1))
        self.spike_counts = (s1.detach().sum(dim=(1, 2, 3, 4)) + s2.detach().sum(dim=(1, 2, 3, 4)))
        return _per_step(self.fc, s2.flatten(2)).mean(1)


def _indices(fn: str, ds, indices) -> list:
    """``indices`` of ``ds`` as a checked, non-empty list of ints (in ``[-len(ds), len(ds))`` when
    ``ds`` has a length); ``TypeError`` for a dataset without ``spikes``."""
    if not callable(getattr(ds, "spikes", None)):
        raise TypeError(f"{fn}: ds must be an EventMNIST dataset (with a spikes method), got {type(ds).__name__}")
    if isinstance(indices, (str, bytes)) or not hasattr(indices, "__iter__"):
        raise TypeError(f"{fn}: indices must be a sequence of digit indices (ints), got {type(indices).__name__}")
    n = len(ds) if hasattr(ds, "__len__") else None
    out = [check_int(fn, "indices", i, minimum=None if n is None else -n, maximum=None if n is None else n - 1)
           for i in indices]
    if not out:
        raise ValueError(f"{fn}: indices is empty; expected at least one digit index")
    return out


def events_batch(ds: EventMNIST, indices, input: str, time_bins: int = EVENTS_TIME_BINS,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """The network input for digits ``indices`` of ``ds``.

    ``binned``: events in ``time_bins`` windows; ``shuffled``: the same after permuting each
    digit's event times; ``frame``: all events in one accumulated frame, fed as the same input at
    each of the ``time_bins`` steps divided by ``time_bins`` (same network, same steps, same total
    input: only the timing is gone). The events are binned on the CPU; ``device`` (a
    ``torch.device`` or a name such as ``"cuda"``; default: the CPU) is where the input is returned,
    e.g. the device of :class:`EventConvSNN`'s parameters.

    Args:
        ds: the dataset (:class:`~snnbook.events.EventMNIST`).
        indices: digit indices, a non-empty sequence of ints in ``[-len(ds), len(ds))``.
        input: one of :data:`EVENTS_INPUTS`.
        time_bins: time bins, an int >= 1.
        device: where to return the input (default: the CPU).

    Shape:
        - Output: ``[batch, time_bins, 2, 34, 34]`` float32.

    Returns:
        Tensor: the input.
    """
    fn = "events_batch"
    idx = _indices(fn, ds, indices)
    if not isinstance(input, str) or input not in EVENTS_INPUTS:
        raise ValueError(f"{fn}: input must be one of {EVENTS_INPUTS}, got {input!r}")
    time_bins = check_int(fn, "time_bins", time_bins, minimum=1)
    if device is not None:
        if isinstance(device, bool) or not isinstance(device, (str, torch.device, int)):
            raise TypeError(f"{fn}: device must be a torch.device or a device name such as 'cpu' or 'cuda', got "
                            f"{device!r} ({type(device).__name__})")
        try:
            torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise ValueError(f"{fn}: device must be a torch.device or a device name such as 'cpu' "
                             f"or 'cuda', got {device!r}") from None
        device = check_device(fn, "device", device)  # one that exists here
    indices = idx
    window = SACCADE_DURATION_US * 3 / time_bins
    if input == "frame":
        f = ds.spikes(indices, time_window=window, frame=True)
        x = (f / time_bins).expand(-1, time_bins, -1, -1, -1).contiguous()
    else:
        x = ds.spikes(indices, time_window=window, shuffle=input == "shuffled")
    return x if device is None else x.to(device)


def frame_images(ds: EventMNIST, indices) -> torch.Tensor:
    """Accumulated event frames as MNIST-sized images for the book's STDP networks: ON + OFF
    counts of each pixel over the whole stream, resized from 34 x 34 to 28 x 28 (area average)
    and scaled so that each digit's largest value is 255.

    Shape:
        - Output: uint8 ``[batch, 28, 28]``.

    Returns:
        Tensor: the images.
    """
    indices = _indices("frame_images", ds, indices)
    f = ds.spikes(indices, time_window=SACCADE_DURATION_US * 3, frame=True)[:, 0].sum(1, keepdim=True)
    f = nn.functional.interpolate(f, size=(28, 28), mode="area")[:, 0]
    peak = f.amax(dim=(1, 2), keepdim=True).clamp_min(1e-6)
    return torch.round(f / peak * 255).to(torch.uint8)
