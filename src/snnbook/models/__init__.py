"""Whole networks, one module per paper.

Chapter: A deep network that learns with spikes (book/mozafari2019.md).

- :mod:`snnbook.models.mozafari2019`: the deep convolutional SNN of Mozafari et al. (2019), STDP in
  its first two layers and R-STDP in its decision layer.
- :mod:`snnbook.models.diehl_cook2015`: the unsupervised STDP network of Diehl & Cook (2015)
  (chapter: Unsupervised learning with STDP, book/diehl_cook2015.md).
"""
from .diehl_cook2015 import DiehlCook2015
from .mozafari2019 import Mozafari2019

__all__ = ["Mozafari2019", "DiehlCook2015"]
