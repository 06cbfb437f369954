"""Label the published Diehl & Cook networks as the recipe now does, from their shipped weights.

The recipe (``snnbook.training.diehl_cook2015``) holds the last 10 000 training digits out of
labelling and chooses the size of the labelling set on them (validation digits), never on test
digits; then it classifies the test digits once. Networks trained before it did so are brought up
to date from their shipped weights with the recipe's own function
(:func:`snnbook.training.diehl_cook2015.label_and_test`): training is not repeated, only the
(cheap) labelling and the test. For each ``results/diehl_cook2015_*-seed*.json``

* with its weights (``.pt``) beside it: the network answers the training digits that labelling
  reads (the last 30 000) and the test digits with learning off (the responses are cached under
  ``runs/relabel_diehl_cook2015/``), is labelled as the recipe labels, and is tested once; the results file gets the new test numbers, the
  ``labelling`` record (the candidates' validation accuracies and the chosen size), the
  ``training_digits_won`` per neuron, the labelling and test wall times and the recipe's
  ``deviations``; the ``.pt`` gets the new labels (and the digest of its tensors);
* without weights (they are not shipped): only ``deviations`` and a ``labelling`` record that
  states the fixed labelling set of its command are written.

The event-camera variant's files (``results/events_stdp_diehl_cook2015_*.json``), which carry this
network's list of deviations after two of their own, get the current list too.

Before it relabels a network for the first time, the script checks that the labels the file
holds, applied to the responses, give the test accuracy the file records: the weights and the
engine are the ones the record was made with. That check only reproduces a recorded number; the
test digits choose nothing. Running it again recomputes the same labels and writes the same files.

    .venv/bin/python tools/relabel_diehl_cook2015.py                 # every published run
    .venv/bin/python tools/relabel_diehl_cook2015.py 400-seed0 100   # names containing these

The manifest of the published record (``results/SHA256SUMS``) gets the new digests of the files
written (``snnbook._resources.update_manifest``, as the training command does).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "relabel_diehl_cook2015"
COMMAND = "python tools/relabel_diehl_cook2015.py"


def _fixed_record(r: dict) -> dict:
    """The labelling record of a run whose weights are not shipped: its command's fixed set."""
    n_train = r["config"]["train_digits"]
    k = r["config"].get("label_digits") or n_train
    if isinstance(r.get("labelling"), dict):
        return r["labelling"]
    return {"label_digits": k, "labelling_digits": [n_train - k, n_train], "selected_on": "fixed",
            "validation_digits": None, "candidates": None, "validation_accuracy": None,
            "note": f"the last {k} training digits, fixed by the command line before the test; the "
                    "weights of this run are not shipped, so the set was not chosen on validation digits"}


def relabel(json_path: Path, threads: int = 1) -> dict:
    """Bring one results file (and its weights) up to date; return the new results dict."""
    from snnbook import data
    from snnbook._resources import update_manifest
    from snnbook.models.diehl_cook2015 import classify
    from snnbook.training import diehl_cook2015 as recipe
    from snnbook.training.run import tensor_digest, write_json

    torch.set_num_threads(threads)
    r = json.loads(json_path.read_text())
    pt = json_path.with_suffix(".pt")
    if not pt.exists():
        r["labelling"] = _fixed_record(r)
        r["deviations"] = list(recipe.DEVIATIONS)
        write_json(json_path, r)
        update_manifest(json_path.parent, [json_path])
        return r

    model = recipe.load_diehl_cook2015(pt)
    n_train = r["config"]["train_digits"]
    n_test = r["config"]["test_digits"]
    images, targets = data.mnist_tensors(train=True, n=n_train)
    validation = min(recipe.VALIDATION_DIGITS, max(1, n_train // 6))
    lo = recipe.labelling_start(n_train, validation)
    blob = torch.load(pt, weights_only=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    weights_id = tensor_digest({"weight": blob["weight"], "theta": blob["theta"], "seed": blob["seed"]})[:16]
    cache = CACHE / f"{json_path.stem}-{weights_id}-from{lo}.pt"
    if cache.exists():
        cached = torch.load(cache, weights_only=True)
    else:
        t0 = time.perf_counter()
        train_counts = model.responses(images[lo:], stream=2, first_index=lo)
        wall_train_counts = time.perf_counter() - t0
        test_images, _ = data.mnist_tensors(train=False, n=n_test)
        t0 = time.perf_counter()
        test_counts = model.responses(test_images, stream=3)
        cached = {"train": train_counts.to(torch.int16), "test": test_counts.to(torch.int16),
                  "wall_train_s": wall_train_counts, "wall_test_s": time.perf_counter() - t0}
        torch.save(cached, cache)
    train_counts, test_counts = cached["train"].long(), cached["test"].long()

    # the weights and the engine are the record's: the labels the file holds give its test accuracy
    _, test_targets = data.mnist_tensors(train=False, n=n_test)
    recorded = float((classify(test_counts, blob["labels"]) == test_targets).double().mean())
    if "labelling" not in r and recorded != r["test_accuracy"]:
        raise SystemExit(f"relabel_diehl_cook2015: {pt}: its labels give {recorded} on the test digits, the "
                         f"file records {r['test_accuracy']}; the weights or the engine differ from the record's")

    model.train()
    ev = recipe.label_and_test(model, images, targets, validation, None, n_test, train_counts=train_counts,
                               test_counts=test_counts)
    r.update(ev["fields"])
    r["config"] = {**r["config"], "label_digits": None, "validation_digits": validation}
    r["wall_time_label_s"] = round(float(cached["wall_train_s"]), 1)  # the responses; choosing takes ms
    r["wall_time_test_s"] = round(float(cached["wall_test_s"]), 1)
    r["wall_time_total_s"] = round(r["wall_time_train_s"] + r["wall_time_label_s"] + r["wall_time_test_s"], 1)
    r["relabelled_with"] = COMMAND
    r["deviations"] = list(recipe.DEVIATIONS)
    write_json(json_path, r)
    written = [json_path]
    if not torch.equal(blob["labels"], model.labels):
        blob["labels"] = model.labels.clone()
        blob["digest"] = tensor_digest(blob)
        tmp = pt.with_name(pt.name + ".tmp")
        torch.save(blob, tmp)
        tmp.replace(pt)
        written.append(pt)
    update_manifest(json_path.parent, written)
    return r


def update_events_deviations(results: Path) -> list[Path]:
    """The event-camera variant (``snnbook.training.events.train_events_stdp``) writes its own two
    deviations followed by this network's list: give its published files the current list."""
    from snnbook._resources import update_manifest
    from snnbook.training.diehl_cook2015 import DEVIATIONS
    from snnbook.training.run import write_json
    written = []
    for p in sorted(results.glob("events_stdp_diehl_cook2015_*-seed*.json")):
        r = json.loads(p.read_text())
        new = r["deviations"][:2] + list(DEVIATIONS)
        if new != r["deviations"]:
            r["deviations"] = new
            write_json(p, r)
            written.append(p)
    update_manifest(results, written)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="relabel_diehl_cook2015", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only the runs whose file name contains one of these")
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="the results folder")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.results.glob("diehl_cook2015_*-seed*.json")
                   if not args.names or any(n in p.stem for n in args.names))
    if not files:
        print(f"relabel_diehl_cook2015: no results file in {args.results} matches {args.names}", file=sys.stderr)
        return 2
    for p in update_events_deviations(args.results):
        print(f"{p.name}: deviations updated", flush=True)
    for p in files:
        t0 = time.perf_counter()
        r = relabel(p)
        lab = r["labelling"]
        print(f"{p.name}: labels on {lab['label_digits']} digits ({lab['selected_on']}), validation "
              f"{lab['validation_accuracy']}, test {r['test_accuracy']:.4f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
