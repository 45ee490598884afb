"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""


class InputError(Exception):
    """Bad user input: a missing, unreadable or unsuitable file, or an impossible option.

    The message is one line that names the file and the problem.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
