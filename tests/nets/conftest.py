"""Fixtures for the networks tests: tiny official-format CIFAR files, image trees, shapes."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from acmlkit.nets.data import make_shapes
from acmlkit.nets.models import NetConfig
from acmlkit.nets.recipes import Recipe


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # Three engineers share two cores: one thread avoids OpenMP spin-waiting under
    # contention, and keeps the bit-for-bit reproducibility tests meaningful.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


USER_CACHE = os.environ.get("ACMLKIT_DATA")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own ``ACMLKIT_DATA``, so no test reads another's cache."""
    monkeypatch.setenv("ACMLKIT_DATA", str(tmp_path_factory.mktemp("acmlkit-cache")))


@pytest.fixture(scope="session")
def shapes():
    """A small synthetic dataset: 3,000 train and 500 test images."""
    return make_shapes(3000, 500, seed=0)


def planes_to_rows(images: np.ndarray) -> np.ndarray:
    """The official CIFAR row layout, written plane by plane: 1024 red, green, blue bytes."""
    return np.stack(
        [np.concatenate([img[c].ravel() for c in range(3)]) for img in images]
    ).astype(np.uint8)


def write_cifar_batch(path, images: np.ndarray, labels, **extra) -> None:
    """A batch as the official python version stores it: bytes keys, protocol 2."""
    batch = {
        b"batch_label": b"testing batch",
        b"labels": [int(v) for v in labels],
        b"data": planes_to_rows(images),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        **extra,
    }
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=2)


@pytest.fixture
def cifar_folder(tmp_path):
    """A ``cifar-10-batches-py`` folder: 5 train batches of 4 images, a test batch of 6.

    Returns the folder, the train images ``(20, 3, 32, 32)``, their labels, the
    test images and labels.
    """
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    x_train = rng.integers(0, 256, size=(20, 3, 32, 32), dtype=np.uint8)
    y_train = rng.integers(0, 10, size=20)
    x_test = rng.integers(0, 256, size=(6, 3, 32, 32), dtype=np.uint8)
    y_test = rng.integers(0, 10, size=6)
    for i in range(5):
        write_cifar_batch(folder / f"data_batch_{i + 1}", x_train[4 * i : 4 * i + 4],
                          y_train[4 * i : 4 * i + 4])
    write_cifar_batch(folder / "test_batch", x_test, y_test)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": 4, b"num_vis": 3072}, fh,
                    protocol=2)
    return folder, x_train, y_train, x_test, y_test


def write_image_tree(root, images: dict, suffix: str = ".png") -> None:
    """``images[(split, class)]`` is a list of HxW or HxWxC uint8 arrays."""
    for (split, label), arrays in images.items():
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        for i, arr in enumerate(arrays):
            Image.fromarray(arr).save(folder / f"{i:03d}{suffix}")


@pytest.fixture
def image_tree(tmp_path):
    """``ROOT/train/{cat,dog}`` and ``ROOT/test/{cat,dog}``, 8 x 10 RGB PNGs.

    Returns the root and the arrays written, ``{(split, class): [H x W x 3, ...]}``.
    """
    rng = np.random.default_rng(1)
    images = {
        (split, label): [rng.integers(0, 256, size=(8, 10, 3), dtype=np.uint8) for _ in range(n)]
        for split, n in (("train", 3), ("test", 2))
        for label in ("dog", "cat")
    }
    root = tmp_path / "pets"
    write_image_tree(root, images)
    return root, images


@pytest.fixture
def batch_writer():
    """:func:`write_cifar_batch`, for tests that write their own bad batches."""
    return write_cifar_batch


@pytest.fixture
def tree_writer():
    """:func:`write_image_tree`, for tests that add images to a tree."""
    return write_image_tree


@pytest.fixture
def user_cache(monkeypatch):
    """The user's own cache folder, so real data decoded once is reused across runs."""
    if USER_CACHE is None:
        monkeypatch.delenv("ACMLKIT_DATA", raising=False)
    else:
        monkeypatch.setenv("ACMLKIT_DATA", USER_CACHE)


@pytest.fixture
def cifar10(shared_datasets, user_cache):
    """Real CIFAR-10 from the shared JPEG archive (decoded once into the user's cache);
    the test is skipped without it."""
    from acmlkit.nets.data import load_image_folder

    archive = shared_datasets / "cifar10-jpeg.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive} not available")
    return load_image_folder(archive)


# A 16 x 16 CNN and a two-epoch recipe: trainer and checkpoint tests in about a second.
CONFIG = NetConfig("cnn", in_channels=3, height=16, width=16, n_classes=4)
QUICK = Recipe(optimizer="sgd", lr=0.02, batch_size=16, epochs=2, schedule="onecycle",
               flip=True, label_smoothing=0.1, normalize="channel")


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(96, 3, 16, 16), dtype=np.uint8)
    y = rng.integers(0, 4, size=96)
    return x[:64], y[:64], x[64:], y[64:]
