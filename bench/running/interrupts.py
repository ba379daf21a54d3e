"""Ctrl-C and SIGTERM during training: one line naming the cell and how to resume it, never a silent exit.

Lightning catches the KeyboardInterrupt of ``trainer.fit``, sets SIGINT to ignored and calls
``sys.exit(1)`` (lightning/pytorch/trainer/call.py, ``_call_and_handle_interrupt``), so a
KeyboardInterrupt handler above the fit never runs. :func:`fit_interrupt_named` turns that
SystemExit back into :class:`~bench.errors.Interrupted` with a message (exit 130 for Ctrl-C, 143
for the :class:`~bench.errors.Terminated` of SIGTERM), and restores the signal handlers of before
the fit.

During a fit Lightning also puts its own SIGTERM handler in front of the process's
(lightning/pytorch/trainer/connectors/signal_connector.py, ``register_signal_handlers``): it
only sets a flag, and the fit loop then raises ``SIGTERMException``, a ``SystemExit`` without a
code, so the run used to end with exit 0, no message and no record. :class:`KeepSigterm` puts
the process's handler back as training starts: ``bench``'s (stop like Ctrl-C) in a ``bench``
process, submitit's (log and go on, so that its USR2 checkpoint-and-requeue runs) in a job.

:func:`stop_signals_deferred` holds a Ctrl-C or SIGTERM until a block (a checkpoint write) is
done: a KeyboardInterrupt inside ``torch.save`` becomes a RuntimeError of its zip writer, a
traceback instead of the interrupt message.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L

from bench.errors import Interrupted, Terminated, raise_terminated


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def fit_interrupt_named(message: Callable[[bool], str]) -> Iterator[None]:
    """Around a Lightning fit: its Ctrl-C or SIGTERM exit becomes :class:`Interrupted` carrying
    ``message(terminated)``."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
    try:
        yield
    except SystemExit as exc:
        if not isinstance(exc.__context__, KeyboardInterrupt):
            raise
        terminated = isinstance(exc.__context__, Terminated)
        raise Interrupted(message(terminated), Terminated.exit_code if terminated else 130) from None
    finally:
        for number, handler in handlers.items():
            if handler is not None:
                signal.signal(number, handler)


class KeepSigterm(L.Callback):
    """Gives SIGTERM back to the handler the process had before the fit, once Lightning has replaced it."""

    def __init__(self) -> None:
        self.handler = signal.getsignal(signal.SIGTERM) if _main_thread() else None

    def on_train_start(self, trainer: Any, module: Any) -> None:
        if self.handler is not None and _main_thread():
            signal.signal(signal.SIGTERM, self.handler)


_RAISING = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: raise_terminated}
"""The handlers that stop the process by raising, and so may be held back for a while."""


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM that arrives inside the block; raise it once the block is done."""
    if not _main_thread():
        yield
        return
    held = [number for number, handler in _RAISING.items() if signal.getsignal(number) is handler]
    caught: list[int] = []
    for number in held:
        signal.signal(number, lambda got, frame: caught.append(got))
    try:
        yield
    finally:
        for number in held:
            signal.signal(number, _RAISING[number])
    if caught:
        raise Terminated if caught[0] == signal.SIGTERM else KeyboardInterrupt
