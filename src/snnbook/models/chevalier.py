"""A spiking layer trained with plain autograd: Guillaume Chevalier's "Spiking Neural Network (SNN)
with PyTorch: towards bridging the gap between deep learning and the human brain" (2018), as its
published code runs, and its non-spiking twin.

Chapter: Learning by gradient (book/gradient.md).

The layer (:func:`chevalier_step`) keeps an "inner" state per neuron::

    inner = fc(x) + decay * inner_prev
    out   = relu(inner - threshold)
    inner = inner - (penalty / threshold) * inner     where out > 0

(``decay`` 0.9, ``threshold`` 1.0, ``penalty`` 1.5). There is no spike function and no surrogate:
``relu`` and the 0/1 gate are differentiated by autograd as they are (the gate's derivative is 0).
Each layer returns the PREVIOUS step's inner state and output (one step of delay; zeros at the
first step). Layer 2 is fed layer 1's delayed output; the logits are layer 2's delayed inner states
averaged over the 128 steps. The input at each step is the normalised digit ``pixel - 0.5`` times
fresh uniform noise in ``[0, 1)``.
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import check_bool, check_float, check_int, check_real, check_tensor
from ._devices import check_generator, check_module_device, seeded_generator
from .surrogate import _to_model_dtype, images_to_float

__all__ = ["chevalier_step", "ChevalierLayer", "ChevalierSpiking", "ChevalierNonSpiking",
           "CHEVALIER_TIME_STEPS",
           "CHEVALIER_DECAY", "CHEVALIER_THRESHOLD", "CHEVALIER_PENALTY"]

#: Time steps per digit in the published code.
CHEVALIER_TIME_STEPS = 128
#: Decay multiplier of the inner state per step.
CHEVALIER_DECAY = 0.9
#: Threshold of the output ``relu(inner - threshold)``.
CHEVALIER_THRESHOLD = 1.0
#: Penalty threshold: a firing neuron loses ``penalty / threshold * inner``.
CHEVALIER_PENALTY = 1.5


def chevalier_step(current: torch.Tensor, inner_prev: torch.Tensor, decay: float = CHEVALIER_DECAY,
                   threshold: float = CHEVALIER_THRESHOLD,
                   penalty: float = CHEVALIER_PENALTY) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Chevalier's spiking layer (state in, state out; nothing is mutated).

    Args:
        current: ``fc(x)`` of this step.
        inner_prev: the inner state after the previous step (zeros at the first).
        decay: multiplier of the previous inner state, in ``[0, 1]``.
        threshold: ``out = relu(inner - threshold)``, > 0.
        penalty: a neuron with ``out > 0`` loses ``penalty / threshold * inner``; >= 0.

    Shape:
        - Input: ``current`` and ``inner_prev`` ``[batch, neurons]``.
        - Output: ``(inner, out)``, each ``[batch, neurons]``.

    Returns:
        The new inner state and the output of this step.

    Example:
        >>> # 1.5 + 0.9 * 1.0 = 2.4 fires (out 1.4) and keeps 2.4 - 1.5 * 2.4; 0.5 stays below threshold
        >>> inner, out = chevalier_step(torch.tensor([[1.5, 0.5]]), torch.tensor([[1.0, 0.0]]))
        >>> [round(v, 4) for v in inner[0].tolist()], [round(v, 4) for v in out[0].tolist()]
        ([-1.2, 0.5], [1.4, 0.0])
    """
    fn = "chevalier_step"
    check_tensor(fn, "current", current, ndim=2, axes="[batch, neurons]")
    check_tensor(fn, "inner_prev", inner_prev, ndim=2, axes="[batch, neurons]")
    check_float(fn, "current", current)
    check_float(fn, "inner_prev", inner_prev)
    if inner_prev.shape != current.shape:
        raise ValueError(f"{fn}: inner_prev has shape {tuple(inner_prev.shape)}, "
                         f"expected {tuple(current.shape)}")
    if inner_prev.device != current.device:
        raise ValueError(f"{fn}: inner_prev must be on the device of current ({current.device}), got "
                         f"{inner_prev.device}")
    decay, threshold, penalty = _constants(fn, decay, threshold, penalty)
    return _step(current, inner_prev, decay, threshold, penalty)


def _constants(fn: str, decay, threshold, penalty) -> tuple[float, float, float]:
    """``decay`` in [0, 1], ``threshold`` > 0, ``penalty`` >= 0, as floats."""
    return (check_real(fn, "decay", decay, minimum=0.0, maximum=1.0),
            check_real(fn, "threshold", threshold, minimum=0.0, strict_min=True),
            check_real(fn, "penalty", penalty, minimum=0.0))


def _step(current, inner_prev, decay, threshold, penalty):
    inner = current + decay * inner_prev
    out = torch.relu(inner - threshold)
    gate = (out > 0).to(inner.dtype)
    inner = inner - (penalty / threshold * inner) * gate
    return inner, out


class ChevalierLayer(nn.Module):
    """Chevalier's spiking layer: ``nn.Linear`` (weights Xavier-uniform, bias PyTorch's default) and
    :func:`chevalier_step`, returning the previous step's state and output.

    Args:
        n_inputs: inputs per neuron.
        n_neurons: neurons.
        decay, threshold, penalty: see :func:`chevalier_step`.

    Shape:
        - Input: ``[batch, time, n_inputs]``.
        - Output: ``(inner, out)``, each ``[batch, time, n_neurons]``, delayed by one step (step 0 is zero).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> inner, out = ChevalierLayer(4, 3)(torch.rand(2, 5, 4))
        >>> tuple(inner.shape), inner[:, 0].abs().sum().item()
        ((2, 5, 3), 0.0)
    """

    def __init__(self, n_inputs: int, n_neurons: int, decay: float = CHEVALIER_DECAY,
                 threshold: float = CHEVALIER_THRESHOLD, penalty: float = CHEVALIER_PENALTY) -> None:
        super().__init__()
        fn = "ChevalierLayer"
        self.fc = nn.Linear(check_int(fn, "n_inputs", n_inputs, minimum=1),
                            check_int(fn, "n_neurons", n_neurons, minimum=1))
        nn.init.xavier_uniform_(self.fc.weight)  # the post initialises every parameter with dim >= 2
        self.decay, self.threshold, self.penalty = _constants(fn, decay, threshold, penalty)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Delayed ``(inner, out)`` ``[batch, time, n_neurons]`` of the inputs ``x``
        ``[batch, time, n_inputs]``."""
        fn = "ChevalierLayer.forward"
        check_tensor(fn, "x", x, ndim=3, axes="[batch, time, n_inputs]")
        check_float(fn, "x", x)
        if x.shape[2] != self.fc.in_features:
            raise ValueError(f"{fn}: x must have {self.fc.in_features} inputs per step (n_inputs), got shape "
                             f"{tuple(x.shape)}")
        check_module_device(fn, "x", x, self)
        currents = self.fc(_to_model_dtype(x, self)).unbind(1)  # all steps at once: feedforward in x
        inner = torch.zeros_like(currents[0])
        inners, outs = [inner], [torch.zeros_like(inner)]   # step 0 returns zeros
        for current in currents[:-1]:             # the last step's state is never returned
            inner, out = _step(current, inner, self.decay, self.threshold, self.penalty)
            inners.append(inner)
            outs.append(out)
        return torch.stack(inners, 1), torch.stack(outs, 1)

    def extra_repr(self) -> str:
        return (f"decay={self.decay:g}, threshold={self.threshold:g}, penalty={self.penalty:g}, "
                "delayed by one step")


def _normalised(fn: str, images, network: str) -> torch.Tensor:
    """``ToTensor`` then ``Normalize(mean=0.5, std=1.0)``: pixels in ``[-0.5, 0.5]``, ``[batch, 784]``."""
    return images_to_float(fn, images, network).flatten(1) - 0.5


class ChevalierSpiking(nn.Module):
    """Chevalier's spiking network: noisy input, ChevalierLayer 784 -> 100 -> 10, mean of the delayed
    inner states of layer 2 over the steps, log-softmax.

    Args:
        time_steps: steps per digit (128).
        hidden: neurons of layer 1 (100).
        eval_seed: seed of the input noise in eval mode when no generator is given (eval is then
            deterministic).

    Devices: the network computes on the device of its parameters (``net.to(device)``); the images
    must be on it (else ``ValueError``) and the noise is drawn there: from ``generator``, which must
    be on the images' device, else in eval mode from a generator created on that device and seeded
    ``eval_seed``, else from that device's global generator (on the CPU the same draws as before
    devices were supported).

    Images: pixel values as floats in ``[0, 1]`` (torchvision's ``ToTensor``) or as ``uint8``
    0..255 (divided by 255), 28 x 28 digits (:func:`snnbook.models.surrogate.images_to_float`);
    floats outside ``[0, 1]`` (0..255 floats: divide by 255 or pass uint8), NaN and other sizes
    raise ``ValueError``.

    Shape:
        - Input: ``[batch, 28, 28]`` (uint8 0..255 or float in [0, 1]), ``[batch, 1, 28, 28]`` or
          ``[batch, 784]``.
        - Output: log-probabilities ``[batch, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = ChevalierSpiking(time_steps=8).eval()
        >>> x = torch.rand(2, 28, 28)
        >>> tuple(net(x).shape), torch.equal(net(x), net(x))   # eval: the noise is seeded
        ((2, 10), True)
    """

    def __init__(self, time_steps: int = CHEVALIER_TIME_STEPS, hidden: int = 100, eval_seed: int = 0) -> None:
        super().__init__()
        fn = "ChevalierSpiking"
        self.time_steps = check_int(fn, "time_steps", time_steps, minimum=1)
        self.eval_seed = check_int(fn, "eval_seed", eval_seed, minimum=0)
        self.layer1 = ChevalierLayer(784, check_int(fn, "hidden", hidden, minimum=1))
        self.layer2 = ChevalierLayer(hidden, 10)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None,
                return_record: bool = False):
        """Log-probabilities ``[batch, 10]``; ``generator`` draws the input noise (default: the
        global RNG in training mode, a fresh generator seeded ``eval_seed`` in eval mode). With
        ``return_record``, also per layer its output events (``out > 0``) per digit ``[batch]``.
        The noise is drawn on the images' device, which must be the parameters' (class docstring)."""
        fn = "ChevalierSpiking.forward"
        check_bool(fn, "return_record", return_record)
        x = _normalised(fn, images, "ChevalierSpiking")
        check_generator(fn, "generator", generator, x, "images")
        check_module_device(fn, "images", x, self)
        x = _to_model_dtype(x, self)
        if generator is None and not self.training:
            generator = seeded_generator(self.eval_seed, x.device)
        noise = torch.rand(x.shape[0], self.time_steps, x.shape[1], generator=generator, device=x.device)
        _, out1 = self.layer1(noise * x.unsqueeze(1))
        inner2, out2 = self.layer2(out1)
        logp = torch.log_softmax(inner2.mean(1), dim=-1)
        if not return_record:
            return logp
        events1 = (out1 > 0).flatten(1).sum(1).float()
        record = {"input_layer_macs": torch.full((x.shape[0],), float(784 * self.layer1.fc.out_features
                                                                       * self.time_steps), device=x.device),
                  "layer1": {"spikes": events1, "synops": events1 * 10},
                  "layer2": {"spikes": (out2 > 0).flatten(1).sum(1).float(),
                             "synops": torch.zeros(x.shape[0], device=x.device)}}
        return logp, record

    def extra_repr(self) -> str:
        return (f"time_steps={self.time_steps}, input=(pixel - 0.5) * U[0, 1) per step, "
                "logits=mean of delayed inner")


class ChevalierNonSpiking(nn.Module):
    """The non-spiking twin: ``Linear(784, 100)``, ReLU, ``Linear(100, 10)``, log-softmax (PyTorch's
    default initialisation; no noise).

    Devices: the network computes on the device of its parameters; the images must be on it (else
    ``ValueError``).

    Images: as :class:`ChevalierSpiking` (floats in ``[0, 1]`` or ``uint8`` 0..255).

    Shape:
        - Input: ``[batch, 28, 28]`` (uint8 0..255 or float in [0, 1]), ``[batch, 1, 28, 28]`` or
          ``[batch, 784]``.
        - Output: log-probabilities ``[batch, 10]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> tuple(ChevalierNonSpiking()(torch.rand(2, 28, 28)).shape)
        (2, 10)
    """

    def __init__(self, hidden: int = 100) -> None:
        super().__init__()
        hidden = check_int("ChevalierNonSpiking", "hidden", hidden, minimum=1)
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None,
                return_record: bool = False):
        """Log-probabilities ``[batch, 10]`` (``generator`` is ignored: there is no noise)."""
        fn = "ChevalierNonSpiking.forward"
        check_bool(fn, "return_record", return_record)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"{fn}: generator must be a torch.Generator or None (it is ignored), got "
                            f"{type(generator).__name__}")
        x = _normalised(fn, images, "ChevalierNonSpiking")
        check_module_device(fn, "images", x, self)
        x = _to_model_dtype(x, self)
        logp = torch.log_softmax(self.fc2(torch.relu(self.fc1(x))), dim=-1)
        if not return_record:
            return logp
        macs = float(784 * self.fc1.out_features + self.fc1.out_features * 10)
        return logp, {"input_layer_macs": torch.full((x.shape[0],), macs, device=x.device)}
