"""Real CIFAR-10 from ``../shared/datasets`` (skipped when absent): few and marked."""

from __future__ import annotations

import numpy as np
import pytest

from acmlkit.nets.data import CIFAR10_CLASSES
from acmlkit.nets.experiments import TrainConfig, run


@pytest.mark.realdata
@pytest.mark.slow
def test_cifar10_jpeg_archive(cifar10):
    assert cifar10.x_train.shape == (50_000, 3, 32, 32)
    assert cifar10.x_test.shape == (10_000, 3, 32, 32)
    assert cifar10.classes == CIFAR10_CLASSES
    np.testing.assert_array_equal(np.bincount(cifar10.y_train), [5000] * 10)
    np.testing.assert_array_equal(np.bincount(cifar10.y_test), [1000] * 10)
    # A one-epoch MLP on a 5,000-image subset is far above chance (10 %).
    result = run(
        TrainConfig(arch="mlp", recipe="fast", epochs=1, n_train=5000, n_test=2000),
        dataset=cifar10,
    )
    assert result.evaluation.accuracy > 0.25
