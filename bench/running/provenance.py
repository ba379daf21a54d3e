"""What a run record says about where a number came from: code, environment, data identity."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import bench
from bench.errors import DataError


def code_version() -> dict[str, Any]:
    """The git commit of the bench checkout and whether its work tree has uncommitted changes."""
    repo = Path(bench.__file__).resolve().parent.parent
    info: dict[str, Any] = {"version": bench.__version__, "commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return info
    info.update(commit=commit, dirty=bool(status.strip()))
    return info


def environment() -> dict[str, Any]:
    """Interpreter, key library versions and the compute device."""
    import torch

    versions = {}
    for dist in ("torch", "lightning", "numpy", "scikit-learn", "av", "soundfile", "torchaudio", "torchvision"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return {"python": sys.version.split()[0], "platform": platform.platform(), "device": device,
            "cuda": torch.version.cuda, "packages": versions}


def files_fingerprint(paths: Iterable[Path], root: Path) -> str:
    """sha256 over (path relative to root, size) of the given files: cheap, and changes when files do.

    Content hashing every clip of a large dataset would cost minutes per run; the listing
    with sizes detects a different copy, a missing file or a re-encoded one.
    """
    digest = hashlib.sha256()
    root = Path(root).resolve()
    for path in sorted({_resolved(Path(p)) for p in paths}):
        try:
            rel = path.relative_to(root)
        except ValueError:
            rel = path
        size = path.stat().st_size if path.exists() else -1
        digest.update(f"{rel}\t{size}\n".encode())
    return digest.hexdigest()[:16]


def _resolved(path: Path) -> Path:
    """``path`` with its symbolic links followed; a link that leads back to itself is a DataError naming it."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as error:  # Python 3.11 raises RuntimeError("Symlink loop from ...")
        raise DataError(f"{path}: cannot be read: its symbolic links form a loop ({type(error).__name__}: "
                        "too many levels of symbolic links); point the link at the file itself") from None
