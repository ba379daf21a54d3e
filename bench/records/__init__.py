"""Run records at rest: the typed record and cell key (``cells``), the results store that
writes them atomically and finds them again (``store``), and the seal that tells a record
changed since it was written (``integrity``).

The one format that running writes and reporting reads. May import ``bench.errors`` and
``bench.files`` only.
"""
