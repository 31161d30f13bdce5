"""Everything the suite shows a person or a machine: terminal summaries, JSON, errors, progress.

Only this module prints. Values that come from input files are shown with ``rich.markup.escape``
so that a cell holding ``[bold]`` or ``<script>`` is printed as the text it is.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """One line on stderr, prefixed like every other command-line tool's errors."""
    stderr.print(f"[bold red]checks: error:[/] {escape(message)}")


def print_warning(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(message)}")


def print_line(message: str = "", *, markup: bool = False) -> None:
    """A line for a person; ``markup`` only for strings the suite wrote itself."""
    stdout.print(message if markup else escape(message))


def print_json(payload: Any) -> None:
    """One JSON document on stdout, nothing else, for machines."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    # numpy scalars and paths are the usual non-JSON values in results.
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def progress_enabled() -> bool:
    """Bars only for a person at a terminal; never in CI logs or when output is piped."""
    return stderr.is_terminal and not os.environ.get("CI")


@contextmanager
def progress_step(description: str) -> Iterator[None]:
    """A spinner on stderr while one long step runs (silent when not at a terminal)."""
    if not progress_enabled():
        yield
        return
    with stderr.status(escape(description), spinner="dots"):
        yield
