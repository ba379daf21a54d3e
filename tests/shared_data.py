"""Where the tests find the real data of ``../shared/data``, and how they skip cleanly without it.

The folder sits beside the repository checkout (``<checkout>/../shared/data``); a test that
needs it skips, naming the path it looked at, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """``../shared/data/<parts>``, whether or not it exists (for module constants and skip marks)."""
    return SHARED_DATA.joinpath(*parts)


def shared_data(*parts: str) -> Path:
    """``../shared/data/<parts>``; skips the calling test when that file or folder is absent."""
    path = shared_path(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    return path


def needs_shared(*parts: str) -> pytest.MarkDecorator:
    """A skip mark for tests that read ``../shared/data/<parts>``, applied when it is absent."""
    path = shared_path(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"shared test data not found at {path}")
