"""Pixel permutations, applied once to whole image arrays before training iterates.

A permutation reorders the ``H * W`` pixel positions and is shared by all channels
of an image, so colour stays attached to its (moved) pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from acmlkit.validation import check_choice

CONDITIONS = ("none", "fixed", "per-image", "notebook", "fixed-recovered")
CONDITION_HELP = {
    "none": "plain images, train and test",
    "fixed": "one permutation from the seed for every train and test image",
    "per-image": "a new permutation for every train and test image",
    "notebook": "train on plain images, test on per-image permuted ones (what the notebook ran)",
    "fixed-recovered": "the fixed permutation, then the layout recovered from pixel "
    "statistics of the training images (acmlkit.nets.layout)",
}
RECOVERY_IMAGES = 5_000  # training images whose pixel statistics recover the layout
_CHUNK = 4096


def draw_permutation(n_pixels: int, rng: np.random.Generator) -> np.ndarray:
    """One permutation of ``range(n_pixels)``, shape ``(n_pixels,)``."""
    return rng.permutation(n_pixels)


def permute_pixels(images: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Move pixel ``permutation[j]`` to position ``j`` in every image and channel.

    Parameters
    ----------
    images : ndarray, shape (n, channels, height, width)
    permutation : ndarray of int, shape (height * width,)

    Returns
    -------
    ndarray, same shape and dtype as ``images``
    """
    n, c, h, w = images.shape
    if permutation.shape != (h * w,):
        raise ValueError(
            f"permutation must have shape ({h * w},) for {h}x{w} images, got {permutation.shape}"
        )
    return images.reshape(n, c, h * w)[:, :, permutation].reshape(n, c, h, w)


def permute_each_image(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every image gets its own random permutation (shared by its channels).

    Works in chunks so that the ``(n, H*W)`` index array never has to exist at once.
    """
    n, c, h, w = images.shape
    out = np.empty_like(images)
    flat_in = images.reshape(n, c, h * w)
    flat_out = out.reshape(n, c, h * w)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        order = rng.permuted(np.broadcast_to(np.arange(h * w), (stop - start, h * w)), axis=1)
        flat_out[start:stop] = np.take_along_axis(flat_in[start:stop], order[:, None, :], axis=2)
    return out


def flip_map(height: int, width: int, permutation: np.ndarray | None = None) -> np.ndarray:
    """Pixel index map of a left-right flip, in the permuted space when ``permutation`` is given.

    For images permuted by ``p`` (``x_p[j] = x[p[j]]``), flipping the original
    then permuting equals indexing ``x_p`` with ``p^-1[f[p[j]]]``, so a CNN trained
    with flips under a fixed permutation sees exactly the same information as
    without it.

    Returns
    -------
    ndarray of int64, shape (height * width,)
    """
    flip = np.arange(height * width).reshape(height, width)[:, ::-1].ravel()
    if permutation is None:
        return flip
    inverse = np.argsort(permutation)
    return inverse[flip[permutation]]


@dataclass(frozen=True, eq=False)
class PermutedData:
    """Images prepared for one condition.

    ``train_flip`` and ``test_flip`` are the pixel maps of a left-right flip in
    the space of ``x_train`` and ``x_test``, or None where a flip has no meaning
    (per-image permutations). Under ``fixed-recovered`` they are the plain flip of
    the recovered grid, which is a flip of the original up to the grid symmetry the
    recovery could not tell apart: the secret permutation is never used.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    permutation: np.ndarray | None
    train_flip: np.ndarray | None
    test_flip: np.ndarray | None
    recovered: np.ndarray | None = None  # fixed-recovered: the order found, (H * W,)
    neighbour_share: float | None = None  # fixed-recovered: see layout.neighbour_share
    note: str | None = None  # fixed-recovered: why no layout was recovered, if none was


def apply_condition(
    x_train: np.ndarray, x_test: np.ndarray, condition: str, rng: np.random.Generator
) -> PermutedData:
    """Permute train and test images as ``condition`` says (see ``CONDITIONS``).

    Parameters
    ----------
    x_train, x_test : ndarray, shape (n, channels, height, width)
    condition : {"none", "fixed", "per-image", "notebook", "fixed-recovered"}
    rng : numpy Generator
        The run's permutation stream. ``fixed-recovered`` draws the same
        permutation as ``fixed`` from it, then the images used for the recovery.
    """
    check_choice(condition, "permutation", CONDITIONS)
    _, _, h, w = x_train.shape
    if condition == "none":
        return PermutedData(x_train, x_test, None, flip_map(h, w), flip_map(h, w))
    if condition == "fixed":
        perm = draw_permutation(h * w, rng)
        permuted_flip = flip_map(h, w, perm)
        return PermutedData(
            permute_pixels(x_train, perm), permute_pixels(x_test, perm), perm,
            permuted_flip, permuted_flip,
        )
    if condition == "fixed-recovered":
        return _recovered(x_train, x_test, rng)
    if condition == "per-image":
        return PermutedData(permute_each_image(x_train, rng), permute_each_image(x_test, rng),
                            None, None, None)
    return PermutedData(x_train, permute_each_image(x_test, rng), None, flip_map(h, w), None)


def _recovered(x_train: np.ndarray, x_test: np.ndarray, rng: np.random.Generator) -> PermutedData:
    from acmlkit.nets.layout import neighbour_share, recover_layout

    n, c, h, w = x_train.shape
    perm = draw_permutation(h * w, rng)
    permuted = permute_pixels(x_train, perm)
    used = np.sort(rng.choice(n, size=min(n, RECOVERY_IMAGES), replace=False))
    note = None
    try:
        order = np.asarray(recover_layout(permuted[used].reshape(len(used), c, h * w), h, w))
    except ValueError as exc:
        # Images without spatial structure (noise) hold no layout to recover: the
        # condition then trains on the permuted images as they are, and says so.
        order = np.arange(h * w)
        note = f"no layout was recovered ({exc}); the network saw the permuted images as they are"
    if order.shape != (h * w,) or not np.array_equal(np.sort(order), np.arange(h * w)):
        raise RuntimeError(f"recover_layout returned no permutation of {h * w} positions")
    share = float(neighbour_share(perm, order, h, w))
    plain = flip_map(h, w)
    return PermutedData(
        permute_pixels(permuted, order), permute_pixels(permute_pixels(x_test, perm), order),
        perm, plain, plain, recovered=order, neighbour_share=share, note=note,
    )


def permute_first_layer(
    weight: torch.Tensor, permutation: np.ndarray, channels: int
) -> torch.Tensor:
    """Reorder an MLP's first-layer weights to act on permuted images.

    If ``weight`` has shape ``(hidden, channels * H * W)`` (inputs flattened in
    ``(C, H, W)`` order), the returned matrix applied to ``permute_pixels(x, p)``
    gives the same pre-activations as ``weight`` applied to ``x``: the MLP is
    blind to a fixed permutation, up to what it can learn from the data.
    """
    hidden, n_inputs = weight.shape
    n_pixels = n_inputs // channels
    index = torch.as_tensor(permutation, dtype=torch.long)
    return weight.reshape(hidden, channels, n_pixels)[:, :, index].reshape(hidden, n_inputs)
