"""Tests of snnbook.events: the DVS pixel simulator, saccades, binning, EventMNIST and its cache."""
from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest
import torch

from snnbook import coding, data, events
from snnbook.events import EVENT_DTYPE, EventMNIST, bin_events, simulate

TIMES3 = [0, 1000, 2000]


def ramp(values, t_step=1000):
    """One-pixel video ``[time, 1, 1]`` and its frame times."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)
    return v, np.arange(len(v)) * t_step


# --- the pixel -------------------------------------------------------------------------------------
def test_constant_scene_gives_no_events():
    rng = np.random.default_rng(0)
    scene = rng.random((8, 8))
    video = np.repeat(scene[None], 20, axis=0)
    times = np.arange(20) * 500
    assert len(simulate(video, times)) == 0
    assert len(simulate(video, times, mismatch=0.3, refractory=100.0, threshold=(0.1, 0.3))) == 0
    assert len(simulate(video, times, noise_rate=50.0)) > 0  # noise alone makes events


@pytest.mark.parametrize("c", [0.1, 0.17, 0.3, 0.5])
@pytest.mark.parametrize("gain", [1.5, 4.0, 17.0])
def test_brightening_gives_floor_delta_over_c_on_events(c, gain):
    eps = 1e-3
    video, times = ramp([0.05, 0.05 * gain])
    ev = simulate(video, times, threshold=c, eps=eps)
    delta = math.log(0.05 * gain + eps) - math.log(0.05 + eps)
    assert len(ev) == math.floor(delta / c)
    assert set(ev["p"].tolist()) <= {events.ON}
    # times interpolated linearly between the frames, at the crossings of ref + k C
    expected = [math.floor(1000 * k * c / delta) for k in range(1, len(ev) + 1)]
    assert np.all(np.abs(ev["t"] - np.minimum(expected, 999)) <= 1)


@pytest.mark.parametrize("c", [0.1, 0.25])
def test_darkening_flips_polarity(c):
    video, times = ramp([0.8, 0.8 / 9.0])
    ev = simulate(video, times, threshold=c)
    delta = math.log(0.8 + 1e-3) - math.log(0.8 / 9 + 1e-3)
    assert len(ev) == math.floor(delta / c) and set(ev["p"].tolist()) == {events.OFF}


def test_separate_on_and_off_thresholds_and_carried_remainder():
    # up by log 2 then back down: ON uses C_on, OFF uses C_off, the remainder stays in ref
    video, times = ramp([1.0, 2.0, 2.0, 0.5])
    ev = simulate(video, times, threshold=(0.3, 0.2), eps=1e-12)
    n_on = math.floor(math.log(2) / 0.3)                     # 2 ON, ref = 0.6
    n_off = math.floor((0.6 + math.log(2)) / 0.2)             # from ref 0.6 down to -0.69: 6 OFF
    assert (n_on, n_off) == (2, 6)
    assert (ev["p"] == 1).sum() == n_on and (ev["p"] == 0).sum() == n_off
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].max() < times[-1]


def test_many_small_steps_sum_to_the_same_count_as_one_big_step():
    one, t1 = ramp([0.1, 0.9])
    many, tm = ramp(np.linspace(0.1, 0.9, 50), t_step=1000 // 49 + 1)
    assert len(simulate(one, t1)) == len(simulate(many, tm))


def test_refractory_period_drops_close_events():
    video, times = ramp([0.01, 1.0], t_step=1000)
    ev0 = simulate(video, times, threshold=0.1)
    ev = simulate(video, times, threshold=0.1, refractory=200.0)
    assert len(ev) < len(ev0)
    assert np.all(np.diff(ev["t"]) >= 200)


def test_threshold_mismatch_spread_and_sensor_identity():
    on, off = events.pixel_thresholds(100, 100, 0.2, mismatch=0.1, seed=3)
    assert abs(on.mean() - 0.2) < 0.002 and abs(on.std() / 0.2 - 0.1) < 0.005
    assert not np.array_equal(on, off)
    on2, _ = events.pixel_thresholds(100, 100, 0.2, mismatch=0.1, seed=3)
    assert np.array_equal(on, on2)
    assert not np.array_equal(on, events.pixel_thresholds(100, 100, 0.2, mismatch=0.1, seed=4)[0])


def test_noise_rate():
    video = np.ones((2, 20, 20))
    ev = simulate(video, [0, 1_000_000], noise_rate=10.0, seed=1)
    assert abs(len(ev) - 10 * 400) < 4 * math.sqrt(4000)
    assert abs(ev["p"].mean() - 0.5) < 0.05 and np.all(np.diff(ev["t"]) >= 0)


# --- saccades ----------------------------------------------------------------------------------------
def test_event_count_is_invariant_to_the_frame_rate():
    """Same motion at 12 to 96 frames per saccade: counts within 1 % (frames only sample a path
    that is linear in position but not in log intensity)."""
    images, _ = data.mnist_tensors(train=False, n=20)
    counts = []
    for steps in (12, 24, 96):
        ev = events.digit_events(images, steps_per_saccade=steps)
        counts.append(np.array([len(e) for e in ev]))
    for c in counts[:2]:
        assert np.all(np.abs(c / counts[-1] - 1) < 0.01)


def test_fused_digit_path_agrees_with_rendered_frames():
    images, _ = data.mnist_tensors(train=False, n=10)
    shifts, times = events.saccade_shifts()
    frames = events.saccade_frames(images, shifts)
    assert frames.shape == (10, 3 * events.SACCADE_STEPS + 1, 34, 34)
    via_frames = simulate(frames, times, threshold=events.EVENTMNIST_THRESHOLD)
    fused = events.digit_events(images)
    for a, b in zip(via_frames, fused):
        assert abs(len(a) - len(b)) <= 2 + 0.002 * len(a)  # last-bit differences of log
        assert 0 <= b["t"].min() and b["t"].max() < 3 * events.SACCADE_DURATION_US


def test_saccades_form_a_closed_triangle():
    shifts, times = events.saccade_shifts(4)
    assert np.array_equal(shifts[0], shifts[-1]) and len(times) == 13
    assert np.allclose(shifts[::4], np.array(events.SACCADE_VERTICES + (events.SACCADE_VERTICES[0],)))


# --- binning ----------------------------------------------------------------------------------------
def _stream(n=500, seed=0):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 2, n)
    return ev


def test_binning_conserves_events_and_places_them():
    streams = [_stream(500, 0), _stream(123, 1), _stream(0, 2)]
    by_time = bin_events(streams, time_window=7_000)
    assert by_time.shape[0] == 3 and by_time.shape[2:] == (2, 34, 34)
    assert by_time.sum(dim=(1, 2, 3, 4)).tolist() == [500, 123, 0]
    by_count = bin_events(streams, event_count=64)
    assert by_count.shape[1] == 8 and by_count.sum(dim=(1, 2, 3, 4)).tolist() == [500, 123, 0]
    assert by_count[1, :1].sum() == 64 and by_count[1, 1].sum() == 59
    e = streams[0][17]
    k = int(e["t"]) // 7_000
    assert by_time[0, k, int(e["p"]), int(e["y"]), int(e["x"])] >= 1
    assert torch.equal(bin_events(streams[0], time_window=7_000), by_time[0, :by_time.shape[1]][
        :bin_events(streams[0], time_window=7_000).shape[0]])


def test_dvs_events_per_crossing_equals_simulator_binned_by_frame():
    rng = np.random.default_rng(5)
    video = rng.random((2, 12, 6, 7)) + 0.01
    times = np.arange(12) * 1000
    counts = coding.dvs_events(torch.from_numpy(video), threshold=0.2, per_crossing=True)
    ev = simulate(video, times, threshold=0.2)
    # an event in [t_k-1, t_k) belongs to frame k; channel = p (0 OFF), coding has 0 ON
    binned = bin_events(ev, (7, 6), time_window=1000, start_time=-1000, end_time=11_000,
                        dtype=torch.float64)
    assert torch.equal(counts.flip(2), binned)
    single = coding.dvs_events(torch.from_numpy(video), threshold=0.2)
    assert single.max() == 1 and counts.max() > 1 and counts.sum() > single.sum()


def test_tonic_to_frame_equals_our_binning():
    tonic = pytest.importorskip("tonic")
    ev = events.digit_events(data.mnist_tensors(train=False, n=1)[0])[0]
    sensor = events.SENSOR_SIZE + (2,)
    ours = bin_events(ev, time_window=10_000, end_time=300_000, dtype=torch.int64).numpy()
    theirs = tonic.transforms.ToFrame(sensor, time_window=10_000, start_time=0, end_time=300_000,
                                      include_incomplete=True)(ev)
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)
    ours = bin_events(ev, event_count=300, dtype=torch.int64).numpy()
    theirs = tonic.transforms.ToFrame(sensor, event_count=300, include_incomplete=True)(ev)
    assert np.array_equal(ours, theirs)
    # and a Tonic transform runs on our events as they are
    assert len(tonic.transforms.Denoise(filter_time=10_000)(ev)) <= len(ev)


#: The event dtype of Tonic's DVSGesture, DVS-Lips, ...: other field order, bool polarity.
TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])


def _tonic_stream(n, width, height, seed):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, TONIC_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, width, n), rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n).astype(bool)
    ev["t"] = np.sort(rng.integers(1_000, 250_000, n))
    return ev


def test_tonic_conventions_sensor_size_bool_polarity_and_n_time_bins():
    """Tonic's (width, height, 2) sensor size, its bool polarities and its ToFrame(n_time_bins)."""
    tonic = pytest.importorskip("tonic")
    width, height = 40, 30  # not square: (width, height) must not be swapped
    for seed in range(3):
        ev = _tonic_stream(700, width, height, seed)
        sensor = (width, height, 2)
        for n in (1, 3, 7, 64):
            ours = bin_events(ev, sensor, n_time_bins=n, dtype=torch.int64).numpy()
            theirs = tonic.transforms.ToFrame(sensor, n_time_bins=n)(ev.copy())
            assert ours.shape == theirs.shape == (n, 2, height, width) and np.array_equal(ours, theirs)
        ours = bin_events(ev, sensor, time_window=9_000, end_time=260_000, dtype=torch.int64).numpy()
        theirs = tonic.transforms.ToFrame(sensor, time_window=9_000, start_time=0, end_time=260_000,
                                          include_incomplete=True)(ev.copy())
        assert np.array_equal(ours, theirs)
        ours = bin_events(ev, sensor, event_count=64, dtype=torch.int64).numpy()
        theirs = tonic.transforms.ToFrame(sensor, event_count=64, include_incomplete=True)(ev.copy())
        assert np.array_equal(ours, theirs)
        # (width, height) and (width, height, 2) are the same sensor; bool p is 0/1
        assert torch.equal(bin_events(ev, (width, height), n_time_bins=5), bin_events(ev, sensor, n_time_bins=5))
        as_ints = np.array(ev.tolist(), dtype=[("x", "<i2"), ("y", "<i2"), ("p", "<i1"), ("t", "<i8")])
        assert torch.equal(bin_events(as_ints, sensor, n_time_bins=5), bin_events(ev, sensor, n_time_bins=5))
    # our digits, binned by number of bins as Tonic bins N-MNIST
    ev = events.digit_events(data.mnist_tensors(train=False, n=1)[0])[0]
    ours = bin_events(ev, events.SENSOR_SIZE + (2,), n_time_bins=10, dtype=torch.int64).numpy()
    assert np.array_equal(ours, tonic.transforms.ToFrame(events.SENSOR_SIZE + (2,), n_time_bins=10)(ev))
    # Tonic's bins: width (t1 - t0) // n from the first event; the last event is always dropped
    assert ours.sum() == len(ev) - (ev["t"] >= ev["t"][0] + 10 * ((ev["t"][-1] - ev["t"][0]) // 10)).sum()
    assert ours.sum() < len(ev)


def test_n_time_bins_per_stream_of_a_mixed_list():
    """Each stream gets its own bins; the streams of a list may have different dtypes."""
    streams = [_stream(500, 0), _tonic_stream(300, 34, 34, 1), _stream(0, 2)]
    batch = bin_events(streams, (34, 34, 2), n_time_bins=6)
    assert batch.shape == (3, 6, 2, 34, 34)
    for b, ev in zip(batch, streams):
        assert torch.equal(b, bin_events(ev, n_time_bins=6))
    assert batch[2].sum() == 0
    # a stream shorter than n_time_bins microseconds: the bins have width 0 and stay empty
    short = _stream(5, 3)
    short["t"] = [10, 11, 11, 12, 13]
    assert bin_events(short, n_time_bins=7).sum() == 0
    # float times (some Tonic datasets) bin like the same integer times
    as_float = np.array(streams[0].tolist(), dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<f8"), ("p", "<i1")])
    for kw in (dict(n_time_bins=6), dict(time_window=7_000)):
        assert torch.equal(bin_events(as_float, **kw), bin_events(streams[0], **kw))


def test_saccade_frames_accept_tonic_sensor_size():
    images, _ = data.mnist_tensors(train=False, n=2)
    shifts, _ = events.saccade_shifts(2)
    assert np.array_equal(events.saccade_frames(images, shifts, sensor_size=(36, 34, 2)),
                          events.saccade_frames(images, shifts, sensor_size=(36, 34)))


def test_shuffle_times_keeps_pixels_and_times():
    ev = _stream(300)
    sh = events.shuffle_times(ev, seed=1)
    assert np.array_equal(np.sort(sh["t"]), np.sort(ev["t"]))
    key = lambda e: np.sort(e["x"].astype(int) * 10000 + e["y"] * 10 + e["p"])  # noqa: E731
    assert np.array_equal(key(sh), key(ev)) and not np.array_equal(sh["x"], ev["x"])
    assert torch.equal(bin_events(sh, event_count=300).sum(0), bin_events(ev, event_count=300).sum(0))


def test_pack_round_trip():
    ev = _stream(1000)
    assert np.array_equal(events.unpack_events(events.pack_events(ev)), ev)


# --- the dataset -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    return EventMNIST(train=False, digits=60, cache_dir=root, progress=False), root


def test_dataset_items_and_digit_events_agree(small):
    ds, _ = small
    images, labels = data.mnist_tensors(train=False, n=60)
    ev, label = ds[3]
    assert len(ds) == 60 and label == int(labels[3]) and ev.dtype == EVENT_DTYPE
    ref = events.digit_events(images[:5], mismatch=0.05, seed=0)
    for i in range(5):
        assert np.array_equal(ds.events(i), ref[i])
    assert np.array_equal(ds.events_per_digit()[:5], [len(r) for r in ref])
    s = ds.spikes(range(8), time_window=10_000)
    assert s.shape == (8, 30, 2, 34, 34)
    assert s.sum(dim=(1, 2, 3, 4)).tolist() == ds.events_per_digit()[:8].tolist()
    frame = ds.spikes(range(8), time_window=10_000, frame=True)
    assert frame.shape == (8, 1, 2, 34, 34) and torch.equal(frame[:, 0], s.sum(1))
    shuffled = ds.spikes(range(8), time_window=10_000, shuffle=True)
    assert torch.equal(shuffled.sum(1), s.sum(1)) and not torch.equal(shuffled, s)
    assert ds.spikes([0, 1], event_count=500).shape[1] == -(-ds.events_per_digit()[:2].max() // 500)


def test_cache_round_trips_exactly_and_same_seed_same_data(small, tmp_path):
    ds, root = small
    again = EventMNIST(train=False, digits=60, cache_dir=root, progress=False)  # from the file
    assert again.path == ds.path
    assert np.array_equal(again.words, ds.words) and np.array_equal(again.offsets, ds.offsets)
    assert np.array_equal(again.labels, ds.labels)
    fresh = EventMNIST(train=False, digits=60, cache_dir=tmp_path, progress=False)  # regenerated
    assert np.array_equal(fresh.words, ds.words) and np.array_equal(fresh.offsets, ds.offsets)
    other = EventMNIST(train=False, digits=60, seed=1, cache_dir=tmp_path, progress=False)
    assert other.path != ds.path and not np.array_equal(other.words, ds.words)


def test_noise_in_the_dataset_is_deterministic(tmp_path):
    a = EventMNIST(train=False, digits=6, noise_rate=5.0, cache_dir=tmp_path, progress=False,
                   batch_size=4)
    b = EventMNIST(train=False, digits=6, noise_rate=5.0, cache_dir=tmp_path, progress=False,
                   rebuild=True, batch_size=6)
    clean = EventMNIST(train=False, digits=6, cache_dir=tmp_path, progress=False)
    assert np.array_equal(a.words, b.words)
    assert np.all(a.events_per_digit() > clean.events_per_digit())
    assert np.all(np.diff(a.events(2)["t"]) >= 0)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_cache_raises_a_clear_error(tmp_path, damage):
    ds = EventMNIST(train=False, digits=5, cache_dir=tmp_path, progress=False)
    blob = bytearray(ds.path.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        i = blob.find(b"words.npy")
        i = blob.find(b"words.npy", i + 1) if blob.find(b"words.npy", i + 1) > 0 else i
        blob[len(blob) // 3] ^= 0xFF
    else:
        blob = b"not a zip file at all"
    ds.path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"EventMNIST: the cache file .*damaged.*rebuild=True"):
        EventMNIST(train=False, digits=5, cache_dir=tmp_path, progress=False)
    ok = EventMNIST(train=False, digits=5, cache_dir=tmp_path, progress=False, rebuild=True)
    assert np.array_equal(ok.words, ds.words)


def test_default_cache_dir_is_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("SNNBOOK_CACHE_DIR", raising=False)
    monkeypatch.setenv("SNNBOOK_CACHE_DIR", str(tmp_path / "shared"))
    assert events.default_cache_dir() == tmp_path / "shared"
    monkeypatch.delenv("SNNBOOK_CACHE_DIR")
    monkeypatch.setenv("SNNBOOK_CACHE", str(tmp_path))
    assert events.default_cache_dir() == tmp_path
    monkeypatch.delenv("SNNBOOK_CACHE")
    assert "snnbook" in str(events.default_cache_dir()) and ".cache" in str(events.default_cache_dir()) \
        or "XDG" in "".join(__import__("os").environ)


# --- documentation and bad input ----------------------------------------------------------------------
def test_every_public_name_has_a_docstring_with_shapes():
    doc = inspect.getdoc(events)
    assert "Chapter" in doc and "book/events.md" in doc
    for name in events.__all__:
        obj = getattr(events, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and name != "default_cache_dir":
            d = inspect.getdoc(obj)
            assert d and "Shape" in d and re.search(r"\[[a-z_]+", d), name


BAD = [
    (lambda: simulate(np.ones((3, 4)), TIMES3), ValueError, "simulate: frames"),
    (lambda: simulate(-np.ones((3, 2, 2)), TIMES3), ValueError, "simulate: frames"),
    (lambda: simulate(np.full((3, 2, 2), np.nan), TIMES3), ValueError, "simulate: frames"),
    (lambda: simulate(np.ones((3, 2, 2), bool), TIMES3), TypeError, "simulate: frames"),
    (lambda: simulate("video", TIMES3), TypeError, "simulate: frames"),
    (lambda: simulate(np.ones((3, 2, 2)), [0, 1]), ValueError, "simulate: times"),
    (lambda: simulate(np.ones((3, 2, 2)), [0, 2, 1]), ValueError, "simulate: times"),
    (lambda: simulate(np.ones((3, 2, 2)), [0, 0.5, 1]), ValueError, "simulate: times"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, threshold=0.0), ValueError, "simulate: threshold"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, threshold=(0.1, 0.2, 0.3)), ValueError,
     "simulate: threshold"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, mismatch=-1), ValueError, "simulate: mismatch"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, refractory=-1), ValueError, "simulate: refractory"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, noise_rate=math.inf), ValueError, "noise_rate"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, eps=0), ValueError, "simulate: eps"),
    (lambda: simulate(np.ones((3, 2, 2)), TIMES3, seed=1.5), TypeError, "simulate: seed"),
    (lambda: events.saccade_frames(np.ones((2, 28, 27)), np.zeros((2, 2))), ValueError,
     "saccade_frames: images"),
    (lambda: events.saccade_frames(np.ones((2, 28, 28)) * 2, np.zeros((2, 2))), ValueError,
     "saccade_frames: float images"),
    (lambda: events.saccade_frames(np.ones((2, 28, 28)), np.full((2, 2), 9.0)), ValueError,
     "saccade_frames: shifts"),
    (lambda: events.saccade_shifts(0), ValueError, "saccade_shifts: steps_per_saccade"),
    (lambda: bin_events(_stream(), time_window=10, event_count=5), ValueError, "bin_events: give"),
    (lambda: bin_events(_stream()), ValueError, "bin_events: give exactly one"),
    (lambda: bin_events(_stream(), time_window=0), ValueError, "bin_events: time_window"),
    (lambda: bin_events(_stream(), event_count=0), ValueError, "bin_events: event_count"),
    (lambda: bin_events(np.zeros(3), time_window=10), TypeError, "bin_events: events"),
    (lambda: bin_events([], time_window=10), ValueError, "bin_events: events"),
    (lambda: bin_events(_stream(), (10, 10), time_window=10), ValueError, "outside the sensor"),
    (lambda: bin_events(_stream(), (34, 34, 1), time_window=10), ValueError,
     r"bin_events: sensor_size .*2 polarities"),
    (lambda: bin_events(_stream(), (34,), time_window=10), ValueError, r"bin_events: sensor_size must be \(width"),
    (lambda: bin_events(_stream(), (34, 34, 2, 1), time_window=10), ValueError, "bin_events: sensor_size"),
    (lambda: bin_events(_stream(), "34x34", time_window=10), TypeError, "bin_events: sensor_size"),
    (lambda: bin_events(_stream(), (34.0, 34), time_window=10), TypeError, "bin_events: sensor_size"),
    (lambda: bin_events(_stream(), (34, 34, 2.0), time_window=10), TypeError, "bin_events: sensor_size"),
    (lambda: events.saccade_frames(np.ones((2, 28, 28)), np.zeros((2, 2)), sensor_size=(34, 34, 3)), ValueError,
     "saccade_frames: sensor_size"),
    (lambda: bin_events(np.zeros(3, [("x", "f4"), ("y", "i2"), ("t", "i8"), ("p", "i1")]), time_window=10),
     TypeError, "bin_events: events field 'x'"),
    (lambda: bin_events(np.zeros(3, [("x", "i2"), ("y", "i2"), ("t", "i8"), ("p", "f4")]), time_window=10),
     TypeError, "bin_events: events field 'p'"),
    (lambda: bin_events(_stream(), n_time_bins=0), ValueError, "bin_events: n_time_bins"),
    (lambda: bin_events(_stream(), n_time_bins=2.5), TypeError, "bin_events: n_time_bins"),
    (lambda: bin_events(_stream(), n_time_bins=4, time_window=10), ValueError, "bin_events: give exactly one"),
    (lambda: bin_events(_stream(), n_time_bins=4, n_bins=4), ValueError, "bin_events: n_time_bins .*n_bins"),
    (lambda: bin_events(_stream(), n_time_bins=4, end_time=10), ValueError, "bin_events: n_time_bins .*end_time"),
    (lambda: bin_events(_stream(), n_time_bins=4, start_time=5), ValueError, "bin_events: n_time_bins .*start_time"),
    (lambda: events.pack_events(np.array([(70, 0, 0, 1)], EVENT_DTYPE)), ValueError, "pack_events"),
    (lambda: events.unpack_events(np.zeros(3, np.int64)), TypeError, "unpack_events: words"),
    (lambda: EventMNIST(train=1), TypeError, "EventMNIST: train"),
    (lambda: EventMNIST(train=False, digits=0), ValueError, "EventMNIST: digits"),
    (lambda: EventMNIST(train=False, digits=10001), ValueError, "EventMNIST: digits"),
    (lambda: EventMNIST(train=False, cache_dir=3), TypeError, "EventMNIST: cache_dir"),
    (lambda: EventMNIST(train=False, transform=3), TypeError, "EventMNIST: transform"),
    (lambda: EventMNIST(train=False, mismatch=-0.1), ValueError, "EventMNIST: mismatch"),
    (lambda: coding.dvs_events(torch.ones(1, 3, 4, 4), per_crossing=1), TypeError, "per_crossing"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_index(small):
    ds, _ = small
    with pytest.raises(ValueError, match="EventMNIST: index"):
        ds[60]
    with pytest.raises(TypeError, match="EventMNIST: index"):
        ds[1.5]
    assert np.array_equal(ds.events(-1), ds.events(59))


# --- the networks on events --------------------------------------------------------------------------
def test_event_network_inputs_and_forward(small):
    from snnbook.models.events_nets import EventConvSNN, events_batch, frame_images
    ds, _ = small
    binned = events_batch(ds, [0, 1, 2], "binned")
    frame = events_batch(ds, [0, 1, 2], "frame")
    shuffled = events_batch(ds, [0, 1, 2], "shuffled")
    assert binned.shape == frame.shape == shuffled.shape == (3, 10, 2, 34, 34)
    # same total input, only the timing differs
    torch.testing.assert_close(frame.sum(1), binned.sum(1))
    torch.testing.assert_close(shuffled.sum(1), binned.sum(1))
    assert torch.equal(frame[:, 0], frame[:, 5]) and not torch.equal(binned[:, 0], binned[:, 5])
    torch.manual_seed(0)
    net = EventConvSNN(channels=(4, 8))
    logits = net(binned)
    assert logits.shape == (3, 10) and net.spike_counts.shape == (3,)
    logits.sum().backward()
    assert net.conv1[1].weight.grad is not None and net.conv1[1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="events_batch: input"):
        events_batch(ds, [0], "frames")
    with pytest.raises(ValueError, match="EventConvSNN.forward: x"):
        net(torch.zeros(1, 3, 1, 34, 34))
    img = frame_images(ds, [0, 1])
    assert img.shape == (2, 28, 28) and img.dtype == torch.uint8 and int(img.max()) == 255
