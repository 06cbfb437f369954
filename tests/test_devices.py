"""Devices of the model classes: every network trained by gradient trains on the device of its
parameters (one optimizer step on "cpu", and on "cuda" where there is one), its random draws come
from generators on the input's device (an argument on another device is refused with a message that
names the function and the argument), inputs on another device than the parameters are refused
clearly, and the event-driven STDP networks document and handle their CPU-only engine."""
from __future__ import annotations

import inspect

import pytest
import torch
from torch.nn import functional as F

from snnbook.models import _devices, chevalier, events_nets, surrogate
from snnbook.models.chevalier import ChevalierNonSpiking, ChevalierSpiking
from snnbook.models.diehl_cook2015 import DiehlCook2015
from snnbook.models.events_nets import EventConvSNN, events_batch
from snnbook.models.mozafari2019 import Mozafari2019
from snnbook.models.spikeprop import SpikePropNet, spike_time_error
from snnbook.models.surrogate import LIF, SurrogateConv, SurrogateFC

HAS_CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device on this "
                                                                "machine (torch.cuda.is_available() is False)"))]


class _ClaimingGenerator(torch.Generator):
    """A CPU generator that says it lives on ``claimed``: the wrong-device path without a GPU."""

    claimed = torch.device("cpu")

    @property
    def device(self):
        return self.claimed


def _GeneratorElsewhere(device: str = "cuda:0") -> torch.Generator:
    g = _ClaimingGenerator()  # (torch.Generator's constructor would try to open that device)
    g.claimed = torch.device(device)
    return g


def _images(device, n=3):
    return torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(1)).to(device)


def _labels(device, n=3):
    return torch.arange(n, device=device) % 10


def _loss(name, model, x, y, generator):
    if name.startswith("surrogate_fc"):
        _, potentials = model(x, generator=generator)
        steps = potentials.shape[1]
        return F.cross_entropy(potentials.flatten(0, 1), y.repeat_interleave(steps)) * steps
    if name == "chevalier":
        return F.nll_loss(model(x, generator=generator), y)
    if name == "chevalier_nonspiking":
        return F.nll_loss(model(x), y)
    if name == "spikeprop":
        return spike_time_error(model(x), y)
    return F.cross_entropy(model(x), y)


NETWORKS = {
    "chevalier": lambda: ChevalierSpiking(time_steps=4, hidden=8),
    "chevalier_nonspiking": lambda: ChevalierNonSpiking(hidden=8),
    "surrogate_fc_rate": lambda: SurrogateFC(hidden=8, time_steps=4),
    "surrogate_fc_direct": lambda: SurrogateFC(hidden=8, time_steps=4, coding="direct"),
    "surrogate_conv": lambda: SurrogateConv(channels=(2, 4), hidden=8, time_steps=2),
    "event_conv": lambda: EventConvSNN(channels=(2, 4)),
    "spikeprop": lambda: SpikePropNet((4, 3, 2), seed=0),
}


def _batch(name, device):
    if name == "event_conv":
        x = torch.rand(2, 3, 2, 34, 34, generator=torch.Generator().manual_seed(2)).to(device)
        return x, _labels(device, 2)
    if name == "spikeprop":
        x = torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 3.0, 2.0]], dtype=torch.float64, device=device)
        return x, torch.tensor([[6.0, 9.0], [9.0, 6.0]], dtype=torch.float64, device=device)
    return _images(device), _labels(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(NETWORKS))
def test_one_optimizer_step_on_the_device(name, device):
    torch.manual_seed(0)
    model = NETWORKS[name]().to(device).train()
    x, y = _batch(name, device)
    generator = torch.Generator(device=device).manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    before = [p.detach().clone() for p in model.parameters()]
    loss = _loss(name, model, x, y, generator)
    assert torch.isfinite(loss), f"{name} on {device}: loss {loss}"
    assert loss.device.type == device
    opt.zero_grad()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.device.type == device and torch.isfinite(g).all() for g in grads)
    opt.step()
    assert all(p.device.type == device for p in model.parameters())
    assert all(b.device.type == device for b in model.buffers())  # e.g. the batch norms' statistics
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, model.parameters()))
    for m in model.modules():  # a kept LIF state (EventConvSNN keeps its last one) is on the device
        if isinstance(m, LIF) and m.v is not None:
            assert m.v.device.type == device and m.s.device.type == device
    if name == "event_conv":
        assert model.spike_counts.device.type == device


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,module", [("chevalier", chevalier), ("surrogate_fc_rate", surrogate)])
def test_eval_seed_generators_are_created_on_the_input_device(name, module, device, monkeypatch):
    created = []

    def recording(seed, dev):
        g = _devices.seeded_generator(seed, dev)
        created.append(g)
        return g

    monkeypatch.setattr(module, "seeded_generator", recording)
    torch.manual_seed(0)
    model = NETWORKS[name]().to(device).eval()
    x = _images(device)
    with torch.no_grad():
        first, second = model(x), model(x)
        explicit = model(x, generator=torch.Generator(device=device).manual_seed(model.eval_seed))
    assert len(created) == 2 and all(g.device.type == device for g in created)
    out = (lambda o: o[1]) if name.startswith("surrogate_fc") else (lambda o: o)
    assert torch.equal(out(first), out(second)) and torch.equal(out(first), out(explicit))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["chevalier", "chevalier_nonspiking", "surrogate_fc_rate", "surrogate_conv"])
def test_records_are_on_the_input_device(name, device):
    torch.manual_seed(0)
    model = NETWORKS[name]().to(device).eval()
    with torch.no_grad():
        record = model(_images(device), return_record=True)[-1]
    tensors = [v for v in record.values() if isinstance(v, torch.Tensor)]
    tensors += [t for v in record.values() if isinstance(v, dict) for t in v.values()]
    assert tensors and all(t.device.type == device for t in tensors)


@pytest.mark.parametrize("call", [
    lambda g: SurrogateFC(hidden=4, time_steps=2)(_images("cpu"), generator=g),
    lambda g: SurrogateFC(hidden=4, time_steps=2).eval()(_images("cpu"), generator=g),
    lambda g: ChevalierSpiking(time_steps=2, hidden=4)(_images("cpu"), generator=g),
], ids=["surrogate_fc_train", "surrogate_fc_eval", "chevalier"])
def test_a_generator_on_another_device_is_refused(call):
    with pytest.raises(ValueError, match=r"\.forward: generator must be a torch.Generator on the device of images \(cpu\), "
                                         r"got one on cuda:0"):
        call(_GeneratorElsewhere("cuda:0"))
    with pytest.raises(TypeError, match=r"\.forward: generator must be a torch.Generator or None"):
        call(0)


def test_encode_refuses_a_generator_on_another_device():
    with pytest.raises(ValueError, match="SurrogateFC.encode: generator .* cuda:1"):
        SurrogateFC(hidden=4, time_steps=2).encode(_images("cpu"), _GeneratorElsewhere("cuda:1"))


def test_same_device_reads_an_index_free_name_as_the_current_device():
    assert _devices.same_device("cpu", torch.device("cpu"))
    assert not _devices.same_device("cpu", "cuda:0")
    assert not _devices.same_device("cuda:0", "cuda:1")
    assert _devices.same_device("cuda:0", "cuda:0")
    current = torch.cuda.current_device() if HAS_CUDA else 0
    assert _devices.same_device("cuda", f"cuda:{current}")


@pytest.mark.skipif(not HAS_CUDA, reason="needs a second device (CUDA) for a real generator elsewhere")
def test_a_real_cpu_generator_with_cuda_images_is_refused():
    model = SurrogateFC(hidden=4, time_steps=2).cuda()
    with pytest.raises(ValueError, match="SurrogateFC.forward: generator .* cuda"):
        model(_images("cuda"), generator=torch.Generator())
    with pytest.raises(ValueError, match="ChevalierSpiking.forward: generator"):
        ChevalierSpiking(time_steps=2, hidden=4).cuda()(_images("cuda"), generator=torch.Generator())


# --- inputs on another device than the parameters -----------------------------------------------------
# Without a GPU the parameters go to the meta device (shapes only) and the input stays on the CPU.
@pytest.mark.parametrize("name,fn,arg", [
    ("chevalier", "ChevalierSpiking.forward", "images"),
    ("chevalier_nonspiking", "ChevalierNonSpiking.forward", "images"),
    ("surrogate_fc_rate", "SurrogateFC.forward", "images"),
    ("surrogate_fc_direct", "SurrogateFC.forward", "images"),
    ("surrogate_conv", "SurrogateConv.forward", "images"),
    ("event_conv", "EventConvSNN.forward", "x"),
])
def test_an_input_on_another_device_than_the_parameters_is_refused(name, fn, arg):
    model = NETWORKS[name]().to("meta")
    x, _ = _batch(name, "cpu")
    with pytest.raises(ValueError, match=rf"{fn}: {arg} must be on the model's device meta .* got {arg} on cpu"):
        model(x)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_images_with_a_cpu_model_are_refused():
    with pytest.raises(ValueError, match="SurrogateConv.forward: images must be on the model's device cpu"):
        SurrogateConv(channels=(2, 4), hidden=8)(_images("cuda"))


def test_the_lif_state_follows_the_module_and_refuses_other_devices():
    lif = LIF(beta=0.5)
    lif.run(torch.full((1, 2, 3), 0.6))
    assert lif.v.dtype == torch.float32
    lif.double()  # the kept state is converted with the module
    assert lif.v.dtype == torch.float64 and lif.s.dtype == torch.float64
    spikes, _ = lif.run(torch.full((1, 2, 3), 0.6, dtype=torch.float64))
    assert spikes.dtype == torch.float64
    lif.to("meta")
    assert lif.v.device.type == "meta"
    with pytest.raises(ValueError, match=r"LIF.run: currents must be on the device of the kept state meta"):
        lif.run(torch.ones(1, 2, 3, dtype=torch.float64))
    lif.reset_state()
    assert lif.run(torch.ones(1, 2, 3))[0].shape == (1, 2, 3)


def test_events_batch_returns_the_input_on_the_requested_device():
    class FakeDataset:
        def spikes(self, indices, time_window=None, shuffle=False, frame=False):
            return torch.ones(len(indices), 1 if frame else 10, 2, 34, 34)

    assert events_batch(FakeDataset(), [0, 1], "binned").device.type == "cpu"
    x = events_batch(FakeDataset(), [0, 1], "frame", device="cpu")
    assert x.device.type == "cpu" and x.shape == (2, 10, 2, 34, 34)
    with pytest.raises(ValueError, match="events_batch: device must be a torch.device .* got 'nowhere'"):
        events_batch(FakeDataset(), [0], "binned", device="nowhere")
    if HAS_CUDA:
        assert events_batch(FakeDataset(), [0], "binned", device="cuda").device.type == "cuda"


# --- the event-driven STDP networks: CPU-only engine ---------------------------------------------------
@pytest.mark.parametrize("cls", [Mozafari2019, DiehlCook2015])
def test_stdp_networks_document_their_cpu_only_engine(cls):
    doc = " ".join(inspect.getdoc(cls).split())
    assert "CPU-only engine" in doc and "moved to the CPU" in doc and "CPU tensors" in doc


def test_cpu_engine_input_keeps_cpu_tensors_and_passes_non_tensors():
    model = DiehlCook2015(n_neurons=2)
    x = torch.zeros(2, 28, 28, dtype=torch.uint8)
    assert _devices.cpu_engine_input("f", model, x) is x
    assert _devices.cpu_engine_input("f", model, "not a tensor") == "not a tensor"


@pytest.mark.parametrize("call,fn", [
    (lambda m: m.learn(torch.zeros(1, 28, 28, dtype=torch.uint8)), "DiehlCook2015.learn"),
    (lambda m: m.responses(torch.zeros(1, 28, 28, dtype=torch.uint8)), "DiehlCook2015.responses"),
    (lambda m: m.assign_labels(torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, dtype=torch.long)),
     "DiehlCook2015.assign_labels"),
    (lambda m: m(torch.zeros(1, 28, 28, dtype=torch.uint8)), "DiehlCook2015.forward"),
], ids=["learn", "responses", "assign_labels", "forward"])
def test_diehl_cook_refuses_to_leave_the_cpu(call, fn):
    model = DiehlCook2015(n_neurons=2).to("meta")
    with pytest.raises(ValueError, match=rf"{fn}: the model must stay on the CPU .* got its parameters or "
                                         r"buffers on meta; call model.cpu\(\)"):
        call(model)


@pytest.mark.parametrize("call,fn", [
    (lambda m: m.encode(torch.zeros(1, 28, 28, dtype=torch.uint8)), "Mozafari2019.encode"),
    (lambda m: m(torch.zeros(1, 6, 28, 28, dtype=torch.uint8)), "Mozafari2019.forward"),
    (lambda m: m.s3_input(torch.zeros(1, 6, 28, 28, dtype=torch.uint8)), "Mozafari2019.s3_input"),
    (lambda m: m.learn_stdp(1, torch.zeros(1, 6, 28, 28, dtype=torch.uint8)), "Mozafari2019.learn_stdp"),
    (lambda m: m.learn_rstdp(torch.zeros(1, 6, 28, 28, dtype=torch.uint8), torch.zeros(1, dtype=torch.long)),
     "Mozafari2019.learn_rstdp"),
    (lambda m: m.classify_s3(torch.zeros(1, 250, 4, 4, dtype=torch.bool)), "Mozafari2019.classify_s3"),
], ids=["encode", "forward", "s3_input", "learn_stdp", "learn_rstdp", "classify_s3"])
def test_mozafari_refuses_to_leave_the_cpu(call, fn):
    model = Mozafari2019(s3_features=10, seed=0).to("meta")
    with pytest.raises(ValueError, match=rf"{fn}: the model must stay on the CPU .* on meta"):
        call(model)


@pytest.mark.parametrize("device", DEVICES)
def test_diehl_cook_takes_inputs_on_any_device_and_answers_on_the_cpu(device):
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 12:16] = 255
    reference = DiehlCook2015(n_neurons=4, seed=0).eval().responses(images)
    model = DiehlCook2015(n_neurons=4, seed=0).eval()
    counts = model.responses(images.to(device))
    assert counts.device.type == "cpu" and torch.equal(counts, reference)
    assert all(b.device.type == "cpu" for b in model.buffers())
    trained = DiehlCook2015(n_neurons=4, seed=0)
    learned = trained.learn(images.to(device))
    assert learned.device.type == "cpu" and trained.weight.device.type == "cpu"
    labels = trained.assign_labels(images.to(device), torch.tensor([1, 2], device=device))
    assert labels.device.type == "cpu"
    assert trained.eval()(images.to(device)).device.type == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_mozafari_takes_inputs_on_any_device_and_answers_on_the_cpu(device):
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 12:16] = 255
    model = Mozafari2019(s3_features=10, seed=0)
    times = model.encode(images.to(device))
    assert times.device.type == "cpu" and torch.equal(times, model.encode(images))
    decisions = model.eval()(times.to(device))
    assert decisions.device.type == "cpu" and decisions.shape == (2,)
    active = model.s3_input(times.to(device))
    assert active.device.type == "cpu"
    assert model.classify_s3(active.to(device)).device.type == "cpu"
    model.train()
    assert model.learn_stdp(1, times.to(device)).device.type == "cpu"
    assert model.learn_rstdp(times.to(device), torch.tensor([1, 2], device=device)).device.type == "cpu"
    assert all(t.device.type == "cpu" for t in [*model.parameters(), *model.buffers()])
