"""Fixtures shared by every part's tests."""

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def shared_datasets() -> Path:
    """``../shared/datasets`` beside the repository; the test is skipped without it."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATASETS}")
    return SHARED_DATASETS
