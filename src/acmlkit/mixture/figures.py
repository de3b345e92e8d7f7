"""Figures drawn from mixture Results; each function returns a matplotlib Figure.

Saving is the caller's (:func:`acmlkit.plotting.save_figure`), except
:func:`save_demo_figures`, which writes the demo's three figures to a folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from acmlkit.mixture.experiments import DemoResult, FitResult, HighDimResult
from acmlkit.plotting import new_figure, save_figure


def high_dim_figure(result: HighDimResult) -> Figure:
    """Mean log-likelihood per dimension, and the share of NaN rows of the naive route."""
    fig, ax = new_figure()
    ax.semilogx(result.dims, result.loglik_per_dim, "o-", label="log-sum-exp (acmlkit)")
    ax.axhline(
        result.expected_per_dim,
        color="grey",
        linestyle="--",
        label=f"-(log 2π + 1)/2 = {result.expected_per_dim:.4f}",
    )
    ax.set_xlabel("dimension D")
    ax.set_ylabel("mean log-likelihood per dimension")
    ax.set_title("Responsibilities stay finite in high dimension")
    share = ax.twinx()
    share.semilogx(result.dims, result.naive_nan_share, "s:", color="tab:red", label="exp first")
    share.set_ylabel("share of NaN rows, exp-then-normalise", color="tab:red")
    share.set_ylim(-0.05, 1.05)
    lines = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center left")
    return fig


def bic_figure(result: FitResult) -> Figure:
    """BIC and AIC against K, the chosen K marked."""
    fig, ax = new_figure()
    ax.plot(result.k_values, result.bic, "o-", label="BIC")
    ax.plot(result.k_values, result.aic, "s--", label="AIC")
    ax.axvline(result.best_k, color="grey", linestyle=":", label=f"best K = {result.best_k}")
    ax.set_xlabel("number of components K")
    ax.set_ylabel("criterion (lower is better)")
    ax.set_title(f"Choosing K ({result.config.covariance_type} covariances)")
    ax.legend()
    return fig


def fit_figure(result: FitResult, X) -> Figure:
    """1-D: histogram and fitted density; 2-D: points (X, shape (n, D)) and
    covariance ellipses; more dimensions: the BIC curve."""
    X = np.asarray(X)
    if X.shape[1] > 2:
        return bic_figure(result)
    X = X[~np.isnan(X).any(axis=1)]
    weights = np.asarray(result.weights)
    means = np.asarray(result.means)
    covs = _full_covariances(result)
    fig, ax = new_figure()
    if X.shape[1] == 1:
        ax.hist(X[:, 0], bins=60, density=True, alpha=0.4, label="data")
        grid = np.linspace(X.min(), X.max(), 500)
        sd = np.sqrt(covs[:, 0, 0])
        parts = (
            weights
            * np.exp(-0.5 * ((grid[:, None] - means[:, 0]) / sd) ** 2)
            / (sd * np.sqrt(2 * np.pi))
        )
        ax.plot(grid, parts.sum(1), "k-", label=f"mixture, K = {result.best_k}")
        ax.plot(grid, parts, ":", alpha=0.8)
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        ax.legend()
    else:
        ax.scatter(X[:, 0], X[:, 1], s=4, alpha=0.3, color="grey")
        angles = np.linspace(0, 2 * np.pi, 100)
        circle = np.stack([np.cos(angles), np.sin(angles)])
        for k, (mu, cov) in enumerate(zip(means, covs)):
            vals, vecs = np.linalg.eigh(cov)
            for radius in (1, 2):
                ring = mu[:, None] + radius * vecs @ (np.sqrt(vals)[:, None] * circle)
                ax.plot(ring[0], ring[1], color=f"C{k}", lw=1.5 if radius == 1 else 0.8)
            ax.plot(*mu, "x", color=f"C{k}", ms=8)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"Gaussian mixture, K = {result.best_k} chosen by BIC (1 and 2 sd shown)")
    return fig


def save_demo_figures(result: DemoResult, folder: str | Path) -> dict[str, Path]:
    """Draw the demo's figures from its Result and write them to ``folder`` (PNG)."""
    folder = Path(folder)
    points = np.asarray(result.points)
    return {
        "high_dim_figure": save_figure(high_dim_figure(result.high_dim), folder / "high_dim.png"),
        "blobs_figure": save_figure(fit_figure(result.fit, points), folder / "blobs_fit.png"),
        "blobs_bic": save_figure(bic_figure(result.fit), folder / "blobs_bic.png"),
    }


def _full_covariances(result: FitResult) -> np.ndarray:
    """Every covariance type as a stack of (K, D, D) matrices."""
    cov = np.asarray(result.covariances, dtype=float)
    K, D = len(result.weights), result.n_features
    kind = result.config.covariance_type
    if kind == "full":
        return cov
    if kind == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if kind == "diag":
        return np.stack([np.diag(v) for v in cov])
    return cov[:, None, None] * np.eye(D)
