"""Figures drawn only from results (:mod:`acmlkit.factorization.experiments`).

Every function returns a matplotlib Figure; saving is the caller's
(:func:`acmlkit.plotting.save_figure`, or :func:`plot_result` for all of a
result's figures at once).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from acmlkit.factorization.experiments import FitResult, GridResult, StudyResult
from acmlkit.plotting import new_figure, save_figure

_LABELS = {"p": "p (share of observed entries used for training)", "k": "K (rank)",
           "lambda": "λ (u_lambda = v_lambda)"}
_SYMBOLS = {"p": "p", "k": "K", "lambda": "λ"}
_METHOD_NAMES = {"masked": "masked ALS (acmlkit)", "notebook": "notebook ALS (zeros as data)"}


def _fixed_settings(result: StudyResult) -> str:
    s = result.settings
    fixed = {"p": f"p = {s['p']}", "k": f"K = {s['n_factors']}", "lambda": f"λ = {s['reg']}"}
    fixed.pop(result.config.parameter)
    return ", ".join(fixed.values())


def _over_seeds(result) -> str:
    n = len(result.config.seeds)
    return f"mean over {n} seeds" if n > 1 else f"seed {result.config.seeds[0]}"


def _std(values) -> list[float]:
    """Error bars from summary stds; one seed has none (drawn as 0)."""
    return [0.0 if v is None else v for v in values]


def plot_study_curves(result: StudyResult, *, method: str = "masked",
                      max_panels: int | None = 4) -> Figure:
    """Train and test MSE per sweep, one panel per studied value (first seed).

    At most ``max_panels`` panels (None: every value): the first and last values
    and evenly spaced ones between.
    """
    curves = [c for c in result.curves if c["method"] == method]
    if not curves:
        raise ValueError(f"method must be one of {sorted({c['method'] for c in result.curves})}, "
                         f"got {method!r}")
    if max_panels is not None and len(curves) > max_panels:
        # The ends and evenly spaced values between: the shape of the trend, legibly.
        keep = np.unique(np.round(np.linspace(0, len(curves) - 1, max_panels)).astype(int))
        curves = [curves[i] for i in keep]
    cols = math.ceil(math.sqrt(len(curves)))
    rows = math.ceil(len(curves) / cols)
    fig, axes = new_figure(4.0 * cols, 3.0 * rows)
    fig.clear()
    axes = fig.subplots(rows, cols, squeeze=False)
    symbol = _SYMBOLS[result.config.parameter]
    for ax, curve in zip(axes.flat, curves):
        its = np.arange(1, len(curve["train_mse"]) + 1)
        ax.plot(its, curve["train_mse"], color="tab:purple", label="train MSE")
        ax.plot(its, curve["test_mse"], color="tab:green", label="test MSE")
        ax.set_yscale("log")
        ax.set_title(f"{symbol} = {curve['value']}")
        ax.set_xlabel("sweep")
        ax.set_ylabel("mean squared error")
    for ax in list(axes.flat)[len(curves):]:
        ax.set_visible(False)
    axes.flat[0].legend()
    fig.suptitle(f"{_METHOD_NAMES[method]}: error per sweep ({_fixed_settings(result)}, "
                 f"seed {result.config.seeds[0]})")
    return fig


def plot_study(result: StudyResult) -> Figure:
    """Final train and test MSE against the studied value, mean ± std over seeds."""
    parameter = result.config.parameter
    fig, ax = new_figure(6.4, 4.2)
    colours = {"masked": "tab:blue", "notebook": "tab:red"}
    for method in result.config.methods:
        rows = [r for r in result.summary if r["method"] == method]
        x = [r["value"] for r in rows]
        for metric, style in (("test", "-o"), ("train", "--s")):
            ax.errorbar(x, [r[f"mean_{metric}_mse"] for r in rows],
                        yerr=_std(r[f"std_{metric}_mse"] for r in rows), fmt=style, capsize=3,
                        color=colours.get(method), label=f"{_METHOD_NAMES[method]}, {metric}")
    if parameter in ("lambda", "k"):
        ax.set_xscale("log", base=10 if parameter == "lambda" else 2)
    ax.set_yscale("log")
    ax.set_xlabel(_LABELS[parameter])
    ax.set_ylabel("mean squared error")
    spread = (f"mean ± std over {len(result.config.seeds)} seeds"
              if len(result.config.seeds) > 1 else _over_seeds(result))
    ax.set_title(f"MSE against {_SYMBOLS[parameter]} ({_fixed_settings(result)}; {spread})")
    ax.legend(fontsize="small")
    return fig


def _log_edges(values: np.ndarray) -> np.ndarray:
    """Cell edges halfway (in log space) between sorted positive values."""
    logs = np.log10(values)
    mids = (logs[1:] + logs[:-1]) / 2
    first = logs[0] - (mids[0] - logs[0]) if len(logs) > 1 else logs[0] - 0.5
    last = logs[-1] + (logs[-1] - mids[-1]) if len(logs) > 1 else logs[0] + 0.5
    return 10 ** np.concatenate([[first], mids, [last]])


def plot_grid_heatmap(result: GridResult) -> Figure:
    """Annotated heatmap of mean test RMSE over K x λ, λ on a log axis.

    The cell chosen by validation error is outlined.
    """
    lambdas = np.array(result.lambdas, dtype=float)
    k_values = np.array(result.k_values, dtype=float)
    if (lambdas <= 0).any():
        raise ValueError("a log-scaled λ axis needs positive lambdas, got "
                         f"{lambdas.tolist()}")
    test = np.array(result.test_rmse)
    order = np.argsort(lambdas)
    lambdas, test = lambdas[order], test[:, order]
    fig, ax = new_figure(7.0, 4.8)
    k_edges = np.concatenate([[k_values[0] - 1], (k_values[1:] + k_values[:-1]) / 2,
                              [k_values[-1] + 1]]) if len(k_values) > 1 else \
        np.array([k_values[0] - 1, k_values[0] + 1])
    mesh = ax.pcolormesh(_log_edges(lambdas), k_edges, test, cmap="viridis_r", shading="flat")
    fig.colorbar(mesh, ax=ax, label="test RMSE (mean over seeds)")
    middle = (np.nanmin(test) + np.nanmax(test)) / 2
    for i, K in enumerate(k_values):
        for j, lam in enumerate(lambdas):
            ax.text(lam, K, f"{test[i, j]:.3f}", ha="center", va="center", fontsize=8,
                    color="white" if test[i, j] > middle else "black")
    ax.set_xscale("log")
    ax.set_xticks(lambdas, [f"{v:g}" for v in lambdas])
    ax.set_yticks(k_values, [f"{int(v)}" for v in k_values])
    ax.set_xlabel("λ (u_lambda = v_lambda), log scale")
    ax.set_ylabel("K (rank)")
    i = list(result.k_values).index(result.best_k)
    j = int(np.flatnonzero(lambdas == result.best_lambda)[0])
    edges_l = _log_edges(lambdas)
    ax.add_patch(_outline(edges_l[j], k_edges[i], edges_l[j + 1] - edges_l[j],
                          k_edges[i + 1] - k_edges[i]))
    ax.set_title(f"Test RMSE over K x λ (p = {result.settings['p']}, {_over_seeds(result)})"
                 "\noutlined: chosen by validation error, "
                 f"K = {result.best_k}, λ = {result.best_lambda:g}")
    return fig


def _grid_panel(result: GridResult, over: str, at: float | None):
    """Train, validation and test RMSE along one grid axis at a fixed value of the other."""
    k_values, lambdas = list(result.k_values), list(result.lambdas)
    at = (result.best_k if over == "lambda" else result.best_lambda) if at is None else at
    fixed_axis = k_values if over == "lambda" else lambdas
    if at not in fixed_axis:
        raise ValueError(f"{'K' if over == 'lambda' else 'lambda'} = {at} is not on the grid "
                         f"{fixed_axis}")
    i = fixed_axis.index(at)
    pick = (lambda m: np.array(m)[i, :]) if over == "lambda" else (lambda m: np.array(m)[:, i])
    x = lambdas if over == "lambda" else k_values
    fig, ax = new_figure(6.4, 4.0)
    for name, matrix, colour in (("train", result.train_rmse, "tab:purple"),
                                 ("validation", result.val_rmse, "tab:orange"),
                                 ("test", result.test_rmse, "tab:green")):
        ax.plot(x, pick(matrix), "-o", color=colour, label=f"{name} RMSE")
    ax.set_ylabel("root mean squared error")
    if over == "lambda":
        ax.set_xscale("log")
        ax.set_xlabel("λ (u_lambda = v_lambda), log scale")
        title = f"Loss against λ at K = {at}"
    else:
        ax.set_xlabel("K (rank)")
        title = f"Loss against K at λ = {at:g}"
        ax.set_xticks(x, [str(k) for k in x])
    ax.set_title(f"{title} (p = {result.settings['p']}, {_over_seeds(result)})")
    ax.legend()
    return fig


def plot_loss_vs_lambda(result: GridResult, k: int | None = None) -> Figure:
    """The notebook's cell [15]: errors against λ at fixed K (default: the chosen K)."""
    return _grid_panel(result, "lambda", k)


def plot_loss_vs_k(result: GridResult, lam: float | None = None) -> Figure:
    """The notebook's cell [15]: errors against K at fixed λ (default: the chosen λ)."""
    return _grid_panel(result, "k", lam)


def _outline(x, y, w, h):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, edgecolor="red", linewidth=2)


def plot_fit_history(result: FitResult) -> Figure:
    """Train and test RMSE per sweep of the first fold."""
    history = result.history
    fig, ax = new_figure(6.4, 4.0)
    its = [h["iteration"] for h in history]
    ax.plot(its, [h["train_rmse"] for h in history], color="tab:purple", label="train RMSE")
    if history and "test_rmse" in history[0]:
        ax.plot(its, [h["test_rmse"] for h in history], color="tab:green", label="test RMSE")
    if history and "val_rmse" in history[0]:
        ax.plot(its, [h["val_rmse"] for h in history], color="tab:orange",
                label="validation RMSE")
    ax.set_xlabel("sweep")
    ax.set_ylabel("root mean squared error (unclipped)")
    c = result.params
    title = (f"{c['method']} ALS, K = {c['n_factors']}, λ_u = {c['u_lambda']}, "
             f"λ_v = {c['v_lambda']}" if c["u_lambda"] != "baseline" else
             "the damped-bias baseline (chosen on validation entries over every λ)")
    if c["reg_exponent"]:
        title += f" (x n^{c['reg_exponent']:g})"
    if c["n_init"] > 1:
        title += f", {c['n_init']} inits averaged\n(train: mean over inits; test: the average)"
    ax.set_title(title)
    ax.legend()
    return fig


def figures_for(result) -> dict[str, Figure]:
    """Every figure that applies to a result, by file name."""
    if isinstance(result, GridResult):
        figs = {"heatmap.png": plot_grid_heatmap(result)}
        if len(result.lambdas) > 1:
            figs["loss_vs_lambda.png"] = plot_loss_vs_lambda(result)
        if len(result.k_values) > 1:
            figs["loss_vs_k.png"] = plot_loss_vs_k(result)
        return figs
    if isinstance(result, FitResult):
        return {"history.png": plot_fit_history(result)}
    if isinstance(result, StudyResult):
        figs = {f"error_vs_{result.config.parameter}.png": plot_study(result)}
        for method in result.config.methods:
            figs[f"curves_{method}.png"] = plot_study_curves(result, method=method)
        return figs
    raise TypeError(f"no factorisation figures for a {type(result).__name__}")


def plot_result(result, folder: str | Path) -> list[Path]:
    """Save every figure of a result into ``folder``; returns the paths."""
    folder = Path(folder)
    return [save_figure(fig, folder / name) for name, fig in figures_for(result).items()]
