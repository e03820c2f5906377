"""Evaluation stage: metrics, peer extractors, reports.

Submodules are imported on demand: :mod:`chromesift.evaluate.metrics` (scores),
:mod:`chromesift.evaluate.peers` (other extractors behind one interface),
:mod:`chromesift.evaluate.report` (Markdown/HTML/JSON report) and
:mod:`chromesift.evaluate.run` (the ``chromesift evaluate`` command and
:func:`~chromesift.evaluate.run.run_evaluation`).
"""
