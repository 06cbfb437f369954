"""Rewrite the ``deviations`` field (and, for the gradient-trained networks, ``paper``) of
published results files from the library's lists.

Each network's recipe keeps one list of its deviations from the paper and its reference code
(``snnbook.training.<recipe>.DEVIATIONS``, ``GRADIENT_DEVIATIONS[network]``) and writes it into
every results file it produces. Files written before a list changed still carry the old one; this
script replaces it, and changes nothing else in the file. Running it twice changes nothing the
second time.

    .venv/bin/python tools/update_deviations.py            # rewrite results/
    .venv/bin/python tools/update_deviations.py --check    # exit 1 if a file is out of date

To add a network, add an entry to ``NETWORKS``: the file patterns its recipe writes and the
function giving the fields a file should hold. The manifest of the published record
(``results/SHA256SUMS``) is not touched: regenerate it afterwards
(``snnbook._resources.write_manifest``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _listed(spec: str):
    """Fields from the list named by ``"module:NAME"`` (a list of str): ``{"deviations": [...]}``."""
    def fields(data: dict) -> dict:
        module, name = spec.split(":")
        value = getattr(importlib.import_module(module), name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"update_deviations: {spec} must be a list of str, got {value!r}")
        return {"deviations": list(value)}
    return fields


def gradient_fields(data: dict) -> dict:
    """The ``deviations`` and ``paper`` a results file or card of ``data["network"]`` (a
    gradient-trained network) should hold: a per-seed file (it has a ``name``) holds the citation
    string, a card the whole paper entry.

    Example:
        >>> fields = gradient_fields({"network": "surrogate_fc", "name": "surrogate_fc-seed0"})
        >>> sorted(fields), isinstance(fields["paper"], str)
        (['deviations', 'paper'], True)
    """
    from snnbook.training.gradient import GRADIENT_DEVIATIONS, GRADIENT_PAPERS
    fn = "gradient_fields"
    if not isinstance(data, dict):
        raise TypeError(f"{fn}: data must be a results dict, got {type(data).__name__}")
    network = data.get("network")
    if network not in GRADIENT_DEVIATIONS:
        raise ValueError(f"{fn}: data['network'] must be one of {sorted(GRADIENT_DEVIATIONS)}, "
                         f"got {network!r}")
    paper = GRADIENT_PAPERS[network]
    return {"deviations": list(GRADIENT_DEVIATIONS[network]),
            "paper": paper["citation"] if "name" in data else paper}


#: network -> (glob patterns of its results files in the results folder, fields(data) -> dict).
NETWORKS = {
    "mozafari2019": (["mozafari2019*.json"], _listed("snnbook.training.mozafari2019:DEVIATIONS")),
    "gradient": (["chevalier*.json", "surrogate_fc*.json", "surrogate_conv*.json"], gradient_fields),
}


def update(results: Path, networks=None, check: bool = False) -> list[Path]:
    """Set ``deviations`` (and the other fields of each network's entry) in every results file of
    ``networks`` (default: all) under ``results``.

    Returns:
        The files whose field differed (rewritten unless ``check``).
    """
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"update: results must be a folder of results files, got {str(results)!r}")
    changed = []
    for network in networks or NETWORKS:
        patterns, fields = NETWORKS[network]
        paths = sorted({p for pattern in patterns for p in results.glob(pattern)})
        for path in paths:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"update_deviations: {path} does not hold a JSON object")
            wanted = fields(data)
            if all(data.get(k) == v for k, v in wanted.items()):
                continue
            changed.append(path)
            if check:
                continue
            data.update(wanted)  # an existing key keeps its place, a new one goes last
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=2) + "\n")
            tmp.replace(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results",
                        help="the results folder (default: the repository's results/)")
    parser.add_argument("--network", action="append", choices=sorted(NETWORKS),
                        help="only this network (may be repeated; default: all)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file's deviations are out of date")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a folder")
    changed = update(args.results, args.network, check=args.check)
    for path in changed:
        print(("out of date: " if args.check else "updated: ") + path.name)
    if not changed:
        print("every deviations field is up to date")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
