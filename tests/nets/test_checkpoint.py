"""Model files and checkpoints: round trip, format header, checksum, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acmlkit.errors import DataError
from acmlkit.nets.checkpoint import FORMAT_VERSION, load_model, read_state, write_state
from acmlkit.nets.inference import to_tensor
from acmlkit.nets.models import NetConfig
from acmlkit.nets.trainer import Trainer

from .conftest import CONFIG, QUICK


@pytest.fixture
def saved(tiny, tmp_path):
    return Trainer(CONFIG, QUICK, seed=0).fit(*tiny).save(tmp_path / "model.pt")


def test_save_and_load_predict_the_same(tiny, tmp_path):
    trainer = Trainer(CONFIG, QUICK, seed=0).fit(*tiny)
    path = trainer.save(tmp_path / "model.pt", classes=("a", "b", "c", "d"))
    loaded = load_model(path)
    assert loaded.config == CONFIG and loaded.classes == ("a", "b", "c", "d")
    expected = trainer.model_.eval()(to_tensor(tiny[2], trainer.mean_, trainer.std_)).argmax(1)
    np.testing.assert_array_equal(loaded.predict(tiny[2]), expected.numpy())
    assert len(loaded.history) == 2


def test_loading_the_wrong_file(tiny, tmp_path):
    path = Trainer(CONFIG, QUICK, seed=0).fit(*tiny).save(tmp_path / "model.pt")
    expected = r"holds a CNN for 3x16x16 images, 4 classes, expected a MLP"
    with pytest.raises(DataError, match=expected):
        load_model(path, expect=NetConfig("mlp", 3, 16, 16, 4))
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=r"cut\.pt is truncated or padded: its header promises"):
        load_model(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(DataError, match=r"foreign\.pt: not an acmlkit model file or checkpoint"):
        load_model(foreign)
    with pytest.raises(FileNotFoundError, match="no model file at"):
        load_model(tmp_path / "missing.pt")




@pytest.mark.parametrize("where", [0.3, 0.6, 0.95])
def test_a_bit_flip_anywhere_in_the_state_is_one_clear_line(saved, tmp_path, where):
    blob = bytearray(saved.read_bytes())
    header = blob.index(b"\n") + 1
    position = header + int(where * (len(blob) - header - 1))
    blob[position] ^= 0x10
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"flipped\.pt is corrupt: its contents' sha256") as err:
        load_model(flipped)
    assert "\n" not in str(err.value)


def test_a_scrambled_model_file_never_evaluates(saved, tmp_path):
    # The weights are scrambled but the header rewritten by hand with the old checksum:
    # what a tool that edits tensors in place would leave.
    header, _, payload = saved.read_bytes().partition(b"\n")
    rng = np.random.default_rng(0)
    scrambled = bytes(rng.permutation(np.frombuffer(payload, np.uint8)))
    bad = tmp_path / "scrambled.pt"
    bad.write_bytes(header + b"\n" + scrambled)
    with pytest.raises(DataError, match="is corrupt"):
        load_model(bad)


def test_header_names_kind_and_version_and_each_is_checked(saved, tmp_path):
    header = saved.read_bytes().split(b"\n", 1)[0].decode()
    assert header.startswith(f"ACMLKIT-NETS model v{FORMAT_VERSION} sha256:")
    with pytest.raises(DataError, match=r"is a model file; expected a checkpoint"):
        read_state(saved, ("checkpoint",))
    older = tmp_path / "old.pt"
    older.write_bytes(saved.read_bytes().replace(f" v{FORMAT_VERSION} ".encode(), b" v1 ", 1))
    with pytest.raises(DataError, match=r"old\.pt is format v1; this acmlkit reads v2"):
        load_model(older)


def test_checkpoints_are_checked_before_a_resume(tiny, tmp_path):
    Trainer(CONFIG, QUICK, seed=0, checkpoint_dir=tmp_path).fit(*tiny)
    ckpt = tmp_path / "checkpoint.pt"
    blob = bytearray(ckpt.read_bytes())
    blob[-100] ^= 0x01
    ckpt.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"checkpoint\.pt is corrupt"):
        Trainer(CONFIG, QUICK, seed=0, checkpoint_dir=tmp_path).fit(*tiny, resume=True)


def test_state_round_trip_keeps_tensors_and_plain_values(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "history": [{"epoch": 1, "loss": 0.5}],
             "name": "x", "nothing": None}
    back = read_state(write_state(tmp_path / "s.pt", state, "checkpoint"))
    assert torch.equal(back["w"], state["w"])
    assert {k: v for k, v in back.items() if k != "w"} == {k: v for k, v in state.items()
                                                          if k != "w"}
