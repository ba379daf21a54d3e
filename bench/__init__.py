"""bench: a benchmark harness and reproduction suite for multimodal emotion recognition.

The harness knows no method: methods and datasets arrive through the entry-point groups
``bench.methods`` and ``bench.datasets`` (see :mod:`bench.registry`). At this level stand only
what a plugin author or the console script imports: ``api`` (the plugin contracts), ``errors``,
``registry``, ``config`` (presets, ``--set``, hashing) and ``cli``. The work is in job folders,
each importing only the ones before it: ``files``, ``metrics``, ``protocols``, ``data``,
``records``, ``reporting``, ``running``, ``launch`` (their ``__init__`` says what each may import).
"""

__version__ = "0.1.0"
