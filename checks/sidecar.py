"""A helper process for the run's Python-heavy work that needs no table: Great Expectations' validation of the
suites' small evidence frames and its Data Docs.

Importing Great Expectations is about 3.5 s of pure Python. In the run's own process, on a thread, it held the
interpreter lock against the feed's reading (2.9 s more wall time over reading and validating 10 M users), and the
Checkpoint and the Data Docs (about 1.8 s) sat between the dedup and the diagnosis. In a process of its own, started
before anything is read, the import runs on the other core while the feed is read, and the validation while the
diagnosis runs. The process is spawned (never forked: the engines' thread pools are running), so what it is given
and returns is pickled: evidence frames and results, never a table of millions of rows.
"""
from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.util
import multiprocessing
import os
import resource
import signal
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

Result = TypeVar("Result")
HELPER_NICENESS = 10  # added to the helper process's niceness (0 the run's, 19 the lowest priority)
# What a run's helper imports ahead of use: GX (its validation) and matplotlib (the report's charts).
RUN_PRELOAD = (("checks.suites.gx", "preload"), ("checks.charts", "import_matplotlib"))
# GX imports its Spark, SQL and S3 back ends whenever they are installed; the run's helper validates Parquet files
# with pandas only (every engine hands it pandas evidence frames), so they stay out: 0.8 of its 4.5 CPU-s of imports.
RUN_KEEPS_OUT = ("pyspark", "sqlalchemy", "boto3", "botocore")
# GX imports these for expectations the suites never use (KL divergence and the KS tests: SciPy's statistics and
# Altair's charts), 1.2 of the helper's 3.4 CPU-s of imports: deferred to their first use, which a run never makes.
RUN_DEFERS = ("scipy.stats", "altair")


@dataclass(frozen=True)
class Usage:
    """What the helper process used, read once it has ended (its CPU seconds and its peak resident memory)."""

    cpu_seconds: float
    peak_memory_mb: int

    def to_dict(self) -> dict[str, float | int]:
        return {"cpu_seconds": round(self.cpu_seconds, 3), "peak_memory_mb": self.peak_memory_mb}


class Sidecar:
    """One helper process, started at once, that imports ``preload``'s modules and then runs what it is given in turn.

    ``preload`` is (module, function) pairs called first, e.g. ``("checks.suites.gx", "preload")``; a failure
    there is left for the task that needs the module to raise (and report) again. ``keep_out`` names modules the
    work there never uses: importing one raises ImportError there, so that a library importing it only when it is
    installed (GX: PySpark, SQLAlchemy, boto3) skips it. ``defer`` names modules imported only on first use of
    one of their attributes (``Deferred``). Use it as a context manager:
    leaving waits for the process to end (cancelling what has not started) and fills in ``usage``; leaving on an
    error ends the process at once.
    """

    def __init__(
        self, preload: Sequence[tuple[str, str]] = (), keep_out: Sequence[str] = (), defer: Sequence[str] = ()
    ) -> None:
        self._children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_preload,
            initargs=(tuple(preload), tuple(keep_out), tuple(defer)),
        )
        self._pool.submit(int)  # the pool starts its process on the first task: start it now
        self.usage: Usage | None = None

    @classmethod
    def for_run(cls) -> Sidecar:
        """The helper process a run uses (``checks.runner.run_case``), started now."""
        return cls(preload=RUN_PRELOAD, keep_out=RUN_KEEPS_OUT, defer=RUN_DEFERS)

    def submit(self, function: Callable[..., Result], *args: Any) -> Future[Result]:
        """Run ``function(*args)`` in the helper process (both picklable: a module-level function)."""
        return self._pool.submit(function, *args)

    def call(self, function: Callable[..., Result], *args: Any) -> Result:
        """``submit``, then wait for the answer (an exception raised there is raised here)."""
        return self.submit(function, *args).result()

    def close(self, *, at_once: bool = False) -> None:
        """Wait for the process to end and note what it used; ``at_once``: end it now, whatever it is doing."""
        if self.usage is not None:
            return  # ended already (a run ends the helper its caller started, and the caller leaves it too)
        if at_once:
            # Nothing more is wanted from it (the run failed): a bad input must not wait for GX's import. The pool
            # has no public way to stop a worker before Python 3.14 (``terminate_workers``): its processes, ended.
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = self._children_before
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # ru_maxrss of the children is the largest ended child's (Linux: KiB); the helper is the largest here.
        self.usage = Usage(cpu_seconds=cpu, peak_memory_mb=after.ru_maxrss // 1024)

    def __enter__(self) -> Sidecar:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(at_once=kind is not None)


def _preload(preload: tuple[tuple[str, str], ...], keep_out: tuple[str, ...], defer: tuple[str, ...]) -> None:
    # Ctrl-C reaches the terminal's whole process group: the run reports it (exit 130); this process leaves
    # at once, without a traceback of its own on the run's standard error.
    signal.signal(signal.SIGINT, _leave_quietly)
    # Below the run in the scheduler: the run's reading takes both cores, and this process's work (GX's import,
    # then the validation) fills the time the run leaves a core idle. At 10 M users on two cores: 17.3-17.7 s
    # against 18.0-19.7 s at the run's own priority. Not the lowest: on a busy machine the run may wait for it.
    os.nice(HELPER_NICENESS)
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
        # A spawned process's __main__ is a ``-c`` command. PySpark, which GX imports, takes such a main module for
        # its own doctests and exits the process (pyspark.sql.connect.utils.check_dependencies): name a file.
        main.__file__ = __file__
    _thread_lock_for_progress_bars()
    for module in keep_out:
        sys.modules.setdefault(module, None)  # Python's own way to refuse an import: ImportError, nothing searched
    for module in defer:
        Deferred.install(module)
    with _imports_kept():
        for module, function in preload:
            try:
                getattr(importlib.import_module(module), function)()
            except Exception:  # noqa: BLE001  the task that needs it raises it again, and the run reports it
                pass
    # Registered last, so run first: this process's answers are all sent and its files written by then, and the
    # interpreter's own teardown of GX's modules took 1.4 s, which the run would wait for at its end.
    atexit.register(_leave_now)


@contextlib.contextmanager
def _imports_kept() -> Iterator[None]:
    """No garbage collection while the preloads import, and what they made kept out of every later collection.

    Imports make objects for good (GX's: hundreds of thousands), and each collection meanwhile walked all of them
    again for nothing to free: the preloads took 1.90-2.08 CPU-s so, 1.61-1.70 now on the 2-core machine. Frozen,
    they are not walked again while the work runs either: the helper's whole share of a 10 M-user run, 3.17-3.19
    CPU-s before, 2.88 after.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _thread_lock_for_progress_bars() -> None:
    """tqdm, which GX uses, makes its bars' lock a multiprocessing one: in a spawned process a named semaphore, which
    the resource tracker reports as leaked ("1 leaked semaphore objects", on the run's standard error) when Ctrl-C
    ends this process. This process's bars are never shared with another: a thread lock does."""
    import threading

    try:
        from tqdm import tqdm
    except ImportError:
        return
    tqdm.set_lock(threading.RLock())


class Deferred(types.ModuleType):
    """A module's stand-in in ``sys.modules`` that imports the module on the first use of one of its attributes.

    Not ``importlib.util.LazyLoader``: on Python 3.11 the import system reads ``__spec__`` of a module found in
    ``sys.modules``, and that read makes a lazy module load at once. Here ``__spec__`` is the stand-in's own.
    """

    @classmethod
    def install(cls, name: str) -> None:
        spec = None if name in sys.modules else importlib.util.find_spec(name)
        if spec is None:
            return  # imported already, or not installed: nothing to defer
        stand_in = cls(name)
        stand_in.__spec__ = spec
        sys.modules[name] = stand_in

    def __getattr__(self, attribute: str) -> Any:  # only for what the stand-in lacks: the module's own names
        module = sys.modules.get(self.__name__)
        if module is self:  # first use: the module itself takes the stand-in's place
            del sys.modules[self.__name__]
            module = importlib.import_module(self.__name__)
        return getattr(module, attribute)


def _leave_quietly(*_: object) -> None:
    os._exit(130)


def _leave_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
