"""Data sets the report runs on in the tests, and one quick report per data set.

Each report is run once per test module (module-scoped fixtures) and every test
reads the same page.
"""

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import SHARED_DATASETS
from tests.report import pagecheck

from acmlkit.report import ReportConfig, run_report


def write_ratings_csv(path: Path, n_users: int = 150, n_items: int = 220, seed: int = 3) -> Path:
    """A MovieLens-style ``ratings.csv``: header, ids from 1000 up, half stars 0.5-5.

    Ratings are a rank-3 signal plus user and item biases and noise, rounded to
    half stars; about a fifth of the pairs are rated.
    """
    rng = np.random.default_rng(seed)
    users, items = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    score = 3.4 + 0.4 * rng.normal(size=(n_users, 1)) + 0.4 * rng.normal(size=(1, n_items))
    score = score + 0.5 * users @ items.T + 0.4 * rng.normal(size=(n_users, n_items))
    rated = rng.random((n_users, n_items)) < 0.2
    rows, cols = np.nonzero(rated)
    stars = np.clip(np.round(score[rows, cols] * 2) / 2, 0.5, 5.0)
    lines = ["userId,movieId,rating,timestamp"]
    lines += [f"{1000 + 7 * u},{50 + 3 * i},{s:.1f},{1_600_000_000 + k}"
              for k, (u, i, s) in enumerate(zip(rows, cols, stars))]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_tiny_images(root: Path, size: int = 8, per_class: tuple[int, int] = (90, 30),
                      seed: int = 5) -> Path:
    """``ROOT/{train,test}/<class>/*.png``: one-channel ``size`` x ``size`` images.

    Four classes a convolution can tell apart (horizontal bars, vertical bars, a
    diagonal, a centred blob), drawn with random phase and noise.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]

    def draw(label: int) -> np.ndarray:
        shift = rng.integers(size)
        pattern = [
            (y + shift) % 4 < 2,
            (x + shift) % 4 < 2,
            np.abs(((x - y + shift) % size) - size // 2) < 2,
            (x - size / 2 + 0.5) ** 2 + (y - size / 2 + 0.5) ** 2 < (size / 3) ** 2,
        ][label]
        img = 200 * pattern + rng.normal(0, 25, (size, size)) + 25
        return np.clip(img, 0, 255).astype(np.uint8)

    names = ["bars", "columns", "diagonal", "blob"]
    for split, n in zip(("train", "test"), per_class):
        for label, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(n):
                Image.fromarray(draw(label), mode="L").save(folder / f"{k:03d}.png")
    return root


class Run:
    """A finished quick report: its folder, page text and parsed page."""

    def __init__(self, out: Path):
        self.out = out
        self.html = (out / "report.html").read_text()
        self.page = pagecheck.parse(self.html)


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("builtin")
    run_report(out, ReportConfig(seed=0, quick=True), echo=lambda message: None)
    return Run(out)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("small-data")
    return write_ratings_csv(folder / "ratings.csv"), write_tiny_images(folder / "tiny")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, small_data) -> Run:
    """Ratings with a header and half stars, and 8 x 8 one-channel images, through the CLI."""
    from typer.testing import CliRunner

    from acmlkit.cli import app

    ratings, images = small_data
    out = tmp_path_factory.mktemp("small")
    result = CliRunner().invoke(app, ["report", "--quick", "--seed", "1", "--matrix",
                                      str(ratings), "--images", str(images), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return Run(out)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Run:
    movielens = SHARED_DATASETS / "ml-100k" / "u.data"
    cifar = SHARED_DATASETS / "cifar10-jpeg.tar.gz"
    if not (movielens.is_file() and cifar.is_file()):
        pytest.skip(f"real data not available at {SHARED_DATASETS}")
    out = tmp_path_factory.mktemp("real")
    run_report(out, ReportConfig(seed=0, quick=True, matrix=str(movielens), images=str(cifar)),
               echo=lambda message: None)
    return Run(out)
