"""Training on whole image tensors: normalisation, the :class:`Trainer` loop, prediction.

The dataset lives as one tensor on the run's device; each epoch indexes it with a
permutation drawn from the run's named streams, never through a per-sample loader.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acmlkit.errors import DataError
from acmlkit.nets.checkpoint import read_state, save_model, write_state
from acmlkit.nets.devices import resolve_device
from acmlkit.nets.inference import TrainedModel, flipper, predict_logits, to_tensor
from acmlkit.nets.models import NetConfig, build_model, whiten_first_conv_
from acmlkit.nets.optim import Optimizer
from acmlkit.nets.permutations import flip_map
from acmlkit.nets.recipes import Recipe
from acmlkit.progress import progress
from acmlkit.results import fingerprint_arrays
from acmlkit.rng import RunContext

CHECKPOINT_NAME = "checkpoint.pt"
WHITEN_SAMPLE = 2_000  # images whose patches set the "whiten" init (~1.5M patches on CIFAR)
# Names of the streams a Trainer draws from its RunContext; "epochs" is a child
# context with one stream per epoch (named by its number).
TRAINER_STREAMS = ("init", "whiten", "epochs")


def normalization(x_train: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(mean, std)`` on the 0..1 scale, shape ``(channels,)`` each."""
    channels = x_train.shape[1]
    if mode == "half":
        return np.full(channels, 0.5, np.float32), np.full(channels, 0.5, np.float32)
    flat = np.moveaxis(x_train, 1, 0).reshape(channels, -1)
    mean = np.array([c.mean(dtype=np.float64) for c in flat]) / 255
    std = np.array([c.std(dtype=np.float64) for c in flat]) / 255
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def _flip_map(flip: bool | np.ndarray | None, h: int, w: int) -> np.ndarray | None:
    """The pixel map that ``Trainer.fit``'s ``flip``/``test_flip`` argument stands for."""
    if flip is None or flip is False:
        return None
    return flip_map(h, w) if flip is True else np.asarray(flip)


class Trainer:
    """Fit one network on whole uint8 image arrays.

    Parameters
    ----------
    config : NetConfig
    recipe : Recipe
    seed : int or RunContext
        The run's randomness: initialisation (``torch_seed("init")``), the whitening
        sample (``"whiten"``) and each epoch's order and flips (``epochs/<n>``). The
        same seed, data, device and thread count give bit-for-bit the same weights.
    device : {"cpu", "cuda", "mps", "auto"}
        Where the model and the whole training tensor live.
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
    device_ : str
        The device ``device`` resolved to.
    """

    def __init__(
        self,
        config: NetConfig,
        recipe: Recipe,
        *,
        seed: int | RunContext = 0,
        device: str = "cpu",
        callback: Callable[[dict], None] | None = None,
        checkpoint_dir: str | Path | None = None,
    ):
        if recipe.init == "whiten" and config.arch != "cnn":
            raise ValueError(f"init='whiten' sets a CNN's first convolution; {config.describe()}")
        self.config = config
        self.recipe = recipe
        self.seed = seed
        self.device = device
        self.callback = callback
        self.checkpoint_dir = checkpoint_dir

    def _context(self) -> RunContext:
        return self.seed if isinstance(self.seed, RunContext) else RunContext(self.seed)

    def _build(self, ctx: RunContext, device: str):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.torch_seed("init"))
            model = build_model(self.config)
        return model.to(device)

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
        device = self.device_ = resolve_device(self.device)
        ctx = self._context()
        model = self._build(ctx, device)
        r = self.recipe
        n = len(x_train)
        steps = -(-n // r.batch_size)
        opt = Optimizer(model.parameters(), r, steps * r.epochs)
        self.mean_, self.std_ = normalization(x_train, r.normalize)
        data_key = fingerprint_arrays(x_train, y_train)
        history: list[dict] = []
        start_epoch = 0
        ckpt = Path(self.checkpoint_dir) / CHECKPOINT_NAME if self.checkpoint_dir else None
        if resume and ckpt is not None and ckpt.is_file():
            state = self._load_checkpoint(ckpt, data_key)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            history = state["history"]
            start_epoch = state["epoch"]

        x = to_tensor(x_train, self.mean_, self.std_, device)
        y = torch.from_numpy(y_train).to(device)
        if r.init == "whiten" and start_epoch == 0:
            sample = ctx.stream("whiten").choice(n, size=min(n, WHITEN_SAMPLE), replace=False)
            whiten_first_conv_(model, x[torch.from_numpy(np.sort(sample)).to(device)].cpu())
        xt = to_tensor(x_test, self.mean_, self.std_, device) if x_test is not None else None
        c, h, w = x.shape[1:]
        train_flip = _flip_map(flip, h, w) if r.flip else None
        flip_batch = flipper(train_flip, (c, h, w), device) if train_flip is not None else None
        self.test_flip_ = _flip_map(test_flip, h, w) if r.test_flip else None
        loss_fn = nn.CrossEntropyLoss(label_smoothing=r.label_smoothing)
        elapsed = history[-1]["seconds"] if history else 0.0
        epochs = ctx.child("epochs")
        model.train()
        for epoch in range(start_epoch, r.epochs):
            # One named stream per epoch: a resumed run draws the same order and
            # flips as an uninterrupted one without saving generator state.
            rng = epochs.stream(str(epoch))
            order = torch.from_numpy(rng.permutation(n)).to(device)
            flips = None
            if flip_batch is not None:
                flips = torch.from_numpy(rng.random(n) < 0.5).to(device)
            if device == "cuda":
                torch.cuda.synchronize()
            tic = time.perf_counter()
            loss_sum = torch.zeros((), dtype=torch.float32, device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            for i in progress(range(steps), total=steps, desc=f"epoch {epoch + 1}/{r.epochs}"):
                idx = order[i * r.batch_size : (i + 1) * r.batch_size]
                xb, yb = x[idx], y[idx]
                if flips is not None:
                    xb = torch.where(flips[idx].view(-1, 1, 1, 1), flip_batch(xb), xb)
                out = model(xb)
                loss = loss_fn(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    loss_sum += loss.detach() * len(idx)
                    correct += (out.argmax(1) == yb).sum()
            train_loss, n_correct = float(loss_sum), int(correct)  # waits for the device
            elapsed += time.perf_counter() - tic
            if not np.isfinite(train_loss):
                raise ValueError(
                    f"training diverged: the loss is {train_loss} in epoch {epoch + 1} "
                    f"of {self.config.describe()}; lower the learning rate (recipe lr {r.lr})"
                )
            record = {
                "epoch": epoch + 1,
                "train_loss": train_loss / n,
                "train_accuracy": n_correct / n,
                "test_accuracy": None,
                "seconds": elapsed,
            }
            if xt is not None:
                pred = predict_logits(model, xt, flip=self.test_flip_).argmax(1).cpu().numpy()
                record["test_accuracy"] = float(np.mean(pred == y_test))
            history.append(record)
            self.model_, self.history_ = model, history
            if ckpt is not None:
                self._save_checkpoint(ckpt, model, opt, epoch + 1, history, data_key)
            if self.callback is not None:
                self.callback(record)
        self.model_ = model
        self.history_ = history
        self.train_seconds_ = elapsed
        return self

    def trained(self, classes: tuple[str, ...] | None = None) -> TrainedModel:
        """The fitted network with its normalisation, ready to predict."""
        return TrainedModel(self.model_, self.config, self.mean_, self.std_, classes,
                            self.history_, self.recipe.test_flip)

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
        ctx = self._context()
        return {
            "config": self.config.to_dict(),
            "recipe": asdict(self.recipe),
            "seed": [ctx.seed, *ctx.path],
        }

    def _save_checkpoint(self, path: Path, model, opt, epoch, history, data_key):
        state = {
            **self._identity(),
            "model": {k: v.cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(),
            "epoch": epoch,
            "history": history,
            "data_key": data_key,
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
        }
        write_state(path, state, "checkpoint")

    def _load_checkpoint(self, path: Path, data_key: str) -> dict:
        state = read_state(path, ("checkpoint",))
        mine = self._identity()
        for key in ("config", "recipe", "seed"):
            if state.get(key) != mine[key]:
                raise DataError(
                    f"checkpoint {path} is from another run: its {key} is {state.get(key)}, "
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
            classes=classes, recipe=asdict(self.recipe), history=self.history_,
        )
