"""Rewrite the ``deviations`` field of published results files from the library's lists.

Each network's recipe keeps one list of its deviations from the paper and its reference code
(``snnbook.training.<recipe>.DEVIATIONS``) and writes it into every results file it produces.
Files written before a list changed still carry the old one; this script replaces it, and
changes nothing else in the file. Running it twice changes nothing the second time.

    .venv/bin/python tools/update_deviations.py            # rewrite results/
    .venv/bin/python tools/update_deviations.py --check    # exit 1 if a file is out of date

To add a network, add an entry to ``NETWORKS``: the file patterns its recipe writes and the
dotted path of its list. The manifest of the published record (``results/SHA256SUMS``) is not
touched: regenerate it afterwards (``snnbook._resources.write_manifest``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: network -> (glob patterns of its results files in the results folder, "module:LIST").
NETWORKS = {
    "mozafari2019": (["mozafari2019*.json"], "snnbook.training.mozafari2019:DEVIATIONS"),
}


def deviations(spec: str) -> list[str]:
    """The list named by ``"module:NAME"`` (a list of strings)."""
    module, name = spec.split(":")
    value = getattr(importlib.import_module(module), name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"update_deviations: {spec} must be a list of str, got {value!r}")
    return list(value)


def update(results: Path, networks=None, check: bool = False) -> list[Path]:
    """Set ``deviations`` in every results file of ``networks`` (default: all) under ``results``.

    Returns:
        The files whose field differed (rewritten unless ``check``).
    """
    changed = []
    for network in networks or NETWORKS:
        patterns, spec = NETWORKS[network]
        wanted = deviations(spec)
        paths = sorted({p for pattern in patterns for p in results.glob(pattern)})
        for path in paths:
            text = path.read_text()
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"update_deviations: {path} does not hold a JSON object")
            if data.get("deviations") == wanted:
                continue
            changed.append(path)
            if check:
                continue
            data["deviations"] = wanted  # an existing key keeps its place, a new one goes last
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
