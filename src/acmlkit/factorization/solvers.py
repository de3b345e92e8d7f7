"""The numerical core of ALS: every row's regularised normal equations, solved in batches.

Kept apart from the estimator (:mod:`acmlkit.factorization.als`) so that other
factorisation models (a Gibbs sampler's row updates are the same systems with a
random right-hand side) share one tested solver.

Two paths. For small systems (``D <= 12``) every Gram entry is one vector over
all rows (structure of arrays) and the Cholesky runs on those vectors. Past
that, rows go in blocks of about ``BLOCK_ENTRIES`` entries (:class:`RowPlan`,
:func:`row_systems`): each row's entries are gathered into padded pieces whose
``[F t]^T [F t]`` BLAS computes as one ``syrk`` per piece, and each block's
systems are solved by one stacked LAPACK call. The blocks run on as many
threads as BLAS may use (:func:`run_plans`) and never hold an array of a whole
side's Gram matrices: at MovieLens-25M's size and K = 32 a sweep's working set
stays in the tens of MB per thread.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
    stacked Cholesky factorisation. For ``D > 12`` the work goes to the blocked
    path instead (module docstring); ``pattern`` is then not used.

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
    if D > _PACKED_MAX_D:
        return _blocked_half_step(values, fixed, reg, offsets, reg_exponent)
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
    if D > _PACKED_MAX_D:
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
    return back_substitute(chol, forward_substitute(chol, rhs))


def forward_substitute(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``L y = b`` for stacked lower triangular ``L`` (m, D, D) and ``b`` (m, D)."""
    D = rhs.shape[1]
    y = np.empty_like(rhs)
    for d in range(D):
        y[:, d] = (rhs[:, d] - np.einsum("mk,mk->m", chol[:, d, :d], y[:, :d])) / chol[:, d, d]
    return y


def back_substitute(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``L^T x = b`` for stacked lower triangular ``L`` (m, D, D) and ``b`` (m, D)."""
    D = rhs.shape[1]
    x = np.empty_like(rhs)
    for d in range(D - 1, -1, -1):
        x[:, d] = (rhs[:, d] - np.einsum("mk,mk->m", chol[:, d + 1 :, d], x[:, d + 1 :])) / chol[
            :, d, d
        ]
    return x


def gaussian_rows(precision: np.ndarray, shift: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Draws from ``N(P^{-1} h, P^{-1})`` for stacked precisions, given the standard normals.

    With ``P = L L^T`` (Cholesky), ``x = L^{-T} (L^{-1} h + z)``: the mean
    ``P^{-1} h`` plus ``L^{-T} z``, whose covariance is ``L^{-T} L^{-1} = P^{-1}``.
    One factorisation serves both, and the same ``z`` give the same draw, which
    is what lets a test replay a sampler's update exactly.

    Parameters
    ----------
    precision : ndarray of shape (m, D, D)
        Symmetric positive definite.
    shift : ndarray of shape (m, D)
        The precision-weighted mean ``h = P mu``.
    noise : ndarray of shape (m, D)
        Standard normal draws ``z``.

    Returns
    -------
    ndarray of shape (m, D)
    """
    chol = np.linalg.cholesky(precision)
    return back_substitute(chol, forward_substitute(chol, shift) + noise)


# Largest D for which the structure-of-arrays kernels above win; past it the
# O(D^3) vector operations lose to one BLAS call per chunk of entries.
_PACKED_MAX_D = 12

# Padded lengths of the pieces in :func:`row_systems`: a row of ``c``
# entries becomes pieces of LONGEST entries plus one of the smallest length here
# that holds the rest, so padding wastes at most a quarter beyond 16 entries.
PIECE_LENGTHS = np.array([4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160,
                          192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024])
LONGEST = int(PIECE_LENGTHS[-1])

# Entries per block of rows: a block's gathered factors and Gram matrices stay
# in the tens of MB whatever the data size.
BLOCK_ENTRIES = 1 << 18


def row_blocks(indptr: np.ndarray, block_entries: int = BLOCK_ENTRIES) -> list[tuple[int, int]]:
    """Split rows ``0..m`` into consecutive ``(start, stop)`` ranges of about
    ``block_entries`` entries each (a row longer than that is a block of its own)."""
    m = indptr.size - 1
    cuts = np.searchsorted(indptr, np.arange(0, indptr[-1], block_entries), side="left")
    cuts = np.unique(np.r_[0, cuts, m])
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))


@dataclass(frozen=True, eq=False)
class RowPlan:
    """Where every entry of a block of rows goes in :func:`row_systems`' padded stack.

    It depends on the sparsity pattern only, so a sampler that revisits the same
    pattern every sweep builds it once (:func:`plan_rows`). Indices are local to
    the block and int32: 12 bytes per entry.

    Attributes
    ----------
    start, stop : int
        The block's rows.
    lo : int
        CSR position of the block's first entry.
    index : ndarray of shape (n_slots,)
        Column of the entry in each slot; -1 (the last row, a zero row appended
        to the factors) for padding.
    slots, entries : ndarray of shape (nnz_block,)
        Slot of each entry and its CSR position minus ``lo``.
    piece_rows : ndarray of shape (n_pieces,)
        Row of each piece (absolute).
    bounds : list of (first piece, last piece + 1, length, first slot)
        Runs of pieces of one padded length.
    single : int
        Pieces ``0..single`` are whole rows; the rest belong to ``long_rows``.
    long_rows : ndarray
        Rows of more than ``LONGEST`` entries (absolute).
    long_of_piece : ndarray of shape (n_pieces - single,)
        Position in ``long_rows`` of each remaining piece.
    """

    start: int
    stop: int
    lo: int
    index: np.ndarray
    slots: np.ndarray
    entries: np.ndarray
    piece_rows: np.ndarray
    bounds: list
    single: int
    long_rows: np.ndarray
    long_of_piece: np.ndarray


def plan_block(indptr: np.ndarray, indices: np.ndarray, start: int, stop: int) -> RowPlan:
    """The :class:`RowPlan` of rows ``start..stop`` of a CSR pattern."""
    counts = np.diff(indptr[start:stop + 1])
    lo = int(indptr[start])
    # Pieces: full ones of LONGEST entries, then each row's rest.
    full = counts // LONGEST
    rest = counts - full * LONGEST
    piece_row = np.concatenate([np.repeat(np.arange(stop - start), full),
                                np.flatnonzero(rest)])
    size = np.concatenate([np.full(full.sum(), LONGEST), rest[rest > 0]])
    # Entries of a row are consecutive in CSR; its pieces take LONGEST, LONGEST,
    # ..., then the rest, in entry order.
    rank = np.concatenate([_within(full), full[rest > 0]])
    padded = PIECE_LENGTHS[np.searchsorted(PIECE_LENGTHS, size)]
    long_row = full > 0
    # One-piece rows first, then the pieces of long rows; each part by padded
    # length, so every length's pieces are one contiguous slice of one stack.
    order = np.lexsort((padded, long_row[piece_row]))
    piece_row, size, padded, rank = piece_row[order], size[order], padded[order], rank[order]
    first_entry = indptr[start:stop][piece_row] - lo + rank * LONGEST
    slot_start = np.concatenate([[0], np.cumsum(padded)])
    within = _within(size)
    entries = np.repeat(first_entry, size) + within
    slots = np.repeat(slot_start[:-1], size) + within
    index = np.full(int(slot_start[-1]), -1, dtype=np.int64)
    index[slots] = indices[lo + entries]
    runs = np.flatnonzero(np.diff(padded, prepend=-1, append=-1))
    bounds = [(int(a), int(b), int(padded[a]), int(slot_start[a]))
              for a, b in zip(runs[:-1], runs[1:])]
    single = int(np.count_nonzero(~long_row[piece_row]))
    long_rows = np.flatnonzero(long_row)
    return RowPlan(
        start=start, stop=stop, lo=lo, index=index.astype(np.int32), slots=slots.astype(np.int32),
        entries=entries.astype(np.int32), piece_rows=start + piece_row, bounds=bounds,
        single=single, long_rows=start + long_rows,
        long_of_piece=np.searchsorted(long_rows, piece_row[single:]))


def plan_rows(indptr: np.ndarray, indices: np.ndarray,
              block_entries: int = BLOCK_ENTRIES) -> list[RowPlan]:
    """:class:`RowPlan` of every block of rows (see :func:`row_blocks`)."""
    return [plan_block(indptr, indices, a, b) for a, b in row_blocks(indptr, block_entries)]


def row_systems(plan: RowPlan, targets: np.ndarray, fixed: np.ndarray
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every row's Gram matrix, right-hand side and squared targets, for one block of rows.

    Row ``i`` has design matrix ``F_i = fixed[indices of row i]`` and targets
    ``t_i``. Its entries are gathered, with the target as one more column, into
    zero-padded pieces (see ``PIECE_LENGTHS``); pieces of one padded length are
    stacked, and one batched product of the stack with its own transpose (which
    numpy hands to BLAS ``syrk``, one call per piece) gives every piece's
    ``[F t]^T [F t]``. Most rows are one piece; the pieces of longer rows are
    summed. So ``F_i^T F_i``, ``F_i^T t_i`` and ``|t_i|^2`` come from one pass
    over the entries at BLAS speed, and nothing is of the full matrix's size.

    Parameters
    ----------
    plan : RowPlan
        Where the block's entries go (:func:`plan_block`).
    targets : ndarray of shape (nnz,)
        Target of every entry, in CSR order.
    fixed : ndarray of shape (n, D)
        The other side's factors.

    Yields
    ------
    rows : ndarray of shape (k,)
        Row indices (absolute); every row of the block with entries comes exactly
        once (in at most two groups), rows without entries never.
    systems : ndarray of shape (k, D + 1, D + 1)
        ``[[F^T F, F^T t], [t^T F, t^T t]]`` of each of those rows.
    """
    n, D = fixed.shape
    # Padding slots hold index -1: the zero row appended to the factors.
    extended = np.zeros((n + 1, D + 1), dtype=fixed.dtype)
    extended[:n, :D] = fixed
    stack = np.take(extended, plan.index, axis=0)
    stack[plan.slots, D] = targets[plan.lo + plan.entries]
    gram = np.empty((plan.piece_rows.size, D + 1, D + 1), dtype=fixed.dtype)
    for a, b, length, slot in plan.bounds:
        part = stack[slot:slot + (b - a) * length].reshape(b - a, length, D + 1)
        np.matmul(part.transpose(0, 2, 1), part, out=gram[a:b])
    if plan.single:
        yield plan.piece_rows[:plan.single], gram[:plan.single]
    if plan.long_rows.size:
        summed = np.zeros((plan.long_rows.size, D + 1, D + 1), dtype=fixed.dtype)
        np.add.at(summed, plan.long_of_piece, gram[plan.single:])
        yield plan.long_rows, summed


def _within(sizes: np.ndarray) -> np.ndarray:
    """``concatenate([arange(k) for k in sizes])``, vectorised."""
    return np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def run_plans(plans: list[RowPlan], work: Callable[[RowPlan], None]) -> None:
    """Call ``work(plan)`` for every block, on as many threads as BLAS may use (BLAS
    itself one-threaded meanwhile).

    Blocks write disjoint rows and never depend on the order they run in, so the
    result is the same bit for bit for any number of threads.
    """
    threads = _blas_threads() if len(plans) > 1 else 1
    if threads <= 1:
        for plan in plans:
            work(plan)
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work, plan) for plan in plans]:
            future.result()


def _blas_threads() -> int:
    """Threads BLAS is currently allowed (``threadpool_limits`` sets it), at least 1."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return max(1, min(counts)) if counts else 1


# Plans of the CSR matrices ALS revisits every sweep, by object, each dropped
# with its matrix (sparse matrices are not hashable, so keyed by id with a weak
# reference to tell a reused id apart). A pattern changed in place would need
# a new matrix object.
_PLANS: dict[int, tuple[weakref.ref, list]] = {}


def cached_plans(values: sp.csr_matrix) -> list[RowPlan]:
    """:func:`plan_rows` of ``values``, built on first use and kept while it lives."""
    key = id(values)
    entry = _PLANS.get(key)
    if entry is not None and entry[0]() is values:
        return entry[1]
    plans = plan_rows(values.indptr, values.indices)
    _PLANS[key] = (weakref.ref(values, lambda _, key=key: _PLANS.pop(key, None)), plans)
    return plans


def _blocked_half_step(values, fixed, reg, offsets, reg_exponent):
    """:func:`batched_half_step` for large ``D``: per model, rows in blocks through
    :func:`row_systems`, each block's systems solved by one stacked LAPACK call."""
    B, n, D = fixed.shape
    m = values.shape[0]
    dtype = fixed.dtype
    counts = np.diff(values.indptr)
    penalty = ((counts.astype(dtype) ** reg_exponent)[:, None]
               * np.broadcast_to(np.asarray(reg, dtype), (D,)))
    # With every penalty positive the systems are positive definite and LU
    # (numpy's batched solve) is about 2x faster than its Cholesky plus the
    # substitutions; without, only Cholesky tells a singular system apart.
    definite = bool(np.all(np.asarray(reg) > 0))
    solved = np.zeros((B, m, D), dtype)
    sse = np.zeros((B, m))
    diagonal = np.arange(D)
    plans = cached_plans(values)
    for b in range(B):
        targets = values.data.astype(dtype, copy=False)
        if offsets is not None:
            targets = targets - offsets[b, values.indices]

        def work(plan, b=b, targets=targets):
            for rows, system in row_systems(plan, targets, fixed[b]):
                gram, rhs, sq = system[:, :D, :D], system[:, :D, D], system[:, D, D]
                gram[:, diagonal, diagonal] += penalty[rows]
                try:
                    if definite:
                        x = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
                    else:
                        x = cholesky_solve(np.linalg.cholesky(gram), rhs)
                except np.linalg.LinAlgError:
                    raise ValueError(
                        "the normal equations of some row are singular (fewer observed "
                        f"entries than factors, K + biases = {D}, with zero regularisation); "
                        "raise u_lambda/v_lambda") from None
                solved[b, rows] = x
                sse[b, rows] = (sq - np.einsum("md,md->m", x, rhs)
                                - np.einsum("md,md->m", penalty[rows], x**2))

        run_plans(plans, work)
    return solved, np.maximum(sse.sum(axis=1), 0.0)
