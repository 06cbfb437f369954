"""snnbook: the library behind *Spiking Vision*, a course book on spiking neural networks for
image recognition.

One module per pipeline stage, each mirrored by a chapter of the book:
``retina`` (DoG/Gabor filters), ``coding`` (latency, Poisson and event coding), ``neurons``
(IF, LIF, adaptive LIF, surrogate gradients), ``layers`` (spiking convolution and pooling),
``competition`` (fire, inhibition, k-winners-take-all), ``plasticity`` (STDP, R-STDP),
``data`` (offline MNIST), ``viz`` (plots) and ``widgets`` (interactive figures).

Spike-waves are ``[batch, time, channel, height, width]`` throughout.
"""


def _version() -> str:
    """The installed distribution's version (pyproject.toml is its one source); from a source
    tree that is not installed (``src/`` on ``PYTHONPATH``), the checkout's pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("snnbook")
    except PackageNotFoundError:
        pass
    from pathlib import Path
    import re

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), flags=re.M)
    except OSError:
        match = None
    return match[1] if match else "0+unknown"


__version__ = _version()
del _version
