"""Results cards: which runs a card aggregates, and their mean and standard deviation.

Chapter: A deep network that learns with spikes (book/mozafari2019.md): the results card.

A card aggregates only **complete runs of one configuration**: a results file that cannot be
read, that is not marked complete (files written before the mark are complete when they hold
their test accuracy), that comes from a quick first try (``--quick``) or whose configuration
differs from the card's (other than in its seed) is left out, and the card names it with the
reason under ``"left_out"``.
"""
from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

__all__ = ["collect", "mean_sd"]

#: Configuration keys that may differ between the runs of one card.
PER_RUN = ("seed", "time_budget_s", "patience")


def mean_sd(values) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None where undefined) of the values that are not None.

    Example:
        >>> mean_sd([0.9, 0.92, None])
        (0.91, 0.014142135623730963)
    """
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def _key(config: dict, ignore) -> str:
    return json.dumps({k: v for k, v in (config or {}).items() if k not in ignore}, sort_keys=True)


def collect(paths, accuracy_key: str = "test_accuracy", reference: dict | None = None,
            ignore=PER_RUN, defaults: dict | None = None, with_paths: bool = False,
            prefer: dict | None = None) -> tuple[list, list[dict]]:
    """The complete runs of one configuration among the results files ``paths``.

    Args:
        paths: results files (``*.json``).
        accuracy_key: the field a complete run holds.
        reference: the card's configuration (the keys it names must match; others are not
            compared); ``None``: the configuration that most runs share (ties: the one equal to
            ``prefer`` where it is among them, else the first file's).
        ignore: configuration keys that may differ between runs (default :data:`PER_RUN`).
        defaults: values of configuration keys that older results files do not record.
        with_paths: return ``(path, results)`` pairs instead of the results alone.
        prefer: the configuration (its keys) that wins a tie (e.g. the network's defaults).

    Returns:
        ``(runs, left_out)``: the loaded results of the runs kept, in file order, and one
        ``{"file", "reason"}`` per file left out.
    """
    loaded, left_out = [], []
    from .._resources import verify_published
    for p in sorted(Path(q) for q in paths):
        try:
            verify_published("collect", p)
        except ValueError:
            left_out.append({"file": p.name, "reason": "damaged (its SHA-256 differs from the published "
                                                        "record's manifest) or not in the manifest"})
            continue
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError) as err:
            left_out.append({"file": p.name, "reason": f"unreadable ({err.__class__.__name__})"})
            continue
        if not isinstance(d, dict) or d.get("complete") is False or d.get(accuracy_key) is None:
            left_out.append({"file": p.name, "reason": f"incomplete (no {accuracy_key})"})
            continue
        acc = d[accuracy_key]
        if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0.0 <= acc <= 1.0:
            left_out.append({"file": p.name, "reason": f"{accuracy_key}={acc!r} is not a fraction in [0, 1]"})
            continue
        if "-quick-" in p.name or p.name.endswith("-quick.json"):
            left_out.append({"file": p.name, "reason": "a quick run (--quick)"})
            continue
        cfg = {**(defaults or {}), **(d.get("config") if isinstance(d.get("config"), dict) else {})}
        if cfg.get("quick"):
            left_out.append({"file": p.name, "reason": "a quick run (--quick)"})
            continue
        loaded.append((p, d, cfg))
    if not loaded:
        return [], left_out
    if reference is None:
        counts = Counter(_key(cfg, ignore) for _, _, cfg in loaded)
        top = max(counts.values())
        tied = [_key(cfg, ignore) for _, _, cfg in loaded if counts[_key(cfg, ignore)] == top]
        preferred = [k for k in tied if prefer is not None and all(
            json.loads(k).get(name) == value for name, value in prefer.items() if name not in ignore)]
        ref_key = (preferred or tied)[0]
        reference = json.loads(ref_key)
    runs = []
    for p, d, cfg in loaded:
        diff = [k for k in reference if k not in ignore and cfg.get(k) != reference[k]]
        if diff:
            left_out.append({"file": p.name, "reason": "another configuration: " + ", ".join(
                f"{k}={cfg.get(k)!r} (card: {reference[k]!r})" for k in sorted(diff))})
        else:
            runs.append((p, d) if with_paths else d)
    return runs, left_out
