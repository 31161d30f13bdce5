"""The helper process (checks.sidecar): its answers, its errors, what it used, and a failed preload."""
from __future__ import annotations

import os

import pytest

from checks.errors import SuiteError
from checks.sidecar import Sidecar


def _refuse(message: str) -> None:
    raise SuiteError(message)


def test_a_task_runs_in_another_process_and_its_answer_comes_back() -> None:
    with Sidecar() as helper:
        assert helper.call(os.getpid) != os.getpid()
        assert helper.submit(divmod, 17, 5).result() == (3, 2)


def test_an_error_raised_there_is_raised_here_with_its_type_and_words() -> None:
    with Sidecar() as helper:
        with pytest.raises(SuiteError, match="the suite could not run"):
            helper.call(_refuse, "the suite could not run")
        assert helper.call(divmod, 7, 2) == (3, 1)  # the process goes on after a task's error


def test_its_cpu_and_peak_are_known_once_it_has_ended() -> None:
    helper = Sidecar()
    assert helper.usage is None
    helper.call(sum, range(10**6))
    helper.close()
    assert helper.usage is not None
    assert helper.usage.cpu_seconds > 0
    assert helper.usage.peak_memory_mb > 0
    assert set(helper.usage.to_dict()) == {"cpu_seconds", "peak_memory_mb"}


@pytest.mark.parametrize("at_once", [False, True])
def test_leaving_again_keeps_what_it_used(at_once: bool) -> None:
    """A run ends the helper its caller started before the run's imports; the caller's own leaving is then harmless."""
    with Sidecar() as helper:
        helper.call(sum, range(10))
        helper.close()
        usage = helper.usage
    helper.close(at_once=at_once)
    assert helper.usage is usage is not None


def test_a_preload_that_fails_leaves_the_error_to_the_task_that_needs_it() -> None:
    with Sidecar(preload=[("checks.no_such_module", "preload")]) as helper:
        assert helper.call(divmod, 9, 4) == (2, 1)
        with pytest.raises(ModuleNotFoundError, match="checks.no_such_module"):
            helper.call(__import__, "checks.no_such_module")


def _collection_state() -> tuple[bool, int]:
    import gc

    return gc.isenabled(), gc.get_freeze_count()


def test_what_the_preloads_made_is_kept_out_of_collections_that_run_again_after() -> None:
    with Sidecar(preload=[("checks.charts", "import_matplotlib")]) as helper:
        collecting, frozen = helper.call(_collection_state)
    assert collecting
    assert frozen > 10_000  # matplotlib's objects, made while collections were off


def test_great_expectations_preloads_there_and_not_here() -> None:
    import sys

    already = "great_expectations" in sys.modules
    with Sidecar(preload=[("checks.suites.gx", "preload")]) as helper:
        assert helper.call(_imported, "great_expectations")
    assert ("great_expectations" in sys.modules) == already


def _imported(module: str) -> bool:
    import sys

    return sys.modules.get(module) is not None


def test_a_module_kept_out_is_refused_there_and_gx_loads_without_it() -> None:
    """GX imports its Spark back end only when PySpark is installed (it is, for the spark engine): kept out, GX
    skips it."""
    import importlib

    with Sidecar(preload=[("checks.suites.gx", "preload")], keep_out=["pyspark"]) as helper:
        assert helper.call(_imported, "great_expectations")
        assert not helper.call(_imported, "pyspark")
        with pytest.raises(ImportError, match="pyspark"):
            helper.call(importlib.import_module, "pyspark")


def test_it_runs_below_the_run_in_the_scheduler() -> None:
    from checks.sidecar import HELPER_NICENESS

    with Sidecar() as helper:
        assert helper.call(os.nice, 0) == min(os.nice(0) + HELPER_NICENESS, 19)


def _sleep_a_minute() -> None:
    import time

    time.sleep(60)


def test_leaving_on_an_error_ends_the_process_at_once() -> None:
    """A run that fails (bad input) does not wait for the helper's preload (GX's import) to end."""
    import time

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the run failed"):
        with Sidecar(preload=[("tests.test_sidecar", "_sleep_a_minute")]):
            time.sleep(1)  # the helper is in its preload by now
            raise RuntimeError("the run failed")
    assert time.monotonic() - started < 30


def _deferred_then_used(module: str, attribute: str) -> tuple[bool, bool, bool]:
    """Whether ``module`` is still deferred after GX's import, whether its attribute (read twice) is the real
    module's, and whether the import system now holds the real module."""
    import importlib
    import sys

    from checks.sidecar import Deferred

    deferred = isinstance(sys.modules[module], Deferred)
    holder = sys.modules[module]
    first, again = getattr(holder, attribute), getattr(holder, attribute)
    real = importlib.import_module(module)
    return deferred, first is again is getattr(real, attribute), not isinstance(real, Deferred)


@pytest.mark.parametrize(("module", "attribute"), [("scipy.stats", "entropy"), ("altair", "Chart")])
def test_a_deferred_module_survives_gx_import_and_loads_on_first_use(module: str, attribute: str) -> None:
    """The run's helper defers what GX imports for expectations the suites never use: GX's import leaves them
    unloaded, and a use still gets the real module's attribute."""
    from checks.sidecar import RUN_DEFERS

    assert module in RUN_DEFERS
    with Sidecar(preload=[("checks.suites.gx", "preload")], defer=RUN_DEFERS) as helper:
        assert helper.call(_deferred_then_used, module, attribute) == (True, True, True)


def _progress_bar_registers_a_semaphore() -> bool:
    """Whether a tqdm bar made here registers a named semaphore with multiprocessing's resource tracker."""
    from multiprocessing import resource_tracker

    registered = []
    register = resource_tracker.register
    resource_tracker.register = lambda name, kind: registered.append(kind)
    try:
        from tqdm import tqdm

        tqdm(disable=True).close()
    finally:
        resource_tracker.register = register
    return "semaphore" in registered


def test_progress_bars_there_leave_no_semaphore_for_ctrl_c_to_leak() -> None:
    # In a spawned process tqdm's default lock is a named semaphore; a Ctrl-C that ends the process (os._exit) left
    # it to the resource tracker, which printed "1 leaked semaphore objects" on the run's standard error.
    with Sidecar() as helper:
        assert helper.call(_progress_bar_registers_a_semaphore) is False
