"""Data loaders: the CIFAR-10 pickle parser, image folders and archives, synthetic shapes."""

from __future__ import annotations

import io
import pickle
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest

import acmlkit.download
from acmlkit.errors import ChecksumError, DataError, DownloadError
from acmlkit.nets import data as data_mod
from acmlkit.nets.data import (
    CIFAR10_CLASSES,
    SHAPE_CLASSES,
    ImageDataset,
    load_cifar10,
    load_dataset,
    load_image_folder,
    make_shapes,
    read_cifar10_folder,
    read_cifar_batch,
)

# ------------------------------------------------------------------- CIFAR-10 pickles


def test_batch_parser_reads_planes_into_channels(cifar_folder):
    folder, x_train, y_train, _, _ = cifar_folder
    images, labels = read_cifar_batch(folder / "data_batch_2")
    assert images.dtype == np.uint8 and images.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(labels, y_train[4:8])
    # Independent reference: pixel (r, c) of channel k sits at byte k*1024 + r*32 + c.
    with open(folder / "data_batch_2", "rb") as fh:
        rows = pickle.load(fh, encoding="bytes")[b"data"]
    for k in range(3):
        for r, c in [(0, 0), (5, 17), (31, 31)]:
            assert images[1, k, r, c] == rows[1, k * 1024 + r * 32 + c] == x_train[5, k, r, c]


def test_folder_concatenates_batches_and_reads_class_names(cifar_folder):
    folder, x_train, y_train, x_test, y_test = cifar_folder
    ds = read_cifar10_folder(folder)
    np.testing.assert_array_equal(ds.x_train, x_train)
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.x_test, x_test)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert ds.classes == CIFAR10_CLASSES


def test_local_official_archive_via_data_spec(cifar_folder, tmp_path):
    folder, x_train, *_ = cifar_folder
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    ds = load_dataset(f"cifar10:{archive}")
    np.testing.assert_array_equal(ds.x_train, x_train)
    assert load_dataset(str(folder.parent)).x_train.shape == (20, 3, 32, 32)


def test_truncated_batch_names_the_file(cifar_folder):
    folder = cifar_folder[0]
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match=r"data_batch_3.*truncated or corrupt"):
        read_cifar10_folder(folder)


def test_batch_with_wrong_shape_or_labels(tmp_path, batch_writer):
    images = np.zeros((2, 3, 32, 32), np.uint8)
    batch_writer(tmp_path / "bad_labels", images, [0, 10])
    with pytest.raises(DataError, match=r"bad_labels: labels out of range"):
        read_cifar_batch(tmp_path / "bad_labels")
    batch_writer(tmp_path / "short", images[:, :, :1, :1], [0, 1])
    with pytest.raises(DataError, match=r"short: 'data' must be uint8 of shape \(n, 3072\)"):
        read_cifar_batch(tmp_path / "short")


def test_unpickler_refuses_anything_callable(tmp_path):
    path = tmp_path / "evil"
    with open(path, "wb") as fh:
        pickle.dump({b"data": print}, fh, protocol=2)
    with pytest.raises(DataError, match=r"evil.*refusing to load .*print"):
        read_cifar_batch(path)


def test_missing_batches_are_listed(cifar_folder):
    folder = cifar_folder[0]
    (folder / "test_batch").unlink()
    with pytest.raises(DataError, match="missing test_batch"):
        read_cifar10_folder(folder)


def test_offline_download_says_how_to_use_a_local_copy(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(acmlkit.download.urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError, match=r"offline.*--data cifar10:/path/to/cifar-10-python"):
        load_cifar10()


def test_checksum_mismatch_removes_the_partial_download(monkeypatch):
    class FakeResponse(io.BytesIO):
        headers = {"Content-Length": "11"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(
        acmlkit.download.urllib.request, "urlopen", lambda *a, **k: FakeResponse(b"not cifar!!")
    )
    with pytest.raises(ChecksumError, match="md5 is .* expected c58f30108f718f92721af3b95e74349a"):
        load_cifar10()
    leftovers = list((acmlkit.download.cache_dir() / "cifar10").iterdir())
    assert leftovers == []


# --------------------------------------------------------------------- image folders


def _expected(images, split, classes):
    x = np.stack([np.moveaxis(a, -1, 0) for c in classes for a in images[(split, c)]])
    y = np.repeat(np.arange(len(classes)), [len(images[(split, c)]) for c in classes])
    return x, y


def test_image_folder_round_trip(image_tree):
    root, images = image_tree
    ds = load_image_folder(root)
    assert ds.classes == ("cat", "dog")  # sorted folder names
    assert ds.x_train.shape == (6, 3, 8, 10)
    for split in ("train", "test"):
        x, y = _expected(images, split, ds.classes)
        np.testing.assert_array_equal(getattr(ds, f"x_{split}"), x)
        np.testing.assert_array_equal(getattr(ds, f"y_{split}"), y)


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
def test_archives_match_the_folder(image_tree, tmp_path, kind):
    root, _ = image_tree
    archive = tmp_path / f"pets.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(root.rglob("*.png")):
                zf.write(path, f"pets/{path.relative_to(root)}")
    else:
        with tarfile.open(archive, "w:gz" if kind == "tar.gz" else "w") as tar:
            tar.add(root, arcname="pets")
    folder, packed = load_image_folder(root), load_image_folder(archive)
    np.testing.assert_array_equal(packed.x_train, folder.x_train)
    np.testing.assert_array_equal(packed.y_test, folder.y_test)
    assert packed.classes == folder.classes


def test_second_load_reads_the_content_keyed_cache(image_tree, monkeypatch):
    root, _ = image_tree
    first = load_image_folder(root)

    def no_decoding(*args):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(data_mod, "_decode_dataset", no_decoding)
    again = load_image_folder(root)
    np.testing.assert_array_equal(again.x_train, first.x_train)
    # Changing the content changes the key: a new decode is needed.
    dog = (root / "test" / "dog" / "000.png").read_bytes()
    (root / "test" / "cat" / "000.png").write_bytes(dog)
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_folder(root)


def test_grey_and_mixed_channels(tmp_path, tree_writer):
    rng = np.random.default_rng(2)
    grey = {(s, c): [rng.integers(0, 256, (16, 16), dtype=np.uint8)] for s in ("train", "test")
            for c in ("a", "b")}
    tree_writer(tmp_path / "grey", grey)
    ds = load_image_folder(tmp_path / "grey")
    assert ds.x_train.shape == (2, 1, 16, 16)
    mixed = dict(grey)
    colour = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    mixed[("train", "a")] = [colour]
    tree_writer(tmp_path / "mixed", mixed)
    ds = load_image_folder(tmp_path / "mixed")
    assert ds.x_train.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(ds.x_train[0], np.moveaxis(colour, -1, 0))
    np.testing.assert_array_equal(ds.x_train[1], np.repeat(grey[("train", "b")][0][None], 3, 0))


def test_corrupt_image_is_named(image_tree):
    root, _ = image_tree
    bad = root / "train" / "dog" / "001.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(DataError, match=r"corrupt or truncated image .*dog/001\.png"):
        load_image_folder(root)


def test_mixed_sizes_are_refused(image_tree, tree_writer):
    root, _ = image_tree
    tree_writer(root, {("test", "cat"): [np.zeros((9, 10, 3), np.uint8)]}, suffix=".jpg")
    with pytest.raises(DataError, match=r"mixed image sizes: .* is 10x8 but .*000\.jpg is 10x9"):
        load_image_folder(root)


def test_empty_class_folder_is_named(image_tree, tmp_path):
    root, _ = image_tree
    (root / "train" / "fox").mkdir()
    with pytest.raises(DataError, match=r"empty class folder: .*train/fox"):
        load_image_folder(root)
    archive = tmp_path / "pets.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname="pets")
    with pytest.raises(DataError, match=r"empty class folder: .*pets\.tar:train/fox"):
        load_image_folder(archive)


def test_not_an_archive(tmp_path):
    path = tmp_path / "pets.tar.gz"
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match=r"pets\.tar\.gz: corrupt or truncated archive"):
        load_image_folder(path)


def test_labels_out_of_range_in_a_dataset():
    x = np.zeros((2, 1, 4, 4), np.uint8)
    with pytest.raises(DataError, match=r"labels out of range: y_test holds 3 but there are 2"):
        ImageDataset(x, np.array([0, 1]), x, np.array([0, 3]), ("a", "b"))


# ------------------------------------------------------------------- synthetic shapes


def test_shapes_are_seeded_balanced_and_shaped():
    a, b = make_shapes(500, 100, seed=3), make_shapes(500, 100, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, make_shapes(500, 100, seed=4).x_train)
    assert a.x_train.shape == (500, 3, 32, 32) and a.x_train.dtype == np.uint8
    assert a.classes == SHAPE_CLASSES
    assert np.bincount(a.y_train, minlength=10).min() > 25


def test_shape_colour_says_nothing_about_the_class():
    ds = make_shapes(4000, 10, seed=0)
    mean_colour = ds.x_train.reshape(4000, 3, -1).mean(axis=2)
    per_class = np.array([mean_colour[ds.y_train == k].mean(axis=0) for k in range(10)])
    # Mean colour differs between classes only through the shapes' areas, by a few levels.
    assert np.ptp(per_class, axis=0).max() < 25


def test_synthetic_sizes_that_cannot_fit_are_refused_with_the_estimate():
    with pytest.raises(MemoryError, match=r"generating 1,000,000,000 \+ 10 synthetic 32x32 "
                                          r"images needs about [\d.]+ GiB but [\d.]+ GiB"):
        make_shapes(10**9, 10)
