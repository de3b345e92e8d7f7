"""The numerical core of ALS: every row's regularised normal equations, solved in batches.

Kept apart from the estimator (:mod:`acmlkit.factorization.als`) so that other
factorisation models (a Gibbs sampler's row updates are the same systems with a
random right-hand side) share one tested solver.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def als_half_step(
    targets: sp.csr_matrix, fixed: np.ndarray, reg, *, reg_exponent: float = 0.0,
    return_sse: bool = False,
):
    """Solve every row's regularised least squares against the fixed factors.

    Row ``i`` gets ``argmin_x sum_{j in Omega_i} (t_ij - x . f_j)^2 + s_i sum_d reg_d x_d^2``
    with ``s_i = |Omega_i| ** reg_exponent``. One model's case of
    :func:`batched_half_step`, which does the work.

    Parameters
    ----------
    targets : csr_matrix of shape (m, n)
        Values to fit at the observed entries; the sparsity pattern is Omega.
    fixed : ndarray of shape (n, D)
        The other side's factors (with a column of ones when biases are solved
        jointly).
    reg : float or ndarray of shape (D,)
        Ridge penalty per coordinate; must be positive where a row has fewer
        than ``D`` entries.
    reg_exponent : float
        Scale each row's penalty by its number of entries to this power (1: ALS-WR).
    return_sse : bool
        Also return the residual sum of squares over the entries at the solution.

    Returns
    -------
    solved : ndarray of shape (m, D)
        The solutions; rows without entries get zeros.
    sse : float
        Only with ``return_sse``.
    """
    solved, sse = batched_half_step(targets, observed_pattern(targets), fixed[None], reg,
                                    reg_exponent=reg_exponent)
    return (solved[0], float(sse[0])) if return_sse else solved[0]


def observed_pattern(values: sp.csr_matrix) -> sp.csr_matrix:
    """``values`` with every stored entry set to 1."""
    return sp.csr_matrix((np.ones_like(values.data), values.indices, values.indptr),
                         shape=values.shape)


def batched_half_step(
    values: sp.csr_matrix, pattern: sp.csr_matrix, fixed: np.ndarray, reg, *,
    offsets: np.ndarray | None = None, reg_exponent: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`als_half_step` for ``B`` models at once that share the observed entries.

    Model ``b`` fits ``t_ij = values_ij - offsets[b, j]`` with its own fixed
    factors ``fixed[b]``. The Gram matrices of every row and model come from one
    sparse product of the pattern with the pairwise products of the fixed
    factors (only the ``D(D+1)/2`` distinct ones: the matrices are symmetric);
    the offsets enter the right-hand sides through the same product, so their
    cost does not grow with ``B``. All ``m * B`` systems are then solved by one
    stacked Cholesky factorisation.

    Parameters
    ----------
    values : csr_matrix of shape (m, n)
    pattern : csr_matrix of shape (m, n)
        ``values`` with every stored entry 1 (see :func:`observed_pattern`).
    fixed : ndarray of shape (B, n, D)
    reg : float or ndarray of shape (D,)
    offsets : ndarray of shape (B, n), optional
        Subtracted from every entry of a column (the mean plus that column's bias).
    reg_exponent : float

    Returns
    -------
    solved : ndarray of shape (B, m, D)
        Rows without entries get zeros.
    sse : ndarray of shape (B,)
        Residual sum of squares of each model at its solution, read off the
        normal equations ``G x = r`` as ``|t|^2 - x.r - s x.diag(reg) x`` per row:
        no second pass gathering both factors per entry, which costs more than
        the solve.
    """
    B, n, D = fixed.shape
    m = values.shape[0]
    N = m * B
    dtype = fixed.dtype
    counts = np.diff(values.indptr)
    iu, ju = np.triu_indices(D)
    T = iu.size
    columns = [fixed[:, :, iu] * fixed[:, :, ju]]
    if offsets is not None:
        columns.append(offsets[:, :, None] * fixed)
    stacked = np.concatenate(columns, axis=2)
    width = stacked.shape[2]
    # One contiguous vector of length N per matrix entry (structure of arrays),
    # systems in (row, model) order: the solver below then works on whole
    # vectors, never on tiny per-system matrices.
    left = np.asarray(pattern @ stacked.transpose(1, 0, 2).reshape(n, B * width))
    left = np.ascontiguousarray(left.reshape(N, width).T)
    rhs = np.asarray(values @ fixed.transpose(1, 0, 2).reshape(n, B * D))
    rhs = np.ascontiguousarray(rhs.reshape(N, D).T)
    if offsets is not None:
        rhs -= left[T:]
    upper = left[:T]
    scale = counts.astype(dtype) ** reg_exponent
    penalty = scale[:, None] * np.broadcast_to(np.asarray(reg, dtype), (D,))
    diagonal = np.flatnonzero(iu == ju)
    upper[diagonal] += np.repeat(penalty, B, axis=0).T
    empty = np.repeat(counts == 0, B)
    if empty.any():
        upper[:, empty] = 0
        upper[np.ix_(diagonal, np.flatnonzero(empty))] = 1
    try:
        solved = packed_cholesky_solve(upper, rhs)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the normal equations of some row are singular (fewer observed entries than "
            f"factors, K + biases = {D}, with zero regularisation); raise u_lambda/v_lambda"
        ) from None
    solved = solved.reshape(D, m, B)
    targets_sq = np.full(B, values.data @ values.data)
    if offsets is not None:
        col_sums = np.asarray(values.sum(axis=0)).ravel()
        col_counts = np.asarray(pattern.sum(axis=0)).ravel()
        targets_sq += -2 * offsets @ col_sums + offsets**2 @ col_counts
    sse = (targets_sq - np.einsum("dmb,dmb->b", solved, rhs.reshape(D, m, B))
           - np.einsum("md,dmb->b", penalty, solved**2))
    return solved.transpose(2, 1, 0), np.maximum(sse, 0.0)


def packed_cholesky_solve(upper: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``N`` symmetric positive definite ``D x D`` systems by Cholesky.

    The systems are stored entry by entry: row ``t`` of ``upper`` holds entry
    ``(np.triu_indices(D)[0][t], np.triu_indices(D)[1][t])`` of all ``N``
    matrices. For ``D <= 12`` the factorisation and the two triangular solves
    run on these length-``N`` vectors, ``O(D^3)`` vector operations in all;
    LAPACK's per-matrix call overhead makes it several times slower for the
    small systems of ALS. Larger ``D`` goes to :func:`numpy.linalg.cholesky`.

    Parameters
    ----------
    upper : ndarray of shape (D(D+1)/2, N)
    rhs : ndarray of shape (D, N)

    Returns
    -------
    ndarray of shape (D, N)

    Raises
    ------
    numpy.linalg.LinAlgError
        When some matrix is not positive definite.
    """
    D = rhs.shape[0]
    iu, ju = np.triu_indices(D)
    index = np.empty((D, D), dtype=np.intp)
    index[iu, ju] = index[ju, iu] = np.arange(iu.size)
    if D > 12:
        full = np.ascontiguousarray(upper[index].transpose(2, 0, 1))
        return cholesky_solve(np.linalg.cholesky(full), np.ascontiguousarray(rhs.T)).T
    # A pivot at rounding level relative to its diagonal entry means a singular
    # matrix that rounding happened to leave positive.
    tiny = D * np.finfo(upper.dtype).eps
    low: dict[tuple[int, int], np.ndarray] = {}
    for j in range(D):
        pivot = upper[index[j, j]].copy()
        for k in range(j):
            pivot -= low[j, k] ** 2
        if not np.all(pivot > tiny * upper[index[j, j]]):
            raise np.linalg.LinAlgError("a matrix is not positive definite")
        low[j, j] = np.sqrt(pivot)
        for i in range(j + 1, D):
            entry = upper[index[i, j]].copy()
            for k in range(j):
                entry -= low[i, k] * low[j, k]
            low[i, j] = entry / low[j, j]
    forward = []
    for i in range(D):
        entry = rhs[i].copy()
        for k in range(i):
            entry -= low[i, k] * forward[k]
        forward.append(entry / low[i, i])
    solved: list[np.ndarray] = [forward[0]] * D
    for i in range(D - 1, -1, -1):
        entry = forward[i]
        for k in range(i + 1, D):
            entry -= low[k, i] * solved[k]
        solved[i] = entry / low[i, i]
    return np.stack(solved)


def cholesky_solve(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``L L^T x = b`` for stacked lower factors ``(m, D, D)`` and ``b`` of shape (m, D),
    by forward and back substitution vectorised over the ``m`` systems."""
    D = rhs.shape[1]
    y = np.empty_like(rhs)
    for d in range(D):
        y[:, d] = (rhs[:, d] - np.einsum("mk,mk->m", chol[:, d, :d], y[:, :d])) / chol[:, d, d]
    x = np.empty_like(rhs)
    for d in range(D - 1, -1, -1):
        x[:, d] = (y[:, d] - np.einsum("mk,mk->m", chol[:, d + 1 :, d], x[:, d + 1 :])) / chol[
            :, d, d
        ]
    return x
