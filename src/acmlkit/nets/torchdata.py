"""Image data for a user's own PyTorch code: a ``Dataset`` and whole tensors.

acmlkit's own :class:`~acmlkit.nets.trainer.Trainer` indexes one tensor per split;
these give the same images to a hand-written loop or a ``DataLoader``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from acmlkit.nets.data import ImageDataset
from acmlkit.nets.devices import resolve_device
from acmlkit.nets.inference import to_tensor

_SPLITS = ("train", "test")


def _normalisation(dataset: ImageDataset, normalize: str | None):
    from acmlkit.nets.trainer import normalization

    channels = dataset.image_shape[0]
    if normalize is None:  # plain 0..1 floats
        return np.zeros(channels, np.float32), np.ones(channels, np.float32)
    # Statistics of the training split, for both splits, as the Trainer does.
    return normalization(dataset.x_train, normalize)


def as_tensors(
    dataset: ImageDataset,
    split: str = "train",
    *,
    normalize: str | None = None,
    device: str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as ``(images, labels)`` tensors on ``device``.

    Parameters
    ----------
    dataset : ImageDataset
    split : {"train", "test"}
    normalize : {None, "half", "channel"}
        None: floats in ``[0, 1]``; ``"half"``: ``(x - 0.5) / 0.5``; ``"channel"``:
        per-channel mean and std of the training split.
    device : {"cpu", "cuda", "mps", "auto"}

    Returns
    -------
    images : float32 tensor, shape (n, C, H, W)
    labels : int64 tensor, shape (n,)
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    device = resolve_device(device)
    mean, std = _normalisation(dataset, normalize)
    x = to_tensor(getattr(dataset, f"x_{split}"), mean, std, device)
    y = torch.as_tensor(getattr(dataset, f"y_{split}"), dtype=torch.int64, device=device)
    return x, y


class ImageTensorDataset(Dataset):
    """A split of an :class:`ImageDataset` as a map-style ``torch.utils.data.Dataset``.

    Item ``i`` is ``(image, label)``: a float32 tensor ``(C, H, W)`` normalised as
    :func:`as_tensors` says and an int64 scalar tensor, so the default
    ``DataLoader`` collation stacks them into ``(batch, C, H, W)`` and ``(batch,)``.

    Attributes
    ----------
    images : float32 tensor, shape (n, C, H, W)
    labels : int64 tensor, shape (n,)
    classes : tuple of str
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: tuple[str, ...]):
        if images.ndim != 4 or labels.shape != (len(images),):
            raise ValueError(
                f"expected images (n, C, H, W) and n labels, got {tuple(images.shape)} and "
                f"{tuple(labels.shape)}"
            )
        self.images = images
        self.labels = labels
        self.classes = tuple(classes)

    @classmethod
    def from_dataset(
        cls, dataset: ImageDataset, split: str = "train", *, normalize: str | None = None,
        device: str = "cpu",
    ) -> ImageTensorDataset:
        """The ``split`` of ``dataset``; ``normalize`` and ``device`` as for :func:`as_tensors`."""
        x, y = as_tensors(dataset, split, normalize=normalize, device=device)
        return cls(x, y, dataset.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]
