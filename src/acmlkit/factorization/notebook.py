"""The exercise's unmasked ALS, kept for comparison: every missing entry is an observed 0.

The notebook filled the unobserved cells of its training matrix with zeros and
ran plain ridge regressions of every full row on the other side's factors, from
a uniform ``[0, 1)`` initialisation, with no mean, biases or count weighting.
acmlkit's :class:`~acmlkit.factorization.als.ALS` reaches it with
``method="notebook"``; the studies run it beside masked ALS on the same splits.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from acmlkit.factorization.data import Ratings


def notebook_half_step(data: np.ndarray, fixed: np.ndarray, reg: float) -> np.ndarray:
    """The exercise's update: ridge regression of every full row of ``data`` on ``fixed``.

    Parameters
    ----------
    data : ndarray of shape (m, n)
        The zero-filled training matrix.
    fixed : ndarray of shape (n, K)
    reg : float

    Returns
    -------
    ndarray of shape (m, K)
    """
    K = fixed.shape[1]
    A = fixed.T @ fixed + reg * np.eye(K)
    return np.linalg.solve(A, (data @ fixed).T).T


def notebook_sweeps(
    train: Ratings, n_factors: int, u_lambda: float, v_lambda: float,
    rngs: list[np.random.Generator], dtype=np.float64,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The notebook's sweeps for ``len(rngs)`` independent inits, forever.

    Yields
    ------
    U : ndarray of shape (B, m, K)
    V : ndarray of shape (B, n, K)
    sse : ndarray of shape (B,)
        Each model's squared error over the *observed* training entries.
    """
    m, n = train.shape
    V = np.stack([r.random((n, n_factors)) for r in rngs]).astype(dtype)
    U = np.zeros((len(rngs), m, n_factors), dtype)
    dense = np.zeros(train.shape, dtype)
    dense[train.rows, train.cols] = train.values
    while True:
        for b in range(len(rngs)):
            U[b] = notebook_half_step(dense, V[b], u_lambda)
            V[b] = notebook_half_step(dense.T, U[b], v_lambda)
        pred = np.einsum("bek,bek->be", U[:, train.rows], V[:, train.cols])
        yield U, V, ((train.values - pred) ** 2).sum(axis=1)
