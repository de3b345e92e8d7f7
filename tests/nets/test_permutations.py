"""Pixel permutations against naive loops, and the MLP's blindness to a fixed permutation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acmlkit.nets.models import NetConfig, build_model
from acmlkit.nets.permutations import (
    apply_condition,
    draw_permutation,
    flip_map,
    permute_each_image,
    permute_first_layer,
    permute_pixels,
)


def naive_permute(images, perm):
    """The notebook's shuffle, one image and one channel at a time."""
    out = np.empty_like(images)
    n, c, h, w = images.shape
    for i in range(n):
        for k in range(c):
            out[i, k] = images[i, k].reshape(-1)[perm].reshape(h, w)
    return out


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(6, 3, 5, 7), dtype=np.uint8)


def test_fixed_permutation_matches_the_naive_loop(images):
    perm = draw_permutation(35, np.random.default_rng(1))
    np.testing.assert_array_equal(permute_pixels(images, perm), naive_permute(images, perm))


def test_wrong_permutation_length(images):
    with pytest.raises(ValueError, match=r"permutation must have shape \(35,\) for 5x7 images"):
        permute_pixels(images, np.arange(30))


def test_per_image_permutations_differ_and_share_channels():
    n, hw = 40, 64
    # Encode each pixel's position in channel 0 and a fixed transform of it in channel 1,
    # so the permutation used can be read back from the output.
    pos = np.arange(hw, dtype=np.uint8).reshape(8, 8)
    images = np.broadcast_to(np.stack([pos, 255 - pos]), (n, 2, 8, 8)).copy()
    out = permute_each_image(images, np.random.default_rng(0))
    perms = out[:, 0].reshape(n, hw).astype(int)
    assert all(sorted(p) == list(range(hw)) for p in perms)
    np.testing.assert_array_equal(out[:, 1].reshape(n, hw), 255 - perms)
    assert len({tuple(p) for p in perms}) == n


def test_flip_in_permuted_space_equals_permuting_the_flipped_image(images):
    perm = draw_permutation(35, np.random.default_rng(2))
    flipped_then_permuted = permute_pixels(images[..., ::-1], perm)
    mapped = permute_pixels(permute_pixels(images, perm), flip_map(5, 7, perm))
    np.testing.assert_array_equal(mapped, flipped_then_permuted)
    np.testing.assert_array_equal(permute_pixels(images, flip_map(5, 7)), images[..., ::-1])


def test_conditions(images):
    rng = np.random.default_rng
    none = apply_condition(images, images, "none", rng(0))
    assert none.x_train is images and none.permutation is None
    fixed = apply_condition(images, images[:2], "fixed", rng(0))
    np.testing.assert_array_equal(fixed.x_train, naive_permute(images, fixed.permutation))
    np.testing.assert_array_equal(fixed.x_test, naive_permute(images[:2], fixed.permutation))
    assert not np.array_equal(fixed.x_train, images)
    again = apply_condition(images, images[:2], "fixed", rng(0))
    np.testing.assert_array_equal(again.permutation, fixed.permutation)
    notebook = apply_condition(images, images, "notebook", rng(0))
    assert notebook.x_train is images and not np.array_equal(notebook.x_test, images)
    per_image = apply_condition(images, images, "per-image", rng(0))
    assert per_image.train_flip is None and per_image.test_flip is None
    # Test-time flips follow the test images: none under per-image permutations,
    # whatever the training images were.
    assert notebook.test_flip is None and notebook.train_flip is not None
    np.testing.assert_array_equal(fixed.test_flip, flip_map(5, 7, fixed.permutation))
    np.testing.assert_array_equal(none.test_flip, flip_map(5, 7))
    with pytest.raises(ValueError, match=r"permutation must be one of .* got 'shuffle'"):
        apply_condition(images, images, "shuffle", rng(0))


def test_permuting_mlp_first_layer_reproduces_outputs_exactly():
    """With integer weights and pixels every sum is exact, whatever its order: bit-for-bit."""
    torch.manual_seed(0)
    mlp = build_model(NetConfig("mlp")).double()
    with torch.no_grad():
        mlp.fc1.weight.copy_(torch.randint(-8, 9, mlp.fc1.weight.shape))
        mlp.fc1.bias.copy_(torch.randint(-8, 9, mlp.fc1.bias.shape))
    x = np.random.default_rng(0).integers(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)
    perm = draw_permutation(1024, np.random.default_rng(5))
    before = mlp(torch.from_numpy(x).double())
    with torch.no_grad():
        mlp.fc1.weight.copy_(permute_first_layer(mlp.fc1.weight, perm, channels=3))
    after = mlp(torch.from_numpy(permute_pixels(x, perm)).double())
    assert torch.equal(before, after)


def test_permuting_mlp_first_layer_float_weights():
    torch.manual_seed(1)
    mlp = build_model(NetConfig("mlp", in_channels=2, height=6, width=6)).double()
    x = torch.randn(8, 2, 6, 6, dtype=torch.float64)
    perm = draw_permutation(36, np.random.default_rng(6))
    before = mlp(x)
    with torch.no_grad():
        mlp.fc1.weight.copy_(permute_first_layer(mlp.fc1.weight, perm, channels=2))
    after = mlp(torch.from_numpy(permute_pixels(x.numpy(), perm)))
    torch.testing.assert_close(after, before, rtol=1e-12, atol=1e-12)
