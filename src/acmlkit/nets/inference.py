"""Prediction with a trained network: image tensors, batched logits, test-time flips."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from acmlkit.nets.models import NetConfig
from acmlkit.nets.permutations import flip_map


def to_tensor(
    images: np.ndarray, mean: np.ndarray, std: np.ndarray, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """uint8 images ``(n, C, H, W)`` to a normalised float32 tensor of that shape on ``device``."""
    # torch.tensor always copies (the in-place scaling below must not touch the
    # caller's array) and, unlike from_numpy, accepts read-only cached arrays quietly.
    # uint8 travels to the device (4x fewer bytes) and is scaled there.
    x = torch.tensor(np.ascontiguousarray(images)).to(device).float()
    scale = torch.as_tensor(1.0 / (255.0 * std), dtype=torch.float32, device=x.device)
    shift = torch.as_tensor(mean / std, dtype=torch.float32, device=x.device)
    return x.mul_(scale.view(1, -1, 1, 1)).sub_(shift.view(1, -1, 1, 1))


def flipper(
    fmap: np.ndarray, shape: tuple[int, int, int], device: str | torch.device = "cpu"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function that flips a batch ``(n, C, H, W)`` by the pixel map ``fmap``, ``(H * W,)``.

    See :func:`permutations.flip_map`; the plain left-right map takes the fast path.
    """
    c, h, w = shape
    if np.array_equal(fmap, flip_map(h, w)):
        return lambda x: x.flip(3)
    index = torch.as_tensor(np.asarray(fmap, dtype=np.int64), device=device)
    return lambda x: x.reshape(-1, c, h * w)[:, :, index].reshape(-1, c, h, w)


def predict_logits(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1000, flip: np.ndarray | None = None
) -> torch.Tensor:
    """Logits ``(n, n_classes)`` for a normalised tensor ``x``, in eval mode, in batches.

    With a pixel map ``flip`` (see :func:`permutations.flip_map`), the logits are
    the mean of those of each image and of its flip (test-time augmentation).
    The result is on ``x``'s device.
    """
    was_training = model.training
    model.eval()
    flipped = flipper(flip, x.shape[1:], x.device) if flip is not None else None
    with torch.inference_mode():
        parts = []
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size]
            out = model(xb)
            if flipped is not None:
                out = (out + model(flipped(xb))) / 2
            parts.append(out)
        out = torch.cat(parts)
    model.train(was_training)
    return out


@dataclass(eq=False)
class TrainedModel:
    """A network ready to predict, as :meth:`Trainer.trained` and :func:`load_model` give it."""

    model: nn.Module
    config: NetConfig
    mean: np.ndarray
    std: np.ndarray
    classes: tuple[str, ...] | None = None
    history: list | None = None
    test_flip: bool = False  # its recipe scores images with their flips

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def logits(
        self, images: np.ndarray, batch_size: int = 1000, flip: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits ``(n, n_classes)`` for uint8 images ``(n, C, H, W)``.

        ``flip`` is the pixel map of a flip for these images (see
        :func:`permutations.flip_map`), or None where a flip means nothing for them;
        it is used only when ``test_flip`` is set.
        """
        x = to_tensor(images, self.mean, self.std, self.device)
        flip = flip if self.test_flip else None
        return predict_logits(self.model, x, batch_size, flip=flip).cpu().numpy()

    def predict(
        self, images: np.ndarray, batch_size: int = 1000, flip: np.ndarray | None = None
    ) -> np.ndarray:
        """Predicted class indices, shape ``(n,)``; ``flip`` as for :meth:`logits`."""
        return self.logits(images, batch_size, flip).argmax(1)
