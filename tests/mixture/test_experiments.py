"""The experiment protocol: config -> run(config, out) -> Result -> figures."""

import itertools
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from acmlkit.errors import DataError
from acmlkit.mixture import experiments, figures
from acmlkit.results import load_result
from acmlkit.rng import RunContext

QUICK_DEMO = experiments.DemoConfig(
    seed=3,
    high_dim=experiments.HighDimConfig(dims=(2, 700), n_points=50),
    blobs=experiments.BlobsConfig(n_samples=300),
    fit=experiments.FitConfig(k_values=(1, 2, 3, 4), n_init=2),
)


def test_demo_streams_never_coincide():
    streams = experiments.demo_streams(QUICK_DEMO)
    assert {"high_dim.data", "blobs", "fit.init.k=1", "fit.init.k=4"} <= set(streams)
    firsts = {name: tuple(gen.integers(0, 2**63, size=4)) for name, gen in streams.items()}
    for (a, x), (b, y) in itertools.combinations(firsts.items(), 2):
        assert x != y, f"streams {a} and {b} coincide"


def test_demo_is_bit_for_bit_reproducible_and_saves(tmp_path):
    first = experiments.run_demo(QUICK_DEMO, tmp_path / "a")
    second = experiments.run_demo(QUICK_DEMO, None)
    assert first.to_json()["fit"]["bic"] == second.to_json()["fit"]["bic"]
    assert first.points == second.points and first.fit.means == second.fit.means
    other = experiments.run_demo(experiments.DemoConfig(**{**QUICK_DEMO.__dict__, "seed": 4}))
    assert other.points != first.points
    loaded = load_result(tmp_path / "a", expect="mixture.")
    assert isinstance(loaded, experiments.DemoResult)
    assert loaded.fit.best_k == first.fit.best_k == 3
    assert loaded.fit.bic == first.fit.bic
    assert loaded.provenance["data"]["blobs"].startswith("sha256:")
    assert (tmp_path / "a" / "criteria.csv").read_text().startswith("K,bic,aic")
    # The demo's blobs are the blobs stream of the run, not a stream shared with the data.
    X, _ = experiments.make_blobs(QUICK_DEMO.blobs, RunContext(3).stream("blobs"))
    np.testing.assert_array_equal(X, first.points)


def test_figures_return_figures_from_results(tmp_path):
    demo = experiments.run_demo(QUICK_DEMO)
    for fig in (
        figures.high_dim_figure(demo.high_dim),
        figures.bic_figure(demo.fit),
        figures.fit_figure(demo.fit, demo.points),
    ):
        assert isinstance(fig, Figure)
    written = figures.save_demo_figures(demo, tmp_path)
    assert all(path.stat().st_size > 1000 for path in written.values())


def test_every_result_round_trips(tmp_path):
    runs = {
        "responsibilities": experiments.run_responsibilities(
            experiments.ResponsibilitiesConfig(), tmp_path / "r"
        ),
        "high_dim": experiments.run_high_dim(
            experiments.HighDimConfig(dims=(3, 5), n_points=20), tmp_path / "h"
        ),
        "fit": experiments.run_fit(
            experiments.FitConfig(k_values=(1, 2), blobs=experiments.BlobsConfig(n_samples=200)),
            tmp_path / "f",
        ),
    }
    for name, result in runs.items():
        loaded = load_result(tmp_path / name[0], expect=f"mixture.{name}")
        assert loaded.to_json() == result.to_json()
        assert "versions" in loaded.provenance
    with pytest.raises(DataError, match="holds a 'mixture.fit' result; this command reads mf."):
        load_result(tmp_path / "f", expect="mf.")


def test_mixture_trial_is_the_fit_of_run_fit():
    metrics = experiments.mixture_trial(seed=2, n_components=3, n_samples=400)
    X, _ = experiments.make_blobs(
        experiments.BlobsConfig(n_samples=400), RunContext(2).stream("blobs")
    )
    result = experiments.run_fit(experiments.FitConfig(k_values=(3,), seed=2), X=X)
    assert metrics["bic"] == result.bic[0]
    assert metrics["log_likelihood"] == result.log_likelihood[0]


def well_separated(seed, n, D, K, scale):
    rng = np.random.default_rng(100 + seed)
    centers = np.stack([np.eye(D)[k % D] * (k + 1) * 8 * scale for k in range(K)]) + 3 * scale
    labels = rng.integers(K, size=n)
    return centers[labels] + scale * rng.uniform(0.6, 1.4, size=(K, D))[labels] * (
        rng.standard_normal((n, D))
    )


@pytest.mark.parametrize(
    ("n", "D", "K", "scale"),
    [(900, 2, 3, 1.0), (1500, 5, 4, 1e3), (600, 3, 5, 1e-2)],
    ids=["2d-k3", "5d-k4-large-scale", "3d-k5-small-scale"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_fit_finds_sklearns_optimum(n, D, K, scale, seed):
    X = well_separated(seed, n, D, K, scale)
    k_values = tuple(range(1, K + 2))
    ours = experiments.run_fit(experiments.FitConfig(k_values=k_values, seed=seed), X=X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [
            SklearnGaussianMixture(k, n_init=10, tol=1e-4, max_iter=200, random_state=seed)
            .fit(X)
            .bic(X)
            for k in k_values
        ]
    assert ours.best_k == K == int(np.argmin(theirs)) + 1
    # At the true K both reach the same optimum (BIC agrees to the EM tolerance).
    assert ours.bic[K - 1] <= theirs[K - 1] + 1e-3 * abs(theirs[K - 1]) + 1.0
