"""The deep convolutional SNN of Mozafari et al. (2019): STDP in S1 and S2, R-STDP in the decision layer.

Chapter: A deep network that learns with spikes (book/mozafari2019.md).

As in the MNIST example that ships with SpykeTorch (``MozafariDeep.py``), which defines the
network's behaviour (its end-to-end fixtures are reproduced by ``tests/test_mozafari2019.py``):

- input: 28x28 digit, ``ToTensor() * 255`` (so ``k / 255 * 255`` in float32) -> six DoG filters
  (padding 6, threshold 50) -> local normalisation (radius 8) -> intensity-to-latency (15 steps);
- S1: pad 2, 30 features 5x5, threshold 15; C1: pool 2 stride 2, pad 1;
- S2: 250 features 3x3, threshold 10; C2: pool 3 stride 3, pad 2;
- S3: 200 features 5x5 (20 per class) on 4x4 positions, no threshold: the decision is the class of
  the single feature with the largest final potential (k-WTA with k = 1); no winner = silent (-1).

Learning: S1 and S2 by unsupervised STDP with pointwise inhibition and k-WTA (k = 5, r = 3; k = 8,
r = 1), rates (0.004, -0.003) doubling every 500 digits up to 0.15 with a_ltd = -0.75 a_ltp; S3 by
R-STDP (reward: STDP (0.004, -0.003); punishment: anti-STDP (-0.004, 0.0005); bounds 0.2..0.8)
with rates adapted after every block of 1 000 digits. Inference has no pointwise inhibition.

Two engines compute the same network: ``engine="event"`` (the compiled event-driven engine,
``snnbook._engine``, the default) and ``engine="dense"`` (the readable functions of
:mod:`snnbook.layers`, :mod:`snnbook.competition` and :mod:`snnbook.plasticity`, one digit at a time
as SpykeTorch runs them). They agree on spikes, winners, decisions and weights (tests).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import _engine, competition, layers, plasticity, retina
from .._checks import (check_bool, check_entry_range, check_int, check_pixels, check_real, check_state_dict,
                       check_tensor, value_range)
from ..coding import latency_times, times_to_wave, wave_to_times
from ._devices import cpu_engine_input

__all__ = ["Mozafari2019", "TIME_STEPS", "DOG_PADDING", "DOG_THRESHOLD", "LOCAL_NORM_RADIUS",
           "WEIGHT_MEAN", "WEIGHT_STD", "S1", "S2", "S3", "RSTDP_BLOCK", "IMAGE_SIZE"]

#: Height and width of the digits the network is built for (MNIST): S3 then sees 4 x 4 positions.
IMAGE_SIZE = 28

#: Time steps of the latency code.
TIME_STEPS = 15
#: Zero padding of the DoG filters (output size = input size).
DOG_PADDING = 6
#: DoG responses below this are zeroed.
DOG_THRESHOLD = 50.0
#: Radius of the local normalisation.
LOCAL_NORM_RADIUS = 8
#: Initial weights are drawn from N(WEIGHT_MEAN, WEIGHT_STD).
WEIGHT_MEAN = 0.8
#: See :data:`WEIGHT_MEAN`.
WEIGHT_STD = 0.05
#: Layer 1: features, kernel, threshold, k-WTA k and radius, the padding in front of it.
S1 = dict(features=30, kernel=5, threshold=15.0, k=5, radius=3, pad=2)
#: Layer 2 (after C1: pool 2, stride 2, then pad 1).
S2 = dict(features=250, kernel=3, threshold=10.0, k=8, radius=1, pad=1)
#: Layer 3, the decision layer (after C2: pool 3, stride 3, then pad 2): features per class.
S3 = dict(features=200, kernel=5, per_class=20, pad=2)
#: R-STDP rates adapt after every block of this many training digits.
RSTDP_BLOCK = 1000

_CHUNK = 256  # samples per internal chunk of batched inference (bounded memory at any batch size)
_ENCODE_CHUNK = 256  # digits per chunk of encode: intermediates of ~5 MB are reused by the allocator
# (chunks of 2 048 digits made 38 MB tensors, each mapped and page-faulted afresh: 2x slower)


def _exact_conv(wave: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """:func:`snnbook.layers.conv` with exact sums rounded once to ``weight``'s dtype (a float64
    convolution: float32 weights in [0.2, 0.8] are multiples of 2**-26, so their float64 sums are
    exact). The decision layer needs this in BOTH engines: its k-WTA score ``p + 15 max p`` lies on a
    float32 grid of about 0.001 at typical potentials (~1 000), so potentials within one rounding of
    each other tie (lowest index wins), and oneDNN's float32 sums, rounded in an order that depends
    on the CPU, would decide such ties differently from one machine to the next."""
    b, t, c, h, w = wave.shape
    f, _, kh, kw = weight.shape
    cols = torch.nn.functional.unfold(wave.reshape(b * t, c, h, w).double(), (kh, kw))  # [bt, c*kh*kw, L]
    out = weight.reshape(f, -1).double() @ cols                                        # [bt, f, L]
    return out.reshape(b, t, f, h - kh + 1, w - kw + 1).to(weight.dtype)


def _last_step_potentials(wave: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The decision layer's potentials as its k-WTA reads them: ``fire(pot)`` without a threshold
    keeps only the last step, and ``k_winners`` gathers each neuron's potential at its first spike,
    which is that last step; the earlier steps are never read. So only the last step is convolved
    (exactly, see :func:`_exact_conv`) and the others are zeros: the same winners, 15x less work."""
    last = _exact_conv(wave[:, -1:], weight)
    pot = last.new_zeros((wave.shape[0], wave.shape[1]) + tuple(last.shape[2:]))
    pot[:, -1:] = last
    return pot


def _f32(v: float) -> float:
    """The float32 value of ``v`` as a Python float (how SpykeTorch's rates are read back)."""
    return float(np.float32(v))


class Mozafari2019(nn.Module):
    r"""The 2019 deep convolutional SNN (S1-C1-S2-C2-S3), trained layer by layer with STDP and R-STDP.

    Args:
        time_steps: steps of the latency code (15 in the paper).
        s3_features: features of the decision layer, a multiple of 10 (200 = 20 per class).
        seed: seed of the initial weights (``N(0.8, 0.05)``, drawn with ``torch.Generator``);
            ``None`` uses the global generator.
        adaptive_rstdp: adapt the R-STDP rates after every :data:`RSTDP_BLOCK` training digits.
        rstdp_rate_floor: variant (0 in the reference port): adapted rates are the base rates
            times ``floor + (1 - floor) *`` the block's miss (hit) rate, so they never vanish
            (0.2 in the 2018 paper's reference code, ``adaptive_min``).
        s3_dropout: variant (0 in the reference port): probability that an S3 feature is
            dropped (cannot win, does not learn) during one call of :meth:`learn_rstdp` -- the
            training loop calls it once per epoch, so the mask is renewed every epoch, as the
            2018 paper's reference code does. Masks are drawn from ``seed`` and a counter, so
            runs and resumed runs are reproducible.

    Images: :meth:`encode` takes 28 x 28 digits with pixel values 0..255, as ``uint8`` (what
    :func:`snnbook.data.mnist_tensors` returns) or as floats 0..255 (the reference example's
    ``ToTensor() * 255``). [0, 1] floats (``ToTensor()`` alone, the gradient networks' convention)
    are refused with a ``ValueError`` that says to multiply by 255 (in 0..255 they would be
    nearly black: no input spike, every decision silent), and so are values outside 0..255 and
    other sizes (the decision layer is built for 4 x 4 positions, i.e. 28 x 28 digits).

    Shape:
        - Input of :meth:`encode`: ``[batch, 28, 28]`` or ``[batch, 1, 28, 28]``, 0..255.
        - Input of :meth:`forward`: first-spike times ``uint8 [batch, 6, 28, 28]`` in
          ``0..time_steps`` (from :meth:`encode`; ``time_steps`` = no spike) or a cumulative 0/1
          spike-wave ``[batch, time_steps, 6, 28, 28]``.
        - Output: decisions ``[batch]`` (class, ``-1`` where silent).

    Attributes:
        conv1, conv2, conv3: the three :class:`snnbook.layers.Convolution` layers (weights
            ``[30, 6, 5, 5]``, ``[250, 30, 3, 3]``, ``[s3_features, 250, 5, 5]``).

    ``model.eval()`` freezes every learned quantity: :meth:`learn_stdp` and :meth:`learn_rstdp` then
    only compute (weights, rates, schedules and counters stay as they are).

    Weights: the engines assume finite weights ``>= 0`` (potentials never decrease) in float32 or
    float64; every entry point refuses others with a ``ValueError`` (checked once after each change
    of a weight tensor), and :meth:`load_state_dict` checks a state dict before loading it.

    Devices: CPU-only engine (compiled event-driven code): the model stays on the CPU (moved to
    another device, every entry point raises a ``ValueError``); inputs on another device are moved
    to the CPU by :meth:`encode`, :meth:`forward`, :meth:`s3_input`, :meth:`learn_stdp`,
    :meth:`learn_rstdp` and :meth:`classify_s3`, and their outputs are CPU tensors.

    Example:
        >>> from snnbook import data
        >>> model = Mozafari2019(seed=0)
        >>> images, labels = data.mnist_tensors(train=True, n=8)
        >>> times = model.encode(images)                    # uint8 [8, 6, 28, 28]
        >>> winners = model.learn_stdp(1, times)            # 8 sequential STDP steps of S1
        >>> decisions = model.learn_rstdp(times, labels)    # 8 sequential R-STDP steps of S3
        >>> model.eval()(times).shape
        torch.Size([8])
    """

    def __init__(self, time_steps: int = TIME_STEPS, s3_features: int = S3["features"], seed: int | None = None,
                 adaptive_rstdp: bool = True, rstdp_rate_floor: float = 0.0, s3_dropout: float = 0.0):
        super().__init__()
        fn = "Mozafari2019"
        self.time_steps = check_int(fn, "time_steps", time_steps, minimum=1, maximum=254)
        s3_features = check_int(fn, "s3_features", s3_features, minimum=10)
        if s3_features % 10:
            raise ValueError(f"{fn}: s3_features must be a multiple of 10 (features per class), got {s3_features}")
        if not isinstance(adaptive_rstdp, bool):
            raise TypeError(f"{fn}: adaptive_rstdp must be a bool, got {adaptive_rstdp!r}")
        self.adaptive_rstdp = adaptive_rstdp
        self.rstdp_rate_floor = check_real(fn, "rstdp_rate_floor", rstdp_rate_floor, minimum=0.0, maximum=1.0)
        self.s3_dropout = check_real(fn, "s3_dropout", s3_dropout, minimum=0.0, maximum=1.0, strict_max=True)
        self.per_class = s3_features // 10
        g = None if seed is None else torch.Generator().manual_seed(check_int(fn, "seed", seed, minimum=0))
        self.conv1 = layers.Convolution(6, S1["features"], S1["kernel"], WEIGHT_MEAN, WEIGHT_STD, g)
        self.conv2 = layers.Convolution(S1["features"], S2["features"], S2["kernel"], WEIGHT_MEAN, WEIGHT_STD, g)
        self.conv3 = layers.Convolution(S2["features"], s3_features, S3["kernel"], WEIGHT_MEAN, WEIGHT_STD, g)
        self.register_buffer("dog_kernels", retina.mozafari2019_dog_kernels())
        ltp, ltd = plasticity.STDP_LEARNING_RATE
        for i, nfeat in ((1, S1["features"]), (2, S2["features"])):
            self.register_buffer(f"stdp{i}_ltp", torch.full((nfeat,), ltp))
            self.register_buffer(f"stdp{i}_ltd", torch.full((nfeat,), ltd))
            self.register_buffer(f"stdp{i}_count", torch.zeros(1, dtype=torch.long))
        # R-STDP: current (reward a_ltp, a_ltd, punish a_ltp, a_ltd) and the block counters
        self.register_buffer("rstdp_rates", torch.tensor(list(plasticity.STDP_LEARNING_RATE)
                                                        + list(plasticity.ANTI_STDP_LEARNING_RATE)))
        self.register_buffer("rstdp_block", torch.zeros(3, dtype=torch.long))  # hits, misses, seen
        # dropout variant: the current mask of S3 features, its seed and how many were drawn
        self.register_buffer("s3_alive", torch.ones(s3_features, dtype=torch.bool))
        self.register_buffer("s3_dropout_state", torch.tensor([0 if seed is None else seed, 0]))
        self._cache: dict = {}  # engine state: weight rows per layer, kernel constants

    # ------------------------------------------------------------------------------ input
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        r"""The input transform: DoG filters, local normalisation, intensity-to-latency, as times.

        Args:
            images: digits, ``uint8`` 0..255 ``[batch, 28, 28]`` or ``[batch, 1, 28, 28]`` (converted
                as ``ToTensor() * 255``, i.e. ``k / 255 * 255`` in float32, as the reference example
                does), or floating-point values 0..255 (used as they are). [0, 1] floats, values
                outside 0..255 and other sizes raise ``ValueError`` (class docstring).

        Shape:
            - Input: ``[batch, 28, 28]`` or ``[batch, 1, 28, 28]``
            - Output: ``[batch, 6, 28, 28]`` (``uint8`` first-spike times; ``time_steps`` = never)

        Returns:
            The first-spike times of the coded input, computed in chunks (bounded memory).
        """
        fn = "Mozafari2019.encode"
        images = cpu_engine_input(fn, self, images)  # CPU-only engine (class docstring)
        check_tensor(fn, "images", images, ndim=(3, 4), axes="[batch, 28, 28] or [batch, 1, 28, 28]", finite=False)
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise TypeError(f"{fn}: images must be uint8 (0..255) or floating point (0..255), got {images.dtype}")
        x = images.unsqueeze(1) if images.dim() == 3 else images
        if x.shape[1] != 1:
            raise ValueError(f"{fn}: images must have one channel, got shape {tuple(images.shape)}")
        if tuple(x.shape[2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"{fn}: images must be {IMAGE_SIZE} x {IMAGE_SIZE} digits (the network's decision "
                             f"layer is built for them), got shape {tuple(images.shape)}")
        check_pixels(fn, "images", images, 255, "Mozafari2019")  # 0..255, not [0, 1] floats (class docstring)
        out = torch.empty((x.shape[0], 6) + tuple(x.shape[2:]), dtype=torch.uint8)
        dog_threshold = torch.tensor(DOG_THRESHOLD, dtype=self.dog_kernels.dtype)
        for lo in range(0, x.shape[0], _ENCODE_CHUNK):
            chunk = x[lo:lo + _ENCODE_CHUNK]
            if chunk.dtype == torch.uint8:
                chunk = chunk.float().div(255).mul(255)
            if lo == 0:  # the readable functions' checks, once (images were checked above)
                retina.local_normalization(retina.filter_bank(chunk[:1].float(), self.dog_kernels,
                                                              padding=DOG_PADDING, threshold=DOG_THRESHOLD),
                                           radius=LOCAL_NORM_RADIUS)
            # the same operations without re-checking every chunk
            maps = retina._filter_bank(chunk.float(), self.dog_kernels, DOG_PADDING, dog_threshold, False)
            maps = retina._local_normalization(maps, LOCAL_NORM_RADIUS, retina.LOCAL_NORM_EPS)
            lo_hi = torch.aminmax(maps) if maps.numel() else None
            if (_engine.available() and maps.dtype == torch.float32 and lo_hi is not None
                    and float(lo_hi.min) >= 0 and float(lo_hi.max) < float("inf")):
                # the same times as coding.latency_times, by a compiled radix sort per digit
                out[lo:lo + _ENCODE_CHUNK] = _engine.latency_times(maps, self.time_steps)
            else:  # (the readable path also raises the clear errors for NaN / negative maps)
                out[lo:lo + _ENCODE_CHUNK] = latency_times(maps, self.time_steps)
        return out

    def _times(self, fn: str, x: torch.Tensor) -> torch.Tensor:
        """``x`` (checked) as uint8 first-spike times ``[batch, 6, 28, 28]`` in ``0..time_steps``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{fn}: x must be a tensor (times [batch, 6, 28, 28] or a wave "
                            f"[batch, time, 6, 28, 28]), got {type(x).__name__}")
        size = (IMAGE_SIZE, IMAGE_SIZE)
        check_tensor(fn, "x", x, ndim=(4, 5), axes="[batch, 6, 28, 28] (times) or [batch, time, 6, 28, 28] (wave)",
                     finite=False)
        if x.dim() == 5:
            if x.shape[1] != self.time_steps:
                raise ValueError(f"{fn}: the wave x has {x.shape[1]} steps, the model {self.time_steps}")
            if x.shape[2] != 6 or tuple(x.shape[3:]) != size:
                raise ValueError(f"{fn}: the wave x must be [batch, {self.time_steps}, 6, 28, 28] (6 input channels, "
                                 f"the DoG maps of 28 x 28 digits), got shape {tuple(x.shape)}")
            try:
                x = wave_to_times(x)
            except (TypeError, ValueError) as err:
                raise type(err)(f"{fn}: x is not a cumulative 0/1 spike-wave ({err})") from None
        if x.dtype != torch.uint8:
            raise TypeError(f"{fn}: x must be uint8 first-spike times (Mozafari2019.encode) or a spike-wave, "
                            f"got {x.dtype}")
        if x.shape[1] != 6:
            raise ValueError(f"{fn}: x must have 6 input channels (the DoG maps), got shape {tuple(x.shape)}")
        if tuple(x.shape[2:]) != size:
            raise ValueError(f"{fn}: x must be 28 x 28 (the maps of 28 x 28 digits, Mozafari2019.encode; the "
                             f"decision layer is built for them), got {tuple(x.shape[2:])}")
        hi = int(x.max())
        if hi > self.time_steps:
            raise ValueError(f"{fn}: x (first-spike times) must lie in [0, {self.time_steps}] (time_steps = no "
                             f"spike), got values up to {hi}")
        return x.cpu()

    def _check_weights(self, fn: str, layers=(1, 2, 3)) -> None:
        """``ValueError``/``TypeError`` unless the weights of ``layers`` are finite, ``>= 0`` and
        float32/float64 (class docstring): one reduction per weight tensor after each change (torch's
        version counter; the engine's own in-place updates keep them valid)."""
        for i in layers:
            weight = getattr(self, f"conv{i}").weight
            key = (weight._version, weight.data_ptr(), weight.dtype, tuple(weight.shape))
            if self._cache.get(("checked", i)) == key:
                continue
            name = f"conv{i}.weight"
            check_tensor(fn, name, weight.detach(), ndim=4, finite=False)
            if weight.dtype not in (torch.float32, torch.float64):
                raise TypeError(f"{fn}: {name} must be float32 or float64 (the engines' dtypes), got {weight.dtype}; "
                                "call model.float()")
            lo, hi = value_range(fn, name, weight.detach())
            if lo < 0:
                raise ValueError(f"{fn}: {name} must hold weights >= 0 (the engines assume potentials that never "
                                 f"decrease), got values in [{lo:g}, {hi:g}]")
            self._cache[("checked", i)] = key

    @staticmethod
    def _engine_arg(fn: str, engine) -> str:
        return layers._check_engine(fn, engine)

    # ------------------------------------------------------------------------------ layers
    def _layer_input(self, layer: int, times: torch.Tensor) -> torch.Tensor:
        """First-spike times entering S1/S2/S3 (inference path: no pointwise inhibition). For S3
        the times are returned UNpadded (``[batch, 250, 4, 4]``)."""
        steps = self.time_steps
        if layer == 1:
            return layers.pad_times(times, (S1["pad"],) * 4, steps)
        # pad, S1, C1, pad in one compiled pass (the S2 training step's S1 inference)
        x = _engine.conv_pool(times, steps, self.conv1.weight.detach(), S1["threshold"], S1["pad"], 2, 2, S2["pad"],
                              rows=self._weight_state(1)[1])
        if layer == 2:
            return x
        return _engine.conv_pool(x, steps, self.conv2.weight.detach(), S2["threshold"], 0, 3, 3, 0,
                                 rows=self._weight_state(2)[1])

    def s3_input(self, x: torch.Tensor) -> torch.Tensor:
        r"""What the decision layer sees: which C2 neurons spiked by the last step.

        The decision layer has no threshold and reads only its last step, and its R-STDP compares
        ``input spiked at all`` with the winner's last-step spike, so this bit map is all it needs:
        250 x 4 x 4 = 4 000 bits per digit. Computed in chunks with the event-driven engine.

        Args:
            x: first-spike times ``[batch, 6, 28, 28]`` (or a spike-wave).

        Shape:
            - Input: ``[batch, 6, height, width]``
            - Output: ``[batch, 250, 4, 4]`` (bool)

        Returns:
            The bool map of C2 neurons that spiked.
        """
        fn = "Mozafari2019.s3_input"
        x = cpu_engine_input(fn, self, x)  # CPU-only engine (class docstring)
        _engine.require(fn)
        times = self._times(fn, x)
        self._check_weights(fn, (1, 2))
        out = torch.empty((times.shape[0], S2["features"], times.shape[2] // 2 // 3, times.shape[3] // 2 // 3),
                          dtype=torch.bool)
        for lo in range(0, times.shape[0], _CHUNK):
            out[lo:lo + _CHUNK] = self._c2_spiked(times[lo:lo + _CHUNK])
        return out

    def _c2_spiked(self, times: torch.Tensor) -> torch.Tensor:
        """C2 neurons that spiked by the last step. Potentials never decrease, so that is decided by
        the final potentials alone: the event engine computes them without time steps (the same
        bits as the timed layers, ``_layer_input(3, times) < time_steps``; tested)."""
        w1, w2 = self.conv1.weight.detach(), self.conv2.weight.detach()
        if w1.dtype != w2.dtype:
            return self._layer_input(3, times) < self.time_steps
        return _engine.s3_input(times, self.time_steps, w1, S1["threshold"], w2, S2["threshold"],
                                (S1["pad"], S2["pad"]), (2, 2, 3, 3))

    def _weight_state(self, layer: int):
        """(numpy weight view, its weight rows, in-bounds flag) for the engine, rebuilt whenever the
        parameter's version counter, storage or dtype changed (any torch in-place operation on the
        parameter, ``load_state_dict``, ``.to``). The engine updates both in place, in sync."""
        return self._weight_cache(layer)[1:4]

    def _weight_cache(self, layer: int) -> tuple:
        weight = getattr(self, f"conv{layer}").weight
        key = (weight._version, weight.data_ptr(), weight.dtype)
        cached = self._cache.get(layer)
        if cached is None or cached[0] != key:
            rows = _engine.weight_rows(weight.data)
            # S3 with float32 weights: the int8 screen of the readout (built on first use)
            screen = [None] if layer == 3 and weight.dtype == torch.float32 else None
            cached = (key, weight.data.numpy(), rows, np.array([False]), screen)
            self._cache[layer] = cached
        return cached

    def _screen_state(self):
        """(int8 screen, ok flag) of S3's weight rows for the engine's two-pass readout winner
        (:func:`snnbook._engine._screened_winner`), kept in sync with the weights by the engine;
        an empty screen (float64 weights) means the exact one-pass readout."""
        cached = self._weight_cache(3)
        if cached[4] is None:
            return np.zeros((0, 0), np.int8), np.array([False])
        if cached[4][0] is None:
            cached[4][0] = _engine.screen_rows(cached[2])
        return cached[4][0]

    # ------------------------------------------------------------------------------ inference
    def forward(self, x: torch.Tensor, engine: str = "event", return_layers: bool = False):
        r"""Decisions of the network (inference path, no pointwise inhibition, no learning).

        Args:
            x: first-spike times ``uint8 [batch, 6, 28, 28]`` in ``0..time_steps`` (:meth:`encode`)
                or a cumulative 0/1 spike-wave ``[batch, time_steps, 6, 28, 28]``; other shapes,
                dtypes or times raise (class docstring).
            engine: ``"event"`` (compiled, chunked, parallel over the batch) or ``"dense"`` (the
                readable functions, a few digits at a time).
            return_layers: also return each layer's first-spike times, S3's last-step potentials
                and the winners.

        Shape:
            - Input: ``[batch, 6, 28, 28]``
            - Output: ``[batch]`` decisions (class, ``-1`` silent)

        Returns:
            ``decisions``, or ``(decisions, layers)`` with ``layers`` a dict of tensors
            (``s1``, ``s2``, ``s3`` times, ``s3_potentials`` ``[batch, 200, 4, 4]``, ``winners``
            ``[batch, 1, 3]``).
        """
        fn = "Mozafari2019.forward"
        x = cpu_engine_input(fn, self, x)  # CPU-only engine (class docstring)
        engine = self._engine_arg(fn, engine)
        times = self._times(fn, x)
        if not isinstance(return_layers, bool):
            raise TypeError(f"{fn}: return_layers must be a bool, got {return_layers!r}")
        self._check_weights(fn)
        if engine == "dense":
            parts = [self._forward_dense(times[lo:lo + 16]) for lo in range(0, times.shape[0], 16)]
        else:
            parts = [self._forward_event(times[lo:lo + _CHUNK], return_layers)
                     for lo in range(0, times.shape[0], _CHUNK)]
        decisions = torch.cat([p[0] for p in parts])
        if not return_layers:
            return decisions
        keys = parts[0][1].keys()
        return decisions, {k: torch.cat([p[1][k] for p in parts]) for k in keys}

    def _decide(self, winners: torch.Tensor) -> torch.Tensor:
        f = winners[:, 0, 0]
        return torch.where(f >= 0, torch.div(f, self.per_class, rounding_mode="floor"), -1)

    def _forward_event(self, times: torch.Tensor, return_layers: bool):
        if not return_layers:  # the decision needs only what spiked by the last step
            return self._forward_event_s3(self._c2_spiked(times)), {}
        steps = self.time_steps
        x = layers.pad_times(times, (S1["pad"],) * 4, steps)
        f1, _, _ = _engine.conv_fire(x, steps, self.conv1.weight.detach(), S1["threshold"])
        x = layers.pad_times(_engine.pool(f1, (2, 2), (2, 2), (0, 0)), (S2["pad"],) * 4, steps)
        f2, _, _ = _engine.conv_fire(x, steps, self.conv2.weight.detach(), S2["threshold"])
        active = _engine.pool(f2, (3, 3), (3, 3), (0, 0)) < steps
        x3 = layers.pad_times(torch.where(active, 0, steps).to(torch.uint8), (S3["pad"],) * 4, steps)
        f3, p3, last = _engine.conv_fire(x3, steps, self.conv3.weight.detach(), None, want_last=True)
        winners = _engine.kwta(f3, p3, steps, 1, 0)
        return self._decide(winners), {"s1": f1, "s2": f2, "s3": f3, "s3_potentials": last, "winners": winners}

    def _forward_dense(self, times: torch.Tensor):
        """The readable path: dense waves through layers.conv, competition.fire, layers.pool,
        competition.k_winners, exactly as the reference example's forward in eval mode."""
        steps = self.time_steps
        dt = self.conv1.weight.dtype
        x = layers.pad(times_to_wave(times, steps, dt), (S1["pad"],) * 4)
        s1 = competition.fire(layers.conv(x, self.conv1.weight.detach()), S1["threshold"])
        x = layers.pad(layers.pool(s1, 2, 2), (S2["pad"],) * 4)
        s2 = competition.fire(layers.conv(x, self.conv2.weight.detach()), S2["threshold"])
        x = layers.pad(layers.pool(s2, 3, 3), (S3["pad"],) * 4)
        pot3 = _last_step_potentials(x, self.conv3.weight.detach())
        s3 = competition.fire(pot3)
        winners = competition.k_winners(pot3, 1, 0, s3)
        return self._decide(winners), {"s1": wave_to_times(s1), "s2": wave_to_times(s2),
                                       "s3": wave_to_times(s3), "s3_potentials": pot3[:, -1], "winners": winners}

    # ------------------------------------------------------------------------------ learning
    def learn_stdp(self, layer: int, x: torch.Tensor, engine: str = "event") -> torch.Tensor:
        r"""Sequential unsupervised STDP of S1 or S2 over the digits of ``x``, one after the other.

        Per digit (as the reference example's ``train_unsupervise``): the layer's rate schedule
        advances (every 500 digits ``a_ltp`` doubles up to 0.15, ``a_ltd = -0.75 a_ltp``); the layer
        fires (threshold), pointwise inhibition, k-WTA (S1: k = 5, r = 3; S2: k = 8, r = 1) and STDP
        (stabiliser on, bounds 0..1). For S2, S1 runs in inference mode (no inhibition). In eval
        mode nothing is learned (the winners are still returned).

        Args:
            layer: 1 or 2.
            x: first-spike times ``[batch, 6, 28, 28]`` (or a spike-wave).
            engine: ``"event"`` or ``"dense"``.

        Shape:
            - Input: ``[batch, 6, 28, 28]``
            - Output: ``[batch, k, 3]`` winners

        Returns:
            The winners of each digit (``-1``-padded).
        """
        fn = "Mozafari2019.learn_stdp"
        x = cpu_engine_input(fn, self, x)  # CPU-only engine (class docstring)
        layer = check_int(fn, "layer", layer)
        if layer not in (1, 2):
            raise ValueError(f"{fn}: layer must be 1 or 2 (S3 learns by learn_rstdp), got {layer!r}")
        engine = self._engine_arg(fn, engine)
        times = self._times(fn, x)
        self._check_weights(fn, (1, 2))
        cfg = S1 if layer == 1 else S2
        with torch.no_grad():
            if engine == "dense":
                return self._learn_stdp_dense(layer, times, cfg)
            return self._learn_stdp_event(layer, times, cfg)[0]

    def _learn_stdp_event(self, layer: int, times: torch.Tensor, cfg: dict, want_first: bool = False):
        steps = self.time_steps
        weight = getattr(self, f"conv{layer}").weight
        out = []
        firsts = []
        for lo in range(0, times.shape[0], _CHUNK):
            tins = self._layer_input(layer, times[lo:lo + _CHUNK]).numpy()
            n = tins.shape[0]
            winners = np.empty((n, cfg["k"], 3), np.int64)
            oh = tins.shape[2] - cfg["kernel"] + 1
            ow = tins.shape[3] - cfg["kernel"] + 1
            first_out = np.empty((n if want_first else 0, cfg["features"], oh, ow), np.uint8)
            if not self.training:
                for i in range(n):
                    f, p, _ = _engine.conv_fire(torch.from_numpy(tins[i:i + 1]), steps, weight.detach(),
                                                cfg["threshold"], inhibit=True)
                    winners[i] = _engine.kwta(f, p, steps, cfg["k"], cfg["radius"])[0].numpy()
                    if want_first:
                        first_out[i] = f[0].numpy()
            else:
                w, wt, in_bounds = self._weight_state(layer)
                c = self._stdp_constants(layer, w.dtype)
                _engine._stdp_layer_pass(
                    tins, steps, w, wt, c["mid"], c["thr"], cfg["k"], cfg["radius"],
                    getattr(self, f"stdp{layer}_ltp").numpy(), getattr(self, f"stdp{layer}_ltd").numpy(),
                    True, c["bounds"], in_bounds, c["tarr"], True, getattr(self, f"stdp{layer}_count").numpy(),
                    plasticity.ADAPT_EVERY, c["max_ltp"], c["ltd_ratio"], winners, first_out)
            out.append(torch.from_numpy(winners))
            firsts.append(torch.from_numpy(first_out))
        if len(out) == 1:
            return out[0], firsts[0]
        return torch.cat(out), torch.cat(firsts)

    def _stdp_constants(self, layer: int, dtype) -> dict:
        """The fused STDP kernel's constant arguments for one layer and weight dtype (cached)."""
        key = ("stdp", layer, np.dtype(dtype).str, self.time_steps)
        if key not in self._cache:
            cfg = (S1, S2)[layer - 1]
            thr = float(np.array(cfg["threshold"], dtype))
            self._cache[key] = {
                "thr": thr, "mid": _engine.threshold_bound(thr, dtype), "bounds": np.array([0.0, 1.0], dtype),
                "tarr": _engine.tarr_of(self.time_steps, torch.float32 if np.dtype(dtype) == np.float32
                                        else torch.float64),
                "max_ltp": np.array([plasticity.MAX_A_LTP], dtype), "ltd_ratio": np.array([plasticity.LTD_RATIO], dtype)}
        return self._cache[key]

    def _advance_stdp_schedule(self, layer: int) -> None:
        """The reference example's counter: before each training digit; every 500 digits a_ltp
        doubles (float32 arithmetic, capped at 0.15) and a_ltd = -0.75 a_ltp."""
        count = getattr(self, f"stdp{layer}_count")
        ltp = getattr(self, f"stdp{layer}_ltp")
        ltd = getattr(self, f"stdp{layer}_ltd")
        count += 1
        if int(count) >= plasticity.ADAPT_EVERY:
            count.zero_()
            ap = torch.minimum(ltp[0] * 2, torch.tensor(plasticity.MAX_A_LTP, dtype=ltp.dtype))
            ltp.fill_(float(ap))
            ltd.fill_(float(ap * torch.tensor(plasticity.LTD_RATIO, dtype=ltp.dtype)))

    def _learn_stdp_dense(self, layer: int, times: torch.Tensor, cfg: dict) -> torch.Tensor:
        steps = self.time_steps
        conv = getattr(self, f"conv{layer}")
        out = []
        for i in range(times.shape[0]):
            tin = self._layer_input(layer, times[i:i + 1])
            wave = times_to_wave(tin, steps, conv.weight.dtype)
            if self.training:
                self._advance_stdp_schedule(layer)
            spikes, pot = competition.fire(layers.conv(wave, conv.weight.detach()), cfg["threshold"], True)
            pot = competition.pointwise_inhibition(pot)
            spikes = pot.sign()
            winners = competition.k_winners(pot, cfg["k"], cfg["radius"], spikes)
            if self.training:
                new = plasticity.stdp_update(conv.weight.detach(), wave, spikes, winners,
                                             getattr(self, f"stdp{layer}_ltp"), getattr(self, f"stdp{layer}_ltd"),
                                             True, 0.0, 1.0)
                conv.weight.copy_(new)
            out.append(winners)
        return torch.cat(out)

    def learn_rstdp(self, x: torch.Tensor, labels: torch.Tensor, engine: str = "event",
                    s3_input: bool = False) -> torch.Tensor:
        r"""Sequential R-STDP of the decision layer over the digits of ``x``, one after the other.

        Per digit (the reference example's ``train_rl``): decision = class of the k = 1 winner of S3;
        reward (correct) -> STDP with the reward rates; punishment (wrong) -> anti-STDP with the
        punishment rates; silence -> nothing. With ``adaptive_rstdp``, after every 1 000 digits the
        rates become the base rates times that block's miss rate (reward) and hit rate
        (punishment). In eval mode nothing is learned (the decisions are still returned).

        Args:
            x: first-spike times ``[batch, 6, 28, 28]`` (or a spike-wave), or, with
                ``s3_input=True``, the bool maps of :meth:`s3_input` ``[batch, 250, 4, 4]`` (the
                cache of the training loop: S1 and S2 are frozen by then).
            labels: true classes, integers in ``[0, 9]`` (another value raises ``ValueError``: no
                decision could equal it, so every digit would be punished).
            engine: ``"event"`` or ``"dense"``.
            s3_input: ``x`` is already :meth:`s3_input` (event engine only).

        Shape:
            - Input ``x``: ``[batch, 6, 28, 28]`` (or ``[batch, 250, 4, 4]`` bool)
            - Input ``labels``: ``[batch]``
            - Output: ``[batch]`` decisions (``-1`` silent)

        Returns:
            The decision made for each digit before its update.
        """
        fn = "Mozafari2019.learn_rstdp"
        x, labels = cpu_engine_input(fn, self, x), cpu_engine_input(fn, self, labels)  # CPU-only engine
        engine = self._engine_arg(fn, engine)
        check_bool(fn, "s3_input", s3_input)
        check_tensor(fn, "labels", labels, ndim=1, axes="[batch]")
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise TypeError(f"{fn}: labels must be an integer tensor, got {labels.dtype}")
        lo, hi = (int(v) for v in torch.aminmax(labels.long()))
        if lo < 0 or hi > 9:  # a label no decision can equal would silently punish every digit
            raise ValueError(f"{fn}: labels must be classes in [0, 9], got values in [{lo}, {hi}]")
        if s3_input:
            if engine != "event":
                raise ValueError(f"{fn}: s3_input=True needs engine='event'")
            active = self._active(fn, "x", x)
            self._check_weights(fn, (3,))
        else:
            times = self._times(fn, x)
            self._check_weights(fn)
        if labels.shape[0] != x.shape[0]:
            raise ValueError(f"{fn}: labels must have shape [batch={x.shape[0]}], got {tuple(labels.shape)}")
        labels = labels.long().cpu()
        with torch.no_grad():
            if engine == "dense":
                return self._learn_rstdp_dense(times, labels)
            if not s3_input:
                active = self.s3_input(times)
            if not self.training:
                return self._forward_event_s3(active)
            self._draw_dropout()
            w, wt, in_bounds = self._weight_state(3)
            dt = w.dtype
            decisions = np.empty(active.shape[0], np.int64)
            r_base = np.array([_f32(v) for v in plasticity.STDP_LEARNING_RATE], np.float64)
            p_base = np.array([_f32(v) for v in plasticity.ANTI_STDP_LEARNING_RATE], np.float64)
            args = (np.ascontiguousarray(active.numpy()), labels.numpy(), S3["pad"], w, wt, self.time_steps,
                    _engine.tarr_of(self.time_steps, self.conv3.weight.dtype), self.per_class, r_base, p_base,
                    self.rstdp_rates.numpy(), np.array([0.2, 0.8], dt), in_bounds, RSTDP_BLOCK,
                    self.rstdp_block.numpy(), decisions, self.adaptive_rstdp, self.rstdp_rate_floor,
                    self.s3_alive.numpy(), *self._screen_state())
            _engine._rstdp_readout_pass(*args)
            return torch.from_numpy(decisions)

    def _forward_event_s3(self, active: torch.Tensor) -> torch.Tensor:
        _, wt, _ = self._weight_state(3)
        steps = self.time_steps
        oh = active.shape[2] + 2 * S3["pad"] - self.conv3.weight.shape[2] + 1
        ow = active.shape[3] + 2 * S3["pad"] - self.conv3.weight.shape[3] + 1
        flat = np.empty(active.shape[0], np.int64)
        dt = _engine.np_dtype(self.conv3.weight.dtype)
        batch = active.shape[0] >= _engine.PARALLEL_MIN_BATCH
        kh, kw = self.conv3.weight.shape[2:]
        tarr = _engine.tarr_of(steps, self.conv3.weight.dtype)
        q, ok = self._screen_state()
        if q.size and ok[0]:  # the same winners, two passes (int8 screen, exact candidates)
            w, _, _ = self._weight_state(3)
            run = _engine._screened_batch if batch else _engine._screened_serial
            run(np.ascontiguousarray(active.numpy()), S3["pad"], q, w, wt, kh, kw, tarr, flat,
                _engine.screen_limit(kh, kw, w.shape[0]))
        else:
            run = _engine._readout_batch if batch else _engine._readout_serial
            run(np.ascontiguousarray(active.numpy()), S3["pad"], wt, kh, kw, steps, tarr, oh, ow,
                np.zeros(1, dt), flat)
        flat = torch.from_numpy(flat)
        f = torch.where(flat >= 0, torch.div(flat, oh * ow, rounding_mode="floor"), -1)
        return torch.where(f >= 0, torch.div(f, self.per_class, rounding_mode="floor"), -1)

    def classify_s3(self, active: torch.Tensor) -> torch.Tensor:
        r"""Decisions from cached :meth:`s3_input` maps (fast evaluation of the decision layer).

        Args:
            active: bool maps from :meth:`s3_input` (another dtype raises ``TypeError``, another
                shape ``ValueError``).

        Shape:
            - Input: ``[batch, 250, 4, 4]``
            - Output: ``[batch]``

        Returns:
            The decisions (``-1`` silent).
        """
        fn = "Mozafari2019.classify_s3"
        active = cpu_engine_input(fn, self, active)  # CPU-only engine (class docstring)
        _engine.require(fn)
        active = self._active(fn, "active", active)
        self._check_weights(fn, (3,))
        return self._forward_event_s3(active)

    @staticmethod
    def _active(fn: str, name: str, active) -> torch.Tensor:
        """The checked bool maps of :meth:`s3_input` ``[batch, 250, 4, 4]`` (on the CPU)."""
        shape = (S2["features"],) + (IMAGE_SIZE // 2 // 3,) * 2
        check_tensor(fn, name, active, ndim=4, axes="[batch, 250, 4, 4]", finite=False)
        if active.dtype != torch.bool:
            raise TypeError(f"{fn}: {name} must be the bool maps of s3_input, got {active.dtype}")
        if tuple(active.shape[1:]) != shape:
            raise ValueError(f"{fn}: {name} must be the maps of s3_input, [batch, 250, 4, 4] (28 x 28 digits), got "
                             f"shape {tuple(active.shape)}")
        return active.cpu()

    def _draw_dropout(self) -> None:
        """A fresh S3 dropout mask (training with ``s3_dropout > 0`` only)."""
        if self.s3_dropout > 0 and self.training:
            seed, draws = (int(v) for v in self.s3_dropout_state)
            g = torch.Generator().manual_seed(seed * 1_000_003 + draws)
            self.s3_alive.copy_(torch.rand(self.s3_alive.shape[0], generator=g, dtype=torch.float64)
                                >= self.s3_dropout)
            self.s3_dropout_state[1] += 1

    def _adapt_rstdp(self) -> None:
        hits, misses, seen = (int(v) for v in self.rstdp_block)
        hit, miss = hits / seen, misses / seen
        floor = self.rstdp_rate_floor
        hit, miss = floor + (1.0 - floor) * hit, floor + (1.0 - floor) * miss
        r = [_f32(v) * miss for v in plasticity.STDP_LEARNING_RATE]
        p = [_f32(v) * hit for v in plasticity.ANTI_STDP_LEARNING_RATE]
        self.rstdp_rates.copy_(torch.tensor(r + p, dtype=torch.float64))
        self.rstdp_block.zero_()

    def _learn_rstdp_dense(self, times: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        steps = self.time_steps
        w3 = self.conv3.weight
        out = []
        self._draw_dropout()
        dead = ~self.s3_alive if self.training else torch.zeros_like(self.s3_alive)
        for i in range(times.shape[0]):
            x3 = layers.pad_times(self._layer_input(3, times[i:i + 1]), (S3["pad"],) * 4, steps)
            wave = times_to_wave(x3, steps, w3.dtype)
            pot = _last_step_potentials(wave, w3.detach())
            pot[:, :, dead] = 0  # dropout variant: dropped features cannot win
            spikes = competition.fire(pot)
            winners = competition.k_winners(pot, 1, 0, spikes)
            decision = self._decide(winners)
            out.append(decision)
            if not self.training or int(decision[0]) < 0:
                if self.training:
                    self._count_block(None)
                continue
            correct = int(decision[0]) == int(labels[i])
            rates = self.rstdp_rates
            pair = (rates[0], rates[1]) if correct else (rates[2], rates[3])
            new = plasticity.stdp_update(w3.detach(), wave, spikes, winners, pair[0], pair[1], False, 0.2, 0.8)
            w3.copy_(new)
            self._count_block(correct)
        return torch.cat(out)

    def _count_block(self, correct) -> None:
        if correct is not None:
            self.rstdp_block[0 if correct else 1] += 1
        self.rstdp_block[2] += 1
        if self.adaptive_rstdp and int(self.rstdp_block[2]) >= RSTDP_BLOCK:
            self._adapt_rstdp()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` after checking ``state_dict``: tensors of the model's shapes
        and kinds, finite, weights ``>= 0`` (class docstring), counters ``>= 0``; else ``ValueError``
        or ``TypeError`` naming the entry, and nothing is loaded."""
        fn = "Mozafari2019.load_state_dict"
        check_state_dict(fn, self, state_dict, strict, assign)
        for i in (1, 2, 3):
            check_entry_range(fn, state_dict, f"conv{i}.weight", low=0.0,
                              what="weights; the engines assume potentials that never decrease")
        for key in ("stdp1_count", "stdp2_count", "rstdp_block", "s3_dropout_state"):
            check_entry_range(fn, state_dict, key, low=0, what="counters")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        return (f"time_steps={self.time_steps}, s3_features={self.conv3.weight.shape[0]}, "
                f"adaptive_rstdp={self.adaptive_rstdp}, rstdp_rate_floor={self.rstdp_rate_floor}, "
                f"s3_dropout={self.s3_dropout}")
