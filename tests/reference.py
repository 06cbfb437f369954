"""Helpers shared by the test modules: where the SpykeTorch reference fixtures live, how to load
one, and the CUDA device parameter (skipped where no GPU is present)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
#: Recorded SpykeTorch input/output pairs (``../shared/fixtures/spyketorch`` beside the repository,
#: or the folder named by ``$SNNBOOK_FIXTURES``, e.g. another recorded set).
FIXTURES = Path(os.environ.get("SNNBOOK_FIXTURES", ROOT.parent / "shared" / "fixtures" / "spyketorch"))
#: ``allclose`` tolerance for floats compared with the reference.
TOL = dict(atol=1e-6, rtol=1e-5)
#: A ``device`` parameter value that runs on CUDA where available and is skipped elsewhere.
CUDA = [pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def load(name: str):
    """Load fixture ``name`` with ``weights_only=True``; skip the test when it is missing."""
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} missing; set SNNBOOK_FIXTURES to the recorded SpykeTorch fixtures")
    return torch.load(path, weights_only=True)
