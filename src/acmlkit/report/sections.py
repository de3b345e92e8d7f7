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
