import numpy as np
import pytest


@pytest.fixture
def blobs():
    """Three well separated 3-D clusters, 600 points."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    scales = np.array([1.0, 0.6, 1.4])
    labels = rng.integers(3, size=600)
    return centers[labels] + scales[labels, None] * rng.standard_normal((600, 3))
