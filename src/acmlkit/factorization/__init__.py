"""Matrix completion by alternating least squares (the exercise's part 2).

- :mod:`~acmlkit.factorization.data`: observed entries as :class:`Ratings` from a
  dense CSV, rating triples, MovieLens or the synthetic generator.
- :mod:`~acmlkit.factorization.splits`: Bernoulli(p), k-fold and per-user splits.
- :mod:`~acmlkit.factorization.als`: the half-step solvers and :class:`ALS`.
- :mod:`~acmlkit.factorization.experiments`: the notebook's studies, as configs
  and results; :mod:`~acmlkit.factorization.figures` draws from saved results.
"""

from acmlkit.factorization.als import ALS
from acmlkit.factorization.data import Ratings, load_movielens, read_dense_csv, read_ratings

__all__ = ["ALS", "Ratings", "load_movielens", "read_dense_csv", "read_ratings"]
