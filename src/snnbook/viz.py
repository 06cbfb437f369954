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
