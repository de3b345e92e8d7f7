"""The notebook's CNN and MLP: exact parameter counts and outputs, other shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from acmlkit.nets.models import NetConfig, build_model, count_parameters, whiten_first_conv_


class NotebookCNN(nn.Module):
    """Copied from the notebook (section 3), the reference for the CNN."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class NotebookMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3 * 32 * 32, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


@pytest.mark.parametrize(("arch", "count"), [("cnn", 62_006), ("mlp", 402_250)])
def test_parameter_counts_match_the_notebook(arch, count):
    assert count_parameters(build_model(NetConfig(arch))) == (count, count)


@pytest.mark.parametrize(("arch", "reference"), [("cnn", NotebookCNN), ("mlp", NotebookMLP)])
def test_outputs_match_the_notebook_code(arch, reference):
    ours = build_model(NetConfig(arch))
    theirs = reference()
    theirs.load_state_dict(ours.state_dict())  # same parameter names and shapes
    x = torch.randn(5, 3, 32, 32)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_frozen_parameters_are_not_trainable():
    model = build_model(NetConfig("cnn"))
    model.conv1.weight.requires_grad_(False)
    assert count_parameters(model) == (62_006, 62_006 - 6 * 3 * 5 * 5)


@pytest.mark.parametrize("arch", ["cnn", "mlp"])
def test_other_shapes_adapt_the_layers(arch):
    config = NetConfig(arch, in_channels=1, height=28, width=40, n_classes=5)
    model = build_model(config)
    assert model(torch.zeros(2, 1, 28, 40)).shape == (2, 5)


def test_cnn_needs_16_pixels():
    with pytest.raises(ValueError, match=r"at least 16 x 16 pixels .* got 15 x 32"):
        NetConfig("cnn", height=15)
    assert NetConfig("mlp", height=15).height == 15


@pytest.mark.parametrize(("channels", "size", "classes"), [(3, 32, 10), (1, 8, 10), (1, 28, 5),
                                                         (3, 64, 100)])
def test_matched_mlp_has_the_cnns_parameter_count(channels, size, classes):
    h = w = max(size, 16) if size >= 16 else 32
    cnn, _ = count_parameters(build_model(NetConfig("cnn", channels, h, w, classes)))
    mlp, _ = count_parameters(build_model(NetConfig("mlp-matched", channels, size, size, classes)))
    assert abs(mlp - cnn) / cnn < 0.02
    out = build_model(NetConfig("mlp-matched", channels, size, size, classes))(
        torch.zeros(2, channels, size, size))
    assert out.shape == (2, classes)


def test_bad_config_values():
    expected = r"arch must be one of \['cnn', 'mlp', 'mlp-matched'\], got 'rnn'"
    with pytest.raises(ValueError, match=expected):
        NetConfig("rnn")
    with pytest.raises(ValueError, match=r"n_classes must be in \[2, None\], got 1"):
        NetConfig("mlp", n_classes=1)


def _patches(images: np.ndarray, k: int) -> np.ndarray:
    """Every k x k patch as a row, (C, k, k) flattened: a plain loop, not unfold."""
    n, c, h, w = images.shape
    rows = [images[i, :, r : r + k, s : s + k].ravel()
            for i in range(n) for r in range(h - k + 1) for s in range(w - k + 1)]
    return np.array(rows)


def test_whitened_first_conv_decorrelates_the_leading_components():
    rng = np.random.default_rng(0)
    # Correlated channels, so that the principal components are far from the axes.
    base = rng.normal(size=(40, 1, 16, 16))
    images = np.concatenate([base, 0.5 * base + rng.normal(size=base.shape),
                             rng.normal(size=base.shape)], axis=1)
    model = build_model(NetConfig("cnn", height=16, width=16))
    eps = 0.01
    whiten_first_conv_(model, torch.as_tensor(images, dtype=torch.float32), eps=eps, chunk=7)

    variances, vectors = np.linalg.eigh(np.cov(_patches(images, 5), rowvar=False, bias=True))
    top = vectors[:, ::-1][:, :6]
    filters = model.conv1.weight.detach().double().reshape(6, -1).numpy()
    # Each filter is a leading principal direction (up to sign), scaled to whiten.
    scale = 1 / np.sqrt(variances[::-1][:6] + eps)
    np.testing.assert_allclose(np.abs(filters @ top), np.diag(scale), atol=1e-5)
    responses = model.conv1(torch.as_tensor(images, dtype=torch.float32)).detach()
    responses = responses.double().permute(1, 0, 2, 3).reshape(6, -1).numpy()
    np.testing.assert_allclose(responses.mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(responses, bias=True),
                               np.diag(variances[::-1][:6] * scale**2), atol=1e-4)


def test_whitening_needs_enough_patch_dimensions():
    model = build_model(NetConfig("cnn", in_channels=1, height=16, width=16))
    model.conv1 = torch.nn.Conv2d(1, 30, 5)
    with pytest.raises(ValueError, match="conv1 has 30 filters but its patches only 25 dims"):
        whiten_first_conv_(model, torch.zeros(2, 1, 16, 16))
