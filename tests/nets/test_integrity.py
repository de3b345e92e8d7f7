"""Archives read completely or rejected, and runs that survive SIGKILL.

Kill-and-resume: ``acml nn train`` killed mid-run then ``--resume`` gives the weights
of an uninterrupted run; a CIFAR-10 extraction killed mid-way never poisons the cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from acmlkit.errors import DataError
from acmlkit.nets.checkpoint import read_state
from acmlkit.nets.data import load_cifar10, load_image_folder


def _tar(root, path, mode="w"):
    with tarfile.open(path, mode) as tar:
        tar.add(root, arcname="pets")
    with tarfile.open(path) as tar:
        return [m for m in tar.getmembers() if m.isfile()]


def test_a_plain_tar_cut_inside_a_member_names_file_and_member(image_tree, tmp_path):
    root, _ = image_tree
    whole = tmp_path / "whole.tar"
    files = _tar(root, whole)
    blob = whole.read_bytes()
    victim = files[len(files) // 2]
    cut = tmp_path / "pets.tar"
    cut.write_bytes(blob[: victim.offset_data + victim.size // 2])
    expected = rf"pets\.tar: truncated .*inside member {victim.name}"
    with pytest.raises(DataError, match=expected) as err:
        load_image_folder(cut, cache=False)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("where", ["boundary", "header"])
def test_a_plain_tar_cut_between_members_is_not_read_as_a_smaller_set(image_tree, tmp_path,
                                                                     where):
    # Python's tarfile stops quietly here: 7 of 12 images would train without a word.
    root, _ = image_tree
    whole = tmp_path / "whole.tar"
    files = _tar(root, whole)
    nxt = files[-2]
    end = nxt.offset if where == "boundary" else nxt.offset + 100
    cut = tmp_path / "pets.tar"
    cut.write_bytes(whole.read_bytes()[:end])
    expected = (rf"ends after member .*{files[-3].name}" if where == "boundary" else
                rf"ends inside the header of (member {nxt.name}|the member after "
                rf"{files[-3].name})")
    with pytest.raises(DataError, match=rf"pets\.tar: truncated archive: it {expected}"):
        load_image_folder(cut, cache=False)


def test_a_cut_tar_gz_is_rejected(image_tree, tmp_path):
    root, _ = image_tree
    whole = tmp_path / "whole.tar.gz"
    _tar(root, whole, "w:gz")
    cut = tmp_path / "pets.tar.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    with pytest.raises(DataError, match=r"pets\.tar\.gz: (truncated|corrupt)"):
        load_image_folder(cut, cache=False)


def test_complete_archives_still_load(image_tree, tmp_path):
    root, _ = image_tree
    for mode, suffix in (("w", "tar"), ("w:gz", "tar.gz")):
        path = tmp_path / f"pets.{suffix}"
        _tar(root, path, mode)
        np.testing.assert_array_equal(load_image_folder(path).x_train,
                                      load_image_folder(root).x_train)


def _cifar_archive(cifar_folder, tmp_path):
    folder, x_train, *_ = cifar_folder
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return archive, x_train


def _wait_for(condition, proc, what: str, limit: float = 120.0):
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the process ended (rc {proc.returncode}) before {what}: {out}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_a_killed_cifar_extraction_never_poisons_later_runs(cifar_folder, tmp_path):
    archive, x_train = _cifar_archive(cifar_folder, tmp_path)
    cache = tmp_path / "cache"
    # The child extracts slowly (a pause after every member) so that it is killed mid-way.
    script = textwrap.dedent(f"""
        import tarfile, time
        from acmlkit.nets.data import load_cifar10
        original = tarfile.TarFile.extract
        def slow(self, *args, **kwargs):
            original(self, *args, **kwargs)
            time.sleep(30)
        tarfile.TarFile.extract = slow
        load_cifar10({str(archive)!r})
    """)
    env = {**os.environ, "ACMLKIT_DATA": str(cache)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    def partial_files():
        return [p for p in cache.rglob("*") if p.is_file() and ".part" in str(p)]

    _wait_for(lambda: partial_files(), proc, "the extraction started")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list(cache.rglob("cifar-10-batches-py/test_batch"))  # nothing half-kept
    os.environ["ACMLKIT_DATA"] = str(cache)  # the autouse fixture restores it
    data = load_cifar10(archive)
    np.testing.assert_array_equal(data.x_train, x_train)
    assert not partial_files()  # the dead run's leftovers are cleaned up


def _acml(*args, **kwargs):
    code = "import sys; from acmlkit.cli import main; sys.argv[0] = 'acml'; main()"
    return [sys.executable, "-c", code, *args]


TRAIN = ["nn", "train", "--arch", "cnn", "--permutation", "fixed", "--seed", "3", "--n-train",
         "400", "--n-test", "100", "--epochs", "4", "--batch-size", "16", "--threads", "1"]


@pytest.mark.slow
def test_sigkilled_training_resumes_to_the_uninterrupted_weights(tmp_path):
    from typer.testing import CliRunner

    from acmlkit.cli import app

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(_acml(*TRAIN, "--out", str(killed)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    checkpoint = killed / "checkpoints" / "checkpoint.pt"
    _wait_for(checkpoint.is_file, proc, "the first checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (killed / "model.pt").exists()
    assert read_state(checkpoint)["epoch"] < 4  # killed mid-run, not after it
    # Resumed and reference runs in this process (one thread, as the killed one had).
    runner = CliRunner()
    resumed = runner.invoke(app, [*TRAIN, "--out", str(killed), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    done = runner.invoke(app, [*TRAIN, "--out", str(whole)])
    assert done.exit_code == 0, done.output
    a, b = read_state(killed / "model.pt")["model"], read_state(whole / "model.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(read_state(killed / "model.pt")["history"]) == 4


def test_a_cut_cifar_archive_is_rejected_and_leaves_no_cache(cifar_folder, tmp_path):
    archive, _ = _cifar_archive(cifar_folder, tmp_path)
    plain = tmp_path / "plain" / "cifar-10-python.tar"
    plain.parent.mkdir()
    with tarfile.open(archive) as src, tarfile.open(plain, "w") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    with tarfile.open(plain) as tar:
        victim = [m for m in tar.getmembers() if m.isfile()][2]
    plain.write_bytes(plain.read_bytes()[: victim.offset_data + 100])
    with pytest.raises(DataError, match=rf"cifar-10-python\.tar: truncated .*{victim.name}"):
        load_cifar10(plain)
    cache = Path(os.environ["ACMLKIT_DATA"])
    assert not list(cache.rglob("cifar-10-batches-py")) and not list(cache.rglob("*.part"))


def test_a_corrupt_zip_member_is_named(image_tree, tmp_path):
    import zipfile

    root, _ = image_tree
    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(root.rglob("*.png")):
            zf.write(path, f"pets/{path.relative_to(root)}")
    with zipfile.ZipFile(archive) as zf:
        info = zf.infolist()[3]
    blob = bytearray(archive.read_bytes())
    blob[info.header_offset + 30 + len(info.filename) + 40] ^= 0xFF  # inside its data
    archive.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=rf"pets\.zip: .*member {info.filename} cannot be read"):
        load_image_folder(archive, cache=False)
