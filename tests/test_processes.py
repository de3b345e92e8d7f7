"""Process facts: liveness and this process's own peak memory."""

import os
import subprocess
import sys

import numpy as np

from acmlkit.processes import peak_rss_bytes, pid_alive

CHILD = """
import numpy as np
from acmlkit.processes import peak_rss_bytes
before = peak_rss_bytes()
block = np.ones(MB * 2**20 // 8)
print(before, peak_rss_bytes())
"""


def child_peaks(megabytes: int) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", CHILD.replace("MB", str(megabytes))],
                         capture_output=True, text=True, check=True, timeout=60)
    before, after = map(int, out.stdout.split())
    return before, after


def test_peak_counts_what_this_process_touched_and_not_its_parents():
    held = np.ones(600 * 2**20 // 8)  # the parent's peak is above 600 MB now
    before, after = child_peaks(200)
    assert held.sum() > 0 and peak_rss_bytes() >= 600 * 2**20
    assert before < 400 * 2**20  # a fresh interpreter, not the parent's peak
    assert after - before >= 190 * 2**20


def test_pid_alive_for_this_process_and_not_for_a_finished_one():
    assert pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
