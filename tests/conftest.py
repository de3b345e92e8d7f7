"""Fixtures shared by every part's tests."""

import sys
import textwrap
from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def shared_datasets() -> Path:
    """``../shared/datasets`` beside the repository; the test is skipped without it."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATASETS}")
    return SHARED_DATASETS


# Trial functions of the sweep and CLI tests: written into a temporary module that
# worker processes import by path (--allow-code), so the engine is tested without any
# part's code.


TRIALS = '''
import os
import time


def square(*, seed: int, x: float = 1.0, label: str = "a") -> dict:
    """A deterministic trial: the metric is a closed form of the parameters."""
    return {"y": x * x + seed, "label": label}


def slow(*, seed: int, seconds: float = 0.2) -> dict:
    """Sleeps, then reports its worker's pid (for kill-and-resume tests)."""
    time.sleep(seconds)
    return {"seed": seed, "pid": os.getpid()}


def gated(*, seed: int, gate: str, open_seeds: int = 2) -> dict:
    """Seeds below ``open_seeds`` finish at once; the others wait until the file ``gate``
    exists, so a test can interrupt a sweep that is certain to be mid-way."""
    from pathlib import Path

    deadline = time.monotonic() + 120
    while seed >= open_seeds and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"seed": seed, "pid": os.getpid()}


def fails_on(*, seed: int, bad: int = -1) -> dict:
    if seed == bad:
        raise ValueError(f"seed {seed} is bad")
    return {"seed": seed}


def nan_metric(*, seed: int) -> dict:
    return {"rmse": float("nan")}


def not_a_dict(*, seed: int):
    return [seed]


def needs_x(*, seed: int, x: float) -> dict:
    return {"x": x}
'''

MODULE = "acml_sweep_test_trials"


@pytest.fixture
def trials_module(tmp_path_factory, monkeypatch):
    """The name of an importable module of trial functions, in this process and in workers."""
    folder = tmp_path_factory.mktemp("trials")
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(TRIALS))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    # joblib reuses its worker processes across calls; workers started by an earlier test
    # never saw this PYTHONPATH and cannot import the module, so start fresh ones.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    yield MODULE
    sys.modules.pop(MODULE, None)
