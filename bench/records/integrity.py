"""A record's ``integrity`` block: the sha256 of its predictions file and of its own content.

``{"predictions_sha256": hex, "record_sha256": hex}``. ``record_sha256`` is the sha256 of the
record's canonical JSON (keys sorted, separators ``(",", ":")``) with ``integrity.record_sha256``
itself left out, so it covers every other key, the predictions file's digest included. It is
written by :func:`seal` whenever bench writes a record (:func:`bench.records.store.write`,
``bench rescore``); :func:`problem` tells a record whose content or predictions file changed
afterwards. It proves that nothing changed since bench wrote the record, not that the numbers
are right: :mod:`bench.reporting.verify` also recomputes them from the predictions. Records
written before the block existed have none and are checked by that recomputation alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.files import io

KEY = "integrity"
_HEX = re.compile(r"[0-9a-f]{64}")


def record_sha256(record: Mapping[str, Any]) -> str:
    """The sha256 of the record's canonical JSON without ``integrity.record_sha256``."""
    content = dict(record)
    block = content.get(KEY)
    if isinstance(block, Mapping):
        content[KEY] = {k: v for k, v in block.items() if k != "record_sha256"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(record: Mapping[str, Any], predictions_file: Path) -> dict[str, Any]:
    """The record with its ``integrity`` block set for ``predictions_file`` and its present content."""
    sealed = {**record, KEY: {"predictions_sha256": io.sha256_file(predictions_file)}}
    sealed[KEY]["record_sha256"] = record_sha256(sealed)
    return sealed


def problem(record: Mapping[str, Any], predictions_file: Path) -> str | None:
    """Why the record or its predictions file differ from what bench wrote; None when they match
    (or when the record predates the block: it has none)."""
    if KEY not in record:
        return None
    block = record[KEY]
    if not isinstance(block, Mapping) or set(block) != {"predictions_sha256", "record_sha256"} or \
            not all(isinstance(v, str) and _HEX.fullmatch(v) for v in block.values()):
        return f"its {KEY} block is not {{predictions_sha256, record_sha256}} (two sha256 hex digests)"
    if record_sha256(record) != block["record_sha256"]:
        return f"tampered: its content does not match its {KEY}.record_sha256 (edited after bench wrote it)"
    if io.sha256_file(predictions_file) != block["predictions_sha256"]:
        return (f"tampered: its predictions file {predictions_file.name} is not the one it was written with "
                f"({KEY}.predictions_sha256 differs: replaced, truncated or edited)")
    return None
