"""Training on whole image tensors: recipes, the Trainer loop, checkpoints and model files."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acmlkit.errors import DataError
from acmlkit.nets.models import NetConfig, build_model, whiten_first_conv_
from acmlkit.nets.permutations import flip_map
from acmlkit.progress import progress
from acmlkit.rng import spawn_generators
from acmlkit.validation import check_choice, check_int, check_real

MODEL_FORMAT = "acmlkit.nets.model/1"
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, batch, schedule, augmentation, normalisation."""

    optimizer: str = "sgd"  # "sgd" or "adamw"
    lr: float = 0.001  # peak learning rate under "onecycle"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0  # decoupled for AdamW, L2 for SGD
    batch_size: int = 4
    epochs: int = 2
    schedule: str = "constant"  # "constant" or "onecycle"
    label_smoothing: float = 0.0
    flip: bool = False  # random left-right flips of training images
    normalize: str = "half"  # "half": (x - 0.5) / 0.5; "channel": train mean/std per channel
    init: str = "default"  # "default": torch's; "whiten": CNN's conv1 from patch PCA
    test_flip: bool = False  # score test images by the mean logits of image and flip

    def __post_init__(self):
        check_choice(self.optimizer, "optimizer", ("sgd", "adamw"))
        check_real(self.lr, "lr", low=0, low_open=True)
        check_real(self.momentum, "momentum", low=0, high=1, high_open=True)
        check_real(self.weight_decay, "weight_decay", low=0)
        check_int(self.batch_size, "batch_size", low=1)
        check_int(self.epochs, "epochs", low=1)
        check_choice(self.schedule, "schedule", ("constant", "onecycle"))
        check_real(self.label_smoothing, "label_smoothing", low=0, high=1, high_open=True)
        check_choice(self.normalize, "normalize", ("half", "channel"))
        check_choice(self.init, "init", ("default", "whiten"))


# The notebook's recipe, and a fast one per architecture, measured on 2 CPU threads
# (benchmarks/bench_nn.py). Learning rates are peak values of a one-cycle schedule
# (warm-up over the first 30 % of steps, then cosine decay to ~0).
RECIPES: dict[str, dict[str, Recipe]] = {
    "notebook": {
        "cnn": Recipe(),
        "mlp": Recipe(),
    },
    "fast": {
        # One epoch: at least 10x faster than the notebook recipe on 2 CPU threads
        # (benchmarks/RESULTS.md); ``epochs=2`` takes the CNN past 60 %. Large
        # batches keep the vector units busy; flips are free extra data for a
        # translation-equivariant model; AdamW gets further than SGD in so few
        # steps. Starting conv1 as patch-whitening filters and scoring each test
        # image with its flip (as fast CIFAR-10 training code commonly does) are
        # worth about 1.5 points each on CIFAR-10.
        "cnn": Recipe(
            optimizer="adamw", lr=5e-3, weight_decay=0.05, batch_size=128, epochs=1,
            schedule="onecycle", label_smoothing=0.1, flip=True, normalize="channel",
            init="whiten", test_flip=True,
        ),
        # The MLP has 6.5x the CNN's parameters in its first layer; AdamW copes
        # with their very different gradient scales better than plain SGD.
        "mlp": Recipe(
            optimizer="adamw", lr=3e-3, weight_decay=0.05, batch_size=512, epochs=3,
            schedule="onecycle", label_smoothing=0.1, normalize="channel",
        ),
    },
    # A few thousand images (the synthetic study): small batches, so that there are
    # enough optimiser steps, and AdamW, which leaves the CNN's initial plateau in far
    # fewer of them than SGD does.
    "small": {
        "cnn": Recipe(
            optimizer="adamw", lr=3e-3, weight_decay=0.05, batch_size=32, epochs=3,
            schedule="onecycle", label_smoothing=0.1, flip=True, normalize="channel",
        ),
        "mlp": Recipe(
            optimizer="adamw", lr=2e-3, weight_decay=0.05, batch_size=128, epochs=6,
            schedule="onecycle", label_smoothing=0.1, normalize="channel",
        ),
    },
}


WHITEN_SAMPLE = 2_000  # images whose patches set the "whiten" init (~1.5M patches on CIFAR)
AUTO_SMALL_BELOW = 20_000  # training images under which "auto" picks "small"
RECIPE_NAMES = ("auto", *RECIPES)


def get_recipe(name: str, arch: str, n_train: int | None = None, **overrides) -> Recipe:
    """The named recipe for ``arch``; ``overrides`` (e.g. ``epochs=3``) replace fields.

    ``auto`` is ``small`` below ``AUTO_SMALL_BELOW`` training images (``n_train``),
    else ``fast``: large batches leave too few steps on a small set.
    """
    check_choice(name, "recipe", RECIPE_NAMES)
    if name == "auto":
        name = "small" if n_train is not None and n_train < AUTO_SMALL_BELOW else "fast"
    recipe = RECIPES[name][arch]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return replace(recipe, **overrides) if overrides else recipe


def normalization(x_train: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(mean, std)`` on the 0..1 scale, shape ``(channels,)`` each."""
    channels = x_train.shape[1]
    if mode == "half":
        return np.full(channels, 0.5, np.float32), np.full(channels, 0.5, np.float32)
    flat = np.moveaxis(x_train, 1, 0).reshape(channels, -1)
    mean = np.array([c.mean(dtype=np.float64) for c in flat]) / 255
    std = np.array([c.std(dtype=np.float64) for c in flat]) / 255
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def to_tensor(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """uint8 images ``(n, C, H, W)`` to a normalised float32 tensor of the same shape."""
    # torch.tensor always copies (the in-place scaling below must not touch the
    # caller's array) and, unlike from_numpy, accepts read-only cached arrays quietly.
    x = torch.tensor(np.ascontiguousarray(images), dtype=torch.float32)
    scale = torch.as_tensor(1.0 / (255.0 * std), dtype=torch.float32).view(1, -1, 1, 1)
    shift = torch.as_tensor(mean / std, dtype=torch.float32).view(1, -1, 1, 1)
    return x.mul_(scale).sub_(shift)


def flipper(
    fmap: np.ndarray, shape: tuple[int, int, int]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function that flips a batch ``(n, C, H, W)`` by the pixel map ``fmap``, ``(H * W,)``.

    See :func:`permutations.flip_map`; the plain left-right map takes the fast path.
    """
    c, h, w = shape
    if np.array_equal(fmap, flip_map(h, w)):
        return lambda x: x.flip(3)
    index = torch.from_numpy(np.asarray(fmap, dtype=np.int64))
    return lambda x: x.reshape(-1, c, h * w)[:, :, index].reshape(-1, c, h, w)


def predict_logits(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1000, flip: np.ndarray | None = None
) -> torch.Tensor:
    """Logits ``(n, n_classes)`` for a normalised tensor ``x``, in eval mode, in batches.

    With a pixel map ``flip`` (see :func:`permutations.flip_map`), the logits are
    the mean of those of each image and of its flip (test-time augmentation).
    """
    was_training = model.training
    model.eval()
    flipped = flipper(flip, x.shape[1:]) if flip is not None else None
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


def _flip_map(flip: bool | np.ndarray | None, h: int, w: int) -> np.ndarray | None:
    """The pixel map that ``Trainer.fit``'s ``flip``/``test_flip`` argument stands for."""
    if flip is None or flip is False:
        return None
    return flip_map(h, w) if flip is True else np.asarray(flip)


def _data_key(x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256(str(x.shape).encode())
    digest.update(np.ascontiguousarray(x).data)
    digest.update(np.ascontiguousarray(y, dtype=np.int64).data)
    return digest.hexdigest()[:16]


class Trainer:
    """Fit one network on whole uint8 image arrays.

    Parameters
    ----------
    config : NetConfig
    recipe : Recipe
    seed : int
        Drives initialisation, data order and flips; the same seed, data and
        thread count give bit-for-bit the same weights.
    callback : callable, optional
        Called as ``callback(record)`` after each epoch (after the checkpoint is
        written) with that epoch's history record.
    checkpoint_dir : path, optional
        Where ``checkpoint.pt`` is written after every epoch.

    Attributes
    ----------
    model_ : torch.nn.Module
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``test_accuracy``
        (None without test data), ``seconds`` (training only, cumulative).
    mean_, std_ : ndarray, shape (channels,)
        Normalisation, on the 0..1 scale.
    train_seconds_ : float
        Time spent in the training loop, evaluation excluded.
    test_flip_ : ndarray or None
        The flip map test images were scored with (``recipe.test_flip``), else None.
    """

    def __init__(
        self,
        config: NetConfig,
        recipe: Recipe,
        *,
        seed: int = 0,
        callback: Callable[[dict], None] | None = None,
        checkpoint_dir: str | Path | None = None,
    ):
        if recipe.init == "whiten" and config.arch != "cnn":
            raise ValueError(f"init='whiten' sets a CNN's first convolution; {config.describe()}")
        self.config = config
        self.recipe = recipe
        self.seed = seed
        self.callback = callback
        self.checkpoint_dir = checkpoint_dir

    def _build(self):
        streams = spawn_generators(self.seed, ["init", "epochs", "whiten"])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(streams["init"].integers(2**62)))
            model = build_model(self.config)
        r = self.recipe
        if r.optimizer == "sgd":
            # fused: one kernel for all parameters (~4x faster steps than the default
            # per-tensor loop, which matters at a few hundred steps per second).
            opt = torch.optim.SGD(
                model.parameters(), lr=r.lr, momentum=r.momentum, nesterov=r.nesterov,
                weight_decay=r.weight_decay, fused=True,
            )
        else:
            opt = torch.optim.AdamW(
                model.parameters(), lr=r.lr, weight_decay=r.weight_decay, fused=True
            )
        return model, opt, int(streams["epochs"].integers(2**62)), streams["whiten"]

    def _scheduler(self, opt, steps_per_epoch: int):
        if self.recipe.schedule == "constant":
            return None
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.recipe.lr, total_steps=steps_per_epoch * self.recipe.epochs,
            pct_start=0.3, anneal_strategy="cos",
        )

    def fit(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        *,
        flip: bool | np.ndarray | None = True,
        test_flip: bool | np.ndarray | None = True,
        resume: bool = False,
    ) -> Trainer:
        """Train for ``recipe.epochs`` epochs.

        Parameters
        ----------
        x_train : ndarray of uint8, shape (n, C, H, W)
        y_train : ndarray of int, shape (n,)
        x_test, y_test : optional, same layout
            Scored after every epoch.
        flip : bool, None or ndarray of int, shape (H * W,)
            Only used when the recipe flips: True for a plain left-right flip, an
            index map (see :func:`permutations.flip_map`) for permuted images,
            False or None for none.
        test_flip : bool, None or ndarray of int, shape (H * W,)
            Only used when the recipe scores with flips: the flip of ``x_test``,
            as for ``flip``; False or None where a flip means nothing for them.
        resume : bool
            Continue from ``checkpoint_dir/checkpoint.pt`` if it exists.
        """
        x_train, y_train = self._check(x_train, y_train, "train")
        if x_test is not None:
            x_test, y_test = self._check(x_test, y_test, "test")
        model, opt, epoch_seed, whiten_rng = self._build()
        r = self.recipe
        n = len(x_train)
        steps = -(-n // r.batch_size)
        sched = self._scheduler(opt, steps)
        self.mean_, self.std_ = normalization(x_train, r.normalize)
        data_key = _data_key(x_train, y_train)
        history: list[dict] = []
        start_epoch = 0
        ckpt = Path(self.checkpoint_dir) / CHECKPOINT_NAME if self.checkpoint_dir else None
        if resume and ckpt is not None and ckpt.is_file():
            state = self._load_checkpoint(ckpt, data_key)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None:
                sched.load_state_dict(state["scheduler"])
            history = state["history"]
            start_epoch = state["epoch"]

        x = to_tensor(x_train, self.mean_, self.std_)
        y = torch.from_numpy(y_train)
        if r.init == "whiten" and start_epoch == 0:
            sample = whiten_rng.choice(n, size=min(n, WHITEN_SAMPLE), replace=False)
            whiten_first_conv_(model, x[torch.from_numpy(np.sort(sample))])
        xt = to_tensor(x_test, self.mean_, self.std_) if x_test is not None else None
        c, h, w = x.shape[1:]
        train_flip = _flip_map(flip, h, w) if r.flip else None
        flip_batch = flipper(train_flip, (c, h, w)) if train_flip is not None else None
        self.test_flip_ = _flip_map(test_flip, h, w) if r.test_flip else None
        loss_fn = nn.CrossEntropyLoss(label_smoothing=r.label_smoothing)
        elapsed = history[-1]["seconds"] if history else 0.0
        model.train()
        for epoch in range(start_epoch, r.epochs):
            # Per-epoch streams derived from (seed, epoch): a resumed run draws the
            # same order and flips as an uninterrupted one without saving RNG state.
            rng = np.random.default_rng([epoch_seed, epoch])
            order = torch.from_numpy(rng.permutation(n))
            flips = torch.from_numpy(rng.random(n) < 0.5) if flip_batch is not None else None
            tic = time.perf_counter()
            loss_sum = torch.zeros((), dtype=torch.float64)
            correct = torch.zeros((), dtype=torch.int64)
            for i in progress(range(steps), total=steps, desc=f"epoch {epoch + 1}/{r.epochs}"):
                idx = order[i * r.batch_size : (i + 1) * r.batch_size]
                xb, yb = x[idx], y[idx]
                if flips is not None:
                    xb = torch.where(flips[idx].view(-1, 1, 1, 1), flip_batch(xb), xb)
                out = model(xb)
                loss = loss_fn(out, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                with torch.no_grad():
                    loss_sum += loss.detach() * len(idx)
                    correct += (out.argmax(1) == yb).sum()
            elapsed += time.perf_counter() - tic
            record = {
                "epoch": epoch + 1,
                "train_loss": float(loss_sum) / n,
                "train_accuracy": int(correct) / n,
                "test_accuracy": None,
                "seconds": elapsed,
            }
            if xt is not None:
                pred = predict_logits(model, xt, flip=self.test_flip_).argmax(1).numpy()
                record["test_accuracy"] = float(np.mean(pred == y_test))
            history.append(record)
            self.model_, self.history_ = model, history
            if ckpt is not None:
                self._save_checkpoint(ckpt, model, opt, sched, epoch + 1, history, data_key)
            if self.callback is not None:
                self.callback(record)
        self.model_ = model
        self.history_ = history
        self.train_seconds_ = elapsed
        return self

    def _check(self, x, y, split: str):
        x = np.asarray(x)
        y = np.asarray(y)
        expected = (self.config.in_channels, self.config.height, self.config.width)
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != expected:
            raise DataError(
                f"x_{split} must be uint8 images of shape (n, {', '.join(map(str, expected))}) "
                f"for {self.config.describe()}, got {x.dtype} {x.shape}"
            )
        if y.shape != (len(x),) or y.dtype.kind not in "iu":
            raise DataError(f"y_{split} must be {len(x)} integer labels, got {y.dtype} {y.shape}")
        if len(y) and (y.min() < 0 or y.max() >= self.config.n_classes):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise DataError(
                f"labels out of range: y_{split} holds {bad} but the model has "
                f"{self.config.n_classes} classes (expected 0..{self.config.n_classes - 1})"
            )
        return x, y.astype(np.int64)

    def _identity(self) -> dict:
        return {"config": self.config.to_dict(), "recipe": asdict(self.recipe), "seed": self.seed}

    def _save_checkpoint(self, path: Path, model, opt, sched, epoch, history, data_key):
        state = {
            "format": MODEL_FORMAT,
            **self._identity(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else None,
            "epoch": epoch,
            "history": history,
            "data_key": data_key,
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
        }
        _atomic_save(state, path)

    def _load_checkpoint(self, path: Path, data_key: str) -> dict:
        state = _read(path)
        mine = self._identity()
        for key in ("config", "recipe", "seed"):
            if state.get(key) != mine[key]:
                raise DataError(
                    f"checkpoint {path} is from another model: its {key} is {state.get(key)}, "
                    f"this run's is {mine[key]}; use another --out folder or drop --resume"
                )
        if state.get("data_key") != data_key:
            raise DataError(
                f"checkpoint {path} was trained on other data (another dataset, subset or "
                "permutation); use another --out folder or drop --resume"
            )
        return state

    def save(self, path: str | Path, classes: tuple[str, ...] | None = None) -> Path:
        """Write the trained model with its config, normalisation and history."""
        return save_model(
            path, self.model_, self.config, self.mean_, self.std_,
            classes=classes, recipe=self.recipe, history=self.history_,
        )


def _atomic_save(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    torch.save(obj, partial)
    partial.replace(path)


def _read(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises assorted types for truncated or foreign files
        raise DataError(f"{path}: not a readable acmlkit model file ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        raise DataError(f"{path}: not an acmlkit model file (expected format {MODEL_FORMAT})")
    return state


def save_model(
    path: str | Path,
    model: nn.Module,
    config: NetConfig,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    classes: tuple[str, ...] | None = None,
    recipe: Recipe | None = None,
    history: list[dict] | None = None,
) -> Path:
    """Save weights together with everything needed to rebuild and use them."""
    path = Path(path)
    state = {
        "format": MODEL_FORMAT,
        "config": config.to_dict(),
        "recipe": asdict(recipe) if recipe is not None else None,
        "model": model.state_dict(),
        "mean": np.asarray(mean, dtype=float).tolist(),
        "std": np.asarray(std, dtype=float).tolist(),
        "classes": list(classes) if classes is not None else None,
        "history": history or [],
    }
    _atomic_save(state, path)
    return path


@dataclass(eq=False)
class TrainedModel:
    """A network ready to predict, as :func:`load_model` returns it."""

    model: nn.Module
    config: NetConfig
    mean: np.ndarray
    std: np.ndarray
    classes: tuple[str, ...] | None = None
    history: list | None = None
    test_flip: bool = False  # its recipe scores images with their flips

    def logits(
        self, images: np.ndarray, batch_size: int = 1000, flip: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits ``(n, n_classes)`` for uint8 images ``(n, C, H, W)``.

        ``flip`` is the pixel map of a flip for these images (see
        :func:`permutations.flip_map`), or None where a flip means nothing for them;
        it is used only when ``test_flip`` is set.
        """
        x = to_tensor(images, self.mean, self.std)
        flip = flip if self.test_flip else None
        return predict_logits(self.model, x, batch_size, flip=flip).numpy()

    def predict(
        self, images: np.ndarray, batch_size: int = 1000, flip: np.ndarray | None = None
    ) -> np.ndarray:
        """Predicted class indices, shape ``(n,)``; ``flip`` as for :meth:`logits`."""
        return self.logits(images, batch_size, flip).argmax(1)


def load_model(path: str | Path, *, expect: NetConfig | None = None) -> TrainedModel:
    """Rebuild a model saved by :func:`save_model` or a training checkpoint.

    ``expect``, when given, must match the saved config (else a clear error).
    """
    state = _read(path)
    try:
        config = NetConfig(**state["config"])
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: its model config is invalid ({exc})") from None
    if expect is not None and config != expect:
        raise DataError(
            f"{path} holds a {config.describe()}, expected a {expect.describe()}"
        )
    model = build_model(config)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise DataError(f"{path}: weights do not fit a {config.describe()} ({exc})") from None
    model.eval()
    classes = tuple(state["classes"]) if state.get("classes") else None
    return TrainedModel(
        model, config, np.asarray(state["mean"], np.float32), np.asarray(state["std"], np.float32),
        classes, state.get("history"), bool((state.get("recipe") or {}).get("test_flip")),
    )
