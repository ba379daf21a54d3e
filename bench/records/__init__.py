"""Run records at rest: the typed record and cell key (``cells``) and the results store that
writes them atomically and finds them again (``store``).

The one format that running writes and reporting reads. May import ``bench.errors`` and
``bench.files`` only.
"""
