"""Whole networks, one module per paper.

Chapter: A deep network that learns with spikes (book/mozafari2019.md), and the chapters after it.

- :mod:`snnbook.models.mozafari2019`: the deep convolutional SNN of Mozafari et al. (2019), STDP in
  its first two layers and R-STDP in its decision layer.
- :mod:`snnbook.models.kheradpisheh2018`: the STDP-trained deep convolutional SNN of Kheradpisheh et
  al. (2018), a feature extractor for a linear readout.
- :mod:`snnbook.models.diehl_cook2015`: the unsupervised STDP network of Diehl & Cook (2015)
  (chapter: Unsupervised learning with STDP, book/diehl_cook2015.md).
- :mod:`snnbook.models.chevalier`: Chevalier's (2018) spiking layer trained with plain autograd, and its
  non-spiking twin (chapter: Learning by gradient, book/gradient.md).
- :mod:`snnbook.models.surrogate`: the LIF layer with reset by subtraction and the surrogate-gradient
  networks :class:`SurrogateFC` and :class:`SurrogateConv` (book/gradient.md).
- :mod:`snnbook.models.spikeprop`: SpikeProp (Bohte et al. 2002), gradients through spike times
  (book/gradient.md).
- :mod:`snnbook.models.events_nets`: networks on event-camera digits (chapter: Event cameras,
  book/events.md).
- :mod:`snnbook.models.conversion`: the ReLU twins of the surrogate-gradient networks and their
  conversion to integrate-and-fire networks by weight/threshold balancing (chapter: The third
  road: converting a trained ANN, book/conversion.md).
"""
from .diehl_cook2015 import DiehlCook2015
from .mozafari2019 import Mozafari2019
from .kheradpisheh2018 import Kheradpisheh2018
from .chevalier import ChevalierNonSpiking, ChevalierSpiking
from .surrogate import LIF, SurrogateConv, SurrogateFC
from .conversion import ConvertedSNN, ReLUConv, ReLUFC, convert

__all__ = ["Mozafari2019", "Kheradpisheh2018", "DiehlCook2015", "ChevalierSpiking", "ChevalierNonSpiking", "LIF", "SurrogateFC",
           "SurrogateConv", "ReLUFC", "ReLUConv", "ConvertedSNN", "convert"]
