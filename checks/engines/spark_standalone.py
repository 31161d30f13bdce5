"""A Spark standalone master and one worker on loopback, each its own process, started from the PySpark install.

For the tests and the benchmarks that run the Spark engine on a real cluster (``--spark-master spark://...``):
local mode runs the driver and the executors in one JVM, so it cannot show what lands on the driver. Nothing is
downloaded: ``spark-class`` comes with PySpark's wheel. Each process is the leader of its own process group
(the worker's executors join the worker's), so stopping kills every group, also after a failure.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LOOPBACK = "127.0.0.1"
_START_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class StandaloneCluster:
    """A running master's URL, the process groups it and its worker lead (to find strays after stopping), and the
    worker's work folder (one ``app-*`` folder per application whose executors it ran)."""

    master: str
    process_groups: tuple[int, ...]
    work_dir: Path


@dataclass(frozen=True)
class CommandRun:
    """One ``checks`` command run in a process group of its own: how it ended, and the Python process's own peak."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    python_peak_bytes: int


def spark_home() -> Path:
    """The PySpark package's folder, which holds ``bin/spark-class`` and Spark's jars."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def environment() -> dict[str, str]:
    """The environment for the cluster's processes and the driver: Spark's home and this interpreter for the
    executors' Python workers (they import pandas and pyarrow, which only this venv has)."""
    return {
        **os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_LOCAL_IP": _LOOPBACK, "SPARK_NO_DAEMONIZE": "1",
    }


@contextmanager
def standalone_cluster(log_folder: Path, *, cores: int = 2, memory: str = "2g") -> Iterator[StandaloneCluster]:
    """Start a master and a worker (``cores``, ``memory``) on free loopback ports; yield the cluster once the worker
    has registered; stop both process groups on leaving, whatever happened. Their output goes to ``log_folder``."""
    log_folder.mkdir(parents=True, exist_ok=True)
    port, web_port, worker_web_port = _free_port(), _free_port(), _free_port()
    master, work_dir = f"spark://{_LOOPBACK}:{port}", log_folder / "work"
    with ExitStack() as running:
        master_process = running.enter_context(_spark_class(
            log_folder / "master.log", "org.apache.spark.deploy.master.Master",
            "--host", _LOOPBACK, "--port", str(port), "--webui-port", str(web_port),
        ))
        worker_process = running.enter_context(_spark_class(
            log_folder / "worker.log", "org.apache.spark.deploy.worker.Worker", master,
            "--host", _LOOPBACK, "--cores", str(cores), "--memory", memory, "--webui-port", str(worker_web_port),
            "--work-dir", str(work_dir),
        ))
        _wait_for_worker(web_port, (master_process, worker_process), log_folder)
        yield StandaloneCluster(master, (master_process.pid, worker_process.pid), work_dir)


# Runs the CLI as ``python -m checks`` does and leaves the process's own peak resident set (ru_maxrss of
# RUSAGE_SELF: this process only, not the JVM it starts) in the file named by the first argument.
_MEASURED_CLI = """
import atexit, runpy, sys
from checks.peak import peak_memory_bytes
peak_file = sys.argv.pop(1)
def _write_peak():
    with open(peak_file, "w") as out:
        out.write(str(peak_memory_bytes()))
atexit.register(_write_peak)
sys.argv[0] = "checks"
runpy.run_module("checks", run_name="__main__", alter_sys=True)
"""


def run_checks(arguments: list[str], peak_file: Path, *, timeout: float, cwd: Path | None = None) -> CommandRun:
    """``python -m checks ARGUMENTS`` in a process group of its own (with the driver JVM it starts), killed whole on
    timeout or when interrupted; its Python process's own peak resident set is read back from ``peak_file``."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", _MEASURED_CLI, str(peak_file), *arguments], env=environment(), cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        stop_process_group(process)
    return CommandRun(process.returncode, stdout, stderr, time.monotonic() - started, int(peak_file.read_text()))


def leftover_processes(cluster: StandaloneCluster) -> list[int]:
    """The processes still alive in the cluster's process groups (none, once it has stopped)."""
    leftover = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) in cluster.process_groups:
                    leftover.append(int(entry.name))
            except ProcessLookupError:
                continue
    return leftover


@contextmanager
def _spark_class(log: Path, *arguments: str) -> Iterator[subprocess.Popen[bytes]]:
    spark_class = spark_home() / "bin" / "spark-class"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [str(spark_class), *arguments], env=environment(), stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[Any], grace_seconds: float = 10.0) -> None:
    """Stop ``process`` and everything in its process group: SIGTERM, then SIGKILL for what is left after
    ``grace_seconds``; return once the group is empty."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, so that only live members keep the group
            if not _group_alive(process.pid):
                return
            time.sleep(0.2)
    process.wait()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_worker(web_port: int, processes: tuple[subprocess.Popen[bytes], ...], log_folder: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a Spark standalone process exited with {process.returncode}: see {log_folder}")
        try:
            with urllib.request.urlopen(f"http://{_LOOPBACK}:{web_port}/json/", timeout=2) as answer:
                if any(worker.get("state") == "ALIVE" for worker in json.load(answer).get("workers", [])):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Spark standalone worker did not register within {_START_TIMEOUT_SECONDS:.0f} s: see {log_folder}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((_LOOPBACK, 0))
        return probe.getsockname()[1]
