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
(K, width) x (width, n) product, the complete-data E-step's.  Everything
else is a correction at the missing slots:

- (P x0)_m: for each column j one (K, D) x (D, n_j) product over the n_j
  rows missing j (their x0 gathered once per fit), c/D of a full P x0;
- b^T P b, (P b)_m, P_mm^-1 and log det P_mm once per missingness pattern;
  the inverses bordered along a prefix tree of the patterns' sorted missing
  columns, O(c^2) per pattern from its parent's;
- c x c products per row for y, batched over blocks of rows with the same c.

The M-step's E[x x^T] = x0 x0^T + x0 f^T + f x0^T + f f^T + P_mm^-1 is built
the same way: x0 x0^T from the quadratic features, the cross part by one
product per column j over the rows missing j, and the (m, m) block reduced
per pattern (rows are sorted by pattern) or scattered per row.  Each block of
rows is normalised and accumulated right after its E-step, while its fills
are in cache.  Temporaries are O(n K c) at most, never O(n K D^2).
"""

from __future__ import annotations

import math

import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture._compiled import normalise_in_place
from acmlkit.mixture._kernels import QuadraticFullKernel
from acmlkit.mixture.densities import LOG_2PI, log_det_precision_cholesky

# Elements per temporary of the row-level work: small enough to stay in cache.
_BLOCK_ELEMENTS = 1 << 18
# Mean rows per pattern below which the (m, m) statistics are scattered per row.
_MIN_RUN = 6
# Elements per chunk of the quadratic features.
_FEATURE_ELEMENTS = 1 << 21
# The quadratic features of x0 are kept between EM iterations up to this size.
_FEATURE_CACHE_BYTES = 1 << 30


def dense_precisions(prec_chol, covariance_type: str, K: int, D: int) -> np.ndarray:
    """Precision matrices (K, D, D) from precision Cholesky factors of any layout."""
    pc = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "full":
        return pc @ pc.transpose(0, 2, 1)
    if covariance_type == "tied":
        return np.broadcast_to(pc @ pc.T, (K, D, D))
    if covariance_type == "diag":
        return (pc**2)[:, :, None] * np.eye(D)
    return (pc**2)[:, None, None] * np.eye(D)


def border_inverse(inverse, log_det, b, d, out=None):
    """Inverses of SPD matrices [[A, b], [b^T, d]] from A^-1, by the Schur complement.

    Parameters
    ----------
    inverse : array (..., t, t, B)
        A^-1 for each matrix; the batch axis last keeps the arithmetic on long rows.
    log_det : array (..., B)
        log det A.
    b : array (..., t, B)
    d : array (..., B)
    out : array (..., t + 1, t + 1, B), optional
        Where to write the inverses.

    Returns
    -------
    (..., t + 1, t + 1, B) inverses and (..., B) log determinants.
    """
    t = inverse.shape[-2]
    z = np.einsum("...ijn,...jn->...in", inverse, b)
    s = d - (b * z).sum(axis=-2)
    if np.any(s <= 0):
        raise ValueError(
            "a covariance restricted to observed columns is not positive definite; "
            "increase reg_covar"
        )
    if out is None:
        out = np.empty(s.shape[:-1] + (t + 1, t + 1) + s.shape[-1:])
    scaled = z / s[..., None, :]
    np.multiply(z[..., :, None, :], scaled[..., None, :, :], out=out[..., :t, :t, :])
    out[..., :t, :t, :] += inverse
    out[..., :t, t, :] = -scaled
    out[..., t, :t, :] = -scaled
    out[..., t, t, :] = 1 / s
    return out, log_det + np.log(s)


def _row_ids(mask: np.ndarray):
    """Distinct rows of a boolean matrix (sorted) and each row's index among them."""
    D = mask.shape[1]
    if D <= 62:
        # One integer per row: np.unique on it is far faster than on rows.
        codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(D, dtype=np.int64))
        unique_codes, inverse = np.unique(codes, return_inverse=True)
        unique = (unique_codes[:, None] >> np.arange(D)) & 1 == 1
    else:
        unique, inverse = np.unique(mask, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)


class _Workspace:
    """Arrays reused from one EM iteration to the next.

    Fresh multi-megabyte temporaries cost a page fault per 4 KiB on first
    touch, and the allocator hands them back to the system when freed: on
    one core that doubled the time of an E-step.
    """

    def __init__(self):
        self._flat: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape, dtype=np.float64) -> np.ndarray:
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.size < size:
            flat = self._flat[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


class _Group:
    """Sorted rows [start, end) with c missing entries, and their patterns' structure.

    Row-level arrays of the group have the layout (K, c, n_c): component,
    missing slot of the row (its columns ascending), row.
    """

    def __init__(self, c, start, end, columns, pattern_offset, pos, K, D, slot_offset):
        self.c, self.start, self.end = c, start, end
        self.columns = columns  # (P_c, c) missing columns of each pattern, ascending
        self.patterns = slice(pattern_offset, pattern_offset + len(columns))
        self.pos = pos  # (n_c,) pattern of each row, local to the group
        self.row_columns = np.ascontiguousarray(columns[pos].T)  # (c, n_c)
        self.slots = slice(slot_offset, slot_offset + c * (end - start))
        self.n_pairs = c * (c + 1) // 2
        first, second = np.triu_indices(c)
        self.pair_cells = first * c + second
        # Blocks of whole patterns (rows of a pattern are contiguous), so the
        # row-level sums reduce to pattern level by reduceat within a block.
        counts = np.bincount(pos, minlength=len(columns))
        bounds = np.r_[0, np.cumsum(counts)]
        step = max(16, _BLOCK_ELEMENTS // (c * c * K))
        self.blocks = []
        p = 0
        while p < len(columns):
            q = max(p + 1, int(np.searchsorted(bounds, bounds[p] + step, side="right")) - 1)
            block_counts = counts[p:q]
            # Targets in (K, D, D) of the (m, m) blocks' upper triangles, (K, pairs, patterns).
            cells = columns[p:q][:, first] * D + columns[p:q][:, second]
            target = (np.arange(K)[:, None, None] * D * D + cells.T[None]).ravel()
            runs = None if np.all(block_counts == 1) else bounds[p:q] - bounds[p]
            # reduceat pays per run: with short runs, scatter the rows themselves
            # (each row's pattern within the block, to expand the targets).
            local = None
            if runs is not None and (bounds[q] - bounds[p]) < _MIN_RUN * (q - p):
                local = pos[bounds[p] : bounds[q]] - p
            target = target.reshape(K, len(first), q - p)
            self.blocks.append((slice(bounds[p], bounds[q]), slice(p, q), runs, target, local))
            p = q


class MissingPatterns:
    """Rows with NaN (n, D), already centred, indexed by missingness pattern.

    Everything that depends only on where the NaN are is computed here, once:
    rows sorted by (number of missing entries, pattern) (``order`` maps sorted
    positions to the caller's rows), the slots (row, missing column) in the
    groups' layout and by column, the rows missing each column, and the prefix
    tree along which the P_mm^-1 are bordered.
    """

    def __init__(self, Xc: np.ndarray, K: int):
        Xc = np.asarray(Xc, dtype=np.float64)
        mask = np.isnan(Xc)
        empty = np.flatnonzero(mask.all(axis=1))
        if empty.size:
            raise DataError(
                f"X row {empty[0]} has no observed value; drop rows that are entirely missing"
            )
        self.n, self.D = n, D = Xc.shape
        self.K = K
        patterns, inverse = _row_ids(mask)
        counts = patterns.sum(axis=1)
        # Renumber the patterns by (count, pattern) so each count's patterns are contiguous.
        rank = np.lexsort((np.arange(len(patterns)), counts))
        patterns, counts = patterns[rank], counts[rank]
        inverse = np.argsort(rank)[inverse]
        self.order = np.argsort(inverse, kind="stable")
        inverse = inverse[self.order]
        self.XT = np.ascontiguousarray(np.where(mask, 0.0, Xc)[self.order].T)
        rows_, cols_ = np.triu_indices(D)
        self.mask_features = (patterns[:, rows_] & patterns[:, cols_]).T.astype(np.float64)
        self._workspace = _Workspace()

        self.groups: list[_Group] = []
        starts = np.searchsorted(inverse, np.arange(len(patterns) + 1))
        slot_rows, slot_cols = [], []
        slot_offset = 0
        for c in np.unique(counts):
            if c == 0:
                continue
            first, last = np.searchsorted(counts, [c, c + 1])
            start, end = starts[first], starts[last]
            columns = np.nonzero(patterns[first:last])[1].reshape(last - first, c)
            group = _Group(
                int(c),
                int(start),
                int(end),
                columns,
                int(first),
                inverse[start:end] - first,
                K,
                D,
                slot_offset,
            )
            self.groups.append(group)
            slot_rows.append(np.broadcast_to(np.arange(start, end), (c, end - start)).ravel())
            slot_cols.append(group.row_columns.ravel())
            slot_offset += c * (end - start)
        self.n_slots = slot_offset
        rows = np.concatenate(slot_rows) if slot_rows else np.zeros(0, np.intp)
        cols = np.concatenate(slot_cols) if slot_cols else np.zeros(0, np.intp)
        # By column: the slots missing column j are contiguous, their rows' x0 copied once.
        self.by_column = np.lexsort((rows, cols))
        self.from_column = np.argsort(self.by_column)
        self.column_bounds = np.searchsorted(cols[self.by_column], np.arange(D + 1))
        self.XS = np.ascontiguousarray(self.XT[:, rows[self.by_column]])
        self.missing = patterns.astype(np.float64)  # (n_patterns, D)
        self._build_prefix_tree(patterns, counts)

    def _build_prefix_tree(self, patterns, counts):
        """Levels t = 1.. of distinct t-prefixes of the patterns' sorted missing columns."""
        D = self.D
        self.levels = []  # (parent index, flat P index of b (t-1, N), of d (N,))
        self.pattern_node = {}
        previous = None
        cumulative = np.cumsum(patterns, axis=1)
        for t in range(1, int(counts.max(initial=0)) + 1):
            live = np.flatnonzero(counts >= t)
            prefix = patterns[live] & (cumulative[live] <= t)
            unique, node = _row_ids(prefix)
            cols = np.nonzero(unique)[1].reshape(len(unique), t)
            last = cols[:, -1]
            parent = np.zeros(len(unique), dtype=np.intp)
            if t > 1:
                parent[node] = previous[live]
            self.levels.append((parent, (cols[:, :-1] * D + last[:, None]).T, last * (D + 1)))
            full = np.zeros(len(patterns), dtype=np.intp)
            full[live] = node
            previous = full
            self.pattern_node[t] = node[counts[live] == t]
        for g in self.groups:
            # Where each pattern's P_mm^-1 sits in its level of the tree.
            g.node = self.pattern_node[g.c]
            g.row_node = g.node[g.pos]
            nodes = len(self.levels[g.c - 1][0])
            g.identity = np.array_equal(g.node, np.arange(nodes))
            # Flat index of each pattern's upper-triangle pairs in its level, (pairs, P_c).
            g.pair_index = g.pair_cells[:, None] * nodes + g.node[None, :]

    def small_inverses(self, P):
        """P_mm^-1 (K, t, t, N_t) and log det P_mm (K, N_t) of the N_t nodes of each level t
        of the prefix tree; a group's pattern p is node ``group.node[p]`` of level c."""
        K = self.K
        flat = P.reshape(K, -1)
        inverses, log_dets = {}, {}
        inverse = log_det = None
        ws = self._workspace
        for t, (parent, b_index, d_index) in enumerate(self.levels, start=1):
            d = np.take(flat, d_index, axis=1)
            N = d.shape[1]
            if t == 1:
                if np.any(d <= 0):
                    raise ValueError(
                        "a covariance restricted to observed columns is not positive "
                        "definite; increase reg_covar"
                    )
                inverse, log_det = (1 / d)[:, None, None], np.log(d)
            else:
                parents = ws("parents", (K, t - 1, t - 1, N))
                np.take(inverse, parent, axis=-1, out=parents, mode="clip")
                inverse, log_det = border_inverse(
                    parents,
                    np.take(log_det, parent, axis=-1),
                    np.take(flat, b_index, axis=1),
                    d,
                    out=ws(f"level{t}", (K, t, t, N)),
                )
            inverses[t], log_dets[t] = inverse, log_det
        return inverses, log_dets

    def features(self):
        """Chunks (columns slice, quadratic features of x0) over the sorted rows: the
        complete-data kernel's features, so one product gives x0^T P x0 for all rows."""
        kernel = QuadraticFullKernel(self.K, self.D, np.float64)
        step = max(256, _FEATURE_ELEMENTS // kernel.width)
        for start in range(0, self.n, step):
            cols = slice(start, min(start + step, self.n))
            yield cols, kernel.features(self.XT[:, cols])

    def _view(self, array, g):
        """A group's (K, c, n_c) view of a (K, slots) array."""
        return array[:, g.slots].reshape(self.K, g.c, g.end - g.start)

    def e_step(self, weights, means, prec_chol, covariance_type, visit, features=None):
        """Joint log densities of the observed entries, block of rows by block of rows.

        Calls ``visit(rows, log_prob, group, block, fills, inverses)`` once the joint log
        densities ``log_prob`` (K, B) of the sorted rows ``rows`` are final (a view
        the visitor may overwrite, e.g. with responsibilities); ``fills`` (K, c, B)
        are E[x_m | x_o] in the group's layout (valid during the call; None, as are
        ``group`` and ``block``, for the rows without missing entries) and
        ``inverses`` the P_mm^-1 of :meth:`small_inverses`.  Returns the workspace
        array (K, n) holding the ``log_prob`` blocks.
        """
        K, D = means.shape
        ws = self._workspace
        P = dense_precisions(prec_chol, covariance_type, K, D)
        inverses, log_dets = self.small_inverses(P)
        log_det_sigma = np.broadcast_to(
            -2 * log_det_precision_cholesky(prec_chol, covariance_type, D), (K,)
        )
        Pmu = np.einsum("kde,ke->kd", P, means)
        mu_P_mu = np.einsum("kd,kd->k", Pmu, means)
        const = np.log(weights) - 0.5 * (D * LOG_2PI + log_det_sigma + mu_P_mu)
        rows, cols = np.triu_indices(D)
        scale = np.where(rows == cols, 1.0, 2.0)
        coef = np.hstack([P[:, rows, cols] * scale, -2 * Pmu])
        # The complete-data form (x0 - mu)^T P (x0 - mu) of every row.
        log_prob = ws("log_prob", (K, self.n))
        for points, F in features if features is not None else self.features():
            np.matmul(coef, F, out=log_prob[:, points])
        log_prob *= -0.5
        log_prob += const[:, None]
        complete = self.groups[0].start if self.groups else self.n
        if complete:
            visit(slice(0, complete), log_prob[:, :complete], None, None, None, inverses)
        if not self.groups:
            return log_prob
        # (P x0)_j by column j over the rows missing j, then in the groups' layout.
        by_column = ws("by_column", (K, self.n_slots))
        bounds = self.column_bounds
        for j in range(D):
            lo, hi = bounds[j], bounds[j + 1]
            if hi > lo:
                np.matmul(P[:, j, :], self.XS[:, lo:hi], out=by_column[:, lo:hi])
        G = ws("G", (K, self.n_slots))
        np.take(by_column, self.from_column, axis=1, out=G, mode="clip")
        # Per pattern, with b = mu on the missing columns and a = mu - b:
        # b^T P b = mu_m^T P_mm mu_m (linear in the quadratic features of the masks)
        # and u_m = (P x0)_m - (P a)_m, (P a)_m = (P mu)_m - (P b)_m.
        b_P_b = (P[:, rows, cols] * scale * means[:, rows] * means[:, cols]) @ self.mask_features
        Pb = ws("Pb", (K,) + self.missing.shape)
        for k in range(K):
            # One product per component: a broadcast batch would bypass BLAS.
            np.matmul(self.missing, means[k, :, None] * P[k], out=Pb[k])
        for g in self.groups:
            c = g.c
            Pa_m = np.take_along_axis(Pb[:, g.patterns], g.columns[None], axis=2)
            Pa_m = np.take(Pmu, g.columns.T, axis=1) - Pa_m.transpose(0, 2, 1)  # (K, c, P_c)
            log_det_mm = np.take(log_dets[c], g.node, axis=-1)
            corr = 0.5 * (c * LOG_2PI - log_det_mm + b_P_b[:, g.patterns])
            C = inverses[c]
            G_g = self._view(G, g)
            out = log_prob[:, g.start : g.end]
            for blk in g.blocks:
                block, pats, runs = blk[:3]
                B = block.stop - block.start
                if runs is None and g.identity:
                    C_rows = C[..., pats]
                else:
                    C_rows = ws("C_rows", (K, c, c, B))
                    np.take(C, g.row_node[block], axis=-1, out=C_rows, mode="clip")
                u = ws("u", (K, c, B))
                if runs is None:
                    corr_rows = corr[:, pats]
                    np.subtract(G_g[:, :, block], Pa_m[..., pats], out=u)
                else:
                    pos = g.pos[block]
                    corr_rows = ws("corr_rows", (K, B))
                    np.take(corr, pos, axis=-1, out=corr_rows, mode="clip")
                    np.take(Pa_m, pos, axis=-1, out=u, mode="clip")
                    np.subtract(G_g[:, :, block], u, out=u)
                y = ws("y", (K, c, B))
                np.einsum("kjln,kln->kjn", C_rows, u, out=y)
                mu = ws("mu", (K, c, B))
                np.take(means, g.row_columns[:, block], axis=1, out=mu, mode="clip")
                # -q/2 = ... + u_m^T y / 2 - mu_m^T u_m; the rest is per pattern.
                q = ws("q", (K, B))
                np.einsum("kcn,kcn->kn", u, y, out=q)
                q *= 0.5
                q -= np.einsum("kcn,kcn->kn", u, mu, out=ws("u_mu", (K, B)))
                out[:, block] += corr_rows
                out[:, block] += q
                f = np.subtract(mu, y, out=y)
                rows = slice(g.start + block.start, g.start + block.stop)
                visit(rows, out[:, block], g, blk, f, inverses)
        return log_prob

    def accumulate(self, acc, r, group, block, fills, inverses):
        """Add a block's part of the (m, m) moments, and store its weighted fills.

        ``r`` (K, B) are the block's weighted responsibilities, ``acc`` a dict
        shared by the blocks of one pass (see :meth:`statistics`)."""
        K, D = self.K, self.D
        ws = self._workspace
        g = group
        rows, pats, runs, target, local = block
        if acc.get("group") is not g:
            # The upper-triangle pairs of the group's P_mm^-1, (K, pairs, P_c).
            acc["C"] = ws("C_pairs", (K, g.n_pairs, len(g.columns)))
            flat = inverses[g.c].reshape(K, -1)
            np.take(flat, g.pair_index, axis=1, out=acc["C"], mode="clip")
            acc["group"] = g
        C = acc["C"]
        w = self._view(acc["weighted"], g)[:, :, rows]
        np.multiply(fills, r[:, None, :], out=w)
        products = ws("products", (K, g.n_pairs, rows.stop - rows.start))
        start = 0
        for i in range(g.c):
            # Pairs (i, j >= i) in np.triu_indices order.
            np.multiply(w[:, i, None], fills[:, i:], out=products[:, start : start + g.c - i])
            start += g.c - i
        mass = r if runs is None else np.add.reduceat(r, runs, axis=1)
        conditional = ws("conditional", (K, g.n_pairs, mass.shape[1]))
        np.multiply(C[..., pats], mass[:, None, :], out=conditional)
        if local is not None:
            # Expanded here rather than stored: a (K, pairs, B) index read from memory
            # on every pass cost more than taking it from the block's small table.
            row_target = ws("row_target", products.shape, np.intp)
            np.take(target, local, axis=-1, out=row_target, mode="clip")
            acc["mm"] += np.bincount(row_target.ravel(), products.ravel(), minlength=K * D * D)
            values, where = conditional, target
        else:
            if runs is not None:
                reduced = ws("reduced", conditional.shape)
                products = np.add.reduceat(products, runs, axis=2, out=reduced)
            conditional += products
            values, where = conditional, target
        acc["mm"] += np.bincount(where.ravel(), values.ravel(), minlength=K * D * D)

    def new_accumulator(self):
        return {
            "mm": np.zeros(self.K * self.D * self.D),
            "group": None,
            "weighted": self._workspace("weighted", (self.K, self.n_slots)),
        }

    def statistics(self, resp, acc, features=None):
        """nk (K,), sums (K, D) and sxx (K, D, D) of the expected complete data, from
        the responsibilities (K, n) and the blocks' accumulator."""
        K, D = self.K, self.D
        ws = self._workspace
        nk = resp.sum(axis=1)
        width = D * (D + 1) // 2 + D
        moments = np.zeros((K, width))
        for points, F in features if features is not None else self.features():
            moments += resp[:, points] @ F.T
        rows, cols = np.triu_indices(D)
        sxx = np.empty((K, D, D))
        sxx[:, rows, cols] = moments[:, : width - D]
        sxx[:, cols, rows] = moments[:, : width - D]
        sums = moments[:, width - D :].copy()
        if not self.groups:
            return nk, sums, sxx
        mm = acc["mm"].reshape(K, D, D)
        # Upper triangles of the (m, m) blocks (columns ascending): mirror them.
        mm += np.triu(mm, 1).transpose(0, 2, 1)
        sxx += mm
        by_column = ws("by_column", (K, self.n_slots))
        np.take(acc["weighted"], self.by_column, axis=1, out=by_column, mode="clip")
        bounds = self.column_bounds
        cross = np.zeros((K, D, D))
        for j in range(D):
            lo, hi = bounds[j], bounds[j + 1]
            if hi > lo:
                w = by_column[:, lo:hi]
                cross[:, j, :] = w @ self.XS[:, lo:hi].T
                sums[:, j] += w.sum(axis=1)
        sxx += cross + cross.transpose(0, 2, 1)
        return nk, sums, sxx


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
        width = self.D * (self.D + 1) // 2 + self.D
        self._features = None
        if self.patterns.n * width * 8 <= _FEATURE_CACHE_BYTES:
            self._features = list(self.patterns.features())

    def e_pass(self, params):
        """Mean log-likelihood of the observed entries and the expected statistics."""
        weights, means, prec_chol = params
        patterns, weight = self.patterns, self.weight
        acc = patterns.new_accumulator()
        log_lik = 0.0

        def visit(rows, log_prob, group, block, fills, inverses):
            # Each block is normalised and accumulated while its fills are in cache.
            nonlocal log_lik
            point_ll = normalise_in_place(log_prob)
            if weight is None:
                log_lik += point_ll.sum()
            else:
                log_lik += float(weight[rows] @ point_ll)
                log_prob *= weight[rows]
            if group is not None:
                patterns.accumulate(acc, log_prob, group, block, fills, inverses)

        resp = patterns.e_step(
            weights, means, prec_chol, self.covariance_type, visit, self._features
        )
        nk, sums, sxx = patterns.statistics(resp, acc, self._features)
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
    imputed = patterns.XT.T.copy()

    def visit(rows, log_prob, group, block, fills, inverses):
        joint[:, rows] = log_prob
        if group is not None:
            normalise_in_place(log_prob)
            expected = np.einsum("kn,kcn->cn", log_prob, fills)
            imputed[np.arange(rows.start, rows.stop), group.row_columns[:, block[0]]] = expected

    patterns.e_step(weights, means, prec_chol, covariance_type, visit)
    out_joint = np.empty_like(joint)
    out_joint[:, patterns.order] = joint
    out = np.empty_like(imputed)
    out[patterns.order] = imputed
    return out_joint, out
