import numpy as np
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_blas_thread():
    """OpenBLAS threads spin for milliseconds per small call on this shared machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def blobs():
    """Three well separated 3-D clusters, 600 points."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    scales = np.array([1.0, 0.6, 1.4])
    labels = rng.integers(3, size=600)
    return centers[labels] + scales[labels, None] * rng.standard_normal((600, 3))
