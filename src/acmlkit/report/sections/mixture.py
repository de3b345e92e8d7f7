"""Section 1: the mixture cells [1]-[2], the text after them, and EM with BIC."""

from __future__ import annotations

from pathlib import Path

from acmlkit.report import findings as fd
from acmlkit.report.html import Column, Finding, KeyNumber, Note, Section, Table

# The notebook's printed answer for cell [2].
NOTEBOOK_RESPONSIBILITIES = (0.10152327, 0.89847673)


def run(out: Path, config, inputs) -> None:
    from acmlkit.mixture.experiments import DemoConfig, FitConfig, run_demo

    demo = DemoConfig(seed=config.seed)
    if config.quick:
        # BIC has its minimum at the three generating components; six candidates
        # and two restarts still show it, in half the time.
        demo = DemoConfig(seed=config.seed, fit=FitConfig(k_values=(1, 2, 3, 4, 5, 6), n_init=2))
    run_demo(demo, out)


def build(folder: Path, draw, config) -> tuple[list[Section], list[KeyNumber]]:
    from acmlkit.mixture import figures
    from acmlkit.results import load_result

    demo = load_result(folder, expect="mixture.demo")
    resp, high, fit = demo.responsibilities, demo.high_dim, demo.fit

    x = resp.config.x[0]
    resp_table = Table(
        "mixture-responsibilities",
        [Column("component"), Column("mean"), Column("variance"), Column("weight"),
         Column("p", f"p(c | x = {x:g})", decimals=8)],
        [
            {"component": k + 1, "mean": m, "variance": v, "weight": w,
             "p": resp.responsibilities[0][k]}
            for k, (m, v, w) in enumerate(resp.config.components)
        ],
        f"Responsibilities at x = {x:g} (the notebook printed "
        f"[{NOTEBOOK_RESPONSIBILITIES[0]} {NOTEBOOK_RESPONSIBILITIES[1]}])",
    )
    winner, claim = fd.extreme(resp_table, "p", "component", kind="max")
    p_text, p_claim = fd.quote(resp_table, "p", component=winner["component"])
    agrees = len(resp.config.components) == 2 and all(
        resp_table.shown("p", v) == resp_table.shown("p", r)
        for v, r in zip(NOTEBOOK_RESPONSIBILITIES, resp.responsibilities[0])
    )
    responsibilities = Section(
        "mixture-responsibilities",
        "1. Mixture models: responsibilities by log-sum-exp",
        "cells [1]-[2]",
        f"Posterior p(c | x) of a {len(resp.config.components)}-component 1-D Gaussian mixture "
        f"at x = {x:g}, computed from log densities with the log-sum-exp trick.",
        [
            resp_table,
            Finding(
                f"At x = {x:g} component {winner['component']} takes p = {p_text}"
                + (", the notebook's answer to all eight printed digits." if agrees else "."),
                [claim, p_claim],
            ),
            Note(
                "passes scale=sqrt(var) to scipy's norm.logpdf, which is right: scipy takes a "
                "standard deviation. acmlkit's functions take variances and say so."
            ),
        ],
    )

    high_table = Table(
        "mixture-high-dim",
        [Column("D"), Column("ll", "log-likelihood / D", decimals=4),
         Column("err", "rows sum to 1: max error", sci=True),
         Column("nan", "exp-first NaN share", decimals=2)],
        [
            {"D": d, "ll": ll, "err": err, "nan": nan}
            for d, ll, err, nan in zip(high.dims, high.loglik_per_dim, high.max_row_sum_error,
                                       high.naive_nan_share)
        ],
        "Stability by dimension",
    )
    first, first_claim = fd.first_above(high_table, "nan", "D", 0.0)
    top = high.dims[-1]
    ll_text, ll_claim = fd.quote(high_table, "ll", D=top)
    if first is None:
        naive = (f"Exponentiating first stays finite up to D = {high_table.shown('D', top)} "
                 "here")
    else:
        naive = (f"Exponentiating first returns NaN from D = {high_table.text(first, 'D')} in "
                 "this run (0/0 once every density underflows)")
    high_dim = Section(
        "mixture-high-dim",
        "1b. High dimension: why the log-sum-exp trick is needed",
        "the text after cell [2] ('about -1.42 D')",
        "N(0, I) data under a two-component identity-covariance mixture. Log densities of "
        "about -1.42 D underflow float64 (smallest value about e^-745) once exponentiated; the "
        "log-sum-exp route stays finite and its rows sum to 1.",
        [
            draw(figures.high_dim_figure(high), "mixture-high-dim",
                 "Mean log-likelihood per dimension (left axis) and the share of points whose "
                 "exp-first responsibilities are NaN (right axis)"),
            high_table,
            Finding(
                f"{naive}; log-sum-exp gives a mean log-likelihood of {ll_text} per dimension "
                f"at D = {high_table.shown('D', top)}, against -(log 2π + 1)/2 = "
                f"{high.expected_per_dim:.4f} in theory.",
                [first_claim, ll_claim],
            ),
        ],
    )

    criteria = Table(
        "mixture-bic",
        [Column("K"), Column("bic", "BIC", decimals=1), Column("aic", "AIC", decimals=1),
         Column("ll", "log-likelihood / point", decimals=4), Column("converged")],
        [
            {"K": k, "bic": b, "aic": a, "ll": ll, "converged": "yes" if c else "no"}
            for k, b, a, ll, c in zip(fit.k_values, fit.bic, fit.aic, fit.log_likelihood,
                                      fit.converged)
        ],
        "Information criteria by K",
    )
    best, bic_claim = fd.extreme(criteria, "bic", "K", kind="min")
    n_true = len(demo.config.blobs.centers)
    em = Section(
        "mixture-em",
        "1c. Beyond the notebook: EM with K chosen by BIC",
        "not in the notebook",
        f"EM on {fit.n_samples:,} generated 2-D points from {n_true} Gaussians, K = "
        f"{fit.k_values[0]}..{fit.k_values[-1]}, {fit.n_init} initialisations each.",
        [
            draw(figures.fit_figure(fit, demo.points), "mixture-fit",
                 "Fitted components (1 and 2 standard deviations) over the points"),
            draw(figures.bic_figure(fit), "mixture-bic", "BIC and AIC against K"),
            criteria,
            Finding(
                f"BIC is lowest at K = {best['K']}"
                + (f", the {n_true} components the points were drawn from."
                   if best["K"] == n_true else
                   f", not the {n_true} components the points were drawn from."),
                [bic_claim],
            ),
        ],
    )
    numbers = [
        KeyNumber(f"p(c = {winner['component']} | x = {x:g})", p_text, responsibilities.anchor),
        KeyNumber("exp-first responsibilities fail from D =",
                  "never" if first is None else high_table.text(first, "D"), high_dim.anchor),
        KeyNumber("K chosen by BIC", str(best["K"]), em.anchor),
    ]
    return [responsibilities, high_dim, em], numbers
