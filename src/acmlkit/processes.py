"""Whether another process still runs: for stale extraction folders and orphaned workers."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists (also one we may not signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
