"""The ``checks`` command line: one typer app, one module per command, errors mapped in one place.

Command modules import only typer at module level; each command imports the library (and,
where it must, Great Expectations) when it runs, so that ``checks --help`` stays instant.
"""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import signal
import sys

# The commands do no matrix algebra worth a thread (a few chart transforms), and OpenBLAS's threads spin after each
# call: 0.12 CPU-s a process that calls it once, against a run's other core (two processes: the run, its helper, which
# inherits this). Set before NumPy is imported (OpenBLAS reads it when loaded); a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer

from checks.errors import EXIT_BAD_INPUT, ChecksError

app = typer.Typer(
    name="checks",
    help=(
        "Data-quality checks for customer data feeds, each declared in a data contract.\n\n"
        "Exit codes: 0 all checks pass, 1 a check failed, 2 bad input or usage, "
        "3 could not decide (the ledger, disk or keyring broke, not the data), "
        "130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(BaseException):
    """SIGTERM (a scheduler or a container stopping the command), raised where the command is, so that its
    clean-ups run: temporary files removed, the helper process stopped. Not an ``Exception``: nothing swallows it."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@app.callback()
def _root() -> None:
    """Data-quality checks for customer data feeds, each declared in a data contract."""


# Each module defines ``register(app)``.
_COMMAND_MODULES = (
    "checks.cli.run",
    "checks.cli.validate",
    "checks.cli.dedup",
    "checks.cli.diagnose",
    "checks.cli.report",
    "checks.cli.ingest",
    "checks.cli.audit",
    "checks.cli.gate",
    "checks.cli.history",
    "checks.cli.sample",
    "checks.cli.contract",
)

for _name in _COMMAND_MODULES:
    if importlib.util.find_spec(_name) is not None:
        importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the app and turn every ``ChecksError`` into one line on stderr and its exit code."""
    try:
        app(args=argv, prog_name="checks", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_BAD_INPUT)
    except ChecksError as error:
        from checks.landing.quoting import one_line
        from checks.output import print_error

        # Messages name files from the source: a newline in a name must not make a second line.
        print_error(one_line(error, limit=2000))
        return error.exit_code
    except KeyboardInterrupt:
        from checks.output import print_error

        print_error("interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        from checks.output import print_error

        print_error("terminated")
        return EXIT_TERMINATED
    except Exception as error:  # noqa: BLE001  the last guard: a person never gets a traceback
        if os.environ.get("CHECKS_TRACEBACK"):
            raise
        from checks.output import print_error

        detail = (str(error).strip().splitlines() or [""])[0][:200]
        print_error(
            f"unexpected {type(error).__name__}: {detail} (a bug in checks: please report it with the input; "
            "CHECKS_TRACEBACK=1 shows where)"
        )
        return EXIT_BAD_INPUT
    return 0


def entrypoint() -> None:
    """The console script: run, then leave without tearing the interpreter down.

    With Great Expectations, pandas and Polars loaded, the interpreter's own teardown (freeing every
    module) takes up to a second and serves nothing here: every output is already written, closed
    and renamed. Exit handlers still run and the standard streams are flushed before leaving.
    """
    signal.signal(signal.SIGTERM, _raise_terminated)  # Python's default would end at once, leaving temporary files
    code = main()
    writers = sys.modules.get("checks.writers")
    if writers is not None:  # a write an interrupt left running ends before the process does
        try:
            writers.wait_for_writes()
        except (KeyboardInterrupt, Terminated):
            pass  # stopped again while waiting: leave as asked
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe or stream: nothing left to say on it
    os._exit(code)
