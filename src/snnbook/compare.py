"""The book's comparison of every trained network, built from the ``results/*.json`` files.

Chapters: Learning by gradient (book/gradient.md) and The third road: converting a trained ANN
(book/conversion.md).

:func:`comparison_table` reads the results files that the project's own commands wrote
(``python -m snnbook.train ...``) and returns one :class:`Row` per network: learning rule,
supervision, test accuracy (mean +- sample sd over the seeds that exist), training wall time on
this CPU, time steps, spikes, synaptic operations and an **energy estimate** per inference, beside
the published accuracy (:data:`PUBLISHED`, each with its citation key in ``book/references.bib``).

The rows are shown as two tables that name the networks alike (:data:`TABLES`): the **accuracy
table** (:data:`ACCURACY_HEADINGS`: network, learning rule, labels, test accuracy, published) and
the **cost table** (:data:`COST_HEADINGS`: network, time steps, synops, MACs, energy estimate,
training wall time with its threads), each narrow enough for the book's column;
``to_markdown(rows)`` gives both, ``to_markdown(rows, "accuracy")`` or ``"cost"`` one, and
``"wide"`` the former single table of eleven columns (kept for scripts that parse it).
No measured number is typed here: each comes from a JSON field named in :data:`SOURCES` or is
computed from such fields by a rule stated in the row's notes. A network whose files are missing is
left out (:func:`comparison_table` never fails for a missing file); a field that a file lacks, or
that cannot be computed exactly from what it has, is ``None`` (shown as "—") with the reason in the
row's notes.

Energy (an estimate, not a measurement)
---------------------------------------
Arithmetic energy only, from the 45 nm, 0.9 V figures of Horowitz (2014, ISSCC, "Computing's energy
problem (and what we can do about it)", the table of energy per operation): a 32-bit float add
costs 0.9 pJ and a 32-bit float multiply 3.7 pJ. A binary spike arriving at a synapse costs one
accumulate (AC: an add, :data:`E_AC_PJ` = 0.9 pJ); an analog (real-valued) input or event costs one
multiply-accumulate (MAC: :data:`E_MAC_PJ` = 3.7 + 0.9 = 4.6 pJ). Memory access (which dominates
on real hardware: Horowitz's 8 kB cache read is 10 pJ per 64 bits, DRAM far more), neuron state
updates and the read-out are not counted. So the estimate ranks networks by synaptic work; it is no
prediction of a chip's power.

Synaptic operations ("synops") are the events delivered to synapses per inference: each spike times
the fan-out of its neuron. Where a JSON records them (the gradient-trained networks count them
exactly while they run, :mod:`snnbook.models.surrogate`) they are taken as they are. For the STDP
networks the files hold spike counts only, and the fan-out of a spike is not a constant (padding at
the borders of convolutions and pooling windows in Mozafari et al. 2019; unrecorded Poisson input
and inhibitory spikes in Diehl & Cook 2015), so their synops and energy are ``None``.
"""
from __future__ import annotations

import html
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["E_AC_PJ", "E_MAC_PJ", "ENERGY_SOURCE", "PUBLISHED", "SOURCES", "Row", "comparison_table",
           "to_markdown", "to_html", "energy_nj", "mean_sd", "published_results", "TABLES",
           "ACCURACY_HEADINGS", "COST_HEADINGS", "table_cells"]

#: Energy of one accumulate (32-bit float add, 45 nm; Horowitz 2014), picojoules.
E_AC_PJ = 0.9
#: Energy of one multiply-accumulate (32-bit float multiply 3.7 pJ + add 0.9 pJ; Horowitz 2014), pJ.
E_MAC_PJ = 3.7 + 0.9
#: Where the two figures come from (cite key in book/references.bib).
ENERGY_SOURCE = {"cite": "horowitz2014energy",
                 "text": "Horowitz (2014), ISSCC, 45 nm 0.9 V: 32-bit float add 0.9 pJ, 32-bit float "
                         "multiply 3.7 pJ; AC = add, MAC = multiply + add"}

#: Published test accuracies (fractions) with their citation keys (book/references.bib) and where in
#: the source the number stands. Keys are the rows' ``key``.
PUBLISHED = {
    "mozafari2019": {"accuracy": 0.972, "cite": "mozafari2019bio",
                     "where": "Mozafari et al. (2019), Pattern Recognition: MNIST test accuracy 97.2 %"},
    "diehl_cook2015_100": {"accuracy": 0.829, "cite": "diehl2015unsupervised",
                           "where": "Diehl & Cook (2015), Table 1: 100 excitatory neurons, 82.9 %"},
    "diehl_cook2015_400": {"accuracy": 0.870, "cite": "diehl2015unsupervised",
                           "where": "Diehl & Cook (2015), Table 1: 400 excitatory neurons, 87.0 %"},
    "diehl_cook2015_1600": {"accuracy": 0.919, "cite": "diehl2015unsupervised",
                            "where": "Diehl & Cook (2015), Table 1: 1 600 excitatory neurons, 91.9 %"},
    "diehl_cook2015_6400": {"accuracy": 0.950, "cite": "diehl2015unsupervised",
                            "where": "Diehl & Cook (2015), Table 1: 6 400 excitatory neurons, 95.0 %"},
    "chevalier-spiking": {"accuracy": 0.9065, "cite": None,
                          "where": "G. Chevalier (2018), 'Spiking Neural Network (SNN) with PyTorch' "
                                   "(blog post and notebook): spiking net, 90.65 %"},
    "chevalier-nonspiking": {"accuracy": 0.8897, "cite": None,
                             "where": "G. Chevalier (2018), same post: non-spiking twin, 88.97 %"},
    "surrogate_fc": {"accuracy": 0.9387, "cite": "snntorch_tutorial5",
                     "where": "snnTorch tutorial 5 (Eshraghian et al. 2023): 784-1000-10 LIF net, "
                              "93.87 % (9 387 of 10 000 test digits)"},
    "surrogate_conv": {"accuracy": None, "cite": "neftci2019surrogate",
                       "where": "our own design (surrogate gradients: Neftci et al. 2019); no published "
                                "number"},
    "ann_fc": {"accuracy": None, "cite": None,
               "where": "the ReLU twin of the surrogate-gradient FC network; no published number"},
    "ann_conv": {"accuracy": None, "cite": None,
                 "where": "the ReLU twin of the surrogate-gradient conv. net; no published number"},
    "conversion_fc": {"accuracy": None, "cite": "diehl2015fast",
                      "where": "conversion with weight/threshold balancing (Diehl et al. 2015; percentile: "
                               "Rueckauer et al. 2017) of our FC ANN; no published number for this network"},
    "conversion_conv": {"accuracy": None, "cite": "diehl2015fast",
                        "where": "conversion (Diehl et al. 2015) of our conv. ANN; no published number for "
                                 "this network"},
}

#: The JSON fields each column comes from, per family of results files.
SOURCES = {
    "mozafari2019": {"files": "mozafari2019.json -> runs (mozafari2019-seed*.json)",
                     "accuracy": "test_accuracy_selected",
                     "wall_time": "wall_time_total_s - wall_time_s.evaluation",
                     "time_steps": "config.time_steps",
                     "spikes": "spikes_per_digit.s1 + spikes_per_digit.s2"},
    "diehl_cook2015": {"files": "diehl_cook2015_{N}-seed*.json", "accuracy": "test_accuracy",
                       "wall_time": "wall_time_train_s + wall_time_label_s",
                       "time_steps": "params.present_ms / params.dt_ms", "spikes": "spikes_per_test_digit"},
    "conversion": {"files": "ann_{fc,conv}-seed*.json, conversion_{fc,conv}-seed*.json",
                   "accuracy": "test_accuracy (converted: at the time steps chosen on validation digits)",
                   "wall_time": "wall_time_train_s (converted: ANN training + balancing and selection)",
                   "time_steps": "time_steps (converted); none for the ANN",
                   "spikes": "spikes_per_test_digit.total", "synops": "synops_per_inference.total",
                   "macs": "macs_per_inference.total (ANN); input_layer_macs_per_inference (converted)"},
    "gradient": {"files": "{chevalier-spiking,chevalier-nonspiking,surrogate_fc,surrogate_conv,events_*}"
                          "-seed*.json", "accuracy": "test_accuracy", "wall_time": "wall_time_train_s",
                 "time_steps": "config.time_steps",
                 "spikes": "spikes_per_test_digit.total (minus .input where the input is rate coded)",
                 "synops": "synops_per_inference.total", "macs": "input_layer_macs_per_inference"},
}


@dataclass
class Row:
    """One network of the comparison table (numbers per inference are means over the seeds).

    Attributes:
        key: identifier (the :data:`PUBLISHED` key); name: what the table shows.
        learning_rule, supervision: how the network learns.
        accuracy_mean, accuracy_sd: test accuracy (fraction); sd is the sample sd (n - 1), None for
            one seed. seeds: the seeds found.
        published_accuracy, published_cite, published_where: the paper's figure and its source.
        train_wall_time_s: training wall time on this CPU (mean over seeds); train_threads: torch
            threads it used.
        time_steps: simulation steps per inference; spikes: spikes of the network's neurons per
            inference (input encoding excluded); synops_ac: synaptic events of binary spikes
            (accumulates); macs: multiply-accumulates (analog inputs or analog events);
            energy_nj: the arithmetic energy estimate (:func:`energy_nj`).
        files: the results files read; notes: how each derived value was computed, or why missing.
        machines: the CPU models the runs trained on (from each file's ``machine.cpu``).
        time_steps_per_seed: where the seeds ran for different numbers of steps (the converted
            networks, whose steps are chosen per seed), each seed's; the cost table then shows
            their range.
    """

    key: str
    name: str
    learning_rule: str
    supervision: str
    accuracy_mean: float | None = None
    accuracy_sd: float | None = None
    seeds: list = field(default_factory=list)
    published_accuracy: float | None = None
    published_cite: str | None = None
    published_where: str | None = None
    train_wall_time_s: float | None = None
    train_threads: list = field(default_factory=list)
    time_steps: float | None = None
    spikes: float | None = None
    synops_ac: float | None = None
    macs: float | None = None
    energy_nj: float | None = None
    files: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    machines: list = field(default_factory=list)
    time_steps_per_seed: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """The row as a plain dict (JSON-serialisable)."""
        return asdict(self)


def mean_sd(values) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1) of a list of numbers; sd is None for one value,
    both None for none.

    Example:
        >>> mean_sd([0.9, 0.92])
        (0.91, 0.014142135623730963)
    """
    from .training.cards import mean_sd as _mean_sd
    return _mean_sd(values)


def energy_nj(synops_ac: float | None, macs: float | None) -> float | None:
    """Arithmetic energy estimate per inference in nanojoules: ``synops_ac * E_AC + macs * E_MAC``
    (:data:`E_AC_PJ`, :data:`E_MAC_PJ`); None when the synaptic operations are unknown.

    Example:
        >>> round(energy_nj(1000, 10), 4)
        0.946
    """
    if synops_ac is None:
        return None
    return (float(synops_ac) * E_AC_PJ + float(macs or 0.0) * E_MAC_PJ) / 1000.0


def _load(path: Path) -> dict | None:
    """A results card, verified against the published record's manifest where it belongs to it;
    None (and an entry in :data:`LEFT_OUT`) when it is missing, damaged or unreadable."""
    from ._resources import verify_published
    if not path.is_file():
        return None
    try:
        verify_published("comparison_table", path)
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        LEFT_OUT.append({"file": path.name, "reason": f"unreadable or damaged ({err.__class__.__name__})"})
        return None


#: Results files that a table built in this process left out, with the reason (complete runs of one
#: configuration only: :func:`snnbook.training.cards.collect`).
LEFT_OUT: list[dict] = []


def _seed_files(results: Path, pattern: str, ignore=None) -> list[tuple[Path, dict]]:
    from .training.cards import PER_RUN, collect
    runs, dropped = collect(results.glob(pattern), with_paths=True, ignore=ignore or PER_RUN)
    LEFT_OUT.extend(dropped)
    return runs


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _published(row: Row) -> Row:
    pub = PUBLISHED.get(row.key)
    if pub:
        row.published_accuracy, row.published_cite = pub["accuracy"], pub["cite"]
        row.published_where = pub["where"]
    return row


def _mozafari(results: Path) -> list[Row]:
    card = _load(results / "mozafari2019.json")
    if not card:
        return []
    runs = [(results / f, _load(results / f)) for f in card.get("runs", [])]
    runs = [(p, d) for p, d in runs if d and d.get("test_accuracy_selected") is not None]
    if not runs:
        return []
    row = Row("mozafari2019", "Mozafari et al. 2019 (deep conv. SNN)", "STDP (S1, S2) + R-STDP (S3)",
              "reward (R-STDP, decision layer only)")
    row.accuracy_mean, row.accuracy_sd = mean_sd([d["test_accuracy_selected"] for _, d in runs])
    row.seeds = [d["seed"] for _, d in runs]
    row.train_wall_time_s = _mean([d["wall_time_total_s"] - d["wall_time_s"].get("evaluation", 0.0)
                                   for _, d in runs])
    row.train_threads = [d["machine"].get("torch_threads") for _, d in runs]
    row.time_steps = _mean([d["config"]["time_steps"] for _, d in runs])
    row.spikes = _mean([d["spikes_per_digit"]["s1"] + d["spikes_per_digit"]["s2"] for _, d in runs])
    row.files = ["mozafari2019.json"] + [p.name for p, _ in runs]
    row.notes = ["accuracy: the epoch selected on the validation split (test_accuracy_selected)",
                 "wall time: every training stage, without the per-epoch evaluation passes",
                 "spikes: S1 + S2 on the first 1 000 test digits (S3 decides by its first spike; input "
                 "latency spikes excluded)",
                 "synops: not recorded, and the fan-out of a spike varies with its position (padding, "
                 "pooling), so no exact count follows from spike totals",
                 "seeds ran under different machine loads and thread counts (see train_threads)"]
    return [_published(row)]


def _diehl_cook(results: Path) -> list[Row]:
    rows = []
    sizes = sorted({int(p.name.split("_")[2].split("-")[0])
                    for p in results.glob("diehl_cook2015_*-seed*.json")})
    for n in sizes:
        runs = _seed_files(results, f"diehl_cook2015_{n}-seed*.json")
        if not runs:
            continue
        row = Row(f"diehl_cook2015_{n}", f"Diehl & Cook 2015, {n} neurons", "STDP + adaptive thresholds",
                  "none (labels assigned after learning)")
        row.accuracy_mean, row.accuracy_sd = mean_sd([d["test_accuracy"] for _, d in runs])
        row.seeds = [d["seed"] for _, d in runs]
        row.train_wall_time_s = _mean([d["wall_time_train_s"] + d.get("wall_time_label_s", 0.0)
                                       for _, d in runs])
        row.train_threads = [d["machine"].get("torch_threads") for _, d in runs]
        row.time_steps = _mean([d["params"]["present_ms"] / d["params"]["dt_ms"] for _, d in runs])
        row.spikes = _mean([d["spikes_per_test_digit"] for _, d in runs])
        row.files = [p.name for p, _ in runs]
        row.notes = ["wall time: learning pass + labelling pass (both over training digits)",
                     "time steps: the 350 ms presentation at dt = 0.5 ms (rest not counted)",
                     "spikes: excitatory neurons only (inhibitory spikes are not recorded)",
                     "synops: the Poisson input spikes and inhibitory spikes are not recorded, so no "
                     "exact count"]
        rows.append(_published(row))
    return rows


_GRADIENT = [
    ("chevalier-spiking", "chevalier-spiking-seed*.json", "Chevalier 2018, spiking", "backprop through "
     "the (non-differentiable) spiking layer, no surrogate", "labels (cross-entropy)"),
    ("chevalier-nonspiking", "chevalier-nonspiking-seed*.json", "Chevalier 2018, non-spiking twin",
     "backprop (ordinary ANN)", "labels (cross-entropy)"),
    ("surrogate_fc", "surrogate_fc-seed*.json", "Surrogate-gradient FC (784-1000-10)",
     "BPTT with a surrogate gradient", "labels (cross-entropy)"),
    ("surrogate_conv", "surrogate_conv-seed*.json", "Surrogate-gradient conv. net",
     "BPTT with a surrogate gradient", "labels (cross-entropy)"),
]


def _gradient_row(key, runs, name, rule, supervision) -> Row:
    row = Row(key, name, rule, supervision)
    row.accuracy_mean, row.accuracy_sd = mean_sd([d["test_accuracy"] for _, d in runs])
    row.seeds = [d.get("seed") for _, d in runs]
    row.train_wall_time_s = _mean([d.get("wall_time_train_s") for _, d in runs])
    row.train_threads = [(d.get("machine") or {}).get("torch_threads") for _, d in runs]
    row.files = [p.name for p, _ in runs]
    nonspiking = key == "chevalier-nonspiking"
    steps = [(d.get("config") or {}).get("time_steps") for _, d in runs]
    if nonspiking:
        row.notes.append("time steps: none (one ANN pass; no spikes, no synops; MACs: the dense layers)")
    elif all(s is not None for s in steps):
        row.time_steps = _mean(steps)
    spikes, synops, macs = [], [], []
    for _, d in runs:
        sp, sy = d.get("spikes_per_test_digit"), d.get("synops_per_inference")
        if isinstance(sp, dict) and sp.get("total") is not None:
            spikes.append(sp["total"] - sp.get("input", 0.0))
        elif isinstance(sp, (int, float)):
            spikes.append(sp)
        if isinstance(sy, dict) and sy.get("total") is not None:
            synops.append(sy["total"])
        elif isinstance(sy, (int, float)):
            synops.append(sy)
        if "input_layer_macs_per_inference" in d:  # null: no analog input layer (0 MACs)
            macs.append(d["input_layer_macs_per_inference"] or 0.0)
    complete = len(runs)
    row.spikes = _mean(spikes) if len(spikes) == complete else None
    synops_mean = _mean(synops) if len(synops) == complete else None
    macs_mean = _mean(macs) if len(macs) == complete else None
    if key == "chevalier-spiking":
        # Chevalier's events carry analog values (relu(inner - threshold)): each costs a MAC
        row.synops_ac = 0.0 if synops_mean is not None else None
        row.macs = None if synops_mean is None or macs_mean is None else synops_mean + macs_mean
        row.notes.append("events are analog (relu outputs), so each synaptic event counts as a MAC; "
                         "MACs = events x fan-out + the dense input layer")
    else:
        row.synops_ac, row.macs = synops_mean, macs_mean
        row.notes.append("synops: binary spikes x fan-out, counted while the network ran (accumulates); "
                         "MACs: the analog input layer (input_layer_macs_per_inference)")
    if row.spikes is None or synops_mean is None or macs_mean is None:
        row.notes.append("spikes, synops or input-layer MACs missing from a results file: no energy estimate")
    if row.synops_ac is not None and row.macs is not None:
        row.energy_nj = energy_nj(row.synops_ac, row.macs)
    return _published(row)


def _gradient(results: Path) -> list[Row]:
    rows = []
    for key, pattern, name, rule, sup in _GRADIENT:
        runs = _seed_files(results, pattern)
        if runs:
            rows.append(_gradient_row(key, runs, name, rule, sup))
        if key == "surrogate_conv":  # named variants: surrogate_conv-<variant>-seed*.json
            if runs:
                cfg = runs[0][1].get("config") or {}
                rows[-1].name = f"{name}, {cfg.get('epochs', '?')} epochs, shift {cfg.get('shift', 0)} px"
            variants = {p.stem.split("-seed")[0] for p in results.glob("surrogate_conv-*-seed*.json")}
            for vkey in sorted(variants):
                vruns = _seed_files(results, f"{vkey}-seed*.json")
                if not vruns:
                    continue
                cfg = vruns[0][1].get("config") or {}
                label = f"{name}, {cfg.get('epochs', '?')} epochs, shift {cfg.get('shift', 0)} px"
                row = _gradient_row(vkey, vruns, label, rule, sup)
                row.notes.append("a variant: its augmentation and epochs were chosen after the "
                                 "default run's test accuracy was seen")
                rows.append(row)
    # any other network (e.g. the event-camera chapter's): events_<name>-seed*.json or events_<name>.json
    groups = {p.stem.split("-seed")[0]: p.name[len(p.stem.split("-seed")[0]):]
              for p in sorted(results.glob("events_*.json"))}
    for key in groups:
        runs = _seed_files(results, f"{key}-seed*.json") + _seed_files(results, f"{key}.json")
        if not runs:
            continue
        d0 = runs[0][1]
        stdp = "stdp" in key
        rule = d0.get("learning_rule") or ("STDP" if stdp else "BPTT with a surrogate gradient")
        name = d0.get("display_name") or f"EventMNIST conv. SNN ({key.split('_', 1)[1]} input)"
        row = _gradient_row(key, runs, name, rule,
                            d0.get("supervision") or ("labels (read-out)" if stdp
                                                      else "labels (cross-entropy)"))
        config = [d.get("config") or {} for _, d in runs]
        if row.time_steps is None and all("time_bins" in c for c in config) and "frame" not in key:
            row.time_steps = _mean([c["time_bins"] for c in config])
        if row.spikes is None and all(isinstance(d.get("spikes_per_digit"), (int, float)) for _, d in runs):
            row.spikes = _mean([d["spikes_per_digit"] for _, d in runs])
        row.notes.append("event-camera network (snnbook.models.events_nets): time steps = config.time_bins, "
                         "spikes = spikes_per_digit; no published number for simulated EventMNIST")
        rows.append(row)
    return rows


_CONVERSION = {"fc": ("FC 784-1000-10", "surrogate_fc"), "conv": ("conv. net", "surrogate_conv")}


def _conversion(results: Path) -> list[Row]:
    """Rows of the ReLU twins (``ann_{fc,conv}``) and their converted SNNs (``conversion_*``)."""
    rows = []
    for net, (label, _) in _CONVERSION.items():
        anns = _seed_files(results, f"ann_{net}-seed*.json")
        if anns:
            row = Row(f"ann_{net}", f"ANN twin (ReLU), {label}", "backprop (ordinary ANN)",
                      "labels (cross-entropy)")
            row.accuracy_mean, row.accuracy_sd = mean_sd([d["test_accuracy"] for _, d in anns])
            row.seeds = [d.get("seed") for _, d in anns]
            row.train_wall_time_s = _mean([d.get("wall_time_train_s") for _, d in anns])
            row.train_threads = [(d.get("machine") or {}).get("torch_threads") for _, d in anns]
            macs = [(d.get("macs_per_inference") or {}).get("total") for _, d in anns]
            row.macs = _mean(macs) if all(m is not None for m in macs) else None
            row.synops_ac = 0.0 if row.macs is not None else None
            row.energy_nj = energy_nj(row.synops_ac, row.macs)
            row.files = [p.name for p, _ in anns]
            row.notes = ["an ANN: no time steps, no spikes; MACs: every synapse once per inference "
                         "(macs_per_inference.total)"]
            rows.append(_published(row))
        convs = _seed_files(results, f"conversion_{net}-seed*.json", ignore=("seed", "ann"))
        if not convs:
            continue
        row = Row(f"conversion_{net}", f"Converted SNN (IF), {label}",
                  "backprop in the ANN, then conversion (weight/threshold balancing)",
                  "labels (ANN cross-entropy)")
        row.accuracy_mean, row.accuracy_sd = mean_sd([d["test_accuracy"] for _, d in convs])
        row.seeds = [d.get("seed") for _, d in convs]
        row.train_wall_time_s = _mean([d.get("wall_time_train_s") for _, d in convs])
        row.train_threads = [(d.get("machine") or {}).get("torch_threads") for _, d in convs]
        row.time_steps = _mean([d.get("time_steps") for _, d in convs])
        row.time_steps_per_seed = [d.get("time_steps") for _, d in convs]
        sp = [(d.get("spikes_per_test_digit") or {}).get("total") for _, d in convs]
        sy = [(d.get("synops_per_inference") or {}).get("total") for _, d in convs]
        ma = [d.get("input_layer_macs_per_inference") for _, d in convs]
        row.spikes = _mean(sp) if None not in sp else None
        row.synops_ac = _mean(sy) if None not in sy else None
        row.macs = _mean(ma) if None not in ma else None
        if row.synops_ac is not None and row.macs is not None:
            row.energy_nj = energy_nj(row.synops_ac, row.macs)
        row.files = [p.name for p, _ in convs]
        row.notes = ["accuracy and costs at the time steps chosen on validation digits (time_steps)",
                     "wall time: the ANN's training plus balancing and the choices on validation digits",
                     "synops: IF spikes x fan-out (accumulates); MACs: the analog input layer, once per "
                     "digit (direct coding)"]
        rows.append(_published(row))
    return rows


def _with_machines(rows: list[Row], results: Path) -> list[Row]:
    for r in rows:
        cpus = []
        for f in r.files:
            d = _load(results / f) or {}
            cpu = (d.get("machine") or {}).get("cpu") if isinstance(d, dict) else None
            if cpu and cpu not in cpus:
                cpus.append(cpu)
        r.machines = cpus
    return rows


def comparison_table(results_dir: str | os.PathLike = "results") -> list[Row]:
    """The comparison table: one :class:`Row` per network whose results files exist in
    ``results_dir`` (Mozafari 2019, Diehl & Cook 2015 per size, Chevalier spiking and non-spiking,
    surrogate FC and conv, event-camera networks, the ANN twins and their converted SNNs), in that
    order.

    Args:
        results_dir: folder of the ``*.json`` files written by ``python -m snnbook.train``.

    Returns:
        A list of :class:`Row` (empty if no results file is found).

    Example:
        >>> rows = comparison_table("results")
        >>> all(r.accuracy_mean is None or 0 <= r.accuracy_mean <= 1 for r in rows)
        True
    """
    if not isinstance(results_dir, (str, os.PathLike)):
        raise TypeError(f"comparison_table: results_dir must be a path (str or os.PathLike), "
                        f"got {type(results_dir).__name__}")
    results = Path(results_dir)
    if not results.is_dir():
        raise ValueError(f"comparison_table: results_dir must be an existing folder, got {str(results)!r}")
    LEFT_OUT.clear()
    rows = _mozafari(results) + _diehl_cook(results) + _gradient(results) + _conversion(results)
    return _with_machines(rows, results)


def _fmt(x, digits=0, unit="") -> str:
    if x is None:
        return "—"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.{max(digits, 2)}f} M{unit}"
    return f"{x:,.{digits}f}{unit}".replace(",", " ")


def _accuracy_cell(r: Row) -> str:
    acc = "—" if r.accuracy_mean is None else f"{100 * r.accuracy_mean:.2f}"
    if r.accuracy_sd is not None:
        acc += f" ± {100 * r.accuracy_sd:.2f}"
    return acc + (f" (n={len(r.seeds)})" if r.seeds else "")


def _threads(r: Row) -> str:
    t = sorted({int(x) for x in r.train_threads if x is not None})
    if not t:
        return ""
    return f" ({t[0]} thread{'s' if t[0] > 1 else ''})" if len(t) == 1 else f" ({t[0]}–{t[-1]} threads)"


def _steps(r: Row) -> str:
    per_seed = [t for t in r.time_steps_per_seed if t is not None]
    if len(set(per_seed)) > 1:
        return f"{min(per_seed):g}–{max(per_seed):g}"
    return _fmt(r.time_steps)


def _cells(r: Row) -> list[str]:
    """The former single table's eleven cells (``table="wide"``)."""
    pub = "—" if r.published_accuracy is None else f"{100 * r.published_accuracy:.2f}"
    return [r.name, r.learning_rule, r.supervision, _accuracy_cell(r), pub, _fmt(r.train_wall_time_s, 0, " s"),
            _fmt(r.time_steps), _fmt(r.spikes, 1), _fmt(r.synops_ac), _fmt(r.macs),
            _fmt(r.energy_nj, 1)]


#: Column headings of the former single table (``table="wide"``).
HEADINGS = ["network", "learning rule", "supervision", "test accuracy % (mean ± sd)", "published %",
            "training wall time", "time steps", "spikes / inference", "synops (AC) / inference",
            "MACs / inference", "energy estimate nJ / inference"]
#: Columns of the accuracy table.
ACCURACY_HEADINGS = ["network", "learning rule", "labels used", "test accuracy % (mean ± sd, n seeds)",
                     "published %"]
#: Columns of the cost table (numbers per inference, means over the seeds).
COST_HEADINGS = ["network", "time steps", "synops (AC)", "MACs", "energy estimate (nJ)",
                 "training wall time"]
#: The tables :func:`to_markdown` and :func:`to_html` draw: name -> (headings, cells of a row).
TABLES = {
    "accuracy": (ACCURACY_HEADINGS, lambda r: [
        r.name, r.learning_rule, r.supervision, _accuracy_cell(r),
        "—" if r.published_accuracy is None else f"{100 * r.published_accuracy:.2f}"]),
    "cost": (COST_HEADINGS, lambda r: [
        r.name, _steps(r), _fmt(r.synops_ac), _fmt(r.macs), _fmt(r.energy_nj, 1),
        _fmt(r.train_wall_time_s, 0, " s") + ("" if r.train_wall_time_s is None else _threads(r))]),
    "wide": (HEADINGS, _cells),
}


def table_cells(rows: list[Row], table: str = "accuracy") -> tuple[list[str], list[list[str]]]:
    """The headings and cells of one table (``"accuracy"``, ``"cost"`` or ``"wide"``).

    Example:
        >>> table_cells([], "cost")[0][:3]
        ['network', 'time steps', 'synops (AC)']
    """
    _check_rows("table_cells", rows)
    if table not in TABLES:
        raise ValueError(f"table_cells: table must be one of {sorted(TABLES)}, got {table!r}")
    headings, cells = TABLES[table]
    return list(headings), [cells(r) for r in rows]


def _tables(fn: str, table) -> list[str]:
    if table == "both":
        return ["accuracy", "cost"]
    if table not in TABLES:
        raise ValueError(f"{fn}: table must be 'both' or one of {sorted(TABLES)}, got {table!r}")
    return [table]


def to_markdown(rows: list[Row], table: str = "both") -> str:
    """The tables as Markdown (one line per row, "—" where a value is missing).

    Args:
        rows: from :func:`comparison_table`.
        table: ``"both"`` (the accuracy table, a blank line, the cost table), ``"accuracy"``,
            ``"cost"`` or ``"wide"`` (the former single table of eleven columns).

    Example:
        >>> print(to_markdown([], "accuracy").splitlines()[0][:20])
        | network | learning
    """
    _check_rows("to_markdown", rows)
    out = []
    for name in _tables("to_markdown", table):
        headings, cells = table_cells(rows, name)
        lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def to_html(rows: list[Row], table: str = "both") -> str:
    """The tables as HTML ``<table>`` elements (escaped); ``table`` as :func:`to_markdown`.

    Example:
        >>> to_html([]).startswith("<table>")
        True
    """
    _check_rows("to_html", rows)
    out = []
    for name in _tables("to_html", table):
        headings, cells = table_cells(rows, name)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headings)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
        out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "\n".join(out)


def _check_rows(fn: str, rows) -> None:
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"{fn}: rows must be a list of compare.Row (from comparison_table), "
                        f"got {type(rows).__name__}")


def published_results() -> Path:
    """The folder of the published results (the cards and runs the book shows), which ships with
    snnbook: the repository's ``results/`` in a source checkout, the installed copy otherwise."""
    try:
        from ._resources import published_dir
        return Path(published_dir())
    except ImportError:  # pragma: no cover - older layouts
        return Path(__file__).resolve().parents[2] / "results"


def main(argv=None, prog: str = "python -m snnbook.compare") -> int:
    """``snnbook compare [FOLDER] [--html]``: print the two tables (Markdown or HTML) of the results in
    FOLDER (default: the published results that ship with snnbook). Exit status 1 when FOLDER holds
    no results of the book's networks, 2 when it is not a folder."""
    import argparse
    import sys

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            self.exit(2, f"{self.prog}: error: {message}\n")

    parser = _Parser(prog=prog, description=main.__doc__.split("\n")[0])
    parser.add_argument("results_dir", nargs="?", default=None,
                        help="a folder of results files (default: the published results)")
    parser.add_argument("--html", action="store_true", help="HTML instead of Markdown")
    args = parser.parse_args(argv)
    folder = Path(args.results_dir) if args.results_dir is not None else published_results()
    if not folder.is_dir():
        print(f"{prog}: error: {str(folder)!r} is not a folder of results files", file=sys.stderr)
        return 2
    rows = comparison_table(folder)
    if not rows:
        print(f"{prog}: no results of the book's networks in {folder} (train one with: snnbook train "
              "<network>; the published results: snnbook compare with no folder)", file=sys.stderr)
        return 1
    print(f"Results in {folder}\n")
    for name, title in (("accuracy", "Accuracy"), ("cost", "Cost per inference")):
        print(f"{title}\n")
        print((to_html(rows, name) if args.html else to_markdown(rows, name)) + "\n")
    print(f"Energy: an estimate, arithmetic only ({ENERGY_SOURCE['text']}).")
    machines = sorted({m for r in rows for m in r.machines})
    if machines:
        print("Training wall times measured on: " + "; ".join(machines) + " (shared machines: wall times "
              "depend on the load; see each file's machine.load_average_1_5_15_min).")
    for d in LEFT_OUT:
        print(f"left out {d['file']}: {d['reason']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
