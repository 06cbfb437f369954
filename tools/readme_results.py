"""Write the README's results section from the published record (``python tools/readme_results.py``;
``--check`` exits 1 when README.md differs from what it would write).

Every number of the section between the two marker comments of README.md is read here from
``results/*.json``, the files the project's own commands wrote; the prose around it states none.
``tests/test_readme_numbers.py`` checks that README.md equals this script's output and that no
percentage or duration is typed by hand elsewhere in it.
"""
from __future__ import annotations

import functools
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN = "<!-- results: begin (written by tools/readme_results.py from results/*.json; do not edit) -->"
END = "<!-- results: end -->"


def _load(results: Path, name: str) -> dict:
    return json.loads((results / name).read_text())


def count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def pct_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f} % (one seed)"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f} % ({len(values)} seeds)"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return duration(lo) if duration(lo) == duration(hi) else f"{duration(lo)} to {duration(hi)}"


def load(machine: dict, key: str = "load_average_1_5_15_min") -> str:
    values = machine.get(key)
    return "not recorded" if not values else ", ".join(f"{v:.2f}" for v in values)


def _speed(results: Path) -> list[str]:
    bench = _load(results, "bench_engine.json")
    r, machine = bench["ratios"], bench["machine"]
    rows = [
        ("input transform of 1 000 digits, against a per-digit loop mirroring SpykeTorch", "coding"),
        ("S1 STDP training step, batch 1, against the dense path", "step_l1"),
        ("S2 STDP training step, batch 1", "step_l2"),
        ("S3 R-STDP training step, batch 1 (dense: SpykeTorch's 15-step float32 step)", "step_l3"),
        ("S3 R-STDP step inside a training pass (how training runs it)", "step_l3_in_training_pass"),
        ("inference S1-S3, batch 1", "inference_batch1"),
        ("inference, batch 1 000, per digit, against the dense path at batch 1",
         "inference_batched_vs_dense_batch1"),
    ]
    moz = _load(results, "bench_mozafari2019.json")
    startup = _load(results, "bench_startup.json")["workloads"]["mozafari2019"]
    inference = bench["timings"]["inference"]
    lines = [
        "### Speed, measured",
        "",
        f"Side by side in one run on the {machine['cpu_count']}-core development CPU ({machine['cpu']}, "
        f"no GPU; load average over 1, 5 and 15 minutes at the start: "
        f"{load(machine, 'load_average_at_start')}), outputs asserted equal, trained weights, "
        "`results/bench_engine.json` (`benchmarks/engine.py`); ratio = dense or reference time / "
        "event-driven time:",
        "",
        "| workload | ratio |",
        "|---|---|",
    ]
    lines += [f"| {text} | {r[key]:.1f}x |" for text, key in rows]
    lines += [
        "",
        f"One inference call on {count(inference['memory_batch'])} digits peaks at "
        f"{inference['peak_rss_gb_batch']:.2f} GB resident (chunked internally). The "
        f"{count(moz['inference_test_set']['digits'])} test digits are encoded and classified in "
        f"{moz['inference_test_set']['seconds']:.1f} s (`results/bench_mozafari2019.json`, load average "
        f"{load(moz['machine'])}). The first use of the event-driven engine in a process compiles its "
        f"kernels: {startup['cold_s']:.0f} s for the library block above, {startup['warm_s']:.1f} s once "
        "they are cached (`results/bench_startup.json`, `benchmarks/startup.py`).",
    ]
    return lines


def _mozafari(results: Path) -> list[str]:
    card = _load(results, "mozafari2019.json")
    ours = card["ours"]["test_accuracy_selected"]
    seeds = list(ours["per_seed"].values())
    walls = list(card["wall_time_total_s"].values())
    budget = card["two_hour_budget"]
    lines = [
        "### Mozafari et al. 2019 (STDP + R-STDP)",
        "",
        "Test accuracy at the epoch selected on validation (the last 10 000 training digits), "
        f"`results/mozafari2019.json` and the files it names. Published " f"({card['paper']['source'].replace(' (', ', ').rstrip(')')}): "
        f"{pct(card['paper']['test_accuracy'])}; SpykeTorch's example: {pct(card['spyketorch']['test_accuracy'])}.",
        "",
        "| run | test accuracy | wall time of a run (threads) | results files |",
        "|---|---|---|---|",
        f"| {card['config']['epochs_l3']} R-STDP epochs | {pct_sd(seeds)} | {span(walls)} "
        f"({card['machine']['torch_threads']}) | `mozafari2019-seed*.json` |",
        f"| as many R-STDP epochs as fit a wall-time budget of {span([b['time_budget_s'] for b in budget])} "
        f"on one core ({', '.join(str(b['epochs_l3']) for b in budget)} epochs) | "
        f"{pct_sd([b['test_accuracy_selected'] for b in budget])} | "
        f"{span([b['wall_time_total_s'] for b in budget])} (1) | `mozafari2019-2h-seed*.json` |",
    ]
    for v in card["variants"]:
        lines.append(f"| variant `{v['name']}` ({', '.join(f'{k}={x}' for k, x in v['changes'].items())}) | "
                     f"{pct(v['test_accuracy_selected'])} | {duration(v['wall_time_total_s'])} | `{v['file']}` |")
    for c in card["committees"]:
        members = [_load(results, f"{m}.json") for m in c["members"]]
        threads = sorted({m["machine"].get("torch_threads") for m in members})
        lines.append(
            f"| committee of {len(c['members'])} networks deciding together "
            f"(members {', '.join(pct(a) for a in c['member_test_accuracy'])}) | {pct(c['test_accuracy'])} | "
            f"members {span([m['wall_time_total_s'] for m in members])} each; "
            f"{duration(c['wall_time_span_s'])} from the first member's start to the last one's end "
            f"({'/'.join(map(str, threads))}) | `{c['file']}` |")
    return lines


def _others(results: Path) -> list[str]:
    from snnbook import compare

    rows = [r for r in compare.comparison_table(results) if not r.key.startswith("mozafari2019")]
    lines = [
        "### The other networks",
        "",
        "Test accuracy over seeds (sample standard deviation), the published figure and the mean "
        "training wall time per run, as `snnbook compare` prints them (`snnbook.compare`, which "
        "cites each published figure):",
        "",
        "| network | test accuracy | published | training wall time (mean) | load average (1, 5, 15 min) | results files |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        accs = []
        loads = []
        for name in r.files:
            data = _load(results, name)
            accs.append(data.get("test_accuracy"))
            machine = data.get("machine") if isinstance(data.get("machine"), dict) else {}
            loads.append(load(machine))
        acc = "—" if r.accuracy_mean is None else (
            pct(r.accuracy_mean) + " (one seed)" if r.accuracy_sd is None
            else f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_sd:.2f} % ({len(r.seeds)} seeds)")
        pub = "—" if r.published_accuracy is None else pct(r.published_accuracy)
        wall = "—" if r.train_wall_time_s is None else duration(r.train_wall_time_s)
        files = ", ".join(f"`{f}`" for f in r.files)
        lines.append(f"| {r.name} | {acc} | {pub} | {wall} | {'; '.join(loads)} | {files} |")
    return lines


@functools.lru_cache(maxsize=None)
def results_section(results: Path = ROOT / "results") -> str:
    lines = [BEGIN, ""] + _speed(results) + [""] + _mozafari(results) + [""] + _others(results) + ["", END]
    return "\n".join(lines)


def rewrite(text: str, results: Path = ROOT / "results") -> str:
    """``text`` (the README) with the section between the markers replaced."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"rewrite: README.md must hold the markers {BEGIN!r} and {END!r} once each")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + results_section(results) + tail


if __name__ == "__main__":
    current = README.read_text()
    new = rewrite(current)
    if "--check" in sys.argv[1:]:
        sys.exit(0 if new == current else 1)
    README.write_text(new)
