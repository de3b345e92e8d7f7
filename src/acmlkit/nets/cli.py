"""``acml nn``: train, evaluate, the permutation study, figures from saved results.

Only the standard library and typer are imported at module level; numpy, torch and
the library are imported inside the commands, so ``acml --help`` stays fast.
"""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from acmlkit.sweeps.cli import CLUSTER_OPTION, JOBS_OPTION, SCHEDULER_OPTION

app = typer.Typer(
    no_args_is_help=True,
    help="The notebook's CNN and MLP on CIFAR-10-like images, and pixel permutations.",
)
study_app = typer.Typer(no_args_is_help=True, help="Experiments over several runs.")
app.add_typer(study_app, name="study")


# The values mirror the library's tuples (models.ARCHITECTURES, recipes.RECIPE_NAMES,
# permutations.CONDITIONS, devices.DEVICES); a test checks that they agree.
class Arch(enum.StrEnum):
    cnn = "cnn"
    mlp = "mlp"
    mlp_matched = "mlp-matched"


class RecipeName(enum.StrEnum):
    auto = "auto"
    notebook = "notebook"
    fast = "fast"
    small = "small"
    accurate = "accurate"


class Condition(enum.StrEnum):
    none = "none"
    fixed = "fixed"
    per_image = "per-image"
    notebook = "notebook"
    fixed_recovered = "fixed-recovered"


class Device(enum.StrEnum):
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"
    auto = "auto"


DATA_HELP = (
    "'synthetic' (generated shapes, no download), 'cifar10' (official, downloaded once "
    "into the cache), 'cifar10:PATH' (a local cifar-10-python.tar.gz or its extracted "
    "folder), or an image folder / .tar / .tar.gz / .zip with train/<class>/ and test/<class>/"
)
PERMUTATION_HELP = (
    "none; fixed (one permutation from the seed for all images); per-image (a new one per "
    "image); notebook (train plain, test per-image permuted, as the notebook did); "
    "fixed-recovered (fixed, then the layout recovered from pixel statistics)"
)
RECIPE_HELP = "auto (small under 20,000 training images, else fast), fast, small or notebook"
DEVICE_HELP = "where the model and the data tensors live; auto: CUDA, else MPS, else CPU"
DEVICE_OPTION = typer.Option(Device.cpu, "--device", help=DEVICE_HELP)
OUT_HELP = "folder for config, model, checkpoints, result.json and figures"


def _threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        from acmlkit.validation import check_int

        torch.set_num_threads(check_int(threads, "--threads", low=1))


def _percent(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}%"


def _print_evaluation(evaluation) -> None:
    typer.echo(f"test accuracy {_percent(evaluation.accuracy)}")
    for name, acc in zip(evaluation.classes, evaluation.per_class_accuracy):
        typer.echo(f"  {name:>12} {_percent(acc)}")
    typer.echo(
        f"parameters: {evaluation.n_parameters:,} total, {evaluation.n_trainable:,} trainable"
    )


def _train_figures(result, out: Path) -> None:
    from acmlkit.nets import figures
    from acmlkit.plotting import save_figure

    save_figure(figures.plot_history(result), out / "history.png")
    save_figure(figures.plot_sample_grid(result), out / "samples.png")
    save_figure(figures.plot_training_images(result), out / "training_images.png")
    save_figure(figures.plot_confusion(result), out / "confusion.png")
    if result.layout is not None:
        save_figure(figures.plot_recovered_layout(result), out / "recovered_layout.png")


def _study_figures(result, out: Path) -> None:
    from acmlkit.nets import figures
    from acmlkit.plotting import save_figure

    save_figure(figures.plot_per_class_accuracy(result), out / "per_class_accuracy.png")
    save_figure(figures.plot_permutation_summary(result), out / "summary.png")
    recovered = next((r.arch for r in result.runs if r.layout), None)
    if recovered is not None:
        save_figure(figures.plot_recovered_layout(result, recovered),
                    out / "recovered_layout.png")


def _split(text: str, option: str, convert=str) -> tuple:
    try:
        values = tuple(convert(s.strip()) for s in text.split(",") if s.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated values, got {text!r}",
                                 param_hint=option) from None
    if not values:
        raise typer.BadParameter(f"expected at least one value, got {text!r}", param_hint=option)
    return values


@app.command()
def train(
    arch: Arch = typer.Option(Arch.cnn, help="cnn, mlp or mlp-matched (an MLP of the CNN's size)"),
    data: str = typer.Option("synthetic", help=DATA_HELP),
    recipe: RecipeName = typer.Option(RecipeName.auto, help=RECIPE_HELP),
    permutation: Condition = typer.Option(Condition.none, help=PERMUTATION_HELP),
    seed: int = typer.Option(0, min=0, help="one seed for permutation, initialisation and order"),
    epochs: int = typer.Option(None, min=1, help="override the recipe's number of epochs"),
    batch_size: int = typer.Option(None, min=1, help="override the recipe's batch size"),
    n_train: int = typer.Option(None, min=1, help="random subset of the training images"),
    n_test: int = typer.Option(None, min=1, help="random subset of the test images"),
    out: Path = typer.Option(None, "--out", "-o", help=OUT_HELP),
    resume: bool = typer.Option(False, help="continue from OUT/checkpoints/checkpoint.pt"),
    threads: int = typer.Option(None, min=1, help="torch CPU threads (default: torch's choice)"),
    device: Device = DEVICE_OPTION,
) -> None:
    """Train one network, print its per-epoch history and its test scores."""
    from acmlkit.nets.experiments import TrainConfig, run

    if resume and out is None:
        raise typer.BadParameter("--resume needs --out, the folder whose checkpoint to continue",
                                 param_hint="--resume")
    config = TrainConfig(
        arch=arch.value, data=data, recipe=recipe.value, permutation=permutation.value,
        seed=seed, epochs=epochs, batch_size=batch_size, n_train=n_train, n_test=n_test,
        device=device.value, threads=threads,
    )

    def show(record: dict) -> None:
        typer.echo(
            f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  "
            f"train {_percent(record['train_accuracy'])}  test {_percent(record['test_accuracy'])}"
            f"  {record['seconds']:7.1f} s"
        )

    result = run(config, out, resume=resume, callback=show)
    for note in (result.adaptation, result.recovery_note):
        if note:
            typer.echo(f"note: {note}")
    if result.neighbour_share is not None:
        typer.echo(f"recovered layout: {100 * result.neighbour_share:.1f}% of pixel "
                   "neighbourhoods")
    typer.echo(f"recipe {result.recipe_name}, device {result.device}")
    _print_evaluation(result.evaluation)
    if out is not None:
        _train_figures(result, out)
        typer.echo(f"wrote {out}")


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="model.pt or checkpoint.pt from `acml nn train`"),
    data: str = typer.Option("synthetic", help=DATA_HELP),
    permutation: Condition = typer.Option(Condition.none, help=PERMUTATION_HELP),
    seed: int = typer.Option(0, min=0, help="the training run's seed, so 'fixed' draws its "
                             "permutation"),
    n_test: int = typer.Option(None, min=1, help="random subset of the test images"),
    out: Path = typer.Option(None, "--out", "-o", help="folder for evaluation.json"),
    threads: int = typer.Option(None, min=1, help="torch CPU threads"),
    device: Device = DEVICE_OPTION,
) -> None:
    """Score a saved model on a test set: accuracy, per class, confusion, parameter counts."""
    from acmlkit.nets.experiments import evaluate_saved_model
    from acmlkit.results import save_json

    _threads(threads)
    evaluation = evaluate_saved_model(
        model, data=data, permutation=permutation.value, seed=seed, n_test=n_test,
        device=device.value,
    )
    _print_evaluation(evaluation)
    if out is not None:
        save_json(evaluation, out / "evaluation.json")
        typer.echo(f"wrote {out / 'evaluation.json'}")


@study_app.command("permutation")
def study_permutation(
    data: str = typer.Option("synthetic", help=DATA_HELP),
    seeds: str = typer.Option("0,1", help="comma-separated seeds (more: tighter error bars)"),
    conditions: str = typer.Option(
        "none,fixed,per-image,notebook",
        help="comma-separated conditions: none, fixed, per-image, notebook, fixed-recovered",
    ),
    archs: str = typer.Option("cnn,mlp,mlp-matched", help="comma-separated architectures"),
    recipe: RecipeName = typer.Option(RecipeName.auto, help=RECIPE_HELP),
    epochs: int = typer.Option(None, min=1, help="override the recipe's number of epochs"),
    n_train: int = typer.Option(3000, min=0, help="random subset of the training images (0: all)"),
    n_test: int = typer.Option(1000, min=0, help="random subset of the test images (0: all)"),
    out: Path = typer.Option(None, "--out", "-o", help="folder for result.json, the trial store, "
                             "CSV tables and figures; a rerun resumes"),
    jobs: int = JOBS_OPTION,
    scheduler: str = SCHEDULER_OPTION,
    cluster: str = CLUSTER_OPTION,
    threads: int = typer.Option(None, min=1, help="torch threads per trial (default: 1 with "
                                "--jobs > 1, else torch's choice)"),
    device: Device = DEVICE_OPTION,
) -> None:
    """Train every architecture under each permutation condition over several seeds."""
    from acmlkit.nets.experiments import PermutationStudyConfig, run_permutation_study
    from acmlkit.sweeps import Execution

    config = PermutationStudyConfig(
        data=data,
        conditions=_split(conditions, "--conditions"),
        archs=_split(archs, "--archs"),
        seeds=_split(seeds, "--seeds", int),
        recipe=recipe.value,
        epochs=epochs,
        n_train=n_train or None,
        n_test=n_test or None,
        device=device.value,
        threads=threads,
    )
    execution = Execution(jobs=jobs, scheduler=scheduler, cluster=cluster)
    result = run_permutation_study(config, out, execution=execution)
    for note in (result.adaptation, result.recovery_note):
        if note:
            typer.echo(f"note: {note}")
    typer.echo(f"{'condition':>15} {'arch':>11} {'accuracy':>9} {'std':>6} {'params':>8}")
    for row in result.summary():
        std = "" if row["std_accuracy"] is None else f"{100 * row['std_accuracy']:5.1f}"
        typer.echo(
            f"{row['condition']:>15} {row['arch']:>11} {_percent(row['mean_accuracy']):>9} "
            f"{std:>6} {row['n_parameters']:>8,}"
        )
    if out is not None:
        _study_figures(result, out)
        typer.echo(f"wrote {out}")


@app.command()
def figures(
    folder: Path = typer.Argument(..., help="an --out folder of `acml nn train` or `study`"),
) -> None:
    """Redraw the figures of a saved run or study from its result.json, without re-running it."""
    from acmlkit.nets.experiments import PermutationStudyResult
    from acmlkit.results import load_result

    result = load_result(folder, expect=("nn.train", "nn.permutation"))
    if isinstance(result, PermutationStudyResult):
        _study_figures(result, folder)
    else:
        _train_figures(result, folder)
    typer.echo(f"wrote figures in {folder}")


@app.command()
def params(
    channels: int = typer.Option(3, min=1, help="image channels"),
    size: int = typer.Option(32, min=1, help="image height and width"),
    classes: int = typer.Option(10, min=2, help="number of classes"),
) -> None:
    """Print each architecture's parameter count (total and trainable)."""
    from acmlkit.nets.models import (
        ARCHITECTURES,
        NetConfig,
        build_model,
        cnn_input_size,
        count_parameters,
    )

    for arch in ARCHITECTURES:
        h, w = cnn_input_size(size, size) if arch == "cnn" else (size, size)
        total, trainable = count_parameters(build_model(NetConfig(arch, channels, h, w, classes)))
        note = f" (on images upscaled to {h}x{w})" if (h, w) != (size, size) else ""
        typer.echo(f"{arch}: {total:,} parameters, {trainable:,} trainable{note}")


@app.command()
def download() -> None:
    """Download official CIFAR-10 (python version) into the cache and check its md5."""
    from acmlkit.nets.data import load_cifar10

    dataset = load_cifar10()
    typer.echo(f"CIFAR-10: {len(dataset.y_train):,} train and {len(dataset.y_test):,} test images")
