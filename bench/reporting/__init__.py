"""Reporting: every number a user reads, made from stored records and the papers' numbers alone.

``reported`` (with ``yamlfields`` under ``bench.files`` and ``consistency``) reads the papers'
numbers and table layouts; ``tables`` renders *reported | reproduced | Δ*; ``check`` is
``bench check``; ``reproduced`` the committed store of the maintainers' real-data records;
``verify`` checks every record a command reads against its predictions (``scored``: a record's
task and metric keys); ``rescore`` recomputes metrics from stored predictions; ``summary`` the
per-cell tables;
``matrix_table`` and ``heatmap`` the method × protocol table and its PNG; ``confusion_figures``
and ``plot_command`` draw ``bench plot``.

Reads records, never trains: may import the contracts, ``bench.files``, ``bench.protocols``,
``bench.metrics`` and ``bench.records``; never ``bench.running``, ``bench.launch`` or
``bench.data``.
"""
