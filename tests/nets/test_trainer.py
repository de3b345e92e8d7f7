"""The trainer: reproducibility, history, checkpoints and resume, flips, whitening."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from acmlkit.errors import DataError
from acmlkit.nets.checkpoint import load_model
from acmlkit.nets.inference import predict_logits, to_tensor
from acmlkit.nets.models import NetConfig
from acmlkit.nets.permutations import flip_map, permute_pixels
from acmlkit.nets.recipes import Recipe
from acmlkit.nets.trainer import Trainer, normalization
from acmlkit.rng import RunContext

from .conftest import CONFIG, QUICK


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model_.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_half_normalisation_is_the_notebooks(tiny):
    x = tiny[0]
    mean, std = normalization(x, "half")
    expected = (torch.from_numpy(x).double() / 255 - 0.5) / 0.5
    torch.testing.assert_close(to_tensor(x, mean, std).double(), expected, atol=1e-6, rtol=0)
    mean, std = normalization(x, "channel")
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)) / 255, rtol=1e-6)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)) / 255, rtol=1e-5)


def test_same_seed_same_weights_bit_for_bit(tiny):
    a = Trainer(CONFIG, QUICK, seed=3).fit(*tiny)
    b = Trainer(CONFIG, QUICK, seed=RunContext(3)).fit(*tiny)
    c = Trainer(CONFIG, QUICK, seed=4).fit(*tiny)
    d = Trainer(CONFIG, QUICK, seed=RunContext(3).child("trainer")).fit(*tiny)
    assert _same(_weights(a), _weights(b))
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]
    assert not _same(_weights(a), _weights(c))
    assert not _same(_weights(a), _weights(d))


def test_auto_device_falls_back_to_the_cpu_and_a_missing_one_is_one_line(tiny):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    auto = Trainer(CONFIG, QUICK, seed=3, device="auto").fit(*tiny)
    cpu = Trainer(CONFIG, QUICK, seed=3, device="cpu").fit(*tiny)
    assert auto.device_ == "cpu" and _same(_weights(auto), _weights(cpu))
    with pytest.raises(ValueError, match=r"^--device cuda: no CUDA device is available") as err:
        Trainer(CONFIG, QUICK, device="cuda").fit(*tiny)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"--device must be one of cpu, cuda, mps, auto"):
        Trainer(CONFIG, QUICK, device="tpu").fit(*tiny)


def test_a_diverging_run_is_an_error_not_a_nan_result(tiny):
    wild = replace(QUICK, lr=1e30, schedule="constant")
    with pytest.raises(ValueError, match=r"training diverged: the loss is nan in epoch 1"):
        Trainer(CONFIG, wild, seed=0).fit(*tiny)


def test_history_and_callback(tiny):
    seen = []
    trainer = Trainer(CONFIG, QUICK, seed=0, callback=seen.append).fit(*tiny)
    assert [h["epoch"] for h in trainer.history_] == [1, 2]
    assert seen == trainer.history_
    first = trainer.history_[0]
    assert set(first) == {"epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"}
    assert 0 <= first["test_accuracy"] <= 1 and first["train_loss"] > 0
    assert trainer.history_[1]["seconds"] >= first["seconds"]
    assert Trainer(CONFIG, QUICK).fit(*tiny[:2]).history_[0]["test_accuracy"] is None


class Interrupt(Exception):
    pass


def test_resume_continues_bit_for_bit(tiny, tmp_path):
    recipe = Recipe(optimizer="adamw", lr=0.01, batch_size=16, epochs=3, schedule="onecycle",
                    flip=True)
    whole = Trainer(CONFIG, recipe, seed=1).fit(*tiny)

    def stop_after_first(record):
        if record["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        Trainer(CONFIG, recipe, seed=1, callback=stop_after_first,
                checkpoint_dir=tmp_path).fit(*tiny)
    resumed = Trainer(CONFIG, recipe, seed=1, checkpoint_dir=tmp_path).fit(*tiny, resume=True)
    assert _same(_weights(whole), _weights(resumed))
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    assert resumed.history_[2]["train_loss"] == whole.history_[2]["train_loss"]


def test_resume_refuses_another_models_checkpoint(tiny, tmp_path):
    Trainer(CONFIG, QUICK, seed=0, checkpoint_dir=tmp_path).fit(*tiny)
    mlp = NetConfig("mlp", 3, 16, 16, 4)
    with pytest.raises(DataError, match=r"checkpoint .* is from another run: its config"):
        Trainer(mlp, QUICK, seed=0, checkpoint_dir=tmp_path).fit(*tiny, resume=True)
    x, y, xt, yt = tiny
    with pytest.raises(DataError, match=r"trained on other data"):
        Trainer(CONFIG, QUICK, seed=0, checkpoint_dir=tmp_path).fit(x[::-1], y, resume=True)


def test_flip_scoring_averages_the_logits_of_image_and_flip(tiny, tmp_path):
    recipe = replace(QUICK, test_flip=True)
    trainer = Trainer(CONFIG, recipe, seed=0).fit(*tiny)
    model = trainer.model_.eval()
    x_test, y_test = to_tensor(tiny[2], trainer.mean_, trainer.std_), tiny[3]
    with torch.no_grad():
        by_hand = ((model(x_test) + model(x_test.flip(3))) / 2).argmax(1).numpy()
    assert trainer.history_[-1]["test_accuracy"] == np.mean(by_hand == y_test)
    loaded = load_model(trainer.save(tmp_path / "model.pt"))
    assert loaded.test_flip
    np.testing.assert_array_equal(loaded.predict(tiny[2], flip=flip_map(16, 16)), by_hand)
    # Without a flip map (images where a flip means nothing) the plain logits decide.
    with torch.no_grad():
        plain = model(x_test).argmax(1).numpy()
    np.testing.assert_array_equal(loaded.predict(tiny[2]), plain)


def test_flip_scoring_in_permuted_space_flips_the_original_image(tiny):
    trainer = Trainer(CONFIG, QUICK, seed=0).fit(*tiny)
    perm = np.random.default_rng(1).permutation(16 * 16)
    x = tiny[2]
    flipped_then_permuted = to_tensor(permute_pixels(x[..., ::-1], perm), trainer.mean_,
                                      trainer.std_)
    permuted = to_tensor(permute_pixels(x, perm), trainer.mean_, trainer.std_)
    with torch.no_grad():
        expected = (trainer.model_(permuted) + trainer.model_(flipped_then_permuted)) / 2
    got = predict_logits(trainer.model_, permuted, batch_size=5, flip=flip_map(16, 16, perm))
    torch.testing.assert_close(got, expected)


def test_whiten_init_sets_conv1_from_the_training_patches(tiny):
    recipe = replace(QUICK, init="whiten", epochs=1)
    start = Trainer(CONFIG, replace(recipe, lr=1e-12), seed=0).fit(*tiny[:2])
    model = start.model_
    x = to_tensor(tiny[0], start.mean_, start.std_)
    # All 64 images are the sample (fewer than WHITEN_SAMPLE), so after a step of
    # lr 1e-12 conv1's responses to them are still decorrelated with unit-ish variance.
    with torch.no_grad():
        responses = model.conv1(x).permute(1, 0, 2, 3).reshape(6, -1).double()
    cov = torch.cov(responses, correction=0)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    assert off_diagonal.abs().max() < 1e-3
    assert torch.all(torch.diag(cov) > 0.9) and torch.all(torch.diag(cov) <= 1.0 + 1e-4)
    with pytest.raises(ValueError, match="init='whiten' sets a CNN's first convolution; MLP"):
        Trainer(NetConfig("mlp", 3, 16, 16, 4), recipe)


def test_bad_training_input(tiny):
    x, y, _, _ = tiny
    trainer = Trainer(CONFIG, QUICK)
    with pytest.raises(DataError, match=r"labels out of range: y_train holds 4 but the model"):
        trainer.fit(x, np.where(y == 0, 4, y))
    with pytest.raises(DataError, match=r"x_train must be uint8 images of shape \(n, 3, 16, 16\)"):
        trainer.fit(x.astype(np.float32), y)
