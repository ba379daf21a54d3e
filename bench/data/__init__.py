"""Datasets: adapters (one per dataset, in ``adapters/``), media decoding and features, the named
preprocessing (``transforms``, ``catalog``), the content-keyed cache, ``prepare`` (samples →
cached arrays → torch Dataset) and the embedded synthetic benchmark.

Knows nothing of training, records or reports: may import the contracts (``bench.api``,
``bench.errors``, ``bench.config`` for hashing) and ``bench.files``.
"""
