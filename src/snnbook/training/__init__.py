"""Training the book's whole networks: one run layer and one recipe per network.

Chapters: A deep network that learns with spikes (book/mozafari2019.md) and the chapters after it.

- :mod:`snnbook.training.run`: :class:`~snnbook.training.run.Run`, what every run shares (files
  in ``runs/`` by default, checkpoints with digests, resume, Ctrl-C, progress and logging, device,
  provenance, results written on success only).
- :mod:`snnbook.training.cards`: which runs a results card aggregates (complete runs of one
  configuration) and their mean and standard deviation.
- Recipes: :mod:`~snnbook.training.mozafari2019` (STDP + R-STDP, committees),
  :mod:`~snnbook.training.diehl_cook2015` (unsupervised STDP),
  :mod:`~snnbook.training.kheradpisheh2018` (STDP features, linear readout), :mod:`~snnbook.training.gradient`
  (Chevalier's network and the surrogate-gradient networks), :mod:`~snnbook.training.events`
  (networks on EventMNIST).

The command line over them is ``snnbook train <network>`` (:mod:`snnbook.cli`); every function
here takes the same ``out``, ``name``, ``resume``, ``force``, ``keep_checkpoint``, ``progress`` and
``verbose`` arguments, and the torch-trained networks a ``device``.
"""
from .run import (DEFAULT_OUT, Run, RunExists, TrainingInterrupted, confusion, git_commit, machine_info,
                  provenance, resolve_device)
from .cards import collect, mean_sd
from .mozafari2019 import (DEVIATIONS, FAITHFUL, PAPER, committee_decisions, committee_mozafari2019,
                           committee_scores, evaluate, load_mozafari2019, shift_images, summarize_mozafari2019,
                           train_mozafari2019)
from .gradient import (GRADIENT_DEFAULTS, GRADIENT_DEVIATIONS, GRADIENT_PAPERS, chevalier_lrs, evaluate_gradient,
                       load_gradient, random_shift, summarize_gradient, train_gradient)
from .diehl_cook2015 import load_diehl_cook2015, train_diehl_cook2015
from .kheradpisheh2018 import load_kheradpisheh2018, train_kheradpisheh2018
from .events import load_events, train_events, train_events_stdp
from .conversion import convert_ann, load_ann, summarize_conversion, train_ann

__all__ = ["Run", "RunExists", "TrainingInterrupted", "DEFAULT_OUT", "provenance", "git_commit", "machine_info",
           "resolve_device", "confusion", "collect", "mean_sd",
           "train_mozafari2019", "summarize_mozafari2019", "evaluate", "load_mozafari2019", "shift_images",
           "committee_scores", "committee_decisions", "committee_mozafari2019", "PAPER", "DEVIATIONS", "FAITHFUL",
           "train_gradient", "random_shift", "evaluate_gradient", "load_gradient", "summarize_gradient",
           "chevalier_lrs", "GRADIENT_DEFAULTS", "GRADIENT_PAPERS", "GRADIENT_DEVIATIONS",
           "train_diehl_cook2015", "load_diehl_cook2015", "train_kheradpisheh2018", "load_kheradpisheh2018",
           "train_events", "train_events_stdp", "load_events",
           "train_ann", "convert_ann", "load_ann", "summarize_conversion"]
