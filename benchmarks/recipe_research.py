"""How the ``accurate`` recipes were chosen: candidates scored on a validation split.

5,000 of CIFAR-10's 50,000 training images are held out
(``RunContext(0).child("research").stream("validation")``); each candidate trains on
the other 45,000 and is scored after every epoch on the held-out images with and
without test-time flips. The test split is never read. One JSON line per run is
appended to ``--log``; ``--summary`` prints the medians over seeds from that file.

    .venv/bin/python benchmarks/recipe_research.py sgd-e6-b512-lr2-wd2e4,mlp-e8 --seeds 0,1,2
    .venv/bin/python benchmarks/recipe_research.py --summary

Candidate names: ``mlp-e8`` is the fast MLP recipe with flips for 8 epochs (the
previous accurate MLP); ``sgd-e<E>-b<B>-lr<L>[-wd<W>][-noflip]`` is SGD with
Nesterov momentum, one-cycle over E epochs, batch B, peak lr L/10, L2 weight decay W
(default 5e-4), label smoothing 0.1, channel normalisation and flips; ``cnn-e5`` is
the fast CNN for 5 epochs (the accurate CNN). Only the candidates of the final round
are listed; ``benchmarks/RESULTS.md`` has the whole table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from acmlkit.nets.data import load_image_folder
from acmlkit.nets.inference import predict_logits, to_tensor
from acmlkit.nets.models import NetConfig
from acmlkit.nets.recipes import get_recipe
from acmlkit.nets.trainer import Trainer, normalization
from acmlkit.rng import RunContext

ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
LEVEL = {"mlp": 0.55, "cnn": 0.65}
VALIDATION_IMAGES = 5000

_FAST_MLP = replace(get_recipe("fast", "mlp"), flip=True, test_flip=True)
_SGD = replace(_FAST_MLP, optimizer="sgd", nesterov=True, weight_decay=5e-4)
CANDIDATES = {
    "cnn-e5": ("cnn", replace(get_recipe("fast", "cnn"), epochs=5)),
    "mlp-e8": ("mlp", replace(_FAST_MLP, epochs=8)),
    "sgd-e5-b512-lr2-wd2e4": ("mlp", replace(_SGD, epochs=5, batch_size=512, lr=0.2,
                                             weight_decay=2e-4)),
    "sgd-e6-b512-lr2": ("mlp", replace(_SGD, epochs=6, batch_size=512, lr=0.2)),
    "sgd-e6-b512-lr2-wd2e4": ("mlp", replace(_SGD, epochs=6, batch_size=512, lr=0.2,
                                             weight_decay=2e-4)),
    "sgd-e6-b512-lr2-wd1e3": ("mlp", replace(_SGD, epochs=6, batch_size=512, lr=0.2,
                                             weight_decay=1e-3)),
    "sgd-e6-b512-lr2-noflip": ("mlp", replace(_SGD, epochs=6, batch_size=512, lr=0.2,
                                              flip=False)),
    "sgd-e7-b512-lr2-wd2e4": ("mlp", replace(_SGD, epochs=7, batch_size=512, lr=0.2,
                                             weight_decay=2e-4)),
}


def validation_split(n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (held out, kept for training) into the training images."""
    order = RunContext(0).child("research").stream("validation").permutation(n_train)
    return np.sort(order[:VALIDATION_IMAGES]), np.sort(order[VALIDATION_IMAGES:])


def run_candidate(name: str, seed: int, data, log: Path) -> dict:
    arch, recipe = CANDIDATES[name]
    held, kept = validation_split(len(data.y_train))
    x_train, y_train = data.x_train[kept], data.y_train[kept]
    x_val, y_val = data.x_train[held], data.y_train[held]
    mean, std = normalization(x_train, recipe.normalize)
    x_val_tensor = to_tensor(x_val, mean, std)
    without_flips = []

    def score_without_flips(_record):
        logits = predict_logits(trainer.model_, x_val_tensor)
        without_flips.append(float((logits.argmax(1).numpy() == y_val).mean()))

    trainer = Trainer(NetConfig(arch=arch), recipe, seed=seed, callback=score_without_flips)
    load = os.getloadavg()[0]
    trainer.fit(x_train, y_train, x_val, y_val, flip=True, test_flip=True)
    record = {
        "name": name, "arch": arch, "seed": seed, "threads": torch.get_num_threads(),
        "val_flip": [h["test_accuracy"] for h in trainer.history_],
        "val_plain": without_flips,
        "seconds": [round(h["seconds"], 2) for h in trainer.history_],
        "recipe": asdict(recipe), "load": [round(load, 2), round(os.getloadavg()[0], 2)],
        "time": time.strftime("%H:%M:%S"),
    }
    with log.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    return record


def seconds_to_level(record: dict) -> float:
    """Training seconds at the first epoch at the level (with flips); inf if never."""
    level = LEVEL[record["arch"]]
    return next((s for a, s in zip(record["val_flip"], record["seconds"]) if a >= level),
                float("inf"))


def summary(log: Path) -> None:
    by_name = defaultdict(list)
    for line in log.read_text().splitlines():
        record = json.loads(line)
        by_name[record["name"]].append(record)
    print("| candidate | seeds | final val with flips (median) | without (median) | "
          "seeds past level | s to level (median) |")
    print("|---|---|---|---|---|---|")
    for name, runs in by_name.items():
        reach = [seconds_to_level(r) for r in runs]
        print(f"| {name} | {','.join(str(r['seed']) for r in runs)} "
              f"| {100 * statistics.median(r['val_flip'][-1] for r in runs):.2f} "
              f"| {100 * statistics.median(r['val_plain'][-1] for r in runs):.2f} "
              f"| {sum(np.isfinite(reach))}/{len(runs)} | {statistics.median(reach):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="?", default="", help="comma-separated candidates")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log", type=Path, default=Path("recipe_research.jsonl"))
    parser.add_argument("--summary", action="store_true", help="print medians from --log")
    args = parser.parse_args()
    if args.summary:
        summary(args.log)
        return 0
    names = [n for n in args.names.split(",") if n]
    unknown = sorted(set(names) - set(CANDIDATES))
    if not names or unknown:
        parser.error(f"name candidates from {', '.join(CANDIDATES)} (got {unknown or 'none'})")
    if not ARCHIVE.is_file():
        print(f"{ARCHIVE} not found: the research needs CIFAR-10's training images")
        return 1
    torch.set_num_threads(args.threads)
    data = load_image_folder(ARCHIVE)
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in names:
            r = run_candidate(name, seed, data, args.log)
            print(f"{name} seed {seed}: val {100 * r['val_flip'][-1]:.2f} % with flips, "
                  f"{100 * r['val_plain'][-1]:.2f} % without; "
                  f"{seconds_to_level(r):.1f} s to {LEVEL[r['arch']]:.0%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
