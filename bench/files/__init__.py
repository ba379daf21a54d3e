"""Reading and writing the harness's own files: the strict YAML/JSON loader and its field readers,
atomic writes, default locations on disk, and where each dataset's files are.

The bottom layer: every folder and the top-level contracts (``bench.config`` reads ``--set``
values through the loader) may import it. It imports ``bench.api`` and ``bench.errors``, and
``bench.registry`` for :mod:`.roots`, which opens a dataset's adapter where its files are.
"""
