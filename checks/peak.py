"""This process's own peak resident memory.

Linux's ``ru_maxrss`` carries over the peak of the process that forked this one (it is kept across exec):
a run started by a benchmark or an orchestrator holding a feed in memory would report that feed as its
own. ``VmHWM`` in ``/proc/self/status`` starts afresh at exec; ``ru_maxrss`` is the answer elsewhere.
"""
from __future__ import annotations

import resource


def peak_memory_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
