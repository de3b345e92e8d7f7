"""Figures drawn only from saved results (``study.json``, ``result.json``), never from a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acmlkit.nets.experiments import PermutationStudyResult, TrainResult
from acmlkit.nets.permutations import CONDITION_HELP
from acmlkit.plotting import new_figure, save_figure

_COLOURS = {"cnn": "tab:green", "mlp": "tab:purple"}


def plot_per_class_accuracy(study: PermutationStudyResult, path: str | Path) -> Path:
    """Per-class test accuracy of CNN vs MLP, one panel per condition.

    Lines are means over seeds; the band is +- one standard deviation. The
    panel titles give the overall mean accuracy of each architecture.
    """
    conditions = study.config.conditions
    fig, axes = new_figure(3.6 * len(conditions), 3.6)
    fig.clear()
    axes = fig.subplots(1, len(conditions), sharey=True, squeeze=False)[0]
    x = np.arange(len(study.classes))
    for ax, condition in zip(axes, conditions):
        title = [condition]
        for arch in study.config.archs:
            runs = [r for r in study.runs if r.arch == arch and r.condition == condition]
            per_class = np.array([r.per_class_accuracy for r in runs], dtype=float) * 100
            mean = np.nanmean(per_class, axis=0)
            std = np.nanstd(per_class, axis=0)
            colour = _COLOURS.get(arch)
            ax.plot(x, mean, marker="o", ms=3, color=colour, label=arch.upper())
            ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
            overall = 100 * np.mean([r.accuracy for r in runs])
            title.append(f"{arch.upper()} {overall:.1f}%")
        ax.axhline(100 / len(study.classes), color="grey", lw=0.8, ls=":", label="chance")
        ax.set_title("\n".join([title[0], ", ".join(title[1:])]), fontsize=9)
        ax.set_xticks(x, study.classes, rotation=60, fontsize=7)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.text(0.02, 0.98, CONDITION_HELP[condition], transform=ax.transAxes, fontsize=6,
                va="top", wrap=True)
    axes[0].set_ylabel("test accuracy per class (%)")
    axes[0].legend(fontsize=8, loc="lower left")
    n = len(study.config.seeds)
    fig.suptitle(f"CNN vs MLP under pixel permutations ({n} seed{'s' * (n > 1)})")
    return save_figure(fig, path)


def plot_sample_grid(result: TrainResult, path: str | Path, columns: int = 8) -> Path:
    """The saved sample test images, titled with true and predicted labels (red when wrong)."""
    images = np.asarray(result.sample_images, dtype=np.uint8)
    if images.size == 0:
        raise ValueError("the result holds no sample images to draw")
    classes = result.evaluation.classes
    rows = -(-len(images) // columns)
    fig, _ = new_figure(1.3 * columns, 1.5 * rows)
    fig.clear()
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, img, true, pred in zip(axes, images, result.sample_true, result.sample_pred):
        shown = img[0] if img.shape[0] == 1 else np.moveaxis(img[:3], 0, -1)
        ax.imshow(shown, cmap="gray" if img.shape[0] == 1 else None, interpolation="nearest")
        ax.set_title(f"{classes[true]}\n-> {classes[pred]}", fontsize=7,
                     color="black" if true == pred else "tab:red")
    c = result.config
    fig.suptitle(
        f"{c.arch.upper()}, permutation {c.permutation}: true -> predicted "
        f"(accuracy {100 * result.evaluation.accuracy:.1f}%)",
        fontsize=9,
    )
    return save_figure(fig, path)


def plot_history(result: TrainResult, path: str | Path) -> Path:
    """Train loss and train/test accuracy per epoch."""
    history = result.history
    epochs = [h["epoch"] for h in history]
    fig, ax = new_figure(6.4, 3.6)
    ax.plot(epochs, [100 * h["train_accuracy"] for h in history], marker="o", label="train")
    test = [h["test_accuracy"] for h in history]
    if all(t is not None for t in test):
        ax.plot(epochs, [100 * t for t in test], marker="o", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    loss_ax = ax.twinx()
    loss_ax.plot(epochs, [h["train_loss"] for h in history], color="grey", ls="--",
                 label="train loss")
    loss_ax.set_ylabel("train loss")
    ax.legend(loc="center right", fontsize=8)
    c = result.config
    ax.set_title(f"{c.arch.upper()}, recipe {c.recipe}, permutation {c.permutation}", fontsize=9)
    return save_figure(fig, path)


def plot_confusion(result: TrainResult, path: str | Path) -> Path:
    """The confusion matrix as row-normalised percentages."""
    conf = np.asarray(result.evaluation.confusion, dtype=float)
    pct = 100 * conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    classes = result.evaluation.classes
    fig, ax = new_figure(5.2, 4.6)
    im = ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=60, fontsize=7)
    ax.set_yticks(ticks, classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, label="% of the true class")
    return save_figure(fig, path)
