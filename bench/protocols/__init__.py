"""Protocols: what a paper's numbers were measured under, and the folds that follow from it.

``schema`` reads a protocol YAML into a :class:`Protocol` (re-exported here, so that
``from bench import protocols; protocols.load(name)`` reads as it says); ``splitspec`` checks a
protocol's ``split:`` mapping; ``splits`` builds the folds and asserts that no sample or subject
leaks across them; ``drawn_splits`` writes and verifies the seeded folds of ``bench splits``.

May import the contracts (``bench.api``, ``bench.errors``, ``bench.config``, ``bench.registry``),
``bench.files`` and ``bench.metrics`` (a protocol names its metrics). Nothing here trains,
reads a record or imports a method.
"""

from bench.protocols.schema import PretrainData, Protocol, Regime, available, load

__all__ = ["PretrainData", "Protocol", "Regime", "available", "load"]
