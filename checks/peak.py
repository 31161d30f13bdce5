"""This process's resident memory: its own peak, and the freed heap memory given back to the system.

Linux's ``ru_maxrss`` carries over the peak of the process that forked this one (it is kept across exec):
a run started by a benchmark or an orchestrator holding a feed in memory would report that feed as its
own. ``VmHWM`` in ``/proc/self/status`` starts afresh at exec; ``ru_maxrss`` is the answer elsewhere.
"""
from __future__ import annotations

import functools
import resource
from collections.abc import Callable


def peak_memory_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def trim_heaps() -> None:
    """Give the memory freed in glibc's heaps back to the system (``malloc_trim``): glibc returns little of it by itself,
    from a heap per thread or from below memory still in use."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, where the C library has it: looked up among the symbols the process has loaded
    (``ctypes.util.find_library`` runs a program to find it: a fork of the whole process)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
