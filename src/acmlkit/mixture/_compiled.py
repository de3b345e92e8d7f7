"""The loops of an EM pass that numpy and BLAS do poorly, compiled with numba.

**Responsibilities by log-sum-exp.** Without AVX-512, numpy's float64 ``exp``
is a scalar libm call per element, and libm's slow path for arguments below
-512 (a tenth of the entries on well-separated data) costs twice as much
again: together about half of a diagonal-covariance EM iteration. This kernel
evaluates e^z itself, in a loop without calls that numba vectorises (tiles of
columns kept in L1):

    z = k ln2 + r,  |r| <= ln2 / 2   (Cody-Waite reduction, ln2 in two parts)
    e^r by its Taylor polynomial of degree 13 (truncation error below 1e-17)
    2^k added to the exponent bits of e^r

It agrees with libm within 2 ulp for z in [-707, 0]; e^z below e^-707 (about
1e-307) is taken as 0, where libm would return a number that no sum or
responsibility can see. float32 input runs the same steps in float32 (degree 7,
floor e^-86) with twice the lanes.

**Log densities as products.** The E-step's ``coef @ F + const`` multiplies
K ~ 8 rows into a feature chunk that comes from memory, not cache: the cached
features of a fit are far larger than the caches. Here the components are one
``Lanes`` vector (``_simd``), six points' sums stay in registers through the
feature rows, and each row's next cache lines are prefetched: over chunks
streamed from memory, 8.4 ms against OpenBLAS's 12.2-15.4 (N = 100,000,
W = 152, K = 8); without the prefetch it took 29-37 ms.

**Weighted sums of features.** The M-step's statistics ``resp @ F.T`` multiply
K rows (K ~ 8) into the chunk; BLAS packs the whole feature chunk for such a
product and reaches half its square-matrix speed. Here blocks of 4 components
by 3 feature rows keep 12 dot products in registers through one pass over the
points, which the features enter hot from the E-step's product. float32 input
sums in float32, as BLAS's sgemm does: 2.2x its speed on such a chunk.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic, overload

from acmlkit.mixture import _simd as V

_LOG2E = 1.4426950408889634
# Adding 1.5 * 2^52 rounds to an integer and leaves it in the low mantissa bits.
_SHIFTER = 6755399441055744.0
# ln 2 split so that k * _LN2_HI is exact for |k| < 2^11.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# The lowest z whose 2^k still has a normal exponent (k >= -1021).
_EXP_FLOOR = -707.0
_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(13, -1, -1))
# The same in float32: 1.5 * 2^23, ln 2 in two parts, k >= -124, degree 7 (error < 1e-8).
_SHIFTER32 = np.float32(12582912.0)
_LOG2E32 = np.float32(_LOG2E)
_LN2_HI32 = np.float32(0.693359375)
_LN2_LO32 = np.float32(-2.12194440e-4)
_EXP_FLOOR32 = np.float32(-86.0)
_TAYLOR32 = tuple(np.float32(1.0 / math.factorial(i)) for i in range(7, -1, -1))
# Columns per tile: a tile of K rows and its per-column sums stay in L1.
_TILE = 512
_JIT = dict(cache=True, boundscheck=False, error_model="numpy")


def _bitcast(source, target):
    """An intrinsic that reads a ``source`` scalar's bits as a ``target`` one (free in
    registers)."""

    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return cast


_bits = _bitcast(types.float64, types.uint64)
_float = _bitcast(types.uint64, types.float64)
_bits32 = _bitcast(types.float32, types.uint32)
_float32 = _bitcast(types.uint32, types.float32)


def _exp_nonpositive(z):
    """e^z for z <= 0 in z's precision (compiled code only)."""
    raise NotImplementedError("called from numba-compiled code only")


@overload(_exp_nonpositive, jit_options=dict(fastmath={"contract"}))
def _exp_nonpositive_impl(z):
    if z == types.float32:
        return _exp32
    return _exp64


def _exp_for(floor, log2e, shifter, ln2_hi, ln2_lo, taylor, bits, from_bits, mantissa):
    """The exp of one precision: its constants, its bitcasts and its mantissa width."""
    zero = type(floor)(0.0)

    def exp(z):
        keep = z >= floor
        z = z if keep else floor
        shifted = z * log2e + shifter
        whole = shifted - shifter
        r = (z - whole * ln2_hi) - whole * ln2_lo
        p = taylor[0]
        for c in taylor[1:]:
            p = p * r + c
        # The low bits of `shifted` hold k; moved into the exponent field, the
        # wrapping integer addition adds k to e^r's exponent.
        e = from_bits(bits(p) + (bits(shifted) << mantissa))
        return e if keep else zero

    return exp


_exp64 = _exp_for(
    _EXP_FLOOR, _LOG2E, _SHIFTER, _LN2_HI, _LN2_LO, _TAYLOR, _bits, _float, np.uint64(52)
)
_exp32 = _exp_for(
    _EXP_FLOOR32, _LOG2E32, _SHIFTER32, _LN2_HI32, _LN2_LO32, _TAYLOR32, _bits32, _float32,
    np.uint32(23),
)  # fmt: skip


# Contraction to FMA applies to the inlined exp too: numba compiles it with these flags.
@numba.njit(fastmath={"contract"}, **_JIT)
def _normalise(log_prob):
    K, n = log_prob.shape
    # In the input's precision: float32 runs twice as many lanes.
    peak = np.empty(n, log_prob.dtype)
    total = np.zeros(n, log_prob.dtype)
    inverse = np.empty(_TILE, log_prob.dtype)
    one = log_prob.dtype.type(1.0)
    for start in range(0, n, _TILE):
        stop = min(start + _TILE, n)
        tile_peak = peak[start:stop]
        tile_total = total[start:stop]
        first = log_prob[0, start:stop]
        for j in range(stop - start):
            tile_peak[j] = first[j]
        for k in range(1, K):
            row = log_prob[k, start:stop]
            for j in range(stop - start):
                if row[j] > tile_peak[j]:
                    tile_peak[j] = row[j]
        for k in range(K):
            row = log_prob[k, start:stop]
            for j in range(stop - start):
                e = _exp_nonpositive(row[j] - tile_peak[j])
                row[j] = e
                tile_total[j] += e
        for j in range(stop - start):
            inverse[j] = one / tile_total[j]
            # The point's log-likelihood, in place of its peak.
            tile_peak[j] += math.log(tile_total[j])
        for k in range(K):
            row = log_prob[k, start:stop]
            for j in range(stop - start):
                row[j] *= inverse[j]
    return peak


@numba.njit(fastmath={"reassoc", "contract"}, **_JIT)
def _weighted_sums(resp, features, moments, nk):
    K, m = resp.shape
    # Sums in the input's precision, as BLAS's: float64 ones would halve the lanes.
    zero = resp.dtype.type(0.0)
    W = features.shape[0]
    for k in range(K):
        row = resp[k]
        weight = 0.0
        for j in range(m):
            weight += row[j]
        nk[k] += weight
    K4 = K - K % 4
    W3 = W - W % 3
    for k in range(0, K4, 4):
        r0, r1, r2, r3 = resp[k], resp[k + 1], resp[k + 2], resp[k + 3]
        for i in range(0, W3, 3):
            f0, f1, f2 = features[i], features[i + 1], features[i + 2]
            s00 = s01 = s02 = s10 = s11 = s12 = zero
            s20 = s21 = s22 = s30 = s31 = s32 = zero
            for j in range(m):
                u, v, w = f0[j], f1[j], f2[j]
                x0, x1, x2, x3 = r0[j], r1[j], r2[j], r3[j]
                s00 += x0 * u
                s01 += x0 * v
                s02 += x0 * w
                s10 += x1 * u
                s11 += x1 * v
                s12 += x1 * w
                s20 += x2 * u
                s21 += x2 * v
                s22 += x2 * w
                s30 += x3 * u
                s31 += x3 * v
                s32 += x3 * w
            moments[k, i] += s00
            moments[k, i + 1] += s01
            moments[k, i + 2] += s02
            moments[k + 1, i] += s10
            moments[k + 1, i + 1] += s11
            moments[k + 1, i + 2] += s12
            moments[k + 2, i] += s20
            moments[k + 2, i + 1] += s21
            moments[k + 2, i + 2] += s22
            moments[k + 3, i] += s30
            moments[k + 3, i + 1] += s31
            moments[k + 3, i + 2] += s32
    # The components and feature rows left over from the blocks: one dot product each.
    for k in range(K):
        for i in range(W3 if k < K4 else 0, W):
            row, feature = resp[k], features[i]
            total = zero
            for j in range(m):
                total += row[j] * feature[j]
            moments[k, i] += total


def accumulate_weighted_sums(resp, features, moments, nk) -> None:
    """moments (K, W) += resp (K, m) @ features (W, m).T; nk (K,) += resp.sum(axis=1)."""
    compiled = (
        features.dtype == resp.dtype
        and resp.dtype in (np.float32, np.float64)
        and features.flags.c_contiguous
        and resp.flags.c_contiguous
    )
    if compiled:
        _weighted_sums(resp, features, moments, nk)
    else:
        # Strided views would not vectorise.
        nk += resp.sum(axis=1, dtype=np.float64)
        moments += resp @ features.T


# Points whose sums one pass over the features keeps in registers: 6 vectors of
# components, with the coefficients' vector, fill AVX2's 16 registers.
_POINTS = 6
# How far ahead in a feature row to prefetch: four cache lines (measured best of 2-16).
_AHEAD = 32


@numba.njit(**_JIT)
def _affine(coef_lanes, const_lanes, F, out):
    Wf, Kp = coef_lanes.shape
    m = F.shape[1]
    whole = m - m % _POINTS
    # Flat offsets: numba's two-index addressing cost this loop a fifth of its speed.
    features, sums = F.reshape(-1), out.reshape(-1)
    for g in range(0, Kp, V.WIDTH):
        start = V.load(const_lanes, g)
        for j in range(0, whole, _POINTS):
            a0 = a1 = a2 = a3 = a4 = a5 = start
            for w in range(Wf):
                c = V.load(coef_lanes, w * Kp + g)
                at = w * m + j
                V.prefetch(features, at + _AHEAD)
                a0 = V.fma(V.splat(features[at]), c, a0)
                a1 = V.fma(V.splat(features[at + 1]), c, a1)
                a2 = V.fma(V.splat(features[at + 2]), c, a2)
                a3 = V.fma(V.splat(features[at + 3]), c, a3)
                a4 = V.fma(V.splat(features[at + 4]), c, a4)
                a5 = V.fma(V.splat(features[at + 5]), c, a5)
            # A fixed lane count: extracting lane v is then a register move.
            for v in range(V.WIDTH):
                at = (g + v) * m + j
                sums[at] = V.lane(a0, v)
                sums[at + 1] = V.lane(a1, v)
                sums[at + 2] = V.lane(a2, v)
                sums[at + 3] = V.lane(a3, v)
                sums[at + 4] = V.lane(a4, v)
                sums[at + 5] = V.lane(a5, v)
        for j in range(whole, m):
            a = start
            for w in range(Wf):
                a = V.fma(V.splat(features[w * m + j]), V.load(coef_lanes, w * Kp + g), a)
            for v in range(V.WIDTH):
                sums[(g + v) * m + j] = V.lane(a, v)


class AffinePass:
    """``coef @ F + const`` for coefficients (K, W), offsets (K, 1) and features F
    (W, n): compiled for float64 C-contiguous F, else by BLAS."""

    def __init__(self, coef: np.ndarray, const: np.ndarray):
        self.coef, self.const = coef, const
        self._lanes = None
        if coef.dtype == np.float64:
            self._lanes = V.components_last(coef, 0.0), V.components_last(const[:, 0], 0.0)

    def __call__(self, F: np.ndarray) -> np.ndarray:
        if self._lanes is not None and F.dtype == np.float64 and F.flags.c_contiguous:
            # Rows for the padding components too; the first K rows are contiguous.
            out = np.empty((self._lanes[0].shape[1], F.shape[1]))
            _affine(*self._lanes, F, out)
            return out[: self.coef.shape[0]]
        out = self.coef @ F
        out += self.const
        return out


def normalise_in_place(log_prob: np.ndarray) -> np.ndarray:
    """Turn joint log densities (K, n) into responsibilities, in place.

    Returns the per-point log-likelihood (n,) by log-sum-exp over components.
    """
    if log_prob.dtype not in (np.float32, np.float64):
        raise TypeError(f"normalise_in_place takes float32 or float64, got {log_prob.dtype}")
    if log_prob.flags.c_contiguous:
        return _normalise(log_prob)
    # The compiled loops are vectorised for unit strides only: work on a copy.
    work = np.ascontiguousarray(log_prob)
    point_ll = _normalise(work)
    log_prob[...] = work
    return point_ll
