"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""


import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class InputError(Exception):
    """Bad user input: a missing, unreadable or unsuitable file, or an impossible option.

    The message is one line that names the file and the problem.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self) -> tuple:
        """Picklable (worker processes raise it to their parent)."""
        return InputError, (self.path, self.problem)


def existing_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a Path; InputError when it is missing or is a folder (``what`` names the expected kind)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, f"is a folder, not {what}")
    return path


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM); raised where it runs, so that outputs in progress are cleaned up."""


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread, as Ctrl-C raises KeyboardInterrupt,
    so that no partial output or temporary file is left (servers and job runners stop work with SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
