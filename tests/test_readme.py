"""The README's library example runs as printed and does what its comments say."""
from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs_with_the_shapes_it_states():
    blocks = python_blocks()
    assert len(blocks) == 1, "expected one ```python block in README.md"
    scope: dict = {}
    exec(compile(blocks[0], str(README), "exec"), scope)
    assert scope["maps"].shape == (64, 6, 28, 28)
    assert scope["waves"].shape == (64, 15, 6, 32, 32)
    assert scope["potentials"].shape == (64, 15, 30, 28, 28)
    winners = scope["winners"]
    assert winners.shape == (64, 5, 3) and winners.dtype == torch.long
    # cumulative spike-waves; weights stay in the STDP bounds and changed where winners learned
    assert bool((scope["waves"][:, 1:] >= scope["waves"][:, :-1]).all())
    w = scope["weight"]
    assert 0.0 <= float(w.min()) and float(w.max()) <= 1.0
    initial = torch.empty(30, 6, 5, 5).normal_(0.8, 0.05, generator=torch.Generator().manual_seed(0))
    learned = winners[..., 0][winners[..., 0] >= 0].unique()
    assert len(learned) > 0
    changed = (w != initial).flatten(1).any(1)
    assert torch.equal(changed.nonzero().flatten(), learned)
    # the whole network: compact times, S1 winners, decisions
    assert scope["times"].shape == (64, 6, 28, 28) and scope["times"].dtype == torch.uint8
    assert scope["winners1"].shape == (64, 5, 3)
    assert scope["decisions"].shape == (64,) and bool(((scope["decisions"] >= -1) & (scope["decisions"] < 10)).all())
