"""Start-up time of `acml --help` against a bare `python -c pass`, in fresh processes.

`acml --help` loads no subcommand (lazy groups), so it should cost little more
than the interpreter itself; the target is under 0.3 s. Each command runs REPEAT
times and the median wall time is reported (the machine may be shared).

    python benchmarks/bench_cli.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ACML = Path(sys.executable).with_name("acml")


def median_seconds(command: list[str], repeat: int) -> float:
    subprocess.run(command, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    python_s = median_seconds([sys.executable, "-c", "pass"], args.repeat)
    help_s = median_seconds([str(ACML), "--help"], args.repeat)
    version_s = median_seconds([str(ACML), "--version"], args.repeat)
    sub_s = median_seconds([str(ACML), "sweep", "--help"], args.repeat)
    print(f"{'command':<22}{'median s':>10}")
    for name, value in (("python -c pass", python_s), ("acml --help", help_s),
                        ("acml --version", version_s), ("acml sweep --help", sub_s)):
        print(f"{name:<22}{value:>10.3f}")
    print(f"acml --help takes {help_s / python_s:.1f}x a bare interpreter start "
          f"({help_s - python_s:.3f} s more); target < 0.3 s: "
          f"{'met' if help_s < 0.3 else 'missed'}")
    print(f"SUMMARY help_s={help_s:.3f} python_s={python_s:.3f} ratio={help_s / python_s:.2f} "
          f"version_s={version_s:.3f} sweep_help_s={sub_s:.3f} repeat={args.repeat}")


if __name__ == "__main__":
    main()
