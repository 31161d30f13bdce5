"""The suite's exceptions: one base class, each carrying where it happened and its exit code.

The CLI catches ``ChecksError`` in one place and prints ``str(error)`` as one line.
Exit codes: 0 pass, 1 checks failed, 2 bad input or usage, 3 could not decide: the machinery broke
(ledger, disk, keyring), not the data.
"""
from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INFRASTRUCTURE = 3


class ChecksError(Exception):
    """Base of every error the suite raises on purpose."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        check: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.check = check

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class BadInputError(ChecksError):
    """An input cannot be read as what it claims to be (missing, empty, malformed)."""


class UsageError(ChecksError):
    """The command was called with arguments that do not fit together."""


class SuiteError(ChecksError):
    """An expectation suite is broken or incomplete; running it would prove nothing."""


class DeduplicationError(ChecksError):
    """The feed cannot be reduced to one row per user without guessing."""

    exit_code = EXIT_CHECKS_FAILED


class SourceError(ChecksError):
    """A landing-zone object could not be listed, fetched or decrypted."""


class InfrastructureError(ChecksError):
    """The pipeline itself broke (a damaged or read-only ledger, an unwritable stage): no verdict on the data."""

    exit_code = EXIT_INFRASTRUCTURE
