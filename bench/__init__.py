"""bench: a benchmark harness and reproduction suite for multimodal emotion recognition.

The harness knows no method: methods and datasets arrive through the entry-point groups
``bench.methods`` and ``bench.datasets`` (see :mod:`bench.registry`).
"""

__version__ = "0.1.0"
