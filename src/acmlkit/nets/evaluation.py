"""Scores for a trained network: overall and per-class accuracy, confusion matrix, sizes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acmlkit.nets.inference import TrainedModel
from acmlkit.nets.models import count_parameters


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of images of class ``i`` predicted as ``j``, shape ``(K, K)``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class, shape ``(K,)``; NaN for a class with no test images."""
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)


@dataclass
class Evaluation:
    """How a model did on one test set.

    Attributes
    ----------
    accuracy : float
        Fraction of test images classified correctly.
    per_class_accuracy : list of float, length K
    confusion : list of list of int, shape (K, K)
        Rows are true classes, columns predictions.
    classes : list of str
    n_parameters, n_trainable : int
    """

    accuracy: float
    per_class_accuracy: list[float]
    confusion: list[list[int]]
    classes: list[str]
    n_parameters: int
    n_trainable: int


def evaluate(
    trained: TrainedModel, images: np.ndarray, labels: np.ndarray, classes=None,
    flip: np.ndarray | None = None,
) -> tuple[Evaluation, np.ndarray]:
    """Score ``trained`` on uint8 ``images`` ``(n, C, H, W)`` with ``labels`` ``(n,)``.

    ``flip`` is the images' flip map, for a model whose recipe scores with flips
    (see :meth:`TrainedModel.logits`). Returns the evaluation and the predictions,
    shape ``(n,)``.
    """
    k = trained.config.n_classes
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"labels out of range: expected 0..{k - 1} for a {k}-class model, "
            f"got {labels.min()}..{labels.max()}"
        )
    pred = trained.predict(images, flip=flip)
    conf = confusion_matrix(labels, pred, k)
    total, trainable = count_parameters(trained.model)
    names = classes or trained.classes or tuple(str(i) for i in range(k))
    return (
        Evaluation(
            accuracy=float(np.mean(pred == labels)),
            per_class_accuracy=per_class_accuracy(conf).tolist(),
            confusion=conf.tolist(),
            classes=list(names),
            n_parameters=total,
            n_trainable=trainable,
        ),
        pred,
    )
