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

from acmlkit.factorization.als import ALS
from acmlkit.factorization.baseline import DampedBaseline
from acmlkit.factorization.data import Ratings, load_movielens, read_dense_csv, read_ratings
from acmlkit.factorization.recommender import to_ratings

__all__ = ["ALS", "DampedBaseline", "Ratings", "load_movielens", "read_dense_csv",
           "read_ratings", "to_ratings"]
