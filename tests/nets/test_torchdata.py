"""Image data in a user's own PyTorch loop: a Dataset for DataLoader, and whole tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from acmlkit.nets.data import ImageDataset, make_shapes
from acmlkit.nets.models import NetConfig, build_model
from acmlkit.nets.torchdata import ImageTensorDataset, as_tensors


@pytest.fixture
def grey():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(30, 1, 8, 10), dtype=np.uint8)
    y = np.arange(30) % 3
    return ImageDataset(x[:20], y[:20], x[20:], y[20:], ("a", "b", "c"))


@pytest.mark.parametrize("normalize", [None, "half", "channel"])
def test_items_are_the_images_scaled_as_asked(grey, normalize):
    ds = grey.torch("train", normalize=normalize)
    assert len(ds) == 20 and ds.classes == ("a", "b", "c")
    image, label = ds[7]
    assert image.shape == (1, 8, 10) and image.dtype == torch.float32
    assert label.dtype == torch.int64 and int(label) == grey.y_train[7]
    raw = grey.x_train[7].astype(np.float64) / 255
    if normalize is None:
        expected = raw
    elif normalize == "half":
        expected = (raw - 0.5) / 0.5
    else:
        train = grey.x_train.astype(np.float64) / 255
        expected = (raw - train.mean()) / train.std()
    np.testing.assert_allclose(image.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_test_split_uses_the_training_statistics(grey):
    x, _ = as_tensors(grey, "test", normalize="channel")
    train = grey.x_train.astype(np.float64) / 255
    expected = (grey.x_test / 255 - train.mean()) / train.std()
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        as_tensors(grey, "val")


def test_a_dataloader_batches_every_image_once_and_a_users_loop_trains():
    data = make_shapes(96, 32, seed=2)
    ds = ImageTensorDataset.from_dataset(data, "train", normalize="half")
    loader = DataLoader(ds, batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    seen = []
    model = build_model(NetConfig("cnn", 3, 32, 32, 10))  # a plain nn.Module
    assert isinstance(model, torch.nn.Module)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for xb, yb in loader:
        assert xb.shape[1:] == (3, 32, 32) and xb.shape[0] == yb.shape[0] <= 16
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen.append(yb)
    labels = torch.cat(seen).sort().values.numpy()
    np.testing.assert_array_equal(labels, np.sort(data.y_train))
    assert np.isfinite(float(loss.detach()))


def test_tensors_come_on_the_device_asked_for(grey):
    x, y = as_tensors(grey, device="auto")
    assert x.device.type in ("cpu", "cuda", "mps") and x.device == y.device
    with pytest.raises(ValueError, match=r"expected images \(n, C, H, W\) and n labels"):
        ImageTensorDataset(torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.int64), ("a",))
