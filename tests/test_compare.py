"""The comparison table (snnbook.compare): every value equals the results JSON files it comes from
(re-read here independently), missing files are tolerated, published numbers carry citations."""
from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path

import pytest

from snnbook import compare

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def read(name):
    return json.loads((RESULTS / name).read_text())


def rows_by_key(results=RESULTS):
    return {r.key: r for r in compare.comparison_table(results)}


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def check_accuracy(row, values):
    assert row.accuracy_mean == approx(statistics.mean(values))
    if len(values) > 1:
        assert row.accuracy_sd == approx(statistics.stdev(values))
    else:
        assert row.accuracy_sd is None
    assert len(row.seeds) == len(values)


@pytest.mark.skipif(not (RESULTS / "mozafari2019.json").exists(), reason="no Mozafari results")
def test_mozafari_row_equals_its_json():
    card = read("mozafari2019.json")
    runs = [read(f) for f in card["runs"]]
    row = rows_by_key()["mozafari2019"]
    check_accuracy(row, [r["test_accuracy_selected"] for r in runs])
    # the card's own aggregate agrees
    assert row.accuracy_mean == approx(card["ours"]["test_accuracy_selected"]["mean"])
    assert row.accuracy_sd == approx(card["ours"]["test_accuracy_selected"]["sd"])
    assert row.train_wall_time_s == approx(statistics.mean(
        r["wall_time_total_s"] - r["wall_time_s"]["evaluation"] for r in runs))
    assert row.time_steps == runs[0]["config"]["time_steps"]
    assert row.spikes == approx(statistics.mean(r["spikes_per_digit"]["s1"] + r["spikes_per_digit"]["s2"]
                                                for r in runs))
    assert row.synops_ac is None and row.energy_nj is None and any("synops" in n for n in row.notes)
    assert row.published_accuracy == card["paper"]["test_accuracy"]


def test_diehl_cook_rows_equal_their_json():
    keys = rows_by_key()
    sizes = sorted({int(p.name.split("_")[2].split("-")[0]) for p in RESULTS.glob("diehl_cook2015_*-seed*.json")})
    if not sizes:
        pytest.skip("no Diehl & Cook results")
    for n in sizes:
        runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"diehl_cook2015_{n}-seed*.json"))]
        row = keys[f"diehl_cook2015_{n}"]
        check_accuracy(row, [r["test_accuracy"] for r in runs])
        assert row.train_wall_time_s == approx(statistics.mean(r["wall_time_train_s"] + r["wall_time_label_s"]
                                                               for r in runs))
        assert row.time_steps == approx(runs[0]["params"]["present_ms"] / runs[0]["params"]["dt_ms"])
        assert row.spikes == approx(statistics.mean(r["spikes_per_test_digit"] for r in runs))
        assert row.synops_ac is None and row.energy_nj is None
        assert row.published_accuracy == compare.PUBLISHED[f"diehl_cook2015_{n}"]["accuracy"]


@pytest.mark.parametrize("key, pattern", [("chevalier-spiking", "chevalier-spiking-seed*.json"),
                                          ("chevalier-nonspiking", "chevalier-nonspiking-seed*.json"),
                                          ("surrogate_fc", "surrogate_fc-seed*.json"),
                                          ("surrogate_conv", "surrogate_conv-seed*.json")])
def test_gradient_rows_equal_their_json(key, pattern):
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(pattern))]
    if not runs:
        assert key not in rows_by_key()
        pytest.skip(f"no {pattern}")
    row = rows_by_key()[key]
    check_accuracy(row, [r["test_accuracy"] for r in runs])
    assert row.train_wall_time_s == approx(statistics.mean(r["wall_time_train_s"] for r in runs))
    spikes = statistics.mean(r["spikes_per_test_digit"]["total"] - r["spikes_per_test_digit"].get("input", 0)
                             for r in runs)
    synops = statistics.mean(r["synops_per_inference"]["total"] for r in runs)
    macs = statistics.mean(r["input_layer_macs_per_inference"] or 0.0 for r in runs)  # null: none
    assert row.spikes == approx(spikes)
    if key == "chevalier-spiking":  # analog events: all MACs
        assert row.synops_ac == 0 and row.macs == approx(synops + macs)
        assert row.energy_nj == approx((synops + macs) * 4.6e-3)
    else:
        assert row.synops_ac == approx(synops) and row.macs == approx(macs)
        assert row.energy_nj == approx((synops * 0.9 + macs * 4.6) / 1000)
    if key != "chevalier-nonspiking":
        assert row.time_steps == runs[0]["config"]["time_steps"]


def test_surrogate_conv_variants_each_get_a_row_named_by_their_configuration():
    groups = {}
    for p in sorted(RESULTS.glob("surrogate_conv-*-seed*.json")):
        groups.setdefault(p.stem.split("-seed")[0], []).append(json.loads(p.read_text()))
    if not groups:
        pytest.skip("no surrogate_conv variants")
    rows = rows_by_key()
    for key, runs in groups.items():
        row = rows[key]
        check_accuracy(row, [r["test_accuracy"] for r in runs])
        cfg = runs[0]["config"]
        assert f"{cfg['epochs']} epochs, shift {cfg['shift']} px" in row.name
        assert any("variant" in n for n in row.notes)
        assert row.published_accuracy is None


def test_event_camera_rows_equal_their_json():
    groups = {}
    for p in sorted(RESULTS.glob("events_*.json")):
        d = json.loads(p.read_text())
        if isinstance(d.get("test_accuracy"), (int, float)):
            groups.setdefault(p.stem.split("-seed")[0], []).append(d)
    if not groups:
        pytest.skip("no event-camera results")
    rows = rows_by_key()
    for key, runs in groups.items():
        row = rows[key]
        check_accuracy(row, [r["test_accuracy"] for r in runs])
        assert row.train_wall_time_s == approx(statistics.mean(r["wall_time_train_s"] for r in runs))
        if all(isinstance(r.get("spikes_per_digit"), (int, float)) for r in runs):
            assert row.spikes == approx(statistics.mean(r["spikes_per_digit"] for r in runs))
        if "frame" not in key and all("time_bins" in r["config"] for r in runs):
            assert row.time_steps == statistics.mean(r["config"]["time_bins"] for r in runs)
        if not all("synops_per_inference" in r for r in runs):
            assert row.synops_ac is None and row.energy_nj is None


def test_energy_figures_are_horowitz_2014():
    assert compare.E_AC_PJ == 0.9 and compare.E_MAC_PJ == pytest.approx(4.6)
    assert compare.energy_nj(1000, 100) == pytest.approx((1000 * 0.9 + 100 * 4.6) / 1000)
    assert compare.energy_nj(None, 5) is None
    assert "estimate" in compare.__doc__ and compare.ENERGY_SOURCE["cite"] == "horowitz2014energy"


def test_published_numbers_are_present_and_cited():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    expected = {"mozafari2019": 0.972, "diehl_cook2015_100": 0.829, "diehl_cook2015_400": 0.870,
                "diehl_cook2015_1600": 0.919, "diehl_cook2015_6400": 0.950, "chevalier-spiking": 0.9065,
                "chevalier-nonspiking": 0.8897, "surrogate_fc": 0.9387}
    for key, acc in expected.items():
        assert compare.PUBLISHED[key]["accuracy"] == acc
        assert compare.PUBLISHED[key]["where"]
    for pub in compare.PUBLISHED.values():
        assert pub["cite"] is None or pub["cite"] in keys, pub
    for key in ("bohte2002spikeprop", "horowitz2014energy", "neftci2019surrogate", "iyer2021nmnist",
                "pedersen2024nir", "eshraghian2023training"):
        assert key in keys


def test_rendered_tables_show_the_row_values():
    rows = compare.comparison_table(RESULTS)
    md = compare.to_markdown(rows)
    accuracy, cost = md.split("\n\n")
    assert accuracy == compare.to_markdown(rows, "accuracy") and cost == compare.to_markdown(rows, "cost")
    for table in (accuracy, cost):
        assert len(table.splitlines()) == len(rows) + 2
    for r in rows:
        line = next(line for line in accuracy.splitlines() if line.startswith(f"| {r.name} |"))
        if r.accuracy_mean is not None:
            assert f"{100 * r.accuracy_mean:.2f}" in line
        line = next(line for line in cost.splitlines() if line.startswith(f"| {r.name} |"))
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert cells[4] == ("—" if r.energy_nj is None else compare._fmt(r.energy_nj, 1))
        assert cells[1] == compare._steps(r)
        if len(set(r.time_steps_per_seed)) < 2:
            assert cells[1] == compare._fmt(r.time_steps)
    html = compare.to_html(rows)
    assert html.count("<table>") == 2 and html.count("<tr>") == 2 * (len(rows) + 1)
    wide = compare.to_markdown(rows, "wide")  # the former single table stays available
    assert wide.splitlines()[0].count("|") == len(compare.HEADINGS) + 1


def test_both_tables_fit_the_column():
    """At most six columns each (the former table had eleven and was twice the column's width)."""
    assert len(compare.ACCURACY_HEADINGS) <= 6 and len(compare.COST_HEADINGS) <= 6
    assert compare.ACCURACY_HEADINGS[0] == compare.COST_HEADINGS[0] == "network"


@pytest.mark.parametrize("net", ["fc", "conv"])
def test_ann_and_conversion_rows_equal_their_json(net):
    anns = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"ann_{net}-seed*.json"))]
    convs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"conversion_{net}-seed*.json"))]
    rows = rows_by_key()
    if not anns:
        assert f"ann_{net}" not in rows
        pytest.skip(f"no ann_{net} results")
    row = rows[f"ann_{net}"]
    check_accuracy(row, [r["test_accuracy"] for r in anns])
    assert row.macs == approx(statistics.mean(r["macs_per_inference"]["total"] for r in anns))
    assert row.synops_ac == 0 and row.time_steps is None
    assert row.energy_nj == approx(row.macs * 4.6 / 1000)
    assert row.train_wall_time_s == approx(statistics.mean(r["wall_time_train_s"] for r in anns))
    if not convs:
        return
    row = rows[f"conversion_{net}"]
    check_accuracy(row, [r["test_accuracy"] for r in convs])
    for r in convs:  # the accuracy at the time steps chosen on validation digits
        assert r["test_accuracy"] == r["test_accuracy_vs_steps"][str(r["time_steps"])]
    assert row.time_steps == approx(statistics.mean(r["time_steps"] for r in convs))
    steps = [r["time_steps"] for r in convs]
    assert compare._steps(row) == (f"{min(steps)}–{max(steps)}" if len(set(steps)) > 1 else str(steps[0]))
    synops = statistics.mean(r["synops_per_inference"]["total"] for r in convs)
    macs = statistics.mean(r["input_layer_macs_per_inference"] for r in convs)
    assert row.synops_ac == approx(synops) and row.macs == approx(macs)
    assert row.energy_nj == approx((synops * 0.9 + macs * 4.6) / 1000)
    assert row.published_cite == "diehl2015fast"


def test_conversion_rows_from_a_folder_of_runs(tmp_path):
    ann = {"seed": 0, "test_accuracy": 0.98, "wall_time_train_s": 10.0, "config": {"hidden": 10},
           "macs_per_inference": {"layer1": 100.0, "total": 100.0}, "machine": {"torch_threads": 1}}
    conv = {"seed": 0, "test_accuracy": 0.97, "wall_time_train_s": 20.0, "time_steps": 8, "config": {},
            "test_accuracy_vs_steps": {"8": 0.97}, "spikes_per_test_digit": {"if1": 5.0, "total": 5.0},
            "synops_per_inference": {"if1": 50.0, "total": 50.0}, "input_layer_macs_per_inference": 100.0}
    (tmp_path / "ann_fc-seed0.json").write_text(json.dumps(ann))
    (tmp_path / "conversion_fc-seed0.json").write_text(json.dumps(conv))
    rows = rows_by_key(tmp_path)
    assert rows["ann_fc"].energy_nj == approx(0.46) and rows["ann_fc"].train_threads == [1]
    assert rows["conversion_fc"].energy_nj == approx((50 * 0.9 + 100 * 4.6) / 1000)
    assert rows["conversion_fc"].time_steps == 8
    cost = compare.to_markdown(list(rows.values()), "cost")
    assert "10 s (1 thread)" in cost and "| 8 |" in cost


def test_missing_files_are_tolerated(tmp_path):
    assert compare.comparison_table(tmp_path) == []
    # only one Diehl & Cook seed, a broken file and a Chevalier run without synops
    shutil.copy(RESULTS / "diehl_cook2015_400-seed1.json", tmp_path)
    (tmp_path / "surrogate_fc-seed0.json").write_text("{not json")
    run = {"seed": 0, "test_accuracy": 0.5, "wall_time_train_s": 1.0, "config": {"time_steps": 4}}
    (tmp_path / "surrogate_conv-seed0.json").write_text(json.dumps(run))
    rows = rows_by_key(tmp_path)
    assert set(rows) == {"diehl_cook2015_400", "surrogate_conv"}
    assert rows["diehl_cook2015_400"].accuracy_sd is None
    conv = rows["surrogate_conv"]
    assert conv.accuracy_mean == 0.5 and conv.spikes is None and conv.synops_ac is None and conv.energy_nj is None
    assert "—" in compare.to_markdown([conv])


def test_bad_input():
    with pytest.raises(ValueError, match="comparison_table: results_dir"):
        compare.comparison_table(RESULTS / "no-such-folder")
    with pytest.raises(TypeError, match="comparison_table: results_dir"):
        compare.comparison_table(3)
    with pytest.raises(TypeError, match="to_markdown: rows"):
        compare.to_markdown([{"key": "x"}])
    with pytest.raises(TypeError, match="to_html: rows"):
        compare.to_html("rows")
    with pytest.raises(ValueError, match="to_markdown: table must be"):
        compare.to_markdown([], "narrow")
    with pytest.raises(ValueError, match="table_cells: table must be"):
        compare.table_cells([], "narrow")
