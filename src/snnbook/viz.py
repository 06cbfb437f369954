"""Plots for the book: every function returns a matplotlib Figure (or Axes) and never shows it.

Chapter: used by every chapter of the book.
"""
from __future__ import annotations

import numpy as np
import torch


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def digit_grid(images, labels, per_class: int = 8, classes=range(10), cmap: str = "gray_r"):
    """A grid of digits, one row per class, the first ``per_class`` digits of each class in order.

    Args:
        images: ``[n, height, width]`` images (tensor or array).
        labels: ``[n]`` integer labels.
        per_class: digits per row.
        classes: the classes, one row each.

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    images, labels = _as_numpy(images), _as_numpy(labels)
    if images.ndim != 3:
        raise ValueError(f"digit_grid: images must be [n, height, width], got shape {images.shape}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"digit_grid: labels must be [n] = [{images.shape[0]}], got shape {labels.shape}")
    classes = list(classes)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 0.6, len(classes) * 0.6),
                             squeeze=False)
    for row, cls in enumerate(classes):
        idx = np.flatnonzero(labels == cls)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(idx):
                ax.imshow(images[idx[col]], cmap=cmap)
        axes[row, 0].set_ylabel(str(cls), rotation=0, labelpad=10, va="center")
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


# --- coding chapter ---
def wave_frames(wave, steps=None, cmap: str = "gray_r", size: float = 0.8, title_fmt: str = "t={t}",
                title: str | None = None):
    """One row of small images, one per time step of a single spike-wave.

    Args:
        wave: ``[time, height, width]`` (one sample, one channel or channels summed), tensor or
            array; cumulative or not, shown as given.
        steps: the time steps to show (default: all).
        cmap: colour map.
        size: width and height of each small image, in inches.
        title_fmt: title of each image, formatted with ``t`` (the step).
        title: a heading above the row (optional).

    Returns:
        matplotlib ``Figure`` with ``len(steps)`` axes.
    """
    import matplotlib.pyplot as plt

    wave = _as_numpy(wave)
    if wave.ndim != 3:
        raise ValueError(f"wave_frames: wave must be [time, height, width], got shape {wave.shape}")
    steps = list(range(wave.shape[0])) if steps is None else list(steps)
    vmax = max(float(wave.max()), 1e-12)
    fig, axes = plt.subplots(1, len(steps), figsize=(size * len(steps), size * 1.25), squeeze=False)
    for ax, t in zip(axes[0], steps):
        ax.imshow(wave[t], cmap=cmap, vmin=0, vmax=vmax)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(title_fmt.format(t=t), fontsize=9)
    fig.subplots_adjust(wspace=0.08, left=0.01, right=0.99, bottom=0.01, top=0.8)
    if title:
        fig.suptitle(title, y=1.0, va="bottom", fontsize=9)
    return fig


def spike_raster(spikes, ax=None, dt: float = 1.0, color: str = "k", size: float = 2.0,
                 xlabel: str = "time step", ylabel: str = "neuron index"):
    """Raster plot: a dot at ``(t * dt, i)`` for every spike of neuron ``i`` at step ``t``.

    Args:
        spikes: ``[time, neurons]`` non-cumulative 0/1 spikes of one sample (flatten the
            channel and spatial axes first), tensor or array.
        ax: Axes to draw into (default: a new ``(5, 3)`` figure).
        dt: duration of a step (the x axis is ``t * dt``).
        color, size: colour and size of the dots.
        xlabel, ylabel: axis labels.

    Returns:
        matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    spikes = _as_numpy(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"spike_raster: spikes must be [time, neurons], got shape {spikes.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    t, i = np.nonzero(spikes)
    ax.scatter(t * dt, i, s=size, c=color, marker="|" if size > 4 else "o", linewidths=0.8)
    ax.set_xlim(-0.5 * dt, (spikes.shape[0] - 0.5) * dt)
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def event_frames(events, steps=None, size: float = 0.9, title_fmt: str = "t={t}", video=None,
                 title: str | None = None):
    """Event-camera frames: ON events red, OFF events blue, one small image per step.

    Args:
        events: ``[time, 2, height, width]`` 0/1 events of one sample (channel 0 ON, 1 OFF),
            e.g. ``dvs_events(...)[0]``; tensor or array.
        steps: the time steps to show (default: all).
        size: width and height of each image, in inches.
        title_fmt: title of each image, formatted with ``t``.
        video: optional ``[time, height, width]`` frames that made the events, drawn in grey in a
            first row above the events.
        title: a heading above the figure (optional).

    Returns:
        matplotlib ``Figure`` with ``len(steps)`` axes per row (one or two rows).
    """
    import matplotlib.pyplot as plt

    events = _as_numpy(events)
    if events.ndim != 4 or events.shape[1] != 2:
        raise ValueError(f"event_frames: events must be [time, 2, height, width], got shape {events.shape}")
    steps = list(range(events.shape[0])) if steps is None else list(steps)
    rows = 1 if video is None else 2
    aspect = events.shape[2] / events.shape[3]
    fig, axes = plt.subplots(rows, len(steps), figsize=(size * len(steps), rows * size * aspect + 0.3),
                             squeeze=False)
    if video is not None:
        video = _as_numpy(video)
        if video.shape != events.shape[:1] + events.shape[2:]:
            raise ValueError(f"event_frames: video must be [time, height, width] = "
                             f"{events.shape[:1] + events.shape[2:]}, got shape {video.shape}")
        for ax, t in zip(axes[0], steps):
            ax.imshow(video[t], cmap="gray", vmin=0, vmax=max(float(video.max()), 1e-12))
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(title_fmt.format(t=t), fontsize=9)
    for ax, t in zip(axes[-1], steps):
        on, off = events[t, 0] > 0, events[t, 1] > 0
        rgb = np.ones(on.shape + (3,))
        rgb[on] = (0.85, 0.1, 0.1)
        rgb[off] = (0.1, 0.3, 0.9)
        ax.imshow(rgb)
        ax.set_xticks([]), ax.set_yticks([])
        if video is None:
            ax.set_title(title_fmt.format(t=t), fontsize=9)
    fig.subplots_adjust(wspace=0.08, hspace=0.08, left=0.01, right=0.99, bottom=0.01, top=0.9)
    if title:
        fig.suptitle(title, y=1.0, va="bottom", fontsize=9)
    return fig


# --- retina chapter ---
def kernel_heatmaps(kernels, titles=None, annot: bool = True, fmt: str = ".2f", cmap: str = "RdBu_r",
                    size: float = 3.0, annot_size: float = 8.0, shared: bool = False):
    """Kernels as seaborn heatmaps side by side, on a diverging colormap centred at 0.

    Args:
        kernels: ``[n, k, k]`` or ``[n, 1, k, k]`` kernels (tensor or array), or a list of ``[k, k]``.
        titles: one title per kernel (optional).
        annot: write each value in its cell.
        fmt: format of the annotations.
        cmap: diverging colormap; each panel is centred at 0 with symmetric limits.
        size: width of one panel in inches.
        annot_size: font size of the annotations (points).
        shared: one colour scale for all panels (the largest absolute value of all kernels), so
            that the colours compare magnitudes across kernels; default: each panel its own.

    Returns:
        matplotlib ``Figure`` with ``n`` heatmaps.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    ks = [_as_numpy(k).reshape(_as_numpy(k).shape[-2:]) for k in kernels]
    if titles is not None and len(titles) != len(ks):
        raise ValueError(f"kernel_heatmaps: expected {len(ks)} titles, got {len(titles)}")
    fig, axes = plt.subplots(1, len(ks), figsize=(size * len(ks), size * 0.9), squeeze=False)
    shared_lim = max(float(np.abs(k).max()) for k in ks) or 1.0
    for i, (k, ax) in enumerate(zip(ks, axes[0])):
        lim = shared_lim if shared else (float(np.abs(k).max()) or 1.0)
        sns.heatmap(k, ax=ax, annot=annot, fmt=fmt, cmap=cmap, center=0.0, vmin=-lim, vmax=lim,
                    square=True, cbar=True, xticklabels=False, yticklabels=False,
                    annot_kws={"size": annot_size}, cbar_kws={"shrink": 0.8})
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def map_grid(maps, titles=None, row_labels=None, cmap="gray", size: float = 2.2, vmin=None, vmax=None,
             robust: bool = False, colorbar=None, colorbar_label=None, gamma=None):
    """Images or filter maps in a grid, without axes.

    Args:
        maps: ``[rows, cols, height, width]`` (tensor or array), or ``[cols, height, width]`` for one row.
        titles: ``cols`` column titles (optional; on the first row).
        row_labels: ``rows`` labels written left of each row (optional).
        cmap: one colormap, or a list with one per column.
        size: side of one panel in inches.
        vmin, vmax: colour limits. A number is shared by all panels; an array that broadcasts
            to ``[rows, cols]`` (e.g. ``[[a], [b]]`` per row, or ``[a, b, c]`` per column) gives
            panels their own or shared limits, ``nan`` meaning "this panel's own range".
            Default: each panel its own range.
        robust: where a panel has no limit, clip its range at its 0.5th and 99.5th percentiles,
            so that a few extreme values (e.g. at a zero-padded border) do not hide the rest.
        colorbar: ``None`` (no colour bar), ``"row"`` (one per row, right of its last panel) or
            ``"column"`` (one per column, under its last panel); panels that share a colour bar
            should share their limits.
        colorbar_label: label of the colour bars (a string, or one per row / column).
        gamma: exponent of a power-law colour scale (``matplotlib.colors.PowerNorm``; e.g. 0.5
            makes weak values visible next to strong ones on a shared scale), one number for all
            panels or a list with one per column (``None`` entries: linear). Default: linear.

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    m = _as_numpy(maps)
    if m.ndim == 3:
        m = m[None]
    if m.ndim != 4:
        raise ValueError(f"map_grid: maps must be [rows, cols, height, width] or [cols, height, width], "
                         f"got shape {m.shape}")
    rows, cols = m.shape[:2]
    cmaps = list(cmap) if isinstance(cmap, (list, tuple)) else [cmap] * cols
    if len(cmaps) != cols:
        raise ValueError(f"map_grid: expected {cols} colormaps, got {len(cmaps)}")
    if colorbar not in (None, "row", "column"):
        raise ValueError(f"map_grid: colorbar must be None, 'row' or 'column', got {colorbar!r}")

    def limits(value, name):
        arr = np.full((rows, cols), np.nan) if value is None else np.asarray(value, dtype=float)
        try:
            return np.broadcast_to(arr, (rows, cols))
        except ValueError:
            raise ValueError(f"map_grid: {name} must be a number or broadcast to [rows, cols] = "
                             f"[{rows}, {cols}], got shape {arr.shape}") from None

    lo_all, hi_all = limits(vmin, "vmin"), limits(vmax, "vmax")
    gammas = list(gamma) if isinstance(gamma, (list, tuple)) else [gamma] * cols
    if len(gammas) != cols:
        raise ValueError(f"map_grid: expected {cols} gamma values, got {len(gammas)}")
    aspect = m.shape[2] / m.shape[3]
    extra_w = 0.9 if colorbar == "row" else 0.0
    extra_h = 0.6 if colorbar == "column" else 0.0
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + extra_w,
                                                  size * aspect * rows + 0.3 * (titles is not None) + extra_h),
                             squeeze=False, layout="constrained" if colorbar else None)
    images = np.empty((rows, cols), dtype=object)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            lo, hi = lo_all[r, c], hi_all[r, c]
            lo, hi = (None if np.isnan(lo) else float(lo)), (None if np.isnan(hi) else float(hi))
            if robust and lo is None and hi is None:
                lo, hi = np.percentile(m[r, c], [0.5, 99.5])
            if gammas[c] is None:
                images[r, c] = ax.imshow(m[r, c], cmap=cmaps[c], vmin=lo, vmax=hi, interpolation="nearest")
            else:
                from matplotlib.colors import PowerNorm
                norm = PowerNorm(gamma=float(gammas[c]), vmin=lo, vmax=hi)
                images[r, c] = ax.imshow(m[r, c], cmap=cmaps[c], norm=norm, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0 and titles is not None:
                ax.set_title(titles[c], fontsize=9)
        if row_labels is not None:
            axes[r, 0].set_ylabel(str(row_labels[r]), fontsize=9)
    if colorbar is not None:
        n = rows if colorbar == "row" else cols
        labels = list(colorbar_label) if isinstance(colorbar_label, (list, tuple)) else [colorbar_label] * n
        for i in range(n):
            group = axes[i, :] if colorbar == "row" else axes[:, i]
            im = images[i, -1] if colorbar == "row" else images[-1, i]
            bar = fig.colorbar(im, ax=list(group), shrink=0.85, pad=0.02,
                               location="right" if colorbar == "row" else "bottom")
            bar.ax.tick_params(labelsize=8)
            if labels[i]:
                bar.set_label(labels[i], fontsize=9)
    else:
        fig.tight_layout(pad=0.3)
    return fig


# --- neurons chapter ---
def _fixed_margins(fig, hspace: float = 0.5):
    """Margins in inches (fast, unlike tight_layout, which draws the figure once more)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.85 / w, right=1 - 0.15 / w, bottom=0.5 / h, top=1 - 0.3 / h, hspace=hspace)


def membrane_traces(voltages, spikes, thresholds, labels, dt: float = 1.0, inputs=None,
                    figsize=(7, 5)):
    """Membrane potential of several neurons driven by the same input, one row each.

    Args:
        voltages: ``[n_neurons, time]`` potentials in mV (after reset, as :func:`snnbook.neurons.simulate`
            returns them).
        spikes: ``[n_neurons, time]`` 0/1 spikes (not cumulative).
        thresholds: ``[n_neurons, time]`` thresholds in mV, or ``[n_neurons]`` constants.
        labels: ``n_neurons`` row titles.
        dt: time step in ms.
        inputs: optional ``[time]`` input per step (mV), drawn in an extra top row.
        figsize: figure size in inches.

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    v, z = _as_numpy(voltages), _as_numpy(spikes)
    if v.ndim != 2 or z.shape != v.shape:
        raise ValueError(f"membrane_traces: voltages and spikes must both be [n_neurons, time], got "
                         f"shapes {v.shape} and {z.shape}")
    th = _as_numpy(thresholds).astype(float)
    if th.ndim == 1:
        th = np.repeat(th[:, None], v.shape[1], axis=1)
    if th.shape != v.shape:
        raise ValueError(f"membrane_traces: thresholds must be [n_neurons] or [n_neurons, time] = "
                         f"{list(v.shape)}, got shape {th.shape}")
    labels = list(labels)
    if len(labels) != v.shape[0]:
        raise ValueError(f"membrane_traces: expected {v.shape[0]} labels, got {len(labels)}")
    t = np.arange(v.shape[1]) * dt
    rows = v.shape[0] + (inputs is not None)
    fig, axes = plt.subplots(rows, 1, figsize=figsize, sharex=True, squeeze=False)
    axes = axes[:, 0]
    if inputs is not None:
        axes[0].plot(t, _as_numpy(inputs), color="0.3")
        axes[0].set_ylabel("input\n(mV/step)")
        axes = axes[1:]
    for i, ax in enumerate(axes):
        ax.plot(t, v[i], color=f"C{i}", lw=1.2, label="$v$")
        ax.plot(t, th[i], "k--", lw=0.8, label="threshold")
        ts = t[z[i] > 0]
        top = max(float(th[i].max()), float(v[i].max())) * 1.15
        ax.vlines(ts, th[i][z[i] > 0], top, color=f"C{i}", lw=1.0)
        ax.set_ylim(min(0.0, float(v[i].min())) - 0.05, top)
        ax.set_ylabel("$v$ (mV)")
        ax.set_title(f"{labels[i]}: {int(z[i].sum())} spikes", fontsize=9, loc="left")
    axes[-1].set_xlabel("time (ms)")
    _fixed_margins(fig, hspace=0.6)
    return fig


def fi_curves(currents, rates, ax=None, figsize=(5, 3.2)):
    """f-I curves: firing rate against a constant input, one line per neuron model.

    Args:
        currents: ``[n_currents]`` constant inputs (mV per step).
        rates: dict label -> ``[n_currents]`` firing rates in Hz.
        ax: optional Axes to draw on.
        figsize: size of a new figure.

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    x = _as_numpy(currents)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    for label, r in rates.items():
        r = _as_numpy(r)
        if r.shape != x.shape:
            raise ValueError(f"fi_curves: rates[{label!r}] must have shape {x.shape}, got {r.shape}")
        ax.plot(x, r, lw=1.5, label=label)
    ax.set_xlabel("constant input $x$ (mV per step)")
    ax.set_ylabel("firing rate (Hz)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def three_neuron_figure(inputs, voltages, spikes, threshold: float = 1.0, dt: float = 1.0,
                        titles=None, windows=None, figsize=(7, 6)):
    """The three-neuron experiment: input rasters and the output membrane, one panel per run.

    Args:
        inputs: ``[n_runs, 2, time]`` 0/1 spikes of the two input neurons.
        voltages: ``[n_runs, time]`` output potentials (mV).
        spikes: ``[n_runs, time]`` output spikes (0/1).
        threshold: firing threshold (mV).
        dt: time step in ms; the time axis is drawn in seconds.
        titles: ``n_runs`` panel titles.
        windows: optional list (one per run) of ``[(start_s, stop_s), ...]`` windows to shade, or None.
        figsize: figure size in inches.

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    x, v, z = _as_numpy(inputs), _as_numpy(voltages), _as_numpy(spikes)
    if x.ndim != 3 or x.shape[1] != 2 or v.shape != (x.shape[0], x.shape[2]) or z.shape != v.shape:
        raise ValueError(f"three_neuron_figure: expected inputs [n_runs, 2, time] and voltages/spikes "
                         f"[n_runs, time], got shapes {x.shape}, {v.shape}, {z.shape}")
    n = x.shape[0]
    t = np.arange(x.shape[2]) * dt / 1000.0
    fig, axes = plt.subplots(2 * n, 1, figsize=figsize, sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [1, 2.2] * n})
    axes = axes[:, 0]
    for r in range(n):
        ar, av = axes[2 * r], axes[2 * r + 1]
        for k in range(2):
            ar.vlines(t[x[r, k] > 0], k + 0.6, k + 1.4, color=f"C{k + 2}", lw=1.0)
        ar.set_yticks([1, 2], ["in 1", "in 2"], fontsize=9)
        ar.set_ylim(0.4, 2.6)
        if titles is not None:
            ar.set_title(titles[r], fontsize=9, loc="left")
        av.plot(t, v[r], color="C0", lw=1.0)
        av.axhline(threshold, color="k", ls="--", lw=0.8)
        av.vlines(t[z[r] > 0], threshold, threshold * 1.3, color="C3", lw=1.5)
        av.set_ylim(0, threshold * 1.3)
        av.set_ylabel("$v$", fontsize=9)
        if windows is not None and windows[r]:
            for a, b in windows[r]:
                for ax in (ar, av):
                    ax.axvspan(a, b, color="0.9", zorder=0)
    axes[-1].set_xlabel("time (s)")
    _fixed_margins(fig, hspace=0.45)
    return fig


# --- competition chapter ---
def tensor_grid(x, row_labels=None, col_labels=None, cmap: str = "gray_r", size: float = 0.9,
                vmin=None, vmax=None, title=None):
    """A grid of small images, one per ``(row, col)`` entry of a 4-D tensor, on shared colour limits.

    Used for kernels ``[feature, channel, kh, kw]``, for one sample's spike-wave transposed to
    ``[channel, time, height, width]``, and for LTP/LTD masks.

    Args:
        x: ``[rows, cols, height, width]`` (tensor or array).
        row_labels: ``rows`` labels written left of each row (optional).
        col_labels: ``cols`` titles of the first row (optional).
        cmap: colour map.
        size: side of one panel in inches.
        vmin, vmax: shared colour limits (default: the min and max of ``x``).
        title: figure title (optional).

    Returns:
        matplotlib ``Figure`` with ``rows * cols`` axes.
    """
    import matplotlib.pyplot as plt

    x = _as_numpy(x).astype(float)
    if x.ndim != 4:
        raise ValueError(f"tensor_grid: x must be [rows, cols, height, width], got shape {x.shape}")
    rows, cols = x.shape[:2]
    vmin = float(x.min()) if vmin is None else vmin
    vmax = float(x.max()) if vmax is None else vmax
    top = 0.35 * (col_labels is not None) + 0.3 * (title is not None)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 0.5 * (row_labels is not None),
                                                  size * rows + top), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(x[r, c], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0 and col_labels is not None:
                ax.set_title(str(col_labels[c]), fontsize=9)
        if row_labels is not None:
            axes[r, 0].set_ylabel(str(row_labels[r]), fontsize=9, rotation=0, ha="right", va="center")
    if title is not None:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def kernel_mosaic(kernels, ncols: int = 10, ax=None, cmap: str = "gray", gap_color: str = "#7a9cc6",
                  title=None, vmin=None, vmax=None):
    """Tile many small kernels into one image (gaps between them) and show it on one Axes.

    Args:
        kernels: ``[n, kh, kw]`` (tensor or array), e.g. one channel of a convolution's weights.
        ncols: kernels per row.
        ax: optional Axes to draw on.
        cmap: colour map.
        gap_color: colour of the one-pixel gaps between kernels.
        title: Axes title (optional).
        vmin, vmax: colour limits (default: the min and max of ``kernels``).

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    k = _as_numpy(kernels).astype(float)
    if k.ndim != 3:
        raise ValueError(f"kernel_mosaic: kernels must be [n, kh, kw], got shape {k.shape}")
    n, kh, kw = k.shape
    nrows = -(-n // ncols)
    mosaic = np.full((nrows * (kh + 1) - 1, ncols * (kw + 1) - 1), np.nan)
    for i in range(n):
        r, c = divmod(i, ncols)
        mosaic[r * (kh + 1):r * (kh + 1) + kh, c * (kw + 1):c * (kw + 1) + kw] = k[i]
    if ax is None:
        fig, ax = plt.subplots(figsize=(ncols * 0.45, nrows * 0.45 + 0.3))
    else:
        fig = ax.figure
    cm = plt.get_cmap(cmap).copy()
    cm.set_bad(gap_color)
    ax.imshow(mosaic, cmap=cm, vmin=float(k.min()) if vmin is None else vmin,
              vmax=float(k.max()) if vmax is None else vmax, interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    return fig


def winners_overlay(image, winners, field: int = 5, radius: int = 0, ax=None, cmap: str = "gray_r",
                    title=None):
    """An image with each winner's receptive field (solid square, numbered in selection order) and,
    if ``radius > 0``, its inhibition square (dashed, side ``2 radius + 1``).

    Positions are the winners' ``(row, col)`` taken as image pixels: exact for a convolution whose
    input was padded by ``field // 2`` on each side (output ``(r, c)`` is centred on pixel ``(r, c)``).

    Args:
        image: ``[height, width]`` (tensor or array).
        winners: ``[k, 3]`` rows ``(feature, row, col)`` of ONE sample, ``-1`` rows ignored.
        field: side of the receptive field in pixels.
        radius: inhibition radius (0: no dashed squares).
        ax: optional Axes to draw on.
        cmap: colour map of the image.
        title: Axes title (optional).

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    img = _as_numpy(image)
    w = _as_numpy(winners)
    if img.ndim != 2 or w.ndim != 2 or w.shape[1] != 3:
        raise ValueError(f"winners_overlay: expected image [height, width] and winners [k, 3], got "
                         f"shapes {img.shape} and {w.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(3, 3))
    else:
        fig = ax.figure
    ax.imshow(img, cmap=cmap, interpolation="nearest")
    half = field / 2
    for i, (f, r, c) in enumerate(w):
        if f < 0:
            continue
        color = plt.cm.tab10(i % 10)
        ax.add_patch(Rectangle((c - half, r - half), field, field, fill=False, ec=color, lw=1.8))
        if radius > 0:
            ax.add_patch(Rectangle((c - radius - 0.5, r - radius - 0.5), 2 * radius + 1, 2 * radius + 1,
                                   fill=False, ec=color, lw=0.9, ls="--"))
        ax.text(c - half + 0.3, r - half - 0.3, f"{i + 1}:f{f}", color=color, fontsize=9, va="bottom")
    ax.set_xlim(-0.5, img.shape[1] - 0.5), ax.set_ylim(img.shape[0] - 0.5, -0.5)
    ax.set_xticks([]), ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    return fig


def weight_trajectories(trajectories, labels=None, ax=None, styles=None, title=None, every: int = 1):
    """Weights of a few synapses against the number of updates.

    Args:
        trajectories: ``[steps + 1, n_synapses]`` weights (row 0: before any update).
        labels: ``n_synapses`` legend labels (optional).
        ax: optional Axes to draw on.
        styles: optional list of ``n_synapses`` dicts of line keyword arguments.
        title: Axes title (optional).
        every: plot every ``every``-th update only (long runs draw faster; the last is always kept).

    Returns:
        matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    tr = _as_numpy(trajectories)
    if tr.ndim != 2:
        raise ValueError(f"weight_trajectories: trajectories must be [steps + 1, n_synapses], got {tr.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3))
    else:
        fig = ax.figure
    steps = np.unique(np.r_[np.arange(0, tr.shape[0], max(int(every), 1)), tr.shape[0] - 1])
    for j in range(tr.shape[1]):
        kw = {} if styles is None else dict(styles[j])
        ax.plot(steps, tr[steps, j], label=None if labels is None else labels[j], **kw)
    ax.set_xlabel("update")
    ax.set_ylabel("weight $w$")
    ax.set_ylim(-0.03, 1.03)
    if labels is not None:
        ax.legend(frameon=False, fontsize=9)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return fig


# --- whole networks (mozafari2019 chapter) ---
def network_diagram(blocks, ax=None, title=None, colors=None, box_width: float = 1.55,
                    gap: float = 0.45, figsize=(9.5, 2.6)):
    """A feed-forward network drawn as boxes left to right, joined by arrows.

    Args:
        blocks: a list of ``(name, details)`` pairs: ``name`` is written in bold at the top of a
            box, ``details`` (a string, ``"\\n"`` for new lines) below it.
        ax: optional Axes to draw on (its limits and aspect are set).
        title: Axes title (optional).
        colors: one face colour per box (default: a light colour per kind, cycling).
        box_width: width of a box in data units (the height is 1).
        gap: space between two boxes, where the arrow goes.
        figsize: size of a new figure in inches.

    Shape:
        - Input: ``len(blocks)`` boxes (no tensors)
        - Output: a figure with one Axes

    Returns:
        matplotlib ``Figure``.

    Example:
        >>> fig = network_diagram([("input", "28x28"), ("S1", "30 features")])
        >>> [t.get_text() for t in fig.axes[0].texts]
        ['input', '28x28', 'S1', '30 features']
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    blocks = list(blocks)
    if not blocks or any(not isinstance(b, (tuple, list)) or len(b) != 2 for b in blocks):
        raise ValueError(f"network_diagram: blocks must be a non-empty list of (name, details) pairs, "
                         f"got {blocks!r}")
    if colors is None:
        palette = ["#dce9f5", "#fde9d3", "#e3f1de", "#efe3f3"]
        colors = [palette[i % len(palette)] for i in range(len(blocks))]
    if len(colors) != len(blocks):
        raise ValueError(f"network_diagram: expected {len(blocks)} colors, got {len(colors)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    for i, ((name, details), color) in enumerate(zip(blocks, colors)):
        x = i * (box_width + gap)
        ax.add_patch(FancyBboxPatch((x, 0), box_width, 1, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=color, ec="0.3", lw=1.0))
        ax.text(x + box_width / 2, 0.9, str(name), ha="center", va="top", fontsize=9, fontweight="bold")
        ax.text(x + box_width / 2, 0.68, str(details), ha="center", va="top", fontsize=9, linespacing=1.35)
        if i:
            ax.add_artist(FancyArrowPatch((x - gap + 0.04, 0.5), (x - 0.04, 0.5), arrowstyle="-|>",
                                          mutation_scale=10, color="0.3", lw=1.0))
    total = len(blocks) * box_width + (len(blocks) - 1) * gap
    ax.set_xlim(-0.05, total + 0.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("auto")
    ax.axis("off")
    if title is not None:
        ax.set_title(title, fontsize=9)
    return fig


def backproject_conv(features, weight, stride: int = 1, top=None):
    """Pictures of a convolution's features, built from the pictures of its input features.

    The picture of output feature ``o`` is the sum, over the kernel positions ``(r, c)``, of the
    input-feature pictures weighted by ``weight[o, i, r, c]`` and placed ``(r * stride, c * stride)``
    pixels from the top-left corner; ``stride`` is the distance in pixels between two neighbouring
    input neurons (the product of the strides of all pooling layers below). With ``top=k`` only the
    ``k`` input features with the largest weights at each position contribute, as in the
    reconstructions of Kheradpisheh et al. (2018); with ``top=None`` all of them (the exact linear
    back-projection, e.g. of first-layer kernels through the DoG filters).

    Args:
        features: pictures of the input features (e.g. the DoG kernels for the first layer).
        weight: the convolution's kernels.
        stride: pixels between neighbouring input neurons.
        top: keep the ``top`` strongest input features per kernel position (``None``: all).

    Shape:
        - Input ``features``: ``[in_channels, height, width]``
        - Input ``weight``: ``[out_channels, in_channels, kh, kw]``
        - Output: ``[out_channels, height + (kh - 1) stride, width + (kw - 1) stride]``

    Returns:
        A float32 tensor of pictures.

    Example:
        >>> pics = backproject_conv(torch.ones(2, 3, 3), torch.ones(4, 2, 2, 2), stride=2)
        >>> tuple(pics.shape), float(pics.max())
        ((4, 5, 5), 8.0)
    """
    feats = torch.as_tensor(features, dtype=torch.float32)
    w = torch.as_tensor(weight, dtype=torch.float32)
    if feats.dim() != 3 or w.dim() != 4 or w.shape[1] != feats.shape[0]:
        raise ValueError(f"backproject_conv: expected features [in_channels, height, width] and weight "
                         f"[out_channels, in_channels, kh, kw] with the same in_channels, got shapes "
                         f"{tuple(feats.shape)} and {tuple(w.shape)}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"backproject_conv: stride must be a positive int, got stride={stride!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= w.shape[1]):
        raise ValueError(f"backproject_conv: top must be None or an int in [1, {w.shape[1]}], got {top!r}")
    h, wd = feats.shape[1:]
    out = torch.zeros(w.shape[0], h + (w.shape[2] - 1) * stride, wd + (w.shape[3] - 1) * stride)
    for r in range(w.shape[2]):
        for c in range(w.shape[3]):
            if top is None:
                part = torch.einsum("oi,ihw->ohw", w[:, :, r, c], feats)
            else:
                vals, idx = w[:, :, r, c].topk(top, dim=1)                 # [out, top]
                part = (vals[:, :, None, None] * feats[idx]).sum(1)
            out[:, r * stride:r * stride + h, c * stride:c * stride + wd] += part
    return out


def backproject_pool(features, kernel: int, stride: int = 1):
    """Pictures of pooled features: a pooling neuron responds to its input feature anywhere in its
    ``kernel x kernel`` window, so the picture is placed at the centre of a field that is
    ``(kernel - 1) * stride`` pixels larger (``stride``: pixels between neighbouring input neurons).

    Args:
        features: pictures of the features before pooling.
        kernel: the pooling window.
        stride: pixels between neighbouring input neurons.

    Shape:
        - Input: ``[channel, height, width]``
        - Output: ``[channel, height + (kernel - 1) stride, width + (kernel - 1) stride]``

    Returns:
        The pictures, zero-padded around.

    Example:
        >>> tuple(backproject_pool(torch.ones(3, 4, 4), 3, stride=2).shape)
        (3, 8, 8)
    """
    feats = torch.as_tensor(features, dtype=torch.float32)
    if feats.dim() != 3:
        raise ValueError(f"backproject_pool: features must be [channel, height, width], got {tuple(feats.shape)}")
    for name, v in (("kernel", kernel), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"backproject_pool: {name} must be a positive int, got {name}={v!r}")
    extra = (kernel - 1) * stride
    lo = extra // 2
    return torch.nn.functional.pad(feats, (lo, extra - lo, lo, extra - lo))


def _tsne_affinities(x: torch.Tensor, perplexity: float, tol: float = 1e-5, steps: int = 64) -> torch.Tensor:
    """Symmetric t-SNE input affinities P (each row's Gaussian width found by bisection)."""
    n = x.shape[0]
    d2 = torch.cdist(x, x).square()
    d2.fill_diagonal_(float("inf"))
    target = torch.log(torch.tensor(perplexity, dtype=x.dtype))
    lo = torch.zeros(n, 1, dtype=x.dtype)
    hi = torch.full((n, 1), float("inf"), dtype=x.dtype)
    beta = torch.ones(n, 1, dtype=x.dtype) / d2[torch.isfinite(d2)].median()
    for _ in range(steps):
        logits = -d2 * beta
        p = torch.softmax(logits, dim=1)
        entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(1, keepdim=True)   # natural log
        too_flat = entropy > target                                              # beta too small
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2, (lo + hi) / 2)
        if float((entropy - target).abs().max()) < tol:
            break
    p = torch.softmax(-d2 * beta, dim=1)
    return (p + p.T) / (2 * n)


def _tsne_gradient(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of KL(P || Q) with respect to the embedding ``y`` [n, dims]:
    ``4 sum_j (p_ij - q_ij) (1 + |y_i - y_j|^2)^-1 (y_i - y_j)``."""
    sq = (y * y).sum(1)
    w = 1.0 / (1.0 + (sq[:, None] + sq[None, :] - 2.0 * (y @ y.T)).clamp_min(0.0))
    w.fill_diagonal_(0.0)
    m = (p - w / w.sum()) * w
    return 4.0 * (m.sum(1, keepdim=True) * y - m @ y)


def _tsne_kl(p: torch.Tensor, y: torch.Tensor) -> float:
    """KL(P || Q) of the embedding ``y`` (off-diagonal pairs)."""
    w = 1.0 / (1.0 + torch.cdist(y, y).square())
    w.fill_diagonal_(0.0)
    q = w / w.sum()
    off = ~torch.eye(len(y), dtype=torch.bool)
    return float((p[off] * torch.log(p[off] / q[off])).sum())


def tsne(x, perplexity: float = 30.0, iterations: int = 1000, seed: int = 0, dims: int = 2,
         exaggeration: float = 12.0, exaggeration_iterations: int = 250, learning_rate=None):
    """Exact t-SNE (van der Maaten and Hinton, 2008) of a few hundred to a few thousand points.

    Input affinities: a Gaussian per point whose width gives the chosen perplexity (bisection),
    symmetrised, ``P = (P_cond + P_cond^T) / 2n``. Output affinities: a Student-t kernel
    ``q_ij = (1 + |y_i - y_j|^2)^-1 / sum``. Gradient descent on ``KL(P || Q)`` with the usual
    schedule: early exaggeration of ``P`` (x12) for the first 250 iterations, momentum 0.5 then
    0.8, per-coordinate adaptive gains, learning rate ``max(n / exaggeration / 4, 50)``. Exact
    (``O(n^2)`` memory and time per iteration), float64, seeded: the same input gives the same map.

    Args:
        x: the points (tensor or array).
        perplexity: effective number of neighbours of each point (must be below ``n``).
        iterations: gradient steps.
        seed: seed of the initial embedding (``N(0, 1e-4)``).
        dims: dimensions of the embedding.
        exaggeration: factor applied to ``P`` during the first ``exaggeration_iterations``.
        exaggeration_iterations: length of the early-exaggeration phase.
        learning_rate: step size (default as above).

    Shape:
        - Input: ``[n, features]``
        - Output: ``[n, dims]``

    Returns:
        ``(embedding, kl)``: a numpy array and the final Kullback-Leibler divergence (float).

    Example:
        >>> pts = np.r_[np.zeros((20, 5)), np.ones((20, 5))] + np.random.default_rng(0).normal(0, .1, (40, 5))
        >>> y, kl = tsne(pts, perplexity=5, iterations=300)
        >>> y.shape
        (40, 2)
    """
    data = torch.as_tensor(np.asarray(_as_numpy(x), dtype=np.float64))
    if data.dim() != 2:
        raise ValueError(f"tsne: x must be [n, features], got shape {tuple(data.shape)}")
    n = data.shape[0]
    if not 1 <= perplexity < n - 1:
        raise ValueError(f"tsne: perplexity must be in [1, n - 1) = [1, {n - 1}), got {perplexity}")
    p = _tsne_affinities(data, float(perplexity)).clamp_min(1e-12)
    gen = torch.Generator().manual_seed(int(seed))
    y = torch.randn(n, dims, generator=gen, dtype=torch.float64) * 1e-2
    lr = max(n / exaggeration / 4, 50.0) if learning_rate is None else float(learning_rate)
    update = torch.zeros_like(y)
    gains = torch.ones_like(y)
    for it in range(iterations):
        early = it < exaggeration_iterations
        grad = _tsne_gradient(p * exaggeration if early else p, y)
        momentum = 0.5 if early else 0.8
        same_sign = (grad > 0) == (update > 0)
        gains = torch.where(same_sign, gains * 0.8, gains + 0.2).clamp_min(0.01)
        update = momentum * update - lr * gains * grad
        y = y + update
        y = y - y.mean(0)
    return y.numpy(), _tsne_kl(p, y)


def confusion_plot(confusion, ax=None, title=None, cmap: str = "Blues", classes=None):
    """A confusion matrix as a heat map with the count in every cell (true class in rows).

    Args:
        confusion: counts, ``confusion[i, j]`` = digits of class ``i`` classified as ``j``
            (tensor or array); an extra last column is allowed for "silent" (no decision).
        ax: optional Axes to draw on.
        title: Axes title (optional).
        cmap: colour map (a logarithmic scale, so that small errors remain visible).
        classes: row labels (default ``0 .. rows - 1``).

    Shape:
        - Input: ``[classes, classes]`` or ``[classes, classes + 1]``
        - Output: a figure

    Returns:
        matplotlib ``Figure``.

    Example:
        >>> fig = confusion_plot(np.array([[9, 1], [2, 8]]))
        >>> len(fig.axes[0].texts)
        4
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    m = _as_numpy(confusion).astype(float)
    if m.ndim != 2 or m.shape[1] not in (m.shape[0], m.shape[0] + 1):
        raise ValueError(f"confusion_plot: confusion must be [classes, classes] or [classes, classes + 1], "
                         f"got shape {m.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.5 * m.shape[1] + 1.2, 0.5 * m.shape[0] + 0.8))
    else:
        fig = ax.figure
    shown = np.where(m > 0, m, np.nan)
    ax.imshow(shown, cmap=cmap, norm=LogNorm(vmin=1, vmax=max(m.max(), 2)), interpolation="nearest")
    big = np.nanmax(shown) if np.isfinite(shown).any() else 1
    for (i, j), v in np.ndenumerate(m):
        if v > 0:
            ax.text(j, i, f"{int(v)}", ha="center", va="center", fontsize=9,
                    color="white" if v > big ** 0.75 else "black")
    rows = list(range(m.shape[0])) if classes is None else list(classes)
    cols = [str(c) for c in rows] + (["silent"] if m.shape[1] > m.shape[0] else [])
    ax.set_xticks(range(m.shape[1]), cols, fontsize=9)
    ax.set_yticks(range(m.shape[0]), [str(c) for c in rows], fontsize=9)
    ax.set_xlabel("decision")
    ax.set_ylabel("true class")
    if title is not None:
        ax.set_title(title, fontsize=9)
    return fig
