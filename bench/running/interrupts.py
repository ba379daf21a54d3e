"""Ctrl-C during training: one line naming the cell and how to resume it, never a silent exit 1.

Lightning catches the KeyboardInterrupt of ``trainer.fit``, sets SIGINT to ignored and calls
``sys.exit(1)`` (lightning/pytorch/trainer/call.py, ``_call_and_handle_interrupt``), so a
KeyboardInterrupt handler above the fit never runs. :func:`fit_interrupt_named` turns that
SystemExit back into :class:`~bench.errors.Interrupted` with a message, and restores the SIGINT
handler of before the fit. :func:`sigint_deferred` holds a Ctrl-C until a block (a checkpoint
write) is done: a KeyboardInterrupt inside ``torch.save`` becomes a RuntimeError of its zip
writer, a traceback instead of the interrupt message.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

from bench.errors import Interrupted


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def fit_interrupt_named(message: Callable[[], str]) -> Iterator[None]:
    """Around a Lightning fit: its Ctrl-C exit becomes :class:`Interrupted` carrying ``message()``."""
    handler = signal.getsignal(signal.SIGINT) if _main_thread() else None
    try:
        yield
    except SystemExit as exc:
        if not isinstance(exc.__context__, KeyboardInterrupt):
            raise
        raise Interrupted(message()) from None
    finally:
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block; raise it as KeyboardInterrupt once the block is done."""
    if not _main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt
