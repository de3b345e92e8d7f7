"""Exact EM for Gaussian mixtures with entries missing at random.

For a row with observed coordinates o and missing m, and a component with
mean mu and precision P = Sigma^-1, let x0 be the row with zeros at m,
b = mu with zeros at o, r = x0 - mu + b (zeros at m) and u = P r.  Then
(Schur complements of P; Ghahramani & Jordan, 1994 for the EM):

    r_o^T Sigma_oo^-1 r_o = r^T u - u_m^T y,   y = P_mm^-1 u_m
    log det Sigma_oo      = log det Sigma + log det P_mm
    E[x_m | x_o]          = f = mu_m - y
    Cov[x_m | x_o]        = P_mm^-1

and r^T P r = (x0 - mu)^T P (x0 - mu) + 2 mu_m^T u_m - b^T P b.  The first
term is the complete-data form of x0, linear in its quadratic features: one
(K, width) x (width, n) product, the complete-data kernel's.  Everything else
is a correction at the missing slots, computed row by row in compiled code
with a group of 8 components as one vector (``_simd.Lanes``):

- per run of rows with one pattern (rows are sorted by pattern): the Cholesky
  factor of P_mm, its inverse and log det, b^T P b and (P (mu - b))_m;
- per row: u_m = (P x0)_m - (P (mu - b))_m, y and the fills f; then the
  chunk's responsibilities by the compiled log-sum-exp, and per row its part
  of the statistics below.

The M-step's E[x x^T] = x0 x0^T + x0 f^T + f x0^T + f f^T + P_mm^-1 is built
the same way: x0 x0^T and the sums of x0 from the quadratic features, the
rest accumulated per row.  A chunk's features, log densities and
responsibilities pass through the E-step and the statistics while in cache.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture import _simd as V
from acmlkit.mixture._compiled import _JIT, _normalise, accumulate_weighted_sums
from acmlkit.mixture._kernels import FeatureSource, QuadraticFullKernel

_LOG_2PI = math.log(2 * math.pi)
_NOT_POSITIVE_DEFINITE = (
    "a covariance restricted to observed columns is not positive definite; increase reg_covar"
)


def dense_precision_cholesky(prec_chol, covariance_type: str, K: int, D: int) -> np.ndarray:
    """Full-layout precision Cholesky factors (K, D, D) of any covariance type."""
    pc = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "full":
        return pc
    if covariance_type == "tied":
        return np.broadcast_to(pc, (K, D, D))
    if covariance_type == "diag":
        return pc[:, :, None] * np.eye(D)
    return pc[:, None, None] * np.eye(D)


# Components are the vector axis: each per-pattern and per-row step does the same
# arithmetic for every component, so arrays put them last, padded to whole
# groups of W (see components_last), and every step works on one group as a Lanes value.
W = V.WIDTH


@numba.njit(**_JIT)
def _pattern_terms(g, run_start, ptr, cols, P, mu, PMu, squares, slots, inverses, Pa, mu_m, corr):
    """For component group g and each run r of rows with one pattern, starting at
    row i = run_start[r] with missing columns m = cols[ptr[i] : ptr[i + 1]]:
    P_mm^-1, (P (mu - b))_m, mu_m and 0.5 (c log 2pi - log det P_mm + b^T P b)
    into corr[g, r]; False if some P_mm is not positive definite.

    The runs' terms lie packed in flat arrays, a group after another: P_mm^-1
    (c, c, W) at offset (g squares[-1] + squares[r]) W of ``inverses``, the
    vectors (c, W) at (g slots[-1] + slots[r]) W of ``Pa`` and ``mu_m``.
    """
    D, Kp = P.shape[1], P.shape[2]
    o = g * W
    runs = run_start.shape[0]
    chol, linv = np.empty((D, D, W)), np.empty((D, D, W))
    for r in range(runs):
        lo = ptr[run_start[r]]
        c = ptr[run_start[r] + 1] - lo
        at_inverse = (g * squares[runs] + squares[r]) * W
        at_vector = (g * slots[runs] + slots[r]) * W
        b_P_b = V.splat(0.0)
        det = V.splat(1.0)
        for a in range(c):
            ca = cols[lo + a]
            s = V.splat(0.0)
            for b in range(c):
                cb = cols[lo + b]
                s = V.fma(V.load(P, (ca * D + cb) * Kp + o), V.load(mu, cb * Kp + o), s)
            mean = V.load(mu, ca * Kp + o)
            V.store(Pa, at_vector + a * W, V.sub(V.load(PMu, ca * Kp + o), s))
            V.store(mu_m, at_vector + a * W, mean)
            b_P_b = V.fma(mean, s, b_P_b)
        # P_mm = L L^T, row by row; the reciprocal pivots sit in linv's diagonal.
        for a in range(c):
            ca = cols[lo + a]
            for b in range(a + 1):
                s = V.load(P, (ca * D + cols[lo + b]) * Kp + o)
                for t in range(b):
                    s = V.fnma(V.load(chol, (a * D + t) * W), V.load(chol, (b * D + t) * W), s)
                if b < a:
                    V.store(chol, (a * D + b) * W, V.mul(s, V.load(linv, (b * D + b) * W)))
                    continue
                if not V.all_positive(s):
                    return False
                det = V.mul(det, s)
                root = V.sqrt(s)
                V.store(chol, (a * D + a) * W, root)
                V.store(linv, (a * D + a) * W, V.div(V.splat(1.0), root))
        # L^-1 by columns, then P_mm^-1 = L^-T L^-1.
        for b in range(c):
            for a in range(b + 1, c):
                s = V.splat(0.0)
                for t in range(b, a):
                    s = V.fma(V.load(chol, (a * D + t) * W), V.load(linv, (t * D + b) * W), s)
                pivot = V.load(linv, (a * D + a) * W)
                V.store(linv, (a * D + b) * W, V.fnma(s, pivot, V.splat(0.0)))
        for a in range(c):
            for b in range(a + 1):
                s = V.splat(0.0)
                for t in range(a, c):
                    s = V.fma(V.load(linv, (t * D + a) * W), V.load(linv, (t * D + b) * W), s)
                V.store(inverses, at_inverse + (a * c + b) * W, s)
                V.store(inverses, at_inverse + (b * c + a) * W, s)
        for v in range(W):
            # One log of the product of the pivots, unless it leaves the float range.
            product = V.lane(det, v)
            if 0.0 < product < np.inf:
                log_det = math.log(product)
            else:
                log_det = 0.0
                for a in range(c):
                    log_det += 2.0 * math.log(chol[a, a, v])
            corr[g, r, v] = 0.5 * (c * _LOG_2PI - log_det + V.lane(b_P_b, v))
    return True


@numba.njit(**_JIT)
def _chunk_pass(
    log_prob, start, x0, ptr, cols, pattern, P, mu, PMu, weight,
    point_ll, joint, imputed, accumulate, mm, cross, fill_sums,
):  # fmt: skip
    """Turn a chunk's complete-data log densities of x0 (K, m), rows start.., into
    responsibilities of the observed entries, in place, and use them.

    Writes each row's log-likelihood to ``point_ll``; if ``joint`` / ``imputed``
    have rows, the rows' joint log densities (K, n) / x0 with the missing
    entries filled by E[x_m | x_o]; if ``accumulate``, leaves the weighted
    responsibilities in ``log_prob`` and adds the weighted f f^T + P_mm^-1
    (mm, its lower triangle), f x0^T (cross) and f (fill_sums).  P, mu,
    PMu = P mu, mm, cross and fill_sums have the components last, padded
    (``components_last``).  Returns False if some P_mm is not positive definite.
    """
    K, m = log_prob.shape
    D = x0.shape[1]
    Kp = P.shape[2]
    groups = Kp // W
    stop = start + m
    base = ptr[start]
    # Each run of rows with one pattern starts at run_start[r]; its terms are
    # packed by squares and slots (see _pattern_terms), a row's fills at its slots.
    run_of = np.empty(m, dtype=np.int64)
    run_start = np.empty(m, dtype=np.int64)
    squares = np.zeros(m + 1, dtype=np.int64)
    slots = np.zeros(m + 1, dtype=np.int64)
    runs = 0
    for j in range(m):
        i = start + j
        c = ptr[i + 1] - ptr[i]
        if c > 0 and (runs == 0 or pattern[i] != pattern[run_start[runs - 1]]):
            run_start[runs] = i
            squares[runs + 1] = squares[runs] + c * c
            slots[runs + 1] = slots[runs] + c
            runs += 1
        run_of[j] = runs - 1
    squares, slots = squares[: runs + 1], slots[: runs + 1]
    inverses = np.empty(groups * squares[runs] * W)
    Pa = np.empty(groups * slots[runs] * W)
    mu_m = np.empty(groups * slots[runs] * W)
    corr = np.empty((groups, runs, W))
    fills = np.empty((groups, ptr[stop] - base, W))
    u = np.empty((D, W))
    for g in range(groups):
        o = g * W
        lanes = min(W, K - o)
        ok = _pattern_terms(
            g, run_start[:runs], ptr, cols, P, mu, PMu, squares, slots, inverses, Pa, mu_m, corr
        )
        if not ok:
            return False
        for j in range(m):
            i = start + j
            lo = ptr[i]
            c = ptr[i + 1] - lo
            if c == 0:
                continue
            r = run_of[j]
            at_inverse = (g * squares[runs] + squares[r]) * W
            at_vector = (g * slots[runs] + slots[r]) * W
            at_fill = (g * (ptr[stop] - base) + lo - base) * W
            for a in range(c):
                # (P x0)_a in two chains, which the FMA latency would otherwise serialise.
                row = cols[lo + a] * D * Kp + o
                even, odd = V.splat(0.0), V.splat(0.0)
                for d in range(0, D - 1, 2):
                    even = V.fma(V.splat(x0[i, d]), V.load(P, row + d * Kp), even)
                    odd = V.fma(V.splat(x0[i, d + 1]), V.load(P, row + (d + 1) * Kp), odd)
                if D % 2:
                    even = V.fma(V.splat(x0[i, D - 1]), V.load(P, row + (D - 1) * Kp), even)
                V.store(u, a * W, V.sub(V.add(even, odd), V.load(Pa, at_vector + a * W)))
            q = V.load(corr, (g * runs + r) * W)
            for a in range(c):
                y = V.splat(0.0)
                for b in range(c):
                    y = V.fma(V.load(inverses, at_inverse + (a * c + b) * W), V.load(u, b * W), y)
                mean_a = V.load(mu_m, at_vector + a * W)
                V.store(fills, at_fill + a * W, V.sub(mean_a, y))
                # u^T y / 2 - mu_m^T u.
                q = V.fma(V.load(u, a * W), V.sub(V.mul(V.splat(0.5), y), mean_a), q)
            # A fixed lane count, so that extracting lane v is a register move.
            for v in range(W):
                if v < lanes:
                    log_prob[o + v, j] += V.lane(q, v)
    if joint.shape[1] > 0:
        # Loops, not array assignments: those cost numba seconds of compilation.
        for k in range(K):
            for j in range(m):
                joint[k, start + j] = log_prob[k, j]
    chunk_ll = _normalise(log_prob)
    for j in range(m):
        point_ll[start + j] = chunk_ll[j]
    if imputed.shape[0] > 0:
        for j in range(m):
            i = start + j
            for d in range(D):
                imputed[i, d] = x0[i, d]
            for a in range(ptr[i + 1] - ptr[i]):
                value = 0.0
                for k in range(K):
                    value += log_prob[k, j] * fills[k // W, ptr[i] - base + a, k % W]
                imputed[i, cols[ptr[i] + a]] = value
    if not accumulate:
        return True
    for k in range(K):
        for j in range(m):
            log_prob[k, j] *= weight[start + j]
    resp = np.empty(W)
    mass = np.empty((runs, W))
    for g in range(groups):
        o = g * W
        lanes = min(W, K - o)
        for r in range(runs):
            V.store(mass, r * W, V.splat(0.0))
        for j in range(m):
            i = start + j
            lo = ptr[i]
            c = ptr[i + 1] - lo
            if c == 0:
                continue
            for v in range(W):
                # Padding lanes get responsibility 0, in every group.
                resp[v] = log_prob[o + v, j] if v < lanes else 0.0
            rw = V.load(resp, 0)
            r = run_of[j]
            V.store(mass, r * W, V.add(V.load(mass, r * W), rw))
            at_fill = (g * (ptr[stop] - base) + lo - base) * W
            for a in range(c):
                ca = cols[lo + a]
                weighted = V.mul(rw, V.load(fills, at_fill + a * W))
                at = ca * Kp + o
                V.store(fill_sums, at, V.add(V.load(fill_sums, at), weighted))
                row = ca * D * Kp + o
                for d in range(D):
                    at = row + d * Kp
                    V.store(cross, at, V.fma(weighted, V.splat(x0[i, d]), V.load(cross, at)))
                # The lower triangle only (columns ascend): statistics() mirrors it.
                for b in range(a + 1):
                    at = row + cols[lo + b] * Kp
                    fill_b = V.load(fills, at_fill + b * W)
                    V.store(mm, at, V.fma(weighted, fill_b, V.load(mm, at)))
        # Each run's P_mm^-1, weighted by its rows' total responsibility.
        for r in range(runs):
            lo = ptr[run_start[r]]
            c = ptr[run_start[r] + 1] - lo
            run_mass = V.load(mass, r * W)
            at_inverse = (g * squares[runs] + squares[r]) * W
            for a in range(c):
                for b in range(a + 1):
                    at = (cols[lo + a] * D + cols[lo + b]) * Kp + o
                    entry = V.load(inverses, at_inverse + (a * c + b) * W)
                    V.store(mm, at, V.fma(run_mass, entry, V.load(mm, at)))
    return True


class MissingPatterns:
    """Rows with NaN (n, D), already centred, sorted by missingness pattern.

    ``order`` maps sorted positions to the caller's rows. Per sorted row: x0
    (zeros at the missing entries), its missing columns (``cols[ptr[i]:ptr[i+1]]``,
    ascending) and its pattern's number.
    """

    def __init__(self, Xc: np.ndarray, K: int):
        Xc = np.asarray(Xc, dtype=np.float64)
        mask = np.isnan(Xc)
        empty = np.flatnonzero(mask.all(axis=1))
        if empty.size:
            raise DataError(
                f"X row {empty[0]} has no observed value; drop rows that are entirely missing"
            )
        self.n, self.D = Xc.shape
        self.K = K
        pattern = _pattern_ids(mask)
        self.order = np.argsort(pattern, kind="stable")
        self.pattern = np.ascontiguousarray(pattern[self.order])
        sorted_mask = mask[self.order]
        self.x0 = np.where(sorted_mask, 0.0, Xc[self.order])
        self.ptr = np.r_[0, np.cumsum(sorted_mask.sum(axis=1))]
        self.cols = np.nonzero(sorted_mask)[1]
        self.kernel = QuadraticFullKernel(K, self.D, np.float64)
        # The quadratic features of x0, so one product gives x0^T P x0 for all rows.
        self.features = FeatureSource(self.kernel, self.x0)

    def e_pass(self, weights, means, prec_chol, covariance_type, weight=None, stats=None,
               joint=None, imputed=None):  # fmt: skip
        """One pass over the chunks; returns the per-row log-likelihoods (n,).

        With ``stats`` (from :meth:`new_stats`) adds the weighted statistics; with
        ``joint`` (K, n) / ``imputed`` (n, D) fills those in, all in sorted order.
        """
        K, D = self.K, self.D
        dense_chol = dense_precision_cholesky(prec_chol, covariance_type, K, D)
        kernel = self.kernel
        kernel.set_parameters(weights, means, dense_chol)
        P = dense_chol @ dense_chol.transpose(0, 2, 1)
        mu = np.asarray(means, dtype=np.float64)
        PMu = V.components_last(np.einsum("kde,ke->kd", P, mu), 0.0)
        # Padding lanes get identity precisions: factorable, and their weight is 0.
        P, mu = V.components_last(P, np.eye(D)[:, :, None]), V.components_last(mu, 0.0)
        w = np.ones(self.n) if weight is None else weight
        point_ll = np.empty(self.n)
        # Arrays without rows tell the compiled loop what not to write.
        joint = np.empty((K, 0)) if joint is None else joint
        imputed = np.empty((0, D)) if imputed is None else imputed
        sink = stats
        if stats is None:
            sink = {"mm": np.empty((0, 0, 0)), "cross": np.empty((0, 0, 0))}
            sink["fill_sums"] = np.empty((0, 0))
        for points in self.features.chunks():
            F = self.features[points]
            resp = kernel.log_prob(F)
            ok = _chunk_pass(
                resp, points.start, self.x0, self.ptr, self.cols, self.pattern, P, mu, PMu, w,
                point_ll, joint, imputed,
                stats is not None, sink["mm"], sink["cross"], sink["fill_sums"],
            )  # fmt: skip
            if not ok:
                raise ValueError(_NOT_POSITIVE_DEFINITE)
            if stats is not None:
                accumulate_weighted_sums(resp, F, stats["moments"], stats["nk"])
        return point_ll

    def new_stats(self):
        K, D = self.K, self.D
        padded = V.padded_count(K)
        return {
            "nk": np.zeros(K),
            "moments": np.zeros((K, self.kernel.width)),
            # Components padded to whole lane groups (see components_last).
            "mm": np.zeros((D, D, padded)),
            "cross": np.zeros((D, D, padded)),
            "fill_sums": np.zeros((D, padded)),
        }

    def statistics(self, stats):
        """nk (K,), sums (K, D) and sxx (K, D, D) of the expected complete data."""
        D = self.D
        moments = stats["moments"]
        q = self.kernel.n_quadratic
        rows, cols = np.triu_indices(D)
        sxx = np.empty((self.K, D, D))
        sxx[:, rows, cols] = moments[:, :q]
        sxx[:, cols, rows] = moments[:, :q]
        K = self.K
        cross = np.moveaxis(stats["cross"][..., :K], -1, 0)
        lower = np.moveaxis(stats["mm"][..., :K], -1, 0)
        mm = lower + lower.transpose(0, 2, 1)
        mm[:, np.arange(D), np.arange(D)] /= 2
        sxx += mm + cross + cross.transpose(0, 2, 1)
        sums = moments[:, q:] + stats["fill_sums"][:, :K].T
        return stats["nk"], sums, sxx


def _pattern_ids(mask: np.ndarray) -> np.ndarray:
    """Each row's number among the distinct rows of a boolean matrix (sorted)."""
    D = mask.shape[1]
    if D <= 62:
        # One integer per row: np.unique on it is far faster than on rows.
        codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(D, dtype=np.int64))
        return np.unique(codes, return_inverse=True)[1].reshape(-1)
    return np.unique(mask, axis=0, return_inverse=True)[1].reshape(-1)


class MissingEngine:
    """E-steps and M-step statistics of exact EM on data with NaN entries."""

    dtype = np.dtype(np.float64)

    def __init__(self, X, weight, covariance_type: str, K: int, reg_covar: float):
        X = np.asarray(X, dtype=np.float64)
        mask = np.isnan(X)
        w = np.ones(X.shape[0]) if weight is None else weight
        observed_weight = (~mask * w[:, None]).sum(axis=0)
        if np.any(observed_weight <= 0):
            col = int(np.argmax(observed_weight <= 0))
            raise DataError(f"X column {col} has no observed value")
        self.center = np.where(mask, 0.0, X * w[:, None]).sum(axis=0) / observed_weight
        Xc = X - self.center
        self.patterns = MissingPatterns(Xc, K)
        # Centred, so zeros are the column means: the initialisation's imputation.
        self.filled = np.where(mask, 0.0, Xc)
        self.weight = None if weight is None else weight[self.patterns.order]
        self.total_weight = float(w.sum())
        self.covariance_type = covariance_type
        self.K, self.D = K, X.shape[1]

    def e_pass(self, params):
        """Mean log-likelihood of the observed entries and the expected statistics."""
        weights, means, prec_chol = params
        patterns, weight = self.patterns, self.weight
        stats = patterns.new_stats()
        point_ll = patterns.e_pass(
            weights, means, prec_chol, self.covariance_type, weight=weight, stats=stats
        )
        log_lik = point_ll.sum() if weight is None else float(weight @ point_ll)
        nk, sums, sxx = patterns.statistics(stats)
        return log_lik / self.total_weight, {"nk": nk, "sums": sums, "sxx": sxx}

    def sums(self, stats):
        return stats["sums"]

    def covariances(self, stats, nk, means, reg_covar):
        D = self.D
        full = stats["sxx"] / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        kind = self.covariance_type
        if kind == "full":
            full[:, np.arange(D), np.arange(D)] += reg_covar
            return full
        if kind == "tied":
            tied = (nk[:, None, None] * full).sum(axis=0) / nk.sum()
            tied[np.diag_indices(D)] += reg_covar
            return tied
        diag = np.diagonal(full, axis1=1, axis2=2)
        if kind == "diag":
            return diag + reg_covar
        return diag.mean(axis=1) + reg_covar


def missing_log_prob_and_impute(Xc, weights, means, prec_chol, covariance_type):
    """Joint log densities of the observed entries (K, n), and rows (n, D) with each NaN
    replaced by E[x_m | x_o] under the mixture (all in centred coordinates)."""
    K = len(weights)
    patterns = MissingPatterns(Xc, K)
    joint = np.empty((K, patterns.n))
    imputed = np.empty((patterns.n, patterns.D))
    patterns.e_pass(weights, means, prec_chol, covariance_type, joint=joint, imputed=imputed)
    out_joint = np.empty_like(joint)
    out_joint[:, patterns.order] = joint
    out = np.empty_like(imputed)
    out[patterns.order] = imputed
    return out_joint, out
