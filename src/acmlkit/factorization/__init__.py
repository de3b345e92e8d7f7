"""Matrix completion by alternating least squares (the exercise's part 2).

- :mod:`~acmlkit.factorization.data`: observed entries as :class:`Ratings` from a
  dense CSV, rating triples, MovieLens or the synthetic generator.
- :mod:`~acmlkit.factorization.splits`: Bernoulli(p), k-fold and per-user splits.
- :mod:`~acmlkit.factorization.als`: :class:`ALS` (kernels in ``solvers``; the
  notebook's unmasked ALS in ``notebook``; data-dependent defaults in ``defaults``).
- :mod:`~acmlkit.factorization.recommender`: raw ids, ``predict(users, items)``,
  ``recommend``, ``fold_in``, shared by every factorisation model.
- :mod:`~acmlkit.factorization.baseline`: the damped-bias baseline.
- :mod:`~acmlkit.factorization.metrics`: RMSE, MAE, precision/recall/NDCG at k.
- :mod:`~acmlkit.factorization.experiments`: the notebook's studies, as configs
  and results; :mod:`~acmlkit.factorization.figures` draws from results.
"""

from acmlkit.lazy import lazy_exports

# Names are imported on first use, so that `acml mf --help` (which imports this
# package for its cli module) does not pay for numpy, scipy and scikit-learn.
_EXPORTS = {
    "ALS": "als",
    "DampedBaseline": "baseline",
    "Ratings": "data",
    "load_movielens": "data",
    "read_dense_csv": "data",
    "read_ratings": "data",
    "to_ratings": "recommender",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
