"""The runtime wing: pages in, records out, for the batch command, HTTP serving and Spark.

:mod:`chromesift.runtime.core` classifies pages into records (one record shape, one set of
limits) and is what the other three run; :mod:`chromesift.runtime.pool` is the supervised
pool of worker processes (time limit per job, crash recovery) of the batch command, of
HTTP serving and of the peer runs of evaluation. :mod:`chromesift.runtime.batch` reads JSONL and WARC input and
writes resumable JSONL; :mod:`chromesift.runtime.serving` wraps a bundle as an MLflow
pyfunc for HTTP serving; :mod:`chromesift.runtime.spark` runs the same classification on
Spark.
"""
