"""Facts about processes: whether one still runs (stale extraction folders, orphaned
workers), and this one's peak memory (the benchmarks)."""

from __future__ import annotations

import os
import resource


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists (also one we may not signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def peak_rss_bytes() -> int:
    """This process's own peak resident memory in bytes.

    Linux's VmHWM belongs to the address space, whereas ``ru_maxrss`` survives exec
    and would report a parent's larger peak at fork; ``ru_maxrss`` (KiB) elsewhere.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
