"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""


from pathlib import Path


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
