"""Experiments: one training run, and CNN vs MLP under each pixel-permutation condition.

Each takes a frozen config and returns a result that saves as JSON (and CSV for
tables); figures are drawn from the saved files only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from acmlkit.nets.data import ImageDataset, load_dataset, make_shapes
from acmlkit.nets.evaluation import Evaluation, evaluate
from acmlkit.nets.models import ARCHITECTURES, NetConfig
from acmlkit.nets.permutations import CONDITIONS, apply_condition
from acmlkit.nets.training import RECIPE_NAMES, TrainedModel, Trainer, get_recipe, load_model
from acmlkit.results import from_dict, load_json, save_csv, save_json
from acmlkit.rng import spawn_generators
from acmlkit.validation import check_choice, check_int

N_SAMPLES = 16  # test images kept with their predictions for the sample grid


@dataclass(frozen=True)
class TrainConfig:
    """One network trained under one permutation condition.

    ``epochs`` and ``batch_size`` override the recipe's; ``n_train``/``n_test`` take
    a random subset of the data (None: all of it).
    """

    arch: str = "cnn"
    data: str = "synthetic"
    recipe: str = "auto"
    permutation: str = "none"
    seed: int = 0
    epochs: int | None = None
    batch_size: int | None = None
    n_train: int | None = None
    n_test: int | None = None

    def __post_init__(self):
        check_choice(self.arch, "arch", ARCHITECTURES)
        check_choice(self.recipe, "recipe", RECIPE_NAMES)
        check_choice(self.permutation, "permutation", CONDITIONS)
        check_int(self.seed, "seed", low=0)
        for name in ("epochs", "batch_size", "n_train", "n_test"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, low=1)


@dataclass
class TrainResult:
    """What :func:`run_training` measured.

    ``samples`` holds the first test images as the model saw them (permuted, if
    so), shape ``(N_SAMPLES, C, H, W)`` as nested lists, with true and predicted
    labels, for the sample grid.
    """

    config: TrainConfig
    history: list[dict]
    evaluation: Evaluation
    train_seconds: float
    sample_images: list = field(default_factory=list)
    sample_true: list[int] = field(default_factory=list)
    sample_pred: list[int] = field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        return save_json(self, path)

    @classmethod
    def load(cls, path: str | Path) -> TrainResult:
        data = load_json(path)
        result = from_dict(cls, data)
        result.config = TrainConfig(**data["config"])
        result.evaluation = Evaluation(**data["evaluation"])
        return result


def prepare_dataset(
    data: str, n_train: int | None, n_test: int | None, dataset: ImageDataset | None = None
) -> ImageDataset:
    """Load ``data`` (or take ``dataset``) and draw the run's subsets.

    The test subset does not depend on ``n_train``, so a saved model can be scored
    later on exactly the test images of its run.
    """
    if dataset is None and data == "synthetic":
        # Generate just the images asked for rather than subsampling the default set.
        return make_shapes(n_train or 10_000, n_test or 2_000)
    dataset = dataset if dataset is not None else load_dataset(data)
    return dataset.subsample(n_train, n_test, seed=0)


def _prepare(config: TrainConfig, dataset: ImageDataset | None) -> ImageDataset:
    return prepare_dataset(config.data, config.n_train, config.n_test, dataset)


def _net_config(dataset: ImageDataset, arch: str) -> NetConfig:
    c, h, w = dataset.image_shape
    return NetConfig(arch=arch, in_channels=c, height=h, width=w, n_classes=len(dataset.classes))


def run_training(
    config: TrainConfig,
    *,
    dataset: ImageDataset | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[dict], None] | None = None,
) -> tuple[TrainResult, TrainedModel]:
    """Train ``config.arch`` under ``config.permutation`` and score it on the test split.

    The seed spawns independent streams for the permutation and for training
    (initialisation, order, flips). With ``out``, a checkpoint is written there
    after every epoch (``resume`` continues from it) and the final model is saved
    as ``out/model.pt``.
    """
    data = _prepare(config, dataset)
    streams = spawn_generators(config.seed, ["permutation", "training"])
    prepared = apply_condition(
        data.x_train, data.x_test, config.permutation, streams["permutation"]
    )
    net = _net_config(data, config.arch)
    recipe = get_recipe(
        config.recipe, config.arch, len(data.y_train), epochs=config.epochs,
        batch_size=config.batch_size,
    )
    trainer = Trainer(
        net, recipe, seed=int(streams["training"].integers(2**31)), callback=callback,
        checkpoint_dir=Path(out) / "checkpoints" if out is not None else None,
    )
    trainer.fit(prepared.x_train, data.y_train, prepared.x_test, data.y_test,
                flip=prepared.train_flip, test_flip=prepared.test_flip, resume=resume)
    trained = TrainedModel(trainer.model_, net, trainer.mean_, trainer.std_, data.classes,
                           trainer.history_, recipe.test_flip)
    evaluation, pred = evaluate(trained, prepared.x_test, data.y_test, data.classes,
                                flip=prepared.test_flip)
    k = min(N_SAMPLES, len(data.y_test))
    result = TrainResult(
        config=config,
        history=trainer.history_,
        evaluation=evaluation,
        train_seconds=trainer.train_seconds_,
        sample_images=prepared.x_test[:k].tolist(),
        sample_true=data.y_test[:k].tolist(),
        sample_pred=pred[:k].tolist(),
    )
    if out is not None:
        trainer.save(Path(out) / "model.pt", classes=data.classes)
    return result, trained


def evaluate_saved_model(
    path: str | Path,
    *,
    data: str = "synthetic",
    permutation: str = "none",
    seed: int = 0,
    n_test: int | None = None,
    dataset: ImageDataset | None = None,
) -> Evaluation:
    """Score a saved model on the test split of ``data`` under ``permutation``.

    With the training run's ``seed``, ``fixed`` re-draws the permutation the
    model was trained on (and ``n_test`` the same test subset).
    """
    trained = load_model(path)
    data_set = prepare_dataset(data, 1, n_test, dataset)
    c, h, w = data_set.image_shape
    cfg = trained.config
    if (cfg.in_channels, cfg.height, cfg.width, cfg.n_classes) != (
        c, h, w, len(data_set.classes)
    ):
        raise ValueError(
            f"{path} holds a {cfg.describe()}, but --data {data} has {c}x{h}x{w} images in "
            f"{len(data_set.classes)} classes"
        )
    if trained.classes is not None and tuple(trained.classes) != tuple(data_set.classes):
        raise ValueError(
            f"{path} was trained on classes {', '.join(trained.classes)}, but --data {data} "
            f"has {', '.join(data_set.classes)}"
        )
    # The training run's own stream, so 'fixed' draws the same permutation.
    rng = spawn_generators(seed, ["permutation", "training"])["permutation"]
    prepared = apply_condition(data_set.x_train, data_set.x_test, permutation, rng)
    evaluation, _ = evaluate(trained, prepared.x_test, data_set.y_test, data_set.classes,
                             flip=prepared.test_flip)
    return evaluation


# ----------------------------------------------------------------- permutation study


@dataclass(frozen=True)
class PermutationStudyConfig:
    """CNN and MLP trained under each permutation condition, over several seeds.

    The defaults (3,000 synthetic training images, the ``small`` recipe, two
    seeds, two worker processes) run in about half a minute on two cores; pass
    more ``seeds`` for tighter error bars. Each
    (seed, architecture) is one job; with ``n_jobs > 1`` jobs run in separate
    processes on one torch thread each, which on a small CPU beats one process
    on several threads (no OpenMP synchronisation for small batches). Results are
    bit-for-bit reproducible for the same ``n_jobs`` (and, for ``n_jobs=1``, the
    same torch thread count).
    """

    data: str = "synthetic"
    conditions: tuple[str, ...] = CONDITIONS
    archs: tuple[str, ...] = ARCHITECTURES
    seeds: tuple[int, ...] = (0, 1)
    recipe: str = "small"
    epochs: int | None = None
    n_train: int | None = 3000
    n_test: int | None = 1000
    n_jobs: int = 2

    def __post_init__(self):
        check_int(self.n_jobs, "n_jobs", low=1)
        for c in self.conditions:
            check_choice(c, "condition", CONDITIONS)
        for a in self.archs:
            check_choice(a, "arch", ARCHITECTURES)
        if not self.conditions or not self.archs or not self.seeds:
            raise ValueError("a study needs at least one condition, architecture and seed")
        check_choice(self.recipe, "recipe", RECIPE_NAMES)


@dataclass
class StudyRun:
    """One (architecture, condition, seed) cell of the study."""

    arch: str
    condition: str
    seed: int
    accuracy: float
    per_class_accuracy: list[float]
    train_seconds: float
    n_parameters: int


@dataclass
class PermutationStudyResult:
    """All runs of a study; :meth:`summary` aggregates them over seeds."""

    config: PermutationStudyConfig
    classes: list[str]
    runs: list[StudyRun]

    def summary(self) -> list[dict]:
        """One row per (condition, arch): mean and std accuracy over seeds."""
        rows = []
        for condition in self.config.conditions:
            for arch in self.config.archs:
                acc = [r.accuracy for r in self.runs if r.arch == arch and r.condition == condition]
                rows.append({
                    "condition": condition,
                    "arch": arch,
                    "mean_accuracy": float(np.mean(acc)),
                    "std_accuracy": float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0,
                    "n_seeds": len(acc),
                })
        return rows

    def save(self, folder: str | Path) -> Path:
        """``study.json`` (everything), ``runs.csv`` and ``summary.csv``."""
        folder = Path(folder)
        save_json(self, folder / "study.json")
        save_csv(
            [{k: v for k, v in asdict(r).items() if k != "per_class_accuracy"} for r in self.runs],
            folder / "runs.csv",
        )
        save_csv(self.summary(), folder / "summary.csv")
        return folder / "study.json"

    @classmethod
    def load(cls, path: str | Path) -> PermutationStudyResult:
        path = Path(path)
        data = load_json(path / "study.json" if path.is_dir() else path)
        config = data["config"]
        for key in ("conditions", "archs", "seeds"):
            config[key] = tuple(config[key])
        return cls(
            config=PermutationStudyConfig(**config),
            classes=list(data["classes"]),
            runs=[StudyRun(**r) for r in data["runs"]],
        )


def run_permutation_study(
    config: PermutationStudyConfig = PermutationStudyConfig(),
    *,
    dataset: ImageDataset | None = None,
    callback: Callable[[StudyRun], None] | None = None,
) -> PermutationStudyResult:
    """Train every architecture under every condition for every seed.

    The ``notebook`` condition trains on plain images, exactly as ``none`` does
    with the same seed, so it reuses that model and only re-scores it on per-image
    permuted test images (what the notebook reported).
    """
    data = _prepare(
        TrainConfig(data=config.data, n_train=config.n_train, n_test=config.n_test), dataset
    )
    jobs = [(seed, arch) for seed in config.seeds for arch in config.archs]
    if config.n_jobs == 1:
        batches = (_study_job(config, data, seed, arch, None) for seed, arch in jobs)
    else:
        from joblib import Parallel, delayed

        batches = Parallel(n_jobs=min(config.n_jobs, len(jobs)), return_as="generator")(
            delayed(_study_job)(config, data, seed, arch, 1) for seed, arch in jobs
        )
    runs: list[StudyRun] = []
    for batch in batches:
        for run in batch:
            runs.append(run)
            if callback is not None:
                callback(run)
    return PermutationStudyResult(config=config, classes=list(data.classes), runs=runs)


def _study_job(
    config: PermutationStudyConfig, data: ImageDataset, seed: int, arch: str,
    threads: int | None,
) -> list[StudyRun]:
    """Every condition for one (seed, architecture), in one process."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    runs = []
    plain: TrainedModel | None = None
    plain_seconds = 0.0
    for condition in config.conditions:
        if condition == "notebook" and plain is not None:
            streams = spawn_generators(seed, ["permutation", "training"])
            prepared = apply_condition(data.x_train, data.x_test, "notebook",
                                       streams["permutation"])
            evaluation, _ = evaluate(plain, prepared.x_test, data.y_test, data.classes,
                                     flip=prepared.test_flip)
            seconds = plain_seconds
        else:
            train_config = TrainConfig(
                arch=arch, recipe=config.recipe, permutation=condition, seed=seed,
                epochs=config.epochs,
            )
            result, trained = run_training(train_config, dataset=data)
            evaluation, seconds = result.evaluation, result.train_seconds
            if condition == "none":
                plain, plain_seconds = trained, seconds
        runs.append(StudyRun(
            arch=arch, condition=condition, seed=seed, accuracy=evaluation.accuracy,
            per_class_accuracy=evaluation.per_class_accuracy, train_seconds=seconds,
            n_parameters=evaluation.n_parameters,
        ))
    return runs
