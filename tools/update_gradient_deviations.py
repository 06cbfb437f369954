"""Rewrite the ``deviations`` (and ``paper``) fields of the published results files of the
gradient-trained networks (Chevalier's network and the surrogate-gradient networks) from the
library's lists.

The recipe :mod:`snnbook.training.gradient` keeps one list of deviations per network
(``GRADIENT_DEVIATIONS``) and one citation (``GRADIENT_PAPERS``) and writes them into every
results file and card it produces. Files written before a list changed still carry the old text;
this script replaces those two fields and changes nothing else. Running it twice changes nothing
the second time.

    .venv/bin/python tools/update_gradient_deviations.py          # rewrite results/
    .venv/bin/python tools/update_gradient_deviations.py --check  # exit 1 if out of date

The manifest of the published record (``results/SHA256SUMS``) is not touched: regenerate it
afterwards (``snnbook._resources.write_manifest``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Glob patterns of the results files (per-seed runs and cards) this script keeps up to date.
PATTERNS = ("chevalier*.json", "surrogate_fc*.json", "surrogate_conv*.json")


def wanted_fields(data: dict) -> dict:
    """The ``deviations`` and ``paper`` a results file or card of ``data["network"]`` should hold.

    A per-seed file (it has a ``name``) holds the citation string; a card the whole paper entry.

    Example:
        >>> fields = wanted_fields({"network": "surrogate_fc", "name": "surrogate_fc-seed0"})
        >>> sorted(fields), isinstance(fields["paper"], str)
        (['deviations', 'paper'], True)
    """
    from snnbook.training.gradient import GRADIENT_DEVIATIONS, GRADIENT_PAPERS
    fn = "wanted_fields"
    if not isinstance(data, dict):
        raise TypeError(f"{fn}: data must be a results dict, got {type(data).__name__}")
    network = data.get("network")
    if network not in GRADIENT_DEVIATIONS:
        raise ValueError(f"{fn}: data['network'] must be one of {sorted(GRADIENT_DEVIATIONS)}, "
                         f"got {network!r}")
    paper = GRADIENT_PAPERS[network]
    return {"deviations": list(GRADIENT_DEVIATIONS[network]),
            "paper": paper["citation"] if "name" in data else paper}


def update(results: Path, check: bool = False) -> list[Path]:
    """Set ``deviations`` and ``paper`` in every gradient results file under ``results``.

    Args:
        results: the results folder.
        check: change nothing, only report.

    Returns:
        The files whose fields differed (rewritten unless ``check``).
    """
    fn = "update"
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"{fn}: results must be a folder of results files, got {str(results)!r}")
    changed = []
    paths = sorted({p for pattern in PATTERNS for p in results.glob(pattern)})
    for path in paths:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{fn}: {path} does not hold a JSON object")
        fields = wanted_fields(data)
        if all(data.get(k) == v for k, v in fields.items()):
            continue
        changed.append(path)
        if check:
            continue
        data.update(fields)  # existing keys keep their place
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results",
                        help="the results folder (default: the repository's results/)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a folder")
    changed = update(args.results, check=args.check)
    for path in changed:
        print(("out of date: " if args.check else "updated: ") + path.name)
    if not changed:
        print("every deviations and paper field is up to date")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
