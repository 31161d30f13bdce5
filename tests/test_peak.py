"""A process's own peak memory, not the one of the process that started it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from checks.peak import peak_memory_bytes
from tests.conftest import PROJECT_ROOT

MIB = 2**20
_CHILD = (
    "import resource; from checks.peak import peak_memory_bytes; "
    "print(peak_memory_bytes(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"
)


def test_a_process_started_by_a_large_one_reports_its_own_peak() -> None:
    held = np.ones(400 * MIB // 8)  # the parent's resident memory, as a benchmark holding a feed's frames
    assert peak_memory_bytes() >= held.nbytes
    child = subprocess.run([sys.executable, "-c", _CHILD], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    own, inherited = map(int, child.stdout.split())
    assert inherited >= held.nbytes  # what ru_maxrss says on Linux: the parent's peak, carried over the exec
    assert own < 150 * MIB
