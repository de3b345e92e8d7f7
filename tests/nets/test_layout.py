"""Layout recovery: neighbour share against a naive twin, recovery on smooth images and CIFAR-10."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.ndimage import gaussian_filter

from acmlkit.nets.layout import (
    _refine_swaps,
    grid_edges,
    neighbour_share,
    pixel_correlations,
    plot_layout,
    recover_layout,
)
from acmlkit.nets.permutations import permute_pixels


def smooth_images(n, channels, height, width, rng, sigma=1.5):
    """Gaussian-blurred noise (blurred on a larger canvas, so borders are not special)."""
    pad = int(3 * sigma) + 1
    noise = rng.normal(size=(n, channels, height + 2 * pad, width + 2 * pad))
    blurred = gaussian_filter(noise, sigma=(0, 0, sigma, sigma))[:, :, pad:-pad, pad:-pad]
    scaled = (blurred - blurred.min()) / np.ptp(blurred) * 255
    return scaled.round().astype(np.uint8)


def symmetries(height, width):
    """Index maps of the grid's symmetries (cell -> cell it takes its pixel from)."""
    cells = np.arange(height * width).reshape(height, width)
    maps = [cells, cells[::-1], cells[:, ::-1], cells[::-1, ::-1]]
    if height == width:
        maps += [cells.T, cells.T[::-1], cells.T[:, ::-1], cells.T[::-1, ::-1]]
    return [m.ravel() for m in maps]


def naive_share(permutation, order, height, width):
    """Loop twin: place the pixels, then look at every original neighbour pair."""
    where = {}
    for cell, position in enumerate(order):
        where[int(permutation[position])] = divmod(cell, width)
    pairs = kept = 0
    for r in range(height):
        for c in range(width):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < height and c + dc < width:
                    (r1, c1), (r2, c2) = where[r * width + c], where[(r + dr) * width + c + dc]
                    pairs += 1
                    kept += abs(r1 - r2) + abs(c1 - c2) == 1
    return kept / pairs


@pytest.mark.parametrize("height, width", [(2, 2), (5, 7), (8, 8)])
def test_grid_edges_count_and_adjacency(height, width):
    a, b = grid_edges(height, width)
    assert len(a) == 2 * height * width - height - width
    (ra, ca), (rb, cb) = np.divmod(a, width), np.divmod(b, width)
    assert np.all(np.abs(ra - rb) + np.abs(ca - cb) == 1)
    assert len({(int(x), int(y)) for x, y in zip(a, b)}) == len(a)


@pytest.mark.parametrize("height, width", [(6, 6), (4, 9), (12, 16)])
def test_identity_and_every_symmetry_give_one(height, width):
    rng = np.random.default_rng(height * width)
    perm = rng.permutation(height * width)
    undo = np.argsort(perm)
    for sym in symmetries(height, width):
        assert neighbour_share(perm, undo[sym], height, width) == 1.0
    # A cyclic shift of one row is no symmetry.
    shifted = np.arange(height * width).reshape(height, width)
    shifted[0] = np.roll(shifted[0], 1)
    assert neighbour_share(perm, undo[shifted.ravel()], height, width) < 1.0


def test_composition_matches_permute_pixels():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(5, 3, 6, 8), dtype=np.uint8)
    perm = rng.permutation(48)
    flat = permute_pixels(x, perm).reshape(5, 3, 48)
    for sym in symmetries(6, 8):
        order = np.argsort(perm)[sym]
        expected = x.reshape(5, 3, 48)[:, :, sym]
        np.testing.assert_array_equal(flat[:, :, order], expected)
        assert neighbour_share(perm, order, 6, 8) == 1.0


@pytest.mark.parametrize("height, width", [(3, 5), (6, 6), (7, 4)])
def test_share_matches_naive_twin(height, width):
    rng = np.random.default_rng(height + 10 * width)
    for _ in range(20):
        perm, order = rng.permutation(height * width), rng.permutation(height * width)
        assert neighbour_share(perm, order, height, width) == pytest.approx(
            naive_share(perm, order, height, width)
        )


@pytest.mark.parametrize("height, width", [(8, 8), (10, 14)])
def test_random_order_shares_about_four_over_n_pixels(height, width):
    rng = np.random.default_rng(0)
    n = height * width
    perm = rng.permutation(n)
    shares = [neighbour_share(perm, rng.permutation(n), height, width) for _ in range(400)]
    # Two distinct random cells are neighbours with probability 2 E / (n (n - 1)) ~ 4 / n.
    edges = 2 * n - height - width
    expected = 2 * edges / (n * (n - 1))
    assert np.mean(shares) == pytest.approx(expected, rel=0.15)
    assert expected == pytest.approx(4 / n, rel=0.25)


def test_share_rejects_non_permutations():
    with pytest.raises(ValueError, match="permutation must be 16 integers"):
        neighbour_share(np.arange(15), np.arange(16), 4, 4)
    with pytest.raises(ValueError, match="order must hold each of 0..15 exactly once"):
        neighbour_share(np.arange(16), np.zeros(16, int), 4, 4)


def test_correlations_match_numpy_corrcoef():
    rng = np.random.default_rng(1)
    images = smooth_images(200, 2, 5, 6, rng).reshape(200, 2, 30)
    expected = np.mean([np.corrcoef(images[:, c].T.astype(float)) for c in range(2)], axis=0)
    np.testing.assert_allclose(pixel_correlations(images), expected, atol=1e-10)


@pytest.mark.parametrize(
    "height, width, channels, n_images",
    [(8, 8, 1, 1500), (12, 16, 3, 1000), (9, 6, 3, 1200),
     pytest.param(32, 32, 1, 800, marks=pytest.mark.slow)],
)
def test_recovers_smooth_images_up_to_symmetry(height, width, channels, n_images):
    rng = np.random.default_rng(height * 100 + width)
    x = smooth_images(n_images, channels, height, width, rng)
    perm = rng.permutation(height * width)
    permuted = permute_pixels(x, perm).reshape(n_images, channels, -1)
    order = recover_layout(permuted, height, width)
    assert np.array_equal(np.sort(order), np.arange(height * width))
    share = neighbour_share(perm, order, height, width)
    assert share >= 0.95, share
    if share == 1.0:  # then the recovered images are the originals, flipped or turned
        recovered = permuted[:, :, order]
        assert any(
            np.array_equal(recovered, x.reshape(n_images, channels, -1)[:, :, sym])
            for sym in symmetries(height, width)
        )


@pytest.mark.parametrize("height, width", [(10, 10), (8, 12)])
def test_orients_upright_when_rows_correlate_more_and_the_top_is_brighter(height, width):
    rng = np.random.default_rng(11)
    pad = 6
    noise = rng.normal(size=(1500, 1, height + 2 * pad, width + 2 * pad))
    blurred = gaussian_filter(noise, sigma=(0, 0, 1.2, 2.0))[:, :, pad:-pad, pad:-pad]
    sky = np.linspace(1.0, -1.0, height)[None, None, :, None] * blurred.std()
    x = blurred + sky
    x = ((x - x.min()) / np.ptp(x) * 255).round().astype(np.uint8)
    perm = rng.permutation(height * width)
    order = recover_layout(permute_pixels(x, perm), height, width)
    cells = np.arange(height * width).reshape(height, width)
    held = perm[order]
    assert np.array_equal(held, cells.ravel()) or np.array_equal(held, cells[:, ::-1].ravel())
    # Without orienting, another symmetry may come back, with the same share.
    plain = recover_layout(permute_pixels(x, perm), height, width, orient=False)
    assert neighbour_share(perm, plain, height, width) == neighbour_share(
        perm, order, height, width
    )


def test_accepts_four_dimensional_images_and_caps_their_number():
    rng = np.random.default_rng(5)
    x = smooth_images(600, 1, 6, 6, rng)
    perm = rng.permutation(36)
    permuted = permute_pixels(x, perm)
    order = recover_layout(permuted, 6, 6, max_images=300)
    np.testing.assert_array_equal(
        order, recover_layout(permuted.reshape(600, 1, 36), 6, 6, max_images=300)
    )
    assert neighbour_share(perm, order, 6, 6) >= 0.95


def test_refinement_leaves_no_improving_swap():
    rng = np.random.default_rng(7)
    height, width = 4, 5
    n = height * width
    score = rng.random((n, n))
    score = score + score.T
    order = _refine_swaps(rng.permutation(n), score, height, width)
    a, b = grid_edges(height, width)

    def total(o):
        return score[o[a], o[b]].sum()

    best = total(order)
    for k in range(n):
        for m in range(k + 1, n):
            swapped = order.copy()
            swapped[[k, m]] = swapped[[m, k]]
            assert total(swapped) <= best + 1e-9


def test_refinement_never_lowers_the_objective():
    rng = np.random.default_rng(8)
    height, width = 6, 6
    n = height * width
    score = rng.random((n, n))
    score = score + score.T
    start = rng.permutation(n)
    a, b = grid_edges(height, width)
    refined = _refine_swaps(start, score, height, width)
    assert score[refined[a], refined[b]].sum() >= score[start[a], start[b]].sum()


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((10, 1, 15)), r"shape \(n_images, channels, 16\)"),
        (np.zeros((1, 1, 16)), "at least 2 images, got 1"),
        (np.full((4, 1, 16), np.nan), "NaN or infinity"),
    ],
)
def test_recover_rejects_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        recover_layout(images, 4, 4)


def test_plot_layout_returns_figure():
    perm = np.random.default_rng(0).permutation(20)
    fig = plot_layout(perm, np.argsort(perm), 4, 5)
    assert isinstance(fig, Figure)
    assert "100.0 %" in fig.axes[1].get_title()


@pytest.mark.realdata
@pytest.mark.slow
def test_cifar10_layout_recovered_from_5000_images(cifar10):
    perm = np.random.default_rng(2007).permutation(32 * 32)
    permuted = permute_pixels(cifar10.x_train, perm).reshape(len(cifar10.x_train), 3, -1)
    order = recover_layout(permuted, 32, 32)  # uses 5,000 evenly spaced images
    assert neighbour_share(perm, order, 32, 32) >= 0.90
    # Upright (photographs: rows correlate more, skies on top), up to left and right.
    cells = np.arange(32 * 32).reshape(32, 32)
    held = perm[order]
    assert np.array_equal(held, cells.ravel()) or np.array_equal(held, cells[:, ::-1].ravel())
