"""The STDP-trained deep convolutional SNN of Kheradpisheh et al. (2018), features for a linear readout.

Chapters: its parts are explained in Competition and STDP (book/competition.md) and A deep network
that learns with spikes (book/mozafari2019.md).

As in the MNIST example that ships with SpykeTorch (``KheradpishehDeep.py``), which defines the
network's behaviour here (its end-to-end fixtures are reproduced by
``tests/test_kheradpisheh2018.py``):

- input: 28x28 digit, ``ToTensor() * 255`` -> two DoG filters 7x7, ON-centre (sigmas 1, 2) and
  OFF-centre (2, 1), padding 3, threshold 50 -> local normalisation (radius 8) ->
  intensity-to-latency (15 steps);
- layer 1: pad 2, 32 features 5x5, threshold 10 (a neuron fires when its potential is strictly
  above it); pooling 2, stride 2, padding 1 (28 -> 15), pad 1;
- layer 2: 150 features 2x2, threshold 1 (17 -> 16); pooling 2, stride 2, padding 1 (16 -> 9);
- features: which of the 150 x 9 x 9 = 12 150 pooled layer-2 neurons spiked by the last step
  (0/1), read by a linear classifier (the paper's and the example's: a linear SVM).

Learning, layer by layer, unsupervised: per digit, the layer fires, pointwise inhibition keeps the
earliest spike per position, k-WTA picks the winners (layer 1: k = 5, radius 2; layer 2: k = 8,
radius 1) and STDP (stabiliser on, bounds 0..1) updates the winners' kernels. Layer 1's rates start
at (0.004, -0.003) and double every 500 digits up to 0.15 (``a_ltd = -0.75 a_ltp``; the doubling
happens before that digit's update); layer 2 keeps (0.004, -0.003). While layer 2 learns, its
input (the pooled, padded layer-1 spikes) passes pointwise inhibition too: per position only the
earliest layer-1 feature (the lowest-numbered among equally early ones) reaches it. Inference has no
inhibition anywhere.

Two engines compute the same network: ``engine="event"`` (the compiled event-driven engine,
``snnbook._engine``, the default) and ``engine="dense"`` (the readable functions of
:mod:`snnbook.layers`, :mod:`snnbook.competition` and :mod:`snnbook.plasticity`, one digit at a
time as SpykeTorch runs them). They agree on spikes, winners, weights and features (tests).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import _engine, competition, layers, plasticity, retina
from .._checks import (check_bool, check_entry_range, check_int, check_pixels, check_state_dict, check_tensor,
                       value_range)
from ..coding import latency_times, times_to_wave, wave_to_times
from ._devices import cpu_engine_input

__all__ = ["Kheradpisheh2018", "TIME_STEPS", "DOG_WINDOW", "DOG_SIGMAS", "DOG_PADDING", "DOG_THRESHOLD",
           "LOCAL_NORM_RADIUS", "WEIGHT_MEAN", "WEIGHT_STD", "L1", "L2", "POOL", "IMAGE_SIZE", "N_FEATURES",
           "N_FEATURES_L1"]

#: Height and width of the digits the network is built for (MNIST).
IMAGE_SIZE = 28
#: Time steps of the latency code.
TIME_STEPS = 15
#: Side of the two DoG kernels.
DOG_WINDOW = 7
#: (centre, surround) sigma of the ON-centre kernel; the OFF-centre kernel swaps them.
DOG_SIGMAS = (1.0, 2.0)
#: Zero padding of the DoG filters (output size = input size).
DOG_PADDING = 3
#: DoG responses below this are zeroed.
DOG_THRESHOLD = 50.0
#: Radius of the local normalisation.
LOCAL_NORM_RADIUS = 8
#: Initial weights are drawn from N(WEIGHT_MEAN, WEIGHT_STD) (the example's values).
WEIGHT_MEAN = 0.8
#: See :data:`WEIGHT_MEAN`.
WEIGHT_STD = 0.05
#: Layer 1: input channels, features, kernel, threshold, k-WTA k and radius, the padding in front of it.
L1 = dict(channels=2, features=32, kernel=5, threshold=10.0, k=5, radius=2, pad=2)
#: Layer 2 (after pooling and a padding of 1).
L2 = dict(channels=32, features=150, kernel=2, threshold=1.0, k=8, radius=1, pad=1)
#: The pooling after each layer: kernel, stride, padding.
POOL = dict(kernel=2, stride=2, padding=1)
#: Length of the feature vector: 150 features x 9 x 9 pooled positions.
N_FEATURES = 150 * 9 * 9
#: Length of the pooled layer-1 features (variant): 32 features x 15 x 15 positions.
N_FEATURES_L1 = 32 * 15 * 15

_CHUNK = 256  # digits per internal chunk (bounded memory at any batch size)
_POOL_ARGS = ((POOL["kernel"],) * 2, (POOL["stride"],) * 2, (POOL["padding"],) * 2)


class Kheradpisheh2018(nn.Module):
    r"""The 2018 deep convolutional SNN (two STDP layers), a feature extractor for a linear readout.

    Args:
        time_steps: steps of the latency code (15).
        seed: seed of the initial weights (``N(0.8, 0.05)``, conv1 then conv2, drawn with
            ``torch.Generator``); ``None`` uses the global generator.

    Images: :meth:`encode` takes 28 x 28 digits with pixel values 0..255, as ``uint8`` or floats
    0..255 (the example's ``ToTensor() * 255``); [0, 1] floats are refused with a
    ``ValueError`` that says to multiply by 255.

    Shape:
        - Input of :meth:`encode`: ``[batch, 28, 28]`` or ``[batch, 1, 28, 28]``, 0..255.
        - Input of :meth:`forward`, :meth:`features`, :meth:`learn_stdp`: first-spike times
          ``uint8 [batch, 2, 28, 28]`` in ``0..time_steps`` (from :meth:`encode`; ``time_steps``
          = no spike) or a cumulative 0/1 spike-wave ``[batch, time_steps, 2, 28, 28]``
          (:meth:`features` also takes the digits themselves).
        - Output of :meth:`forward` / :meth:`features`: ``uint8 [batch, 12150]`` (0/1).

    Attributes:
        conv1, conv2: the two :class:`snnbook.layers.Convolution` layers (weights ``[32, 2, 5, 5]``
            and ``[150, 32, 2, 2]``).

    ``model.eval()`` freezes every learned quantity: :meth:`learn_stdp` then only computes (weights,
    rates and the schedule's counter stay as they are).

    Weights: the engines assume finite weights ``>= 0`` in float32 or float64; entry points refuse
    others with a ``ValueError``. Devices: a CPU-only engine, as :class:`Mozafari2019`.

    Example:
        >>> from snnbook import data
        >>> model = Kheradpisheh2018(seed=0)
        >>> images, _ = data.mnist_tensors(train=True, n=4)
        >>> times = model.encode(images)                  # uint8 [4, 2, 28, 28]
        >>> winners = model.learn_stdp(1, times)          # 4 sequential STDP steps of layer 1
        >>> model.eval().features(times).shape
        torch.Size([4, 12150])
    """

    def __init__(self, time_steps: int = TIME_STEPS, seed: int | None = None):
        super().__init__()
        fn = "Kheradpisheh2018"
        self.time_steps = check_int(fn, "time_steps", time_steps, minimum=1, maximum=254)
        g = None if seed is None else torch.Generator().manual_seed(check_int(fn, "seed", seed, minimum=0))
        self.conv1 = layers.Convolution(L1["channels"], L1["features"], L1["kernel"], WEIGHT_MEAN, WEIGHT_STD, g)
        self.conv2 = layers.Convolution(L2["channels"], L2["features"], L2["kernel"], WEIGHT_MEAN, WEIGHT_STD, g)
        self.register_buffer("dog_kernels", retina.on_off_dog(DOG_WINDOW, DOG_SIGMAS))
        ltp, ltd = plasticity.STDP_LEARNING_RATE
        for i, cfg in ((1, L1), (2, L2)):
            self.register_buffer(f"stdp{i}_ltp", torch.full((cfg["features"],), ltp))
            self.register_buffer(f"stdp{i}_ltd", torch.full((cfg["features"],), ltd))
        # layer 1's rate schedule: digits since the last doubling (layer 2 has none)
        self.register_buffer("stdp1_count", torch.zeros(1, dtype=torch.long))
        self._cache: dict = {}

    # ------------------------------------------------------------------------------ input
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        r"""The input transform: ON/OFF DoG filters, local normalisation, intensity-to-latency.

        Args:
            images: digits 0..255, ``uint8`` (converted as ``ToTensor() * 255``, i.e.
                ``k / 255 * 255`` in float32, as the reference example does) or floats.

        Shape:
            - Input: ``[batch, 28, 28]`` or ``[batch, 1, 28, 28]``
            - Output: ``[batch, 2, 28, 28]`` (``uint8`` first-spike times; ``time_steps`` = never;
              channel 0 ON-centre, 1 OFF-centre)

        Returns:
            The first-spike times of the coded input.
        """
        fn = "Kheradpisheh2018.encode"
        images = cpu_engine_input(fn, self, images)
        check_tensor(fn, "images", images, ndim=(3, 4), axes="[batch, 28, 28] or [batch, 1, 28, 28]", finite=False)
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise TypeError(f"{fn}: images must be uint8 (0..255) or floating point (0..255), got {images.dtype}")
        x = images.unsqueeze(1) if images.dim() == 3 else images
        if x.shape[1] != 1 or tuple(x.shape[2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"{fn}: images must be one-channel {IMAGE_SIZE} x {IMAGE_SIZE} digits, got shape "
                             f"{tuple(images.shape)}")
        check_pixels(fn, "images", images, 255, "Kheradpisheh2018")
        out = torch.empty((x.shape[0], 2) + tuple(x.shape[2:]), dtype=torch.uint8)
        thr = torch.tensor(DOG_THRESHOLD, dtype=self.dog_kernels.dtype)
        for lo in range(0, x.shape[0], _CHUNK):
            chunk = x[lo:lo + _CHUNK]
            chunk = chunk.float().div(255).mul(255) if chunk.dtype == torch.uint8 else chunk.float()
            maps = retina._filter_bank(chunk, self.dog_kernels, DOG_PADDING, thr, False)
            maps = retina._local_normalization(maps, LOCAL_NORM_RADIUS, retina.LOCAL_NORM_EPS)
            if _engine.available() and maps.numel() and bool(torch.isfinite(maps).all()):
                out[lo:lo + _CHUNK] = _engine.latency_times(maps, self.time_steps)
            else:  # the readable path (and its errors)
                out[lo:lo + _CHUNK] = latency_times(maps, self.time_steps)
        return out

    def _times(self, fn: str, x) -> torch.Tensor:
        """``x`` (checked) as uint8 first-spike times ``[batch, 2, 28, 28]``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{fn}: x must be a tensor (times [batch, 2, 28, 28] or a wave "
                            f"[batch, time, 2, 28, 28]), got {type(x).__name__}")
        check_tensor(fn, "x", x, ndim=(4, 5), axes="[batch, 2, 28, 28] (times) or [batch, time, 2, 28, 28] (wave)",
                     finite=False)
        shape = (L1["channels"], IMAGE_SIZE, IMAGE_SIZE)
        if x.dim() == 5:
            if x.shape[1] != self.time_steps or tuple(x.shape[2:]) != shape:
                raise ValueError(f"{fn}: the wave x must be [batch, {self.time_steps}, 2, 28, 28], got shape "
                                 f"{tuple(x.shape)}")
            try:
                x = wave_to_times(x.cpu())
            except (TypeError, ValueError) as err:
                raise type(err)(f"{fn}: x is not a cumulative 0/1 spike-wave ({err})") from None
        if x.dtype != torch.uint8:
            raise TypeError(f"{fn}: x must be uint8 first-spike times (Kheradpisheh2018.encode) or a spike-wave, "
                            f"got {x.dtype}")
        if tuple(x.shape[1:]) != shape:
            raise ValueError(f"{fn}: x must have shape [batch, 2, 28, 28] (the ON/OFF maps of 28 x 28 digits), "
                             f"got {tuple(x.shape)}")
        if x.numel() and int(x.max()) > self.time_steps:
            raise ValueError(f"{fn}: x (first-spike times) must lie in [0, {self.time_steps}] (time_steps = no "
                             f"spike), got values up to {int(x.max())}")
        return x.cpu()

    def _check_weights(self, fn: str) -> None:
        """``ValueError``/``TypeError`` unless both weights are finite, ``>= 0``, float32/float64
        (checked once after each change of a weight tensor)."""
        for i in (1, 2):
            weight = getattr(self, f"conv{i}").weight
            key = (weight._version, weight.data_ptr(), weight.dtype)
            if self._cache.get(("checked", i)) == key:
                continue
            name = f"conv{i}.weight"
            if weight.dtype not in (torch.float32, torch.float64):
                raise TypeError(f"{fn}: {name} must be float32 or float64, got {weight.dtype}; call model.float()")
            lo, hi = value_range(fn, name, weight.detach())
            if lo < 0:
                raise ValueError(f"{fn}: {name} must hold weights >= 0 (the engines assume potentials that never "
                                 f"decrease), got values in [{lo:g}, {hi:g}]")
            self._cache[("checked", i)] = key

    def _weight_state(self, layer: int):
        """(numpy weight view, weight rows, in-bounds flag) of a layer for the engine, rebuilt after
        any change of the parameter outside the engine (version counter, storage, dtype)."""
        weight = getattr(self, f"conv{layer}").weight
        key = (weight._version, weight.data_ptr(), weight.dtype)
        cached = self._cache.get(layer)
        if cached is None or cached[0] != key:
            cached = (key, weight.data.numpy(), _engine.weight_rows(weight.data), np.array([False]))
            self._cache[layer] = cached
        return cached[1:]

    # ------------------------------------------------------------------------------ layers (event)
    def _layer2_input(self, times: torch.Tensor, inhibit: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(layer-1 first-spike times [B, 32, 28, 28], layer 2's padded input [B, 32, 17, 17]):
        layer 1 without inhibition, pooling, padding; with ``inhibit`` (training) pointwise
        inhibition of that input, per position the earliest feature, the lowest on ties."""
        steps = self.time_steps
        x = layers.pad_times(times, (L1["pad"],) * 4, steps)
        s1, _, _ = _engine.conv_fire(x, steps, self.conv1.weight.detach(), L1["threshold"])
        x2 = layers.pad_times(_engine.pool(s1, *_POOL_ARGS), (L2["pad"],) * 4, steps)
        if inhibit:  # equal "potentials" (all spikes are 1): the lowest feature wins a tie
            x2, _ = _engine.inhibit(x2, torch.ones(x2.shape, dtype=torch.float32), steps)
        return s1, x2

    def _learn_event(self, layer: int, times: torch.Tensor) -> torch.Tensor:
        cfg = L1 if layer == 1 else L2
        steps = self.time_steps
        weight = getattr(self, f"conv{layer}").weight.detach()
        out = []
        for lo in range(0, times.shape[0], _CHUNK):
            t = times[lo:lo + _CHUNK]
            tins = (layers.pad_times(t, (L1["pad"],) * 4, steps) if layer == 1
                    else self._layer2_input(t, True)[1]).numpy()
            winners = np.empty((tins.shape[0], cfg["k"], 3), np.int64)
            if not self.training:
                f, p, _ = _engine.conv_fire(torch.from_numpy(tins), steps, weight, cfg["threshold"], inhibit=True)
                winners[:] = _engine.kwta(f, p, steps, cfg["k"], cfg["radius"]).numpy()
            else:
                w, wt, in_bounds = self._weight_state(layer)
                dt = w.dtype
                thr = float(np.array(cfg["threshold"], dt))
                counter = self.stdp1_count.numpy() if layer == 1 else np.zeros(1, np.int64)
                _engine._stdp_layer_pass(
                    tins, steps, w, wt, _engine.threshold_bound(thr, dt), thr, cfg["k"], cfg["radius"],
                    getattr(self, f"stdp{layer}_ltp").numpy(), getattr(self, f"stdp{layer}_ltd").numpy(),
                    True, np.array([0.0, 1.0], dt), in_bounds, _engine.tarr_of(steps, weight.dtype), True, counter,
                    plasticity.ADAPT_EVERY if layer == 1 else 0, np.array([plasticity.MAX_A_LTP], dt),
                    np.array([plasticity.LTD_RATIO], dt), winners, np.empty((0, 1, 1, 1), np.uint8))
            out.append(torch.from_numpy(winners))
        return torch.cat(out)

    # ------------------------------------------------------------------------------ layers (dense)
    def _advance_schedule(self) -> None:
        """The example's counter, before each layer-1 training digit: every 500 digits a_ltp doubles
        (float32 arithmetic, capped at 0.15) and a_ltd = -0.75 a_ltp."""
        self.stdp1_count += 1
        if int(self.stdp1_count) >= plasticity.ADAPT_EVERY:
            self.stdp1_count.zero_()
            ltp = self.stdp1_ltp
            ap = torch.minimum(ltp[0] * 2, torch.tensor(plasticity.MAX_A_LTP, dtype=ltp.dtype))
            ltp.fill_(float(ap))
            self.stdp1_ltd.fill_(float(ap * torch.tensor(plasticity.LTD_RATIO, dtype=ltp.dtype)))

    def _dense_layers(self, times: torch.Tensor, inhibit_input: bool):
        """The readable path to layer 2's input: waves through layers.conv, competition.fire,
        layers.pool, layers.pad (and, in training, competition.pointwise_inhibition)."""
        dt = self.conv1.weight.dtype
        x = layers.pad(times_to_wave(times, self.time_steps, dt), (L1["pad"],) * 4)
        s1 = competition.fire(layers.conv(x, self.conv1.weight.detach()), L1["threshold"])
        x2 = layers.pad(layers.pool(s1, POOL["kernel"], POOL["stride"], POOL["padding"]), (L2["pad"],) * 4)
        if inhibit_input:
            x2 = competition.pointwise_inhibition(x2)
        return s1, x2

    def _learn_dense(self, layer: int, times: torch.Tensor) -> torch.Tensor:
        cfg = L1 if layer == 1 else L2
        conv = getattr(self, f"conv{layer}")
        out = []
        for i in range(times.shape[0]):
            if layer == 1:
                wave = layers.pad(times_to_wave(times[i:i + 1], self.time_steps, conv.weight.dtype), (L1["pad"],) * 4)
            else:
                wave = self._dense_layers(times[i:i + 1], True)[1]
            if self.training and layer == 1:
                self._advance_schedule()
            spikes, pot = competition.fire(layers.conv(wave, conv.weight.detach()), cfg["threshold"], True)
            pot = competition.pointwise_inhibition(pot)
            spikes = pot.sign()
            winners = competition.k_winners(pot, cfg["k"], cfg["radius"], spikes)
            if self.training:
                conv.weight.copy_(plasticity.stdp_update(
                    conv.weight.detach(), wave, spikes, winners, getattr(self, f"stdp{layer}_ltp"),
                    getattr(self, f"stdp{layer}_ltd"), True, 0.0, 1.0))
            out.append(winners)
        return torch.cat(out)

    # ------------------------------------------------------------------------------ public
    def learn_stdp(self, layer: int, x: torch.Tensor, engine: str = "event") -> torch.Tensor:
        r"""Sequential unsupervised STDP of layer 1 or 2 over the digits of ``x``, one after the other.

        Per digit (the reference example's ``train_unsupervise``): layer 1's rate schedule advances
        (every 500 digits ``a_ltp`` doubles up to 0.15, ``a_ltd = -0.75 a_ltp``; layer 2 keeps its
        rates); the layer fires, pointwise inhibition, k-WTA (layer 1: k = 5, r = 2; layer 2: k = 8,
        r = 1) and STDP (stabiliser on, bounds 0..1). For layer 2, layer 1 runs without inhibition
        and layer 2's pooled, padded input passes pointwise inhibition. In eval mode nothing is
        learned (the winners are still returned).

        Args:
            layer: 1 or 2.
            x: first-spike times ``[batch, 2, 28, 28]`` (or a spike-wave).
            engine: ``"event"`` or ``"dense"``.

        Shape:
            - Input: ``[batch, 2, 28, 28]``
            - Output: ``[batch, k, 3]`` winners (feature, row, column), ``-1`` rows where fewer won

        Returns:
            The winners of each digit, in selection order.
        """
        fn = "Kheradpisheh2018.learn_stdp"
        x = cpu_engine_input(fn, self, x)
        layer = check_int(fn, "layer", layer)
        if layer not in (1, 2):
            raise ValueError(f"{fn}: layer must be 1 or 2, got {layer!r}")
        engine = layers._check_engine(fn, engine)
        times = self._times(fn, x)
        self._check_weights(fn)
        with torch.no_grad():
            if engine == "dense":
                return self._learn_dense(layer, times)
            return self._learn_event(layer, times)

    def forward(self, x: torch.Tensor, engine: str = "event", return_layers: bool = False):
        r"""The feature vectors (inference path: no inhibition, no k-WTA, no learning).

        Args:
            x: first-spike times ``uint8 [batch, 2, 28, 28]`` (:meth:`encode`) or a cumulative 0/1
                spike-wave ``[batch, time_steps, 2, 28, 28]``.
            engine: ``"event"`` or ``"dense"``.
            return_layers: also return each layer's first-spike times.

        Shape:
            - Input: ``[batch, 2, 28, 28]``
            - Output: ``uint8 [batch, 12150]`` (0/1: pooled layer-2 neuron (feature, row, column)
              spiked by the last step, flattened in that order)

        Returns:
            ``features``, or ``(features, layers)`` with ``layers`` a dict of first-spike times
            ``s1`` ``[batch, 32, 28, 28]``, ``c1`` ``[batch, 32, 15, 15]``, ``s2``
            ``[batch, 150, 16, 16]``, ``c2`` ``[batch, 150, 9, 9]`` (``uint8``, ``time_steps`` = never).
        """
        fn = "Kheradpisheh2018.forward"
        x = cpu_engine_input(fn, self, x)
        engine = layers._check_engine(fn, engine)
        times = self._times(fn, x)
        check_bool(fn, "return_layers", return_layers)
        self._check_weights(fn)
        with torch.no_grad():
            parts = [self._forward(times[lo:lo + _CHUNK], engine) for lo in range(0, times.shape[0], _CHUNK)]
        out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]} if parts else {}
        if not parts:
            feats = torch.zeros((0, N_FEATURES), dtype=torch.uint8)
        else:
            feats = (out["c2"] < self.time_steps).to(torch.uint8).flatten(1)
        return (feats, out) if return_layers else feats

    def _forward(self, times: torch.Tensor, engine: str) -> dict:
        steps = self.time_steps
        if engine == "dense":
            s1, x2 = self._dense_layers(times, False)
            s2 = competition.fire(layers.conv(x2, self.conv2.weight.detach()), L2["threshold"])
            c2 = layers.pool(s2, POOL["kernel"], POOL["stride"], POOL["padding"])
            c1 = layers.pool(s1, POOL["kernel"], POOL["stride"], POOL["padding"])
            return {"s1": wave_to_times(s1), "c1": wave_to_times(c1), "s2": wave_to_times(s2),
                    "c2": wave_to_times(c2)}
        s1, x2 = self._layer2_input(times, False)
        s2, _, _ = _engine.conv_fire(x2, steps, self.conv2.weight.detach(), L2["threshold"])
        c1 = x2[:, :, L2["pad"]:-L2["pad"], L2["pad"]:-L2["pad"]]
        return {"s1": s1, "c1": c1.contiguous(), "s2": s2, "c2": _engine.pool(s2, *_POOL_ARGS)}

    def features(self, x: torch.Tensor, engine: str = "event", layer1: bool = False) -> torch.Tensor:
        r"""The feature vectors a linear readout classifies: pooled layer-2 spikes by the last step.

        Args:
            x: the digits (``[batch, 28, 28]`` or ``[batch, 1, 28, 28]``, 0..255; they are
                :meth:`encode`\ d first) or their coded input (first-spike times
                ``[batch, 2, 28, 28]`` or a spike-wave ``[batch, time_steps, 2, 28, 28]``).
            engine: ``"event"`` or ``"dense"``.
            layer1: variant: append the pooled layer-1 spikes (32 x 15 x 15 = 7 200 more).

        Shape:
            - Input: ``[batch, 28, 28]``, ``[batch, 1, 28, 28]`` or ``[batch, 2, 28, 28]``
            - Output: ``uint8 [batch, 12150]`` (``[batch, 19350]`` with ``layer1``), 0/1

        Returns:
            The features, computed in chunks.
        """
        fn = "Kheradpisheh2018.features"
        check_bool(fn, "layer1", layer1)
        if isinstance(x, torch.Tensor) and (x.dim() == 3 or (x.dim() == 4 and x.shape[1] == 1)):
            x = self.encode(x)
        if not layer1:
            return self(x, engine=engine)
        feats, out = self(x, engine=engine, return_layers=True)
        c1 = (out["c1"] < self.time_steps).to(torch.uint8).flatten(1) if out else \
            torch.zeros((0, N_FEATURES_L1), dtype=torch.uint8)
        return torch.cat([feats, c1], 1)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` after checking ``state_dict`` (shapes, kinds, finite,
        weights and the counter ``>= 0``); else ``ValueError``/``TypeError`` and nothing is loaded."""
        fn = "Kheradpisheh2018.load_state_dict"
        check_state_dict(fn, self, state_dict, strict, assign)
        for i in (1, 2):
            check_entry_range(fn, state_dict, f"conv{i}.weight", low=0.0,
                              what="weights; the engines assume potentials that never decrease")
        check_entry_range(fn, state_dict, "stdp1_count", low=0, what="counters")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        return f"time_steps={self.time_steps}"
