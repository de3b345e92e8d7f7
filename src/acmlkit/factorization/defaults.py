"""Settings that suit the data: the notebook's for its dense matrix, tuned ones for ratings.

The notebook's settings (no biases, a small plain ridge penalty, rank 8) were
made for a dense synthetic matrix of unit-variance entries. On rating triples
(MovieLens, a ratings CSV with half stars) they do worse than predicting the
mean: ratings need the global mean and user/item biases, penalties that grow
with each user's and item's number of ratings, and a penalty chosen on held-out
training entries. The values for ratings were chosen on a validation split of
MovieLens 100K's training side (``benchmarks/bench_mf.py --tune``).
"""

from __future__ import annotations

import numpy as np

from acmlkit.factorization.data import Ratings

# The defaults of a fit on a dense, notebook-style matrix (the notebook's model, masked).
# The spectral start: random starts leave about one fit in five on a sparsely observed
# dense matrix in a spike 30 sweeps do not deflate. Ratings keep random starts, which
# n_init averages (a deterministic start would make its models alike).
DENSE_FIT = dict(n_factors=8, u_lambda=0.1, v_lambda=0.1, bias_lambda=1.0, biases=True,
                 reg_exponent=0.0, n_init=1, max_iter=30, init="svd")
# The defaults of a fit on rating triples. "auto": chosen on entries carved from the
# training side among LAMBDA_GRID times the ratings' standard deviation.
RATINGS_FIT = dict(n_factors=4, u_lambda="auto", v_lambda="auto", bias_lambda=1.0,
                   biases=True, reg_exponent=0.5, n_init=8, max_iter=10, init="random")
# Factor penalties tried by u_lambda="auto", in units of the ratings' standard
# deviation (a factor penalty scales with the ratings' scale; on MovieLens 100K,
# std 1.13, the best was 0.8). The largest all but removes the factors, so the
# choice can fall back to the biases alone.
LAMBDA_GRID = (0.15, 0.35, 0.7, 1.4, 3.0, 30.0)
AUTO_VALIDATION_FRACTION = 0.1
# Below this many training entries "auto" validates on AUTO_FOLDS folds of them instead.
AUTO_SINGLE_CARVE_MIN = 20_000
AUTO_FOLDS = 5


def is_ratings(ratings: Ratings) -> bool:
    """Rating triples (a file of user, item, rating lines or a user's arrays)."""
    return ratings.layout == "triples"


def fit_defaults(ratings: Ratings) -> tuple[dict, str]:
    """The defaults of an ALS fit on ``ratings`` and the reason in one sentence."""
    if is_ratings(ratings):
        return dict(RATINGS_FIT), (
            "rating triples: the defaults that win on ratings (mean and user/item biases, "
            "penalties scaled by sqrt(ratings per user/item), K = 4, 8 averaged inits, lambda "
            "chosen on held-out training entries, or the damped-bias baseline unless a factor "
            "model beats it there by more than one standard error, predictions clipped to the "
            "rating range)")
    return dict(DENSE_FIT), (
        "a dense matrix (the notebook's layout): the notebook-style defaults, K = 8, "
        "lambda = 0.1, plain ridge penalties with mean and biases, a spectral (SVD) start")


def lambda_candidates(values: np.ndarray) -> tuple[float, ...]:
    """Factor penalties that ``u_lambda="auto"`` tries on data with these values."""
    scale = float(np.std(values)) or 1.0
    return tuple(float(f"{scale * g:.3g}") for g in LAMBDA_GRID)


def study_settings(ratings: Ratings) -> tuple[dict, str]:
    """Settings for the p, K, lambda and grid studies that suit ``ratings``.

    Returns ``(settings, reason)``: ``settings`` holds ``p``, ``n_factors``,
    ``reg``, ``biases``, ``reg_exponent``, ``max_iter``, and the studied values
    ``p_values``, ``k_values``, ``lambdas`` (also the grid's axes); ``reason`` is
    one sentence saying which settings and why.
    """
    if is_ratings(ratings):
        scale = float(np.std(ratings.values)) or 1.0
        lambdas = tuple(float(f"{scale * g:.3g}") for g in (0.1, 0.3, 0.7, 2.0, 6.0))
        return {
            "p": 0.8, "n_factors": 4, "reg": lambdas[2], "biases": True, "reg_exponent": 0.5,
            "max_iter": 15, "p_values": (0.2, 0.4, 0.6, 0.8), "k_values": (2, 4, 8, 16, 32),
            "lambdas": lambdas,
        }, (
            "rating triples, where the notebook's settings (no biases, lambda <= 1, p = 0.1) "
            "do worse than the mean rating: the studies use the mean and user/item biases, "
            "penalties scaled by sqrt(ratings per user/item), lambdas in proportion to the "
            f"ratings' spread (std {scale:.2f}) and p = 0.8 (80/20 train/test)")
    return {
        "p": 0.1, "n_factors": 8, "reg": 0.01, "biases": False, "reg_exponent": 0.0,
        "max_iter": 30, "p_values": (0.1, 0.3, 0.5, 0.7), "k_values": (4, 8, 16, 32),
        "lambdas": (0.01, 0.1, 0.25, 0.5, 1.0),
    }, "a dense matrix (the notebook's layout): the notebook's settings"
