"""How a cell computes: floating-point precision and the fast (non-deterministic) kernels.

``--precision 32|bf16-mixed|16-mixed`` is Lightning's ``Trainer(precision=...)``: ``32`` trains in
float32 (the default, as every cell so far), the ``-mixed`` ones under autocast in bfloat16 or
float16 (float16 with a gradient scaler); bench's own prediction loop runs under the same autocast.
``--fast`` allows TF32 matrix products and convolutions on NVIDIA GPUs and turns Lightning's
``deterministic`` off (cuDNN may pick non-deterministic kernels), trading bit-for-bit
reruns for speed. Both are recorded in the record's ``numerics``; a choice other than the
default enters the cell's hash, so the default leaves every existing hash as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from bench.errors import ConfigError
from bench.records.cells import DEFAULT_NUMERICS

PRECISIONS = ("32", "bf16-mixed", "16-mixed")
"""The accepted ``--precision`` values (Lightning's names); the first is the default."""


@dataclasses.dataclass(frozen=True)
class Numerics:
    """A cell's precision and whether fast kernels were allowed."""

    precision: str = PRECISIONS[0]
    fast: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision {self.precision!r}: allowed are {', '.join(PRECISIONS)}")

    @property
    def default(self) -> bool:
        return self.to_dict() == DEFAULT_NUMERICS

    def to_dict(self) -> dict[str, Any]:
        """The record's ``numerics``."""
        return {"precision": self.precision, "fast": self.fast}

    def hashed(self) -> dict[str, Any] | None:
        """What enters the cell hash: nothing for the default, else :meth:`to_dict`."""
        return None if self.default else self.to_dict()

    def trainer_options(self) -> dict[str, Any]:
        """The ``lightning.Trainer`` arguments these numerics set."""
        return {"precision": self.precision, "deterministic": not self.fast}

    def autocast(self, device_type: str) -> contextlib.AbstractContextManager[Any]:
        """The autocast context of bench's own forward passes (prediction) on ``device_type``."""
        import torch

        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16-mixed" else torch.float16
        return torch.autocast(device_type, dtype=dtype)


@contextlib.contextmanager
def applied(numerics: Numerics) -> Iterator[None]:
    """TF32 on for the block when ``numerics.fast`` (restored after): one cell's setting never leaks
    into the next cell of the same process."""
    import torch

    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    if numerics.fast:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
