"""The one error type of kcnn.data's argument checks."""

from __future__ import annotations

__all__ = ["DataArgumentError"]


class DataArgumentError(ValueError):
    """A dataset argument that cannot work: ``argument`` is ``"name"``, ``"split"`` or ``"data_dir"``,
    so a caller (the trainer, a command line) can name its own flag for it."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument
