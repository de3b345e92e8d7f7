"""``acml nn``: train, evaluate, the permutation study, figures from saved results."""

from __future__ import annotations

from pathlib import Path

import typer

from acmlkit.results import save_csv, save_json

app = typer.Typer(
    no_args_is_help=True,
    help="The notebook's CNN and MLP on CIFAR-10-like images, and pixel permutations.",
)
study_app = typer.Typer(no_args_is_help=True, help="Experiments over several runs.")
app.add_typer(study_app, name="study")

DATA_HELP = (
    "'synthetic' (generated shapes, no download), 'cifar10' (official, downloaded once "
    "into the cache), 'cifar10:PATH' (a local cifar-10-python.tar.gz or its extracted "
    "folder), or an image folder / .tar / .tar.gz / .zip with train/<class>/ and test/<class>/"
)
PERMUTATION_HELP = (
    "none | fixed (one permutation from the seed for all images) | per-image (a new one per "
    "image) | notebook (train plain, test per-image permuted, as the notebook did)"
)


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
    from acmlkit.nets.figures import plot_confusion, plot_history, plot_sample_grid

    plot_history(result, out / "history.png")
    plot_sample_grid(result, out / "samples.png")
    plot_confusion(result, out / "confusion.png")


@app.command()
def train(
    arch: str = typer.Option("cnn", help="cnn or mlp"),
    data: str = typer.Option("synthetic", help=DATA_HELP),
    recipe: str = typer.Option(
        "auto", help="auto (small under 20,000 training images, else fast), fast, small, notebook"
    ),
    permutation: str = typer.Option("none", help=PERMUTATION_HELP),
    seed: int = typer.Option(0, help="one seed for permutation, initialisation and data order"),
    epochs: int = typer.Option(None, help="override the recipe's number of epochs"),
    batch_size: int = typer.Option(None, help="override the recipe's batch size"),
    n_train: int = typer.Option(None, help="random subset of the training images"),
    n_test: int = typer.Option(None, help="random subset of the test images"),
    out: Path = typer.Option(None, help="folder for config, model, checkpoints and figures"),
    resume: bool = typer.Option(False, help="continue from OUT/checkpoints/checkpoint.pt"),
    threads: int = typer.Option(None, help="torch CPU threads (default: torch's choice)"),
) -> None:
    """Train one network, print its per-epoch history and its test scores."""
    from acmlkit.nets.experiments import TrainConfig, run_training

    _threads(threads)
    config = TrainConfig(
        arch=arch, data=data, recipe=recipe, permutation=permutation, seed=seed, epochs=epochs,
        batch_size=batch_size, n_train=n_train, n_test=n_test,
    )
    if resume and out is None:
        raise ValueError("--resume needs --out, the folder whose checkpoint to continue")
    if out is not None:
        save_json(config, out / "config.json")

    def show(record: dict) -> None:
        typer.echo(
            f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  "
            f"train {_percent(record['train_accuracy'])}  test {_percent(record['test_accuracy'])}"
            f"  {record['seconds']:7.1f} s"
        )

    result, _ = run_training(config, out=out, resume=resume, callback=show)
    _print_evaluation(result.evaluation)
    if out is not None:
        result.save(out / "result.json")
        save_csv(result.history, out / "history.csv")
        _train_figures(result, out)
        typer.echo(f"wrote {out}")


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="model.pt or checkpoint.pt from `acml nn train`"),
    data: str = typer.Option("synthetic", help=DATA_HELP),
    permutation: str = typer.Option("none", help=PERMUTATION_HELP),
    seed: int = typer.Option(0, help="the training run's seed, so 'fixed' draws its permutation"),
    n_test: int = typer.Option(None, help="random subset of the test images"),
    out: Path = typer.Option(None, help="folder for evaluation.json (scores and confusion matrix)"),
    threads: int = typer.Option(None, help="torch CPU threads"),
) -> None:
    """Score a saved model on a test set: accuracy, per class, confusion, parameter counts."""
    from acmlkit.nets.experiments import evaluate_saved_model

    _threads(threads)
    evaluation = evaluate_saved_model(
        model, data=data, permutation=permutation, seed=seed, n_test=n_test
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
        "none,fixed,per-image,notebook", help="comma-separated permutation conditions"
    ),
    recipe: str = typer.Option(
        "small", help="small (a few thousand images), fast, notebook or auto"
    ),
    epochs: int = typer.Option(None, help="override the recipe's number of epochs"),
    n_train: int = typer.Option(3000, help="random subset of the training images (0: all)"),
    n_test: int = typer.Option(1000, help="random subset of the test images (0: all)"),
    out: Path = typer.Option(None, help="folder for study.json, CSV tables and the figure"),
    jobs: int = typer.Option(2, help="worker processes, one torch thread each (1: in-process)"),
    threads: int = typer.Option(None, help="torch CPU threads, with --jobs 1"),
) -> None:
    """Train CNN and MLP under each permutation condition over several seeds; print the table."""
    from acmlkit.nets.experiments import PermutationStudyConfig, run_permutation_study

    _threads(threads)
    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    config = PermutationStudyConfig(
        data=data,
        conditions=tuple(c.strip() for c in conditions.split(",") if c.strip()),
        seeds=seed_list,
        recipe=recipe,
        epochs=epochs,
        n_train=n_train or None,
        n_test=n_test or None,
        n_jobs=jobs,
    )
    if out is not None:
        save_json(config, out / "config.json")
    result = run_permutation_study(
        config,
        callback=lambda r: typer.echo(
            f"  {r.arch} {r.condition:>9} seed {r.seed}: {_percent(r.accuracy)}", err=True
        ),
    )
    typer.echo(f"{'condition':>10} {'arch':>4} {'accuracy':>9} {'std':>6}")
    for row in result.summary():
        typer.echo(
            f"{row['condition']:>10} {row['arch']:>4} {_percent(row['mean_accuracy']):>9} "
            f"{100 * row['std_accuracy']:5.1f}"
        )
    if out is not None:
        from acmlkit.nets.figures import plot_per_class_accuracy

        result.save(out)
        plot_per_class_accuracy(result, out / "per_class_accuracy.png")
        typer.echo(f"wrote {out}")


@app.command()
def figures(
    folder: Path = typer.Argument(..., help="an --out folder of `acml nn train` or `study`"),
) -> None:
    """Redraw the figures of a saved run or study from its JSON, without re-running it."""
    from acmlkit.nets.experiments import PermutationStudyResult, TrainResult
    from acmlkit.nets.figures import plot_per_class_accuracy

    if (folder / "study.json").is_file():
        path = plot_per_class_accuracy(
            PermutationStudyResult.load(folder), folder / "per_class_accuracy.png"
        )
        typer.echo(f"wrote {path}")
    elif (folder / "result.json").is_file():
        _train_figures(TrainResult.load(folder / "result.json"), folder)
        typer.echo(f"wrote figures in {folder}")
    else:
        raise FileNotFoundError(f"{folder} holds neither study.json nor result.json")


@app.command()
def params(
    channels: int = typer.Option(3, help="image channels"),
    size: int = typer.Option(32, help="image height and width"),
    classes: int = typer.Option(10, help="number of classes"),
) -> None:
    """Print the CNN's and the MLP's parameter counts (total and trainable)."""
    from acmlkit.nets.models import ARCHITECTURES, NetConfig, build_model, count_parameters

    for arch in ARCHITECTURES:
        config = NetConfig(arch, channels, size, size, classes)
        total, trainable = count_parameters(build_model(config))
        typer.echo(f"{arch}: {total:,} parameters, {trainable:,} trainable")


@app.command()
def download() -> None:
    """Download official CIFAR-10 (python version) into the cache and check its md5."""
    from acmlkit.nets.data import load_cifar10

    dataset = load_cifar10()
    typer.echo(f"CIFAR-10: {len(dataset.y_train):,} train and {len(dataset.y_test):,} test images")
