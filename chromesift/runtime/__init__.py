"""The runtime wing: pages in, records out, for the batch command, HTTP serving and Spark.

:mod:`chromesift.runtime.batch` reads JSONL and WARC input and runs a supervised worker
pool; :mod:`chromesift.runtime.serving` wraps a bundle as an MLflow pyfunc for HTTP
serving; :mod:`chromesift.runtime.spark` runs the same classification on Spark.
"""
