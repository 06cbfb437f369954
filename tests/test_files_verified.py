"""No damaged file is ever used: the published record is listed with its SHA-256 in a manifest
that every loader checks, weights written by a run carry the digest of their tensors, and every
loader refuses a flipped bit, a truncated or empty file, a folder, another network's file and
values outside their domain, with a message that names the loader and the file."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from snnbook import _resources, training
from snnbook.models.events_nets import EventConvSNN
from snnbook.training.run import Run, tensor_digest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def test_manifest_lists_every_file_of_the_published_record_with_its_digest():
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    files = {Path(f).relative_to("results").as_posix() for f in tracked} - {_resources.MANIFEST}
    listed = _resources.manifest(RESULTS)
    on_disk = {f for f in files if (RESULTS / f).exists()}
    assert on_disk <= set(listed), f"not in the manifest: {sorted(on_disk - set(listed))}"
    for name in on_disk:
        assert _resources._sha256(RESULTS / name) == listed[name], f"{name}: SHA-256 differs from the manifest"


def _weights(tmp_path) -> dict[str, tuple]:
    """One weights file of every kind, written as a run writes them, with its loader."""
    out = {}
    moz = torch.load(RESULTS / "mozafari2019-seed0.pt", weights_only=True)
    dc = torch.load(RESULTS / "diehl_cook2015_400-seed0.pt", weights_only=True)
    grad = torch.load(RESULTS / "surrogate_conv-seed0.pt", weights_only=True)
    net = EventConvSNN()
    ev = {"channels": list(net.channels), "beta": 0.8, "state_dict": net.state_dict()}
    for kind, obj, loader in (("mozafari2019", moz, training.load_mozafari2019),
                              ("diehl_cook2015", dc, training.load_diehl_cook2015),
                              ("gradient", grad, training.load_gradient),
                              ("events", ev, training.load_events)):
        run = Run("test", kind, tmp_path, config={})
        out[kind] = (run.save_weights(obj, kind), loader)
    return out


def test_weights_written_by_a_run_load_and_carry_their_digest(tmp_path):
    for kind, (path, loader) in _weights(tmp_path).items():
        state = torch.load(path, weights_only=True)
        assert state["kind"] == kind and state["digest"] == tensor_digest(state)
        loader(path)


@pytest.mark.parametrize("damage", ["flip", "zero_block", "truncate", "empty", "folder", "missing", "text"])
def test_every_loader_refuses_a_damaged_file(tmp_path, damage):
    for kind, (path, loader) in _weights(tmp_path).items():
        fn = loader.__name__
        blob = path.read_bytes()
        if damage == "flip":
            b = bytearray(blob)
            for i in range(len(b) // 2, len(b) // 2 + 64):
                b[i] ^= 0xFF
            path.write_bytes(bytes(b))
        elif damage == "zero_block":
            b = bytearray(blob)
            b[len(b) - 4096:len(b) - 4032] = bytes(64)
            path.write_bytes(bytes(b))
        elif damage == "truncate":
            path.write_bytes(blob[: len(blob) // 3])
        elif damage == "empty":
            path.write_bytes(b"")
        elif damage == "folder":
            path.unlink()
            path.mkdir()
        elif damage == "missing":
            path.unlink()
        else:
            path.write_text("not weights\n")
        with pytest.raises(ValueError, match=fn) as err:
            loader(path)
        assert path.name in str(err.value), str(err.value)


def test_every_loader_refuses_another_networks_file(tmp_path):
    files = _weights(tmp_path)
    for kind, (_, loader) in files.items():
        for other, (path, _) in files.items():
            if other != kind:
                with pytest.raises(ValueError, match=rf"{loader.__name__}: .*{other}"):
                    loader(path)


@pytest.mark.parametrize("kind, key, value, words", [
    ("mozafari2019", "conv1", lambda t: -t, "conv1 must lie in"),
    ("mozafari2019", "conv2", lambda t: t.float() * float("nan"), "conv2 holds NaN"),
    ("mozafari2019", "conv3", lambda t: t[:15], "multiple of 10"),
    ("mozafari2019", "conv1", lambda t: t[:, :, :4], "conv1 must have shape"),
    ("mozafari2019", "time_steps", lambda t: 0, "time_steps must be an integer"),
    ("diehl_cook2015", "labels", lambda t: t.clone().fill_(11), "labels must lie in"),
    ("diehl_cook2015", "theta", lambda t: t * float("nan"), "theta holds NaN"),
    ("diehl_cook2015", "weight", lambda t: t[:700], "weight must have shape"),
    ("diehl_cook2015", "labels", lambda t: t.float(), "labels must have dtype"),
    ("gradient", "network", lambda t: "resnet", "network must be one of"),
    ("gradient", "state_dict", lambda t: {k: v[:1] if v.dim() else v for k, v in t.items()}, "must have shape"),
    ("events", "beta", lambda t: 1.5, "beta must be"),
])
def test_values_outside_their_domain_are_refused_even_with_a_valid_digest(tmp_path, kind, key, value, words):
    path, loader = _weights(tmp_path)[kind]
    state = torch.load(path, weights_only=True)
    state[key] = value(state[key])
    state["digest"] = tensor_digest(state)
    torch.save(state, path)
    with pytest.raises(ValueError, match=rf"{loader.__name__}: .*{words}"):
        loader(path)


def test_a_damaged_file_of_the_published_record_is_refused(tmp_path, monkeypatch):
    record = tmp_path / "record"
    record.mkdir()
    for name in ("mozafari2019-seed0.pt", "surrogate_fc.json", "surrogate_fc-seed0.json", _resources.MANIFEST):
        shutil.copy(RESULTS / name, record)
    monkeypatch.setattr(_resources, "published_dir", lambda: record)
    training.load_mozafari2019(record / "mozafari2019-seed0.pt")  # intact: loads
    b = bytearray((record / "mozafari2019-seed0.pt").read_bytes())
    b[len(b) // 2] ^= 1
    (record / "mozafari2019-seed0.pt").write_bytes(bytes(b))
    with pytest.raises(ValueError, match="load_mozafari2019: .*mozafari2019-seed0.pt is damaged.*SHA-256"):
        training.load_mozafari2019(record / "mozafari2019-seed0.pt")
    shutil.copy(RESULTS / "mozafari2019-seed1.pt", record / "unlisted.pt")
    with pytest.raises(ValueError, match="does not list it"):
        training.load_mozafari2019(record / "unlisted.pt")
    text = (record / "surrogate_fc-seed0.json").read_text().replace("0.9", "0.8", 1)
    (record / "surrogate_fc-seed0.json").write_text(text)
    runs, left_out = training.collect(record.glob("surrogate_fc-seed*.json"))
    assert not runs and "damaged" in left_out[0]["reason"]


def test_a_copy_of_a_published_file_loads_anywhere(tmp_path):
    shutil.copy(RESULTS / "diehl_cook2015_400-seed0.pt", tmp_path)
    training.load_diehl_cook2015(tmp_path / "diehl_cook2015_400-seed0.pt")
