"""Evaluation stage: peer extractors, held-out runs, reports.

Submodules are imported on demand: :mod:`chromesift.evaluate.peers` (other
extractors behind one interface), :mod:`chromesift.evaluate.run` (the engine,
:func:`~chromesift.evaluate.run.run_evaluation`), :mod:`chromesift.evaluate.report`
(Markdown/HTML/JSON report) and :mod:`chromesift.evaluate.rescore` (decisions made
again from a held-out run's probabilities). The scores are :mod:`chromesift.metrics`,
the figures :mod:`chromesift.plots`; the commands are :mod:`chromesift.cli.evaluate`
and :mod:`chromesift.cli.rescore`.
"""
