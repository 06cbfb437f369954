"""Every public name of the library has a docstring, and every function or module that takes a
tensor states the tensor shapes with named axes."""
from __future__ import annotations

import importlib
import inspect
import re

import pytest

CORE = ["retina", "coding", "neurons", "layers", "competition", "plasticity"]
OTHER = ["data", "viz", "widgets", "training", "train", "models", "models.mozafari2019", "models.spikeprop",
         "compare", "interop", "models.diehl_cook2015", "models.chevalier",
         "models.surrogate", "models.events_nets", "monitors", "events", "training.run", "training.cards",
         "training.mozafari2019", "training.gradient", "training.diehl_cook2015", "training.events", "cli",
         "models.kheradpisheh2018", "training.kheradpisheh2018", "models.conversion", "training.conversion",
         "sweep"]
TENSOR_ARGS = {"x", "spikes", "potentials", "images", "weight", "intensity", "intensities", "frames",
               "input_spikes", "output_spikes", "currents", "input_current", "kernels",
               "thresholded_potentials", "trace", "winners", "pre_spikes", "post_spikes"}


def public_names(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


def tensor_arguments(obj) -> set[str]:
    target = obj.forward if inspect.isclass(obj) and hasattr(obj, "forward") else obj
    try:
        return set(inspect.signature(target).parameters) & TENSOR_ARGS
    except (TypeError, ValueError):
        return set()


@pytest.mark.parametrize("module_name", CORE + OTHER)
def test_every_public_name_has_a_docstring(module_name):
    module = importlib.import_module(f"snnbook.{module_name}")
    assert inspect.getdoc(module) and "Chapter" in inspect.getdoc(module), "module docstring names its chapter"
    missing = [name for name, obj in public_names(module) if not inspect.getdoc(obj)]
    assert not missing, f"no docstring: {missing}"


@pytest.mark.parametrize("module_name", CORE)
def test_tensor_functions_state_their_shapes(module_name):
    module = importlib.import_module(f"snnbook.{module_name}")
    checked, missing = 0, []
    for name, obj in public_names(module):
        if not tensor_arguments(obj):
            continue
        checked += 1
        doc = inspect.getdoc(obj) + (inspect.getdoc(getattr(obj, "forward", None)) or "" if inspect.isclass(obj) else "")
        in_place_twin = doc.startswith("In-place version of :func:")
        elementwise = re.search(r"Shape:\s*\n\s*-\s*Input: any", doc)
        if not (in_place_twin or elementwise or ("Shape" in doc and re.search(r"\[[a-z_]+,", doc))):
            missing.append(name)
    assert checked, f"no tensor-taking public names found in {module_name}"
    assert not missing, f"no Shape section with named axes: {missing}"
