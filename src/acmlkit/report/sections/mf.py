"""Section 2: the matrix-factorisation cells [3]-[17]: p, K and lambda studies and the grid."""

from __future__ import annotations

from pathlib import Path

from acmlkit.report import findings as fd
from acmlkit.report.html import Adaptation, Column, Finding, KeyNumber, Note, Section, Table

STUDIES = ("p", "k", "lambda")
SYMBOLS = {"p": "p", "k": "K", "lambda": "λ"}
METHODS = {"masked": "masked ALS", "notebook": "notebook ALS"}
# Quick runs: one seed, and half the notebook's 30 sweeps (ALS has settled by then on
# both the synthetic matrix and MovieLens; the curves show it).
QUICK_MAX_ITER = 15


def _data_config(config):
    from acmlkit.factorization.experiments import DataConfig

    return DataConfig(source=config.matrix, seed=config.seed)


def load_matrix(config) -> tuple[object, str]:
    """The ratings of ``config.matrix`` (loaded, so checked) and their fingerprint."""
    from acmlkit.factorization.experiments import data_fingerprint, load_data

    data = _data_config(config)
    ratings = load_data(data)
    (fingerprint,) = data_fingerprint(data, ratings).values()
    return ratings, fingerprint


def configs(config) -> dict:
    """The p, K and lambda studies and the grid, each with the data's own settings."""
    from acmlkit.factorization.experiments import GridConfig, StudyConfig

    data = _data_config(config)
    if config.quick:
        seeds = (config.seed,)
        quick = {"max_iter": QUICK_MAX_ITER}
        grid = {"k_values": None, "lambdas": None}
    else:
        seeds = (config.seed, config.seed + 1, config.seed + 2)
        quick, grid = {}, {}
    runs = {name: StudyConfig(parameter=name, seeds=seeds, data=data, **quick)
            for name in STUDIES}
    runs["grid"] = GridConfig(seeds=seeds, data=data, **quick, **grid)
    return runs


def run(out: Path, config, inputs) -> None:
    from acmlkit.factorization.experiments import run as run_mf

    for name, study in configs(config).items():
        if config.quick and name == "grid":
            study = _quick_grid(study, inputs.ratings)
        run_mf(study, out / name, ratings=inputs.ratings)


def _quick_grid(grid, ratings):
    """Three K and three lambdas of the data's grid: the shape of the loss surface at a
    third of the fits (the first three K of a short list keep the synthetic rank, 8)."""
    from dataclasses import replace

    from acmlkit.factorization.defaults import study_settings

    settings, _ = study_settings(ratings)
    k_values, lambdas = settings["k_values"], settings["lambdas"]
    return replace(grid, k_values=tuple(k_values[::2] if len(k_values) > 4 else k_values[:3]),
                   lambdas=tuple(lambdas[::2]))


def _study_table(name: str, result) -> Table:
    symbol = SYMBOLS[name]
    return Table(
        f"mf-{name}",
        [Column("method"), Column("value", symbol, exact=True), Column("train", "train MSE"),
         Column("test", "test MSE"), Column("std", "test MSE std"),
         Column("rmse", "test RMSE"), Column("seeds")],
        [
            {"method": METHODS[r["method"]], "value": r["value"], "train": r["mean_train_mse"],
             "test": r["mean_test_mse"], "std": r["std_test_mse"], "rmse": r["mean_test_rmse"],
             "seeds": r["n_seeds"]}
            for r in result.summary
        ],
        f"Final errors by {symbol}, mean and sample std over seeds (– for one seed)",
    )


def build(folder: Path, draw, config) -> tuple[list[Section], list[KeyNumber]]:
    from acmlkit.factorization import figures
    from acmlkit.results import load_result

    results = {name: load_result(folder / name, expect="mf.")
               for name in (*STUDIES, "grid")}
    first = results["p"]
    shape = " x ".join(f"{s:,}" for s in first.shape)
    source = first.config.data.source
    data_line = f"Data: {source} ({shape}, {first.n_observed:,} observed entries)."
    adaptation = _adaptation(first)
    sections, numbers = [], []
    titles = {
        "p": ("2a. Train and test error against p", "cells [4]-[9]"),
        "k": ("2b. Different K", "cell [10]"),
        "lambda": ("2c. Different regularisation", "cell [11]"),
    }
    for name in STUDIES:
        result = results[name]
        table = _study_table(name, result)
        title, cell = titles[name]
        blocks = [adaptation] if adaptation and name == "p" else []
        blocks.append(draw(figures.plot_study(result), f"mf-{name}",
                           f"Final train and test MSE against {SYMBOLS[name]}, mean ± std over "
                           "seeds"))
        blocks.append(table)
        blocks.extend(_study_findings(name, table, result))
        # Quick pages show the per-sweep curves once (they are alike across studies).
        for method in result.config.methods if not config.quick else ("masked",) * (name == "p"):
            blocks.append(draw(figures.plot_study_curves(result, method=method),
                               f"mf-{name}-curves-{method}",
                               f"{METHODS[method].capitalize()}: train and test MSE per sweep, "
                               "first seed (the notebook's per-iteration plots)"))
        blocks.append(Note(NOTES[name]))
        sections.append(Section(f"mf-{name}", title, cell, data_line, blocks))
        if name == "k":
            best, _ = fd.extreme(table, "test", "value", method=METHODS["masked"])
            numbers.append(KeyNumber("Masked ALS: best K (test MSE)",
                                     f"K = {table.text(best, 'value')} "
                                     f"({table.text(best, 'test')})", f"mf-{name}"))
    grid_section, grid_numbers = _grid_section(results["grid"], draw, data_line)
    sections.append(grid_section)
    numbers.extend(grid_numbers)
    return sections, numbers


def _adaptation(result) -> Adaptation | None:
    """Where the studies used settings other than the notebook's, and why."""
    if result.provenance.get("data_layout", "dense") == "dense":
        return None
    s = result.settings
    return Adaptation(
        f"{result.settings_reason}. Settings used: p = {s['p']:g}, K = {s['n_factors']}, "
        f"λ = {s['reg']:g}, biases {'on' if s['biases'] else 'off'}, penalty exponent "
        f"{s['reg_exponent']:g}, {s['max_iter']} sweeps (the notebook: p = 0.1, K = 8, "
        "λ = 0.01, no biases, 30 sweeps)."
    )


def _study_findings(name: str, table: Table, result) -> list[Finding]:
    symbol = SYMBOLS[name]
    masked = METHODS["masked"]
    values = [v for v in dict.fromkeys(r["value"] for r in table.rows)]
    low, high = values[0], values[-1]
    out = []
    best, best_claim = fd.extreme(table, "test", "value", method=masked)
    best_value = best["value"]
    best_text, best_value_claim = fd.quote(table, "test", method=masked, value=best_value)
    sentence = (f"Masked ALS has its lowest test MSE at {symbol} = "
                f"{table.text(best, 'value')} ({best_text})")
    claims = [best_claim, best_value_claim]
    if len(values) > 1:
        end = high if best_value != high else low
        end_text, end_claim = fd.quote(table, "test", method=masked, value=end)
        op, order_claim = fd.order(table, "test", {"method": masked, "value": end},
                                   {"method": masked, "value": best_value})
        claims += [end_claim, order_claim]
        word = {"gt": "higher", "eq": "the same", "lt": "lower"}[op]
        sentence += (f"; at {symbol} = {table.shown('value', end)} it is {end_text}, {word}")
        if name == "k" and end == high and op == "gt":
            sentence += _overfit_words(table, values, best_value, claims)
    out.append(Finding(sentence + ".", claims))
    if "notebook" in result.config.methods:
        claims, better = [], []
        for value in values:
            op, claim = fd.order(table, "test", {"method": masked, "value": value},
                                 {"method": METHODS["notebook"], "value": value})
            claims.append(claim)
            if op == "lt":
                better.append(table.shown("value", value))
        at = table.shown("value", values[0])
        m_text, m_claim = fd.quote(table, "test", method=masked, value=values[0])
        n_text, n_claim = fd.quote(table, "test", method=METHODS["notebook"], value=values[0])
        count = (f"all {len(values)}" if len(better) == len(values)
                 else f"{len(better)} of {len(values)}")
        out.append(Finding(
            f"Masked ALS has the lower test MSE at {count} values of {symbol}; at {symbol} = "
            f"{at} the notebook's zero-filled ALS reaches {n_text} against {m_text}.",
            [*claims, m_claim, n_claim],
        ))
    return out


def _overfit_words(table: Table, values: list, best, claims: list) -> str:
    """Past the best K: does test MSE rise and train MSE fall at every step? Words and claims.

    Only a rise at every step is "as K grows"; otherwise the sentence says less.
    """
    masked = METHODS["masked"]
    after = values[values.index(best):]
    steps = [(fd.order(table, "test", {"method": masked, "value": b}, {"method": masked,
                                                                      "value": a}),
              fd.order(table, "train", {"method": masked, "value": b}, {"method": masked,
                                                                       "value": a}))
             for a, b in zip(after, after[1:])]
    test_rises = all(t[0] == "gt" for t, _ in steps)
    train_falls = all(r[0] == "lt" for _, r in steps)
    if test_rises and train_falls:
        claims.extend(c[1] for step in steps for c in step)
        return (": at every step up from the best K the train MSE falls and the test MSE "
                "rises, the fit follows the training entries ever more closely and the test "
                "entries less well (it overfits as K grows)")
    if test_rises:
        claims.extend(t[1] for t, _ in steps)
        return ": past the best K the test MSE rises at every step"
    return ""


def _grid_section(grid, draw, data_line):
    from acmlkit.factorization import figures

    table = Table(
        "mf-grid",
        [Column("k", "K"), Column("lam", "λ", exact=True), Column("val", "validation RMSE"),
         Column("test", "test RMSE"), Column("train", "train RMSE")],
        [{"k": r["k"], "lam": r["lambda"], "val": r["mean_val_rmse"],
          "test": r["mean_test_rmse"], "train": r["mean_train_rmse"]} for r in grid.table],
        "Grid, mean over seeds (fitted on the training side less the validation share)",
    )
    best, k_claim = fd.extreme(table, "val", "k")
    _, lam_claim = fd.extreme(table, "val", "lam")
    rules = Table(
        "mf-grid-rules",
        [Column("rule"), Column("k", "K"), Column("lam", "λ", exact=True),
         Column("test", "test RMSE (mean over seeds)")],
        [
            {"rule": "lowest validation RMSE (acmlkit)", "k": grid.best_k,
             "lam": grid.best_lambda, "test": grid.mean_selected_test_rmse},
            {"rule": "lowest train RMSE (the notebook)",
             "k": _mode(s["notebook_pick_k"] for s in grid.selections),
             "lam": _mode(s["notebook_pick_lambda"] for s in grid.selections),
             "test": grid.mean_notebook_pick_test_rmse},
        ],
        "What each selection rule picks, and its test RMSE",
    )
    acml_rule, nb_rule = (r["rule"] for r in rules.rows)
    chosen, chosen_claim = fd.quote(rules, "test", rule=acml_rule)
    naive, naive_claim = fd.quote(rules, "test", rule=nb_rule)
    op, order_claim = fd.order(rules, "test", {"rule": acml_rule}, {"rule": nb_rule})
    word = {"lt": "lower than", "gt": "higher than", "eq": "the same as"}[op]
    finding = Finding(
        f"Validation error is lowest at K = {table.text(best, 'k')}, λ = "
        f"{table.text(best, 'lam')}; refitted on all training entries that choice scores a "
        f"test RMSE of {chosen}, {word} the {naive} of the notebook's rule (lowest train error, "
        f"which favours the most flexible fit).",
        [k_claim, lam_claim, chosen_claim, naive_claim, order_claim],
    )
    blocks = [
        draw(figures.plot_grid_heatmap(grid), "mf-grid-heatmap",
             "Test RMSE over the grid (cell [17]); λ on a log scale"),
        table,
        rules,
        finding,
    ]
    if len(grid.lambdas) > 1:
        blocks.append(draw(figures.plot_loss_vs_lambda(grid), "mf-grid-lambda",
                           f"Loss against λ at the chosen K = {grid.best_k} (cell [15])"))
    if len(grid.k_values) > 1:
        blocks.append(draw(figures.plot_loss_vs_k(grid), "mf-grid-k",
                           f"Loss against K at the chosen λ = {grid.best_lambda:g} (cell [15])"))
    blocks.append(Note(NOTES["grid"]))
    section = Section(
        "mf-grid", "2d. Grid search over K and λ", "cells [14]-[17]",
        f"{data_line} Each grid point is fitted on the training entries less a validation "
        f"share ({grid.config.validation_fraction:.0%}); the best by validation RMSE is refitted "
        "on all training entries and only then scored on test.",
        blocks,
    )
    numbers = [KeyNumber("Grid: chosen K, λ (test RMSE)",
                         f"K = {grid.best_k}, λ = {grid.best_lambda:g} ({chosen})", "mf-grid")]
    return section, numbers


def _mode(values):
    values = list(values)
    return max(dict.fromkeys(values), key=values.count)


NOTES = {
    "p": "solved the unmasked least squares: every missing entry (and every test entry, zeroed "
         "by its train_test) counted as an observed 0, and it found observed entries with "
         "np.nonzero, so true zeros vanish from its error. Its 'higher p helps' holds mostly "
         "because a larger p leaves fewer fake zeros.",
    "k": "judged K = 8 'almost a nice choice' from errors that barely moved with K, because the "
         "zeros dominate its fit.",
    "lambda": "saw the regularisation change little, because its zero-filled targets dominate "
              "the fit.",
    "grid": "passed u_lambda, still 1 from the previous cell's loop, instead of the loop's reg, "
            "so all five columns of its grid are the same model at lambda = 1. It then picked "
            "the 'best' by train error (column 3 of its losses, printed as 'best loss for test "
            "set'), a rule that rewards overfitting, and its heatmap shows that train error "
            "under the title 'test loss'.",
}
