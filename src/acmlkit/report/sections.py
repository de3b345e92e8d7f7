"""One function per part of the notebook: run its experiments into a folder, and
build its report section from what that folder holds (results JSON, figures
redrawn from them)."""

from __future__ import annotations

from pathlib import Path

from acmlkit.report.html import Figure, Note, Section, Table
from acmlkit.results import load_json


# --------------------------------------------------------------------- mixture
def run_mixture(out: Path, seed: int) -> None:
    from acmlkit.mixture.experiments import run_demo

    run_demo(out, seed)


def mixture_sections(out: Path) -> list[Section]:
    from acmlkit.mixture.experiments import draw_demo_figures

    figures = draw_demo_figures(out)
    resp = load_json(out / "responsibilities.json")
    high = load_json(out / "high_dim.json")
    fit = load_json(out / "blobs_fit.json")
    comps = resp["config"]["components"]
    notebook = Section(
        "1. Mixture models: responsibilities by log-sum-exp",
        "cells [1]-[2]",
        "Posterior p(c | x) of a two-component 1-D Gaussian mixture at x = 5, computed from "
        "log densities with the log-sum-exp trick.",
        [
            Table(
                [
                    {
                        "component": k,
                        "mean": m,
                        "variance": v,
                        "weight": w,
                        "p(c | x=5)": f"{resp['responsibilities'][0][k]:.8f}",
                    }
                    for k, (m, v, w) in enumerate(comps)
                ],
                "Responsibilities at x = 5 (the notebook printed [0.10152327 0.89847673])",
            ),
            Note(
                "passes scale=sqrt(var) to scipy's norm.logpdf, which is right: scipy takes a "
                "standard deviation. acmlkit's functions take variances and say so."
            ),
        ],
    )
    failing = [d for d, s in zip(high["dims"], high["naive_nan_share"]) if s > 0]
    high_dim = Section(
        "1b. High dimension: why the log-sum-exp trick is needed",
        "the text after cell [2] ('about -1.42 D')",
        "N(0, I) data under a two-component identity-covariance mixture. Exponentiating "
        "log densities of about -1.42 D underflows float64 (smallest value about e^-745) "
        f"from D = {failing[0] if failing else 'n/a'} in this run, giving 0/0 = NaN; the "
        "log-sum-exp route stays finite, rows sum to 1, and the mean log-likelihood per "
        "dimension approaches -(log 2 pi + 1)/2 = -1.4189.",
        [
            Figure(
                figures["high_dim_figure"],
                "Mean log-likelihood per dimension, and the share "
                "of points whose naive responsibilities are NaN",
            ),
            Table(
                [
                    {
                        "D": d,
                        "loglik / D": ll,
                        "rows sum to 1 (max error)": err,
                        "exp-first NaN share": nan,
                    }
                    for d, ll, err, nan in zip(
                        high["dims"],
                        high["loglik_per_dim"],
                        high["max_row_sum_error"],
                        high["naive_nan_share"],
                    )
                ],
                "Stability by dimension",
            ),
        ],
    )
    em = Section(
        "1c. Beyond the notebook: EM with K chosen by BIC",
        "not in the notebook",
        f"EM on {fit['n_samples']} generated 2-D points from 3 Gaussians, K = 1..8, "
        f"{fit['config']['n_init']} initialisations each; BIC chose K = {fit['best_k']}.",
        [
            Figure(figures["blobs_figure"], "Fitted components (1 and 2 standard deviations)"),
            Figure(figures["blobs_bic"], "BIC and AIC against K"),
        ],
    )
    return [notebook, high_dim, em]


# -------------------------------------------------------- matrix factorisation
MF_STUDIES = ("p", "k", "lambda", "grid")


def run_factorization(out: Path, seed: int, matrix: str = "synthetic", quick: bool = False) -> None:
    from acmlkit.factorization import experiments as mf

    data = mf.DataConfig(source=matrix, seed=seed)
    seeds = (seed,) if quick else (seed, seed + 1, seed + 2)
    configs = {
        "p": mf.p_study_config(data=data, seeds=seeds),
        "k": mf.k_study_config(data=data, seeds=seeds),
        "lambda": mf.lambda_study_config(data=data, seeds=seeds),
    }
    ratings = mf.load_data(data)
    for name, config in configs.items():
        mf.run_study(config, ratings).save(out / name)
    mf.run_grid(mf.GridConfig(data=data, seeds=seeds), ratings).save(out / "grid")


def _study_table(summary: list[dict], parameter: str) -> Table:
    rows = [
        {
            "method": row["method"],
            parameter: row["value"],
            "train MSE": row["mean_train_mse"],
            "test MSE": row["mean_test_mse"],
            "test MSE std": row["std_test_mse"],
            "test RMSE": row["mean_test_rmse"],
            "seeds": row["n_seeds"],
        }
        for row in summary
    ]
    return Table(rows, f"Final errors by {parameter}, mean and std over seeds")


def factorization_sections(out: Path) -> list[Section]:
    from acmlkit.factorization.experiments import load_result
    from acmlkit.factorization.figures import plot_result

    results = {name: load_result(out / name / "result.json") for name in MF_STUDIES}
    figures = {name: plot_result(results[name], out / name) for name in MF_STUDIES}
    p_study = results["p"]
    shape = "x".join(str(s) for s in p_study.shape)
    data = p_study.config.data.source
    sections = []
    titles = {
        "p": ("2a. Train and test error against p", "cells [4]-[9]"),
        "k": ("2b. Different K at p = 0.1", "cell [10]"),
        "lambda": ("2c. Different regularisation at K = 8, p = 0.1", "cell [11]"),
    }
    notes = {name: _study_note(name, results[name]) for name in ("p", "k", "lambda")}
    for name in ("p", "k", "lambda"):
        result = results[name]
        title, cell = titles[name]
        blocks = [Figure(path, _caption(path)) for path in figures[name]]
        blocks.append(_study_table(result.summary, result.config.parameter))
        blocks.append(Note(notes[name]))
        sections.append(
            Section(
                title,
                cell,
                f"Data: {data} matrix ({shape}), {result.n_observed} observed entries.",
                blocks,
            )
        )
    grid = results["grid"]
    sections.append(
        Section(
            "2d. Grid search over K and lambda",
            "cells [14]-[17]",
            f"Each grid point is fitted on the training entries less a validation share "
            f"({grid.config.validation_fraction:.0%}); the best by validation RMSE "
            f"(K = {grid.best_k}, lambda = {grid.best_lambda:g}) is refitted on all training "
            f"entries and only then scored on test: test RMSE "
            f"{grid.mean_selected_test_rmse:.4f} +- {grid.std_selected_test_rmse:.4f}. The "
            f"notebook's rule (lowest train error) would have scored "
            f"{grid.mean_notebook_pick_test_rmse:.4f} +- {grid.std_notebook_pick_test_rmse:.4f}.",
            [
                Figure(figures["grid"][0], "Test RMSE over the grid, lambda on a log scale"),
                Table(grid.selections, "Selection per seed"),
                Note(
                    "passed u_lambda, still 1 from the previous cell's loop, instead of the "
                    "loop's reg, so all five columns of its grid are the same model at "
                    "lambda = 1. It then picked the 'best' by train error (column 3 of its "
                    "losses, printed as 'best loss for test set'), a rule that rewards "
                    "overfitting, and its heatmap shows that train error under the title "
                    "'test loss'. On these fits its rule would choose "
                    + ", ".join(
                        sorted(
                            {
                                f"K = {r['notebook_pick_k']}, lambda = "
                                f"{r['notebook_pick_lambda']:g}"
                                for r in grid.selections
                            }
                        )
                    )
                    + "."
                ),
            ],
        )
    )
    return sections


def _test_mse(result, method: str) -> dict:
    return {row["value"]: row["mean_test_mse"] for row in result.summary if row["method"] == method}


def _study_note(name: str, result) -> str:
    """The notebook's conclusion for a study, set against this run's numbers."""
    masked, notebook = _test_mse(result, "masked"), _test_mse(result, "notebook")
    if not notebook:
        return "its zero-filled ALS was not run here (methods exclude 'notebook')."

    def span(errors):
        return f"{min(errors.values()):.3g} to {max(errors.values()):.3g}"

    if name == "p":
        low = min(masked)
        return (
            "solved the unmasked least squares: every missing entry (and every test entry, "
            "zeroed by its train_test) counted as an observed 0, and it found observed "
            "entries with np.nonzero, so true zeros vanish from its error. Here its test MSE "
            f"at p = {low:g} is {notebook[low]:.3g} against {masked[low]:.3g} for masked ALS; "
            "its 'higher p helps' holds mostly because a larger p leaves fewer fake zeros."
        )
    if name == "k":
        best = min(masked, key=masked.get)
        return (
            f"judged K = 8 'almost a nice choice' from errors that barely move with K "
            f"({span(notebook)} here), because the zeros dominate its fit. Masked ALS is "
            f"best at K = {best:g} (test MSE {masked[best]:.3g}) and overfits the "
            f"{result.config.p:.0%} of entries it trains on as K grows (up to "
            f"{max(masked.values()):.3g})."
        )
    return (
        f"saw the regularisation change little ({span(notebook)} here too), because its "
        f"zero-filled targets dominate the fit; masked ALS's test MSE ranges over "
        f"{span(masked)} across the same lambdas."
    )


def _caption(path: Path) -> str:
    name = path.stem
    if name.startswith("curves_"):
        method = name.removeprefix("curves_")
        return f"Train and test MSE per iteration, {method} ALS, first seed"
    return "Final train and test error, mean +- std over seeds"


# --------------------------------------------------------------------- networks
def run_nets(out: Path, seed: int, images: str = "synthetic", quick: bool = False) -> None:
    from acmlkit.nets import experiments as nn

    n_train, n_test = (1000, 500) if quick else (None, None)
    for arch in ("cnn", "mlp"):
        config = nn.TrainConfig(arch=arch, data=images, seed=seed, n_train=n_train, n_test=n_test)
        result, _ = nn.run_training(config)
        result.save(out / arch / "result.json")
    study = nn.PermutationStudyConfig(
        data=images,
        seeds=(seed,) if quick else (seed, seed + 1, seed + 2),
        **({"n_train": 1000, "n_test": 500} if quick else {}),
    )
    nn.run_permutation_study(study).save(out / "permutation")


def nets_sections(out: Path) -> list[Section]:
    from acmlkit.nets import figures
    from acmlkit.nets.experiments import PermutationStudyResult, TrainResult

    runs = {arch: TrainResult.load(out / arch / "result.json") for arch in ("cnn", "mlp")}
    study = PermutationStudyResult.load(out / "permutation")
    data = runs["cnn"].config.data
    evaluations = {arch: run.evaluation for arch, run in runs.items()}
    classes = evaluations["cnn"].classes
    comparison = Section(
        "3a. CNN vs MLP: accuracy, per class, and parameter counts",
        "cells [9]-[19]",
        f"The notebook's two architectures, trained with acmlkit's fast recipe on {data} "
        "images (one tensor, no per-sample loader).",
        [
            Table(
                [
                    {
                        "model": arch.upper(),
                        "parameters": ev.n_parameters,
                        "trainable": ev.n_trainable,
                        "test accuracy": f"{100 * ev.accuracy:.1f}%",
                        "training s": f"{runs[arch].train_seconds:.1f}",
                    }
                    for arch, ev in evaluations.items()
                ],
                "Overall (the notebook: CNN 62,006 parameters and 54%, MLP 402,250 and 49% "
                "on CIFAR-10)",
            ),
            Table(
                [
                    {
                        "class": name,
                        "CNN": f"{100 * evaluations['cnn'].per_class_accuracy[i]:.1f}%",
                        "MLP": f"{100 * evaluations['mlp'].per_class_accuracy[i]:.1f}%",
                    }
                    for i, name in enumerate(classes)
                ],
                "Per-class test accuracy",
            ),
            Figure(
                figures.plot_history(runs["cnn"], out / "cnn" / "history.png"),
                "CNN: training loss and accuracy per epoch",
            ),
            Figure(
                figures.plot_history(runs["mlp"], out / "mlp" / "history.png"),
                "MLP: training loss and accuracy per epoch",
            ),
            Figure(
                figures.plot_sample_grid(runs["cnn"], out / "cnn" / "samples.png"),
                "Test images with true and CNN-predicted labels (red: wrong)",
            ),
        ],
    )
    summary = study.summary()

    def mean(condition, arch):
        return next(
            r["mean_accuracy"] for r in summary if r["condition"] == condition and r["arch"] == arch
        )

    conditions = study.config.conditions
    permutation_note = (
        "trained its 'shuffled' models on the unshuffled trainloader and tested them on "
        "shuffled images, and its shuffle drew a new permutation for every image, so no "
        "spatial structure could be learnt from any permuted image. Its 19% (CNN) and 18% "
        "(MLP) measure that mismatch, not what a permutation does to each architecture."
    )
    if {"none", "fixed", "notebook"} <= set(conditions):
        permutation_note += (
            f" Here: one fixed permutation moves the MLP from {100 * mean('none', 'mlp'):.1f}% "
            f"to {100 * mean('fixed', 'mlp'):.1f}% (a permuted input layer is the same "
            f"model) and the CNN from {100 * mean('none', 'cnn'):.1f}% to "
            f"{100 * mean('fixed', 'cnn'):.1f}%; the notebook's protocol gives "
            f"{100 * mean('notebook', 'cnn'):.1f}% and {100 * mean('notebook', 'mlp'):.1f}%."
        )
    permutation = Section(
        "3b. Pixel permutations",
        "cells [20]-[25]",
        "Each architecture trained and tested under each condition over "
        f"{len(study.config.seeds)} seed(s): none; fixed (one permutation of pixel "
        "positions from the seed, the same for every train and test image); per-image (a "
        "new permutation for every image); notebook (train plain, test per-image).",
        [
            Figure(
                figures.plot_per_class_accuracy(study, out / "permutation" / "per_class.png"),
                "Per-class accuracy of CNN and MLP under each condition",
            ),
            Table(
                [
                    {
                        "condition": r["condition"],
                        "model": r["arch"].upper(),
                        "accuracy": f"{100 * r['mean_accuracy']:.1f}%",
                        "std": f"{100 * r['std_accuracy']:.1f}",
                        "seeds": r["n_seeds"],
                    }
                    for r in summary
                ],
                "Test accuracy, mean and std over seeds",
            ),
            Note(permutation_note),
        ],
    )
    return [comparison, permutation]
