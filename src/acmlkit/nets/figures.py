"""Figures drawn only from saved results (:class:`TrainResult`, :class:`PermutationStudyResult`).

Every function returns a :class:`matplotlib.figure.Figure`; saving is the caller's
(:func:`acmlkit.plotting.save_figure`). Widths stay at or under 8 inches and text
at 8 pt or more, so the figures read at page width.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from acmlkit.nets.experiments import PermutationStudyResult, TrainResult
from acmlkit.plotting import new_figure

_COLOURS = {"cnn": "tab:green", "mlp": "tab:purple", "mlp-matched": "tab:orange"}
_LABELS = {"cnn": "CNN", "mlp": "MLP", "mlp-matched": "MLP (CNN-sized)"}


def _label(arch: str) -> str:
    return _LABELS.get(arch, arch.upper())


def _show(ax, img: np.ndarray) -> None:
    shown = img[0] if img.shape[0] == 1 else np.moveaxis(img[:3], 0, -1)
    ax.imshow(shown, cmap="gray" if img.shape[0] == 1 else None, interpolation="nearest",
              vmin=0, vmax=255)


def _image_grid(block, titles, colours, columns: int) -> tuple[Figure, np.ndarray]:
    images = block.array() if block is not None else np.zeros((0,), np.uint8)
    if images.size == 0:
        raise ValueError("the result holds no images to draw")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    fig, axes = new_figure(min(8.0, 1.0 * columns), 1.25 * rows, nrows=rows, ncols=columns,
                           squeeze=False)
    axes = axes.ravel()
    for ax in axes:
        ax.axis("off")
    for ax, img, title, colour in zip(axes, images, titles, colours):
        _show(ax, img)
        ax.set_title(title, fontsize=8, color=colour)
    return fig, axes


def plot_training_images(result: TrainResult, columns: int = 8) -> Figure:
    """Training images drawn across classes, titled with their labels (notebook cell [10])."""
    classes = result.classes
    titles = [classes[y] for y in result.train_labels]
    fig, _ = _image_grid(result.train_images, titles, ["black"] * len(titles), columns)
    fig.suptitle(f"Training images and their labels ({result.config.data})", fontsize=9)
    return fig


def plot_sample_grid(result: TrainResult, columns: int = 8) -> Figure:
    """Test images drawn across classes, titled true -> predicted (red when wrong)."""
    classes = result.classes
    pairs = list(zip(result.sample_true, result.sample_pred))
    titles = [f"{classes[t]}\n-> {classes[p]}" for t, p in pairs]
    colours = ["black" if t == p else "tab:red" for t, p in pairs]
    fig, _ = _image_grid(result.sample_images, titles, colours, columns)
    c = result.config
    fig.suptitle(
        f"{_label(c.arch)}, permutation {c.permutation}: true -> predicted "
        f"(accuracy {100 * result.evaluation.accuracy:.1f}%)",
        fontsize=9,
    )
    return fig


def plot_class_comparison(results: list[TrainResult]) -> Figure:
    """Per-class test accuracy of several runs side by side (the notebook's cell [19]).

    ``results`` are runs on the same classes, e.g. the CNN's and the MLP's.
    """
    if not results:
        raise ValueError("no results to compare")
    classes = results[0].classes
    for r in results[1:]:
        if r.classes != classes:
            raise ValueError(f"results have different classes: {classes} and {r.classes}")
    x = np.arange(len(classes))
    width = 0.8 / len(results)
    fig, ax = new_figure(7.5, 3.4)
    for i, r in enumerate(results):
        acc = 100 * np.array([np.nan if a is None else a for a in r.evaluation.per_class_accuracy])
        arch = r.config.arch
        ax.bar(x + (i - (len(results) - 1) / 2) * width, acc, width, color=_COLOURS.get(arch),
               label=f"{_label(arch)} ({100 * r.evaluation.accuracy:.1f}% overall)")
    ax.axhline(100 / len(classes), color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xticks(x, classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy (%)", fontsize=9)
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Per-class test accuracy", fontsize=9)
    return fig


def plot_per_class_accuracy(study: PermutationStudyResult, columns: int | None = None
                            ) -> Figure:
    """Per-class test accuracy of every architecture, one panel per condition.

    Lines are means over seeds; the band is +- one sample standard deviation
    (none for one seed). Panel titles give each architecture's overall mean.
    """
    conditions = study.config.conditions
    if columns is None:  # no lone panel on a last row where a square grid fits
        columns = 2 if len(conditions) in (2, 4) else 3
    columns = min(columns, len(conditions))
    rows = -(-len(conditions) // columns)
    height = (3.0 if columns == 3 else 3.4) * rows + 0.4
    fig, axes = new_figure(8.0, height, nrows=rows, ncols=columns, sharey=True, squeeze=False)
    axes = axes.ravel()
    x = np.arange(len(study.classes))
    for ax in axes[len(conditions):]:
        ax.axis("off")
    for ax, condition in zip(axes, conditions):
        overall = []
        for arch in study.config.archs:
            runs = [r for r in study.runs if r.arch == arch and r.condition == condition]
            per_class = np.array(
                [[np.nan if a is None else a for a in r.per_class_accuracy] for r in runs],
                dtype=float,
            ) * 100
            mean = np.nanmean(per_class, axis=0)
            colour = _COLOURS.get(arch)
            ax.plot(x, mean, marker="o", ms=3, color=colour, label=_label(arch))
            if len(runs) > 1:
                std = np.nanstd(per_class, axis=0, ddof=1)
                ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
            overall.append(f"{_label(arch)} {100 * np.mean([r.accuracy for r in runs]):.0f}%")
        ax.axhline(100 / len(study.classes), color="grey", lw=0.8, ls=":")
        ax.set_title(f"{condition}: " + ", ".join(overall), fontsize=8)
        ax.set_xticks(x, study.classes, rotation=60, fontsize=7)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    for ax in axes[::columns]:
        ax.set_ylabel("accuracy per class (%)", fontsize=8)
    axes[0].legend(fontsize=8, loc="lower left")
    n = len(study.config.seeds)
    fig.suptitle(f"Architectures under pixel permutations ({n} seed{'s' * (n > 1)}; "
                 "dotted: chance)", fontsize=9)
    return fig


def plot_permutation_summary(study: PermutationStudyResult) -> Figure:
    """Mean test accuracy per condition and architecture, with sample std over seeds."""
    summary = study.summary()
    conditions = list(study.config.conditions)
    archs = list(study.config.archs)
    x = np.arange(len(conditions))
    width = 0.8 / len(archs)
    fig, ax = new_figure(7.5, 3.2)
    for i, arch in enumerate(archs):
        rows = [next(r for r in summary if (r["condition"], r["arch"]) == (c, arch))
                for c in conditions]
        mean = np.array([100 * r["mean_accuracy"] for r in rows])
        std = np.array([100 * (r["std_accuracy"] or 0.0) for r in rows])
        params = rows[0]["n_parameters"]
        ax.bar(x + (i - (len(archs) - 1) / 2) * width, mean, width, yerr=std, capsize=2,
               color=_COLOURS.get(arch), label=f"{_label(arch)}, {params:,} parameters")
    ax.axhline(100 / len(study.classes), color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xticks(x, conditions, fontsize=8)
    ax.set_ylabel("test accuracy (%)", fontsize=9)
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Test accuracy by permutation condition (mean and sample std over seeds)",
                 fontsize=9)
    return fig


def plot_history(result: TrainResult) -> Figure:
    """Train loss and train/test accuracy per epoch."""
    history = result.history
    epochs = [h["epoch"] for h in history]
    fig, ax = new_figure(6.4, 3.4)
    ax.plot(epochs, [100 * h["train_accuracy"] for h in history], marker="o", label="train")
    test = [h["test_accuracy"] for h in history]
    if all(t is not None for t in test):
        ax.plot(epochs, [100 * t for t in test], marker="o", label="test")
    ax.set_xlabel("epoch", fontsize=9)
    ax.set_ylabel("accuracy (%)", fontsize=9)
    ax.grid(alpha=0.3)
    loss_ax = ax.twinx()
    loss_ax.plot(epochs, [h["train_loss"] for h in history], color="grey", ls="--",
                 label="train loss")
    loss_ax.set_ylabel("train loss", fontsize=9)
    ax.legend(loc="center right", fontsize=8)
    c = result.config
    ax.set_title(f"{_label(c.arch)}, recipe {result.recipe_name}, permutation {c.permutation}",
                 fontsize=9)
    return fig


def plot_confusion(result: TrainResult) -> Figure:
    """The confusion matrix as row-normalised percentages."""
    conf = np.asarray(result.evaluation.confusion, dtype=float)
    pct = 100 * conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    classes = result.classes
    fig, ax = new_figure(5.2, 4.6)
    im = ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=60, fontsize=8)
    ax.set_yticks(ticks, classes, fontsize=8)
    ax.set_xlabel("predicted", fontsize=9)
    ax.set_ylabel("true", fontsize=9)
    fig.colorbar(im, ax=ax, label="% of the true class")
    return fig


def plot_recovered_layout(result: TrainResult | PermutationStudyResult, arch: str = "cnn"
                          ) -> Figure:
    """The layout ``fixed-recovered`` found, coloured by each pixel's true position.

    From a run under ``fixed-recovered``, or from a study's first such run of ``arch``
    (see :func:`acmlkit.nets.layout.plot_layout`).
    """
    from acmlkit.nets.layout import plot_layout

    if isinstance(result, PermutationStudyResult):
        found = next((r.layout for r in result.runs
                      if r.condition == "fixed-recovered" and r.arch == arch and r.layout), None)
    else:
        found = result.layout
    if found is None:
        raise ValueError(f"the result holds no fixed-recovered run of {arch}")
    return plot_layout(np.asarray(found["permutation"]), np.asarray(found["order"]),
                       found["height"], found["width"])
