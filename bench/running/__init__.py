"""Running cells: from what ``bench run`` asked for to a record in the store.

``planning`` (with ``choices``, ``regimes``, ``modalities``, ``budget``, ``values``, ``compat``
and ``completeness``) checks every request before work starts and makes the plan; ``run``
executes it cell by cell (``celllock``, ``interrupts``), ``training`` is the Lightning loop and
its resume, ``kept_weights`` writes a cell's weights and reads a ``--weights`` file back,
``assemble`` builds the record, ``provenance`` says where it ran. ``commands`` and
``prepare_command`` are the subcommands run, list, doctor, cache and prepare; ``predict_model``
and ``predict_command`` are ``bench predict``.

May import everything below it: the contracts, ``bench.files``, ``bench.protocols``,
``bench.metrics``, ``bench.data``, ``bench.records``, and ``bench.reporting.summary`` (the
summary ``bench run`` prints). It reaches methods through the registry only.
"""
