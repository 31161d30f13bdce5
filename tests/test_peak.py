"""A process's own peak memory, not the one of the process that started it."""
from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pytest

from checks.peak import _mallopt, peak_memory_bytes
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


# In a process of its own (a fresh heap, transparent huge pages off: one fault would stand for 512 pages): the page
# faults of writing a 24 MiB array made right after one of that size was freed, outside ``reusing_freed_memory``, inside
# it, and inside it once stopped.
_REUSE_CHILD = """
import ctypes
import resource
import numpy as np
from checks.peak import reusing_freed_memory, stop_reusing_freed_memory, trim_heaps

PR_SET_THP_DISABLE = 41
ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)

def faults_of_the_second_array():
    trim_heaps()  # nothing kept from before
    first = np.ones(24 * 2**20, dtype=np.uint8)
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = np.ones(24 * 2**20, dtype=np.uint8)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

outside = faults_of_the_second_array()
with reusing_freed_memory():
    inside = faults_of_the_second_array()
    stop_reusing_freed_memory()
    stopped = faults_of_the_second_array()
print(outside, inside, stopped)
"""


@pytest.mark.skipif(_mallopt() is None, reason="the C library is not glibc")
def test_reusing_freed_memory_writes_a_new_array_on_the_pages_of_one_freed() -> None:
    child = subprocess.run([sys.executable, "-c", _REUSE_CHILD], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    outside, inside, stopped = map(int, child.stdout.split())
    pages = 24 * MIB // resource.getpagesize()
    assert outside > pages // 2  # glibc's default: the freed array's pages went back, the new one faults them in again
    assert inside < pages // 10
    assert stopped > pages // 2
