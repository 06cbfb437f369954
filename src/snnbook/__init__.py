"""snnbook: the library behind *Spiking Vision*, a course book on spiking neural networks for
image recognition.

One module per pipeline stage, each mirrored by a chapter of the book:
``retina`` (DoG/Gabor filters), ``coding`` (latency, Poisson and event coding), ``neurons``
(IF, LIF, adaptive LIF, surrogate gradients), ``layers`` (spiking convolution and pooling),
``competition`` (fire, inhibition, k-winners-take-all), ``plasticity`` (STDP, R-STDP),
``data`` (offline MNIST), ``viz`` (plots) and ``widgets`` (interactive figures).

Spike-waves are ``[batch, time, channel, height, width]`` throughout.
"""
__version__ = "0.1.0"
