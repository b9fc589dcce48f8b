"""The fused CPU kernel for the rerankers' pair part (see `reranker_model.score_lists`).

With eager PyTorch every step of a pair's score (gather the ad's row, two small batched matrix
products, the hire term) is its own pass over memory, and the gathered rows are written out and
read back. Here one loop per seeker does it all: gather, both dot products, written once.
Same scores as the eager path to the half-precision rounding of the ad rows (stored as
float16: one 64-byte cache line a row, half the table the gather reads); faster (measured:
BENCHMARKS.md, "Rerank inference").
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

PREFETCH_AHEAD = 16  # candidates: the ad rows a list will read next, asked for this far ahead


@intrinsic
def _prefetch(typingctx, rows, i, j):
    """Ask the cache for rows[i, j] (a read hint, no fault on any address: LLVM's prefetch)."""

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        index = [
            context.cast(builder, v, t, types.intp)
            for v, t in zip(args[1:], sig.args[1:], strict=True)
        ]
        pointer = cgutils.get_item_pointer(
            context, builder, sig.args[0], array, index, wraparound=False
        )
        byte, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        # read, keep in every cache level, data cache
        builder.call(hint, [builder.bitcast(pointer, byte), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(rows, i, j), codegen


@intrinsic
def _float_of_bits(typingctx, bits):
    """The float32 whose bit pattern is the int32 `bits` (a register reinterpretation)."""

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@intrinsic
def _float_of_half(typingctx, bits):
    """The float32 value of the float16 whose bit pattern is the uint16 `bits` (exact: every
    float16 is a float32; one conversion instruction with F16C, and it vectorises)."""
    if bits != types.uint16:
        return None

    def codegen(context, builder, sig, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(types.uint16), codegen


LOG2E = np.float32(1.4426950408889634)
LN2_HI, LN2_LO = np.float32(0.693145751953125), np.float32(1.428606765330187e-06)  # Cody-Waite


@numba.njit(fastmath=True, cache=True, inline="always")
def log_sigmoid(x):
    """log(1 / (1 + exp(-x))) of a finite float32, in arithmetic alone, so that a loop of it
    vectorises (numba calls libm's exp and log1p one value at a time: 12.4 against PyTorch's
    2.4 ns a value; measured: BENCHMARKS.md, "The hire term inside the kernel"):
    min(x, 0) - log1p(exp(-|x|)), with
      exp(y), y in [-87, 0]: 2^n exp(r), n = round(y / ln 2), r = y - n ln 2 (ln 2 split in two
        so that r is exact to float32), exp(r) by its Taylor polynomial of degree 7 (|r| <=
        ln 2 / 2: truncation < 6e-9 relative), 2^n built from its exponent bits;
      log1p(t), t in (0, 1]: 2 atanh(z), z = t / (2 + t) in (0, 1/3] (no cancellation for a
        small t), the series 2z (1 + z^2/3 + ... + z^14/15) (truncation < 2e-9 relative).
    Within 2.4e-7 of PyTorch's logsigmoid (tested)."""
    y = max(-abs(x), np.float32(-87.0))
    n = np.floor(y * LOG2E + np.float32(0.5))
    r = (y - n * LN2_HI) - n * LN2_LO
    p = np.float32(1.0 / 5040.0)
    for c in (1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = p * r + np.float32(c)
    t = p * _float_of_bits(np.int32((np.int32(n) + 127) << 23))
    z = t / (np.float32(2.0) + t)
    w = z * z
    q = np.float32(1.0 / 15.0)
    for c in (1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0):
        q = q * w + np.float32(c)
    return min(x, np.float32(0.0)) - np.float32(2.0) * z * q


LANES = 16  # float32s in a 512-bit vector: the loops below step over ad rows in 2 x LANES halves
ROW_STEP = 2 * LANES  # an ad row's width is a multiple of this (32 halves: a 64-byte line)


@numba.njit(fastmath=True, cache=True, inline="always")
def _prefetch_row(ad_rows, slot):
    """Every cache line of one ad row (rows of whole, aligned 64-byte lines: one hint each)."""
    for d in range(0, ad_rows.shape[1], ROW_STEP):
        _prefetch(ad_rows, slot, d)


@numba.njit(fastmath=True, cache=True, inline="always")
def _step(row, lo, hi, x, m0l, m0h, m1l, m1h, w0, w1, s0, s1):
    """One step of a pair's two sums: its row's entries lo and hi against the seeker's
    (m0l, m0h for output 0, m1l, m1h for output 1), its pair feature x against (w0, w1)."""
    u, v = _float_of_half(row[lo]), _float_of_half(row[hi])
    return s0 + u * m0l + v * m0h + x * w0, s1 + u * m1l + v * m1h + x * w1


@numba.njit(fastmath=True, cache=True, inline="always")
def _pair_sums(row, pair, mats, weights):
    """Both outputs of one pair: <row, mats[o]> + <pair, weights[o]>, o = 0, 1 (`row` float16
    bits; the ad's biases are row entries whose `mats` entries are one-hot), as `_quad_sums`
    sums four."""
    zero = np.float32(0.0)
    s0, s1 = zero, zero
    start = LANES if pair.shape[0] >= LANES else 0
    for base in range(0, row.shape[0], ROW_STEP):
        lead = base == 0 and start > 0
        for d in range(LANES):
            lo, hi = base + d, base + LANES + d
            x, w0, w1 = (pair[d], weights[0, d], weights[1, d]) if lead else (zero, zero, zero)
            m0l, m0h, m1l, m1h = mats[0, lo], mats[0, hi], mats[1, lo], mats[1, hi]
            s0, s1 = _step(row, lo, hi, x, m0l, m0h, m1l, m1h, w0, w1, s0, s1)
    for c in range(start, pair.shape[0]):
        s0 += pair[c] * weights[0, c]
        s1 += pair[c] * weights[1, c]
    return s0, s1


@numba.njit(fastmath=True, cache=True, inline="always")
def _quad_lead(ra, rb, rc, re, xa, xb, xc, xe, m, w):
    """Both outputs of four pairs over their rows' first ROW_STEP entries and their first LANES
    pair columns, in one loop of LANES steps (vectorised as one 16-lane step: one reduction
    an output after it, where a loop a part would need two)."""
    a0 = a1 = b0 = b1 = c0 = c1 = e0 = e1 = np.float32(0.0)
    for d in range(LANES):
        hi = LANES + d
        m0l, m0h, m1l, m1h, w0, w1 = m[0, d], m[0, hi], m[1, d], m[1, hi], w[0, d], w[1, d]
        a0, a1 = _step(ra, d, hi, xa[d], m0l, m0h, m1l, m1h, w0, w1, a0, a1)
        b0, b1 = _step(rb, d, hi, xb[d], m0l, m0h, m1l, m1h, w0, w1, b0, b1)
        c0, c1 = _step(rc, d, hi, xc[d], m0l, m0h, m1l, m1h, w0, w1, c0, c1)
        e0, e1 = _step(re, d, hi, xe[d], m0l, m0h, m1l, m1h, w0, w1, e0, e1)
    return a0, a1, b0, b1, c0, c1, e0, e1


@numba.njit(fastmath=True, cache=True, inline="always")
def _quad_rows(ra, rb, rc, re, m, base, sums):
    """`sums` (both outputs of four pairs) plus their rows' entries [base, base + ROW_STEP)."""
    a0, a1, b0, b1, c0, c1, e0, e1 = sums
    zero = np.float32(0.0)
    for d in range(LANES):
        lo, hi = base + d, base + LANES + d
        m0l, m0h, m1l, m1h = m[0, lo], m[0, hi], m[1, lo], m[1, hi]
        a0, a1 = _step(ra, lo, hi, zero, m0l, m0h, m1l, m1h, zero, zero, a0, a1)
        b0, b1 = _step(rb, lo, hi, zero, m0l, m0h, m1l, m1h, zero, zero, b0, b1)
        c0, c1 = _step(rc, lo, hi, zero, m0l, m0h, m1l, m1h, zero, zero, c0, c1)
        e0, e1 = _step(re, lo, hi, zero, m0l, m0h, m1l, m1h, zero, zero, e0, e1)
    return a0, a1, b0, b1, c0, c1, e0, e1


@numba.njit(fastmath=True, cache=True, inline="always")
def _quad_sums(ra, rb, rc, re, xa, xb, xc, xe, mats, weights):
    """Both outputs of four pairs (rows ra..re, pair features xa..xe), `_pair_sums` each: eight
    independent sums, so that the multiply-adds of four pairs overlap."""
    start = LANES if xa.shape[0] >= LANES else 0
    if start:
        sums = _quad_lead(ra, rb, rc, re, xa, xb, xc, xe, mats, weights)
    else:
        zero = np.float32(0.0)
        sums = _quad_rows(ra, rb, rc, re, mats, 0, (zero, zero, zero, zero, zero, zero, zero, zero))
    for base in range(ROW_STEP, ra.shape[0], ROW_STEP):
        sums = _quad_rows(ra, rb, rc, re, mats, base, sums)
    a0, a1, b0, b1, c0, c1, e0, e1 = sums
    for c in range(start, xa.shape[0]):
        w0, w1 = weights[0, c], weights[1, c]
        a0 += xa[c] * w0
        a1 += xa[c] * w1
        b0 += xb[c] * w0
        b1 += xb[c] * w1
        c0 += xc[c] * w0
        c1 += xc[c] * w1
        e0 += xe[c] * w0
        e1 += xe[c] * w1
    return a0, a1, b0, b1, c0, c1, e0, e1


@numba.njit(parallel=True, fastmath=True, cache=True)
def pair_logits(ad_rows, ad_slot, seeker_mats_t, cross_w_t, ads, cross, first, second, hire_term):
    """first[g, k], second[g, k] = <row, seeker_mats_t[g, o]> + <cross[g, k], cross_w_t[g, o]>
    for o = 0, 1, row = ad_rows[ad_slot[ads[g, k]]] (as float32), every list g and candidate k
    (a one-output model passes zeros for o = 1), and with `hire_term` first[g, k] +=
    log_sigmoid(second[g, k]) (Muse.2's final score, while the list's row is in the core's
    cache); padding (ads < 0) gives -inf and 0, an ad without a row (ad_slot < 0) NaN; returns
    how many of those there were.

    ad_rows (N_r, W) uint16, the bits of float16 values, W a multiple of ROW_STEP (an ad's dot
    vectors, its bias of each output, zeros), ad_slot (N_a,) integers, seeker_mats_t (G, 2, W)
    (the seeker's side of each output's dot product; 1 against the output's own bias), cross_w_t
    (G, 2, C), ads (G, K) integers, cross (G, K, C), first and second (G, K); all float32 but
    the integers and the ad rows; the sums are float32. `ad_slot` lets the rows be a compact,
    reordered subset of the ads (see `reranker_model.scoring_tables`). Four candidates are
    scored side by side, eight independent sums in flight, each pair's row entries and its
    first LANES pair columns in one 16-lane loop (one reduction an output, not one a part);
    the ad rows PREFETCH_AHEAD candidates on are asked for ahead (the rows are gathered at
    random: each measured faster than its alternative: BENCHMARKS.md, "Rerank inference")."""
    if ad_rows.shape[1] % ROW_STEP or seeker_mats_t.shape[2] != ad_rows.shape[1]:
        raise ValueError("ad rows must be ROW_STEP wide, seeker_mats_t as wide as the rows")
    n_lists, n_candidates = ads.shape
    quads = n_candidates - n_candidates % 4
    missing = 0
    for g in numba.prange(n_lists):
        mats, weights, row_ads, row_cross = seeker_mats_t[g], cross_w_t[g], ads[g], cross[g]
        row_first, row_second = first[g], second[g]
        for k in range(min(PREFETCH_AHEAD, n_candidates)):
            _prefetch_row(ad_rows, max(ad_slot[max(row_ads[k], 0)], 0))
        for k in range(0, quads, 4):  # padding and missing rows read some row, fixed below
            for j in range(k + PREFETCH_AHEAD, min(k + PREFETCH_AHEAD + 4, n_candidates)):
                _prefetch_row(ad_rows, max(ad_slot[max(row_ads[j], 0)], 0))
            a0, a1, b0, b1, c0, c1, e0, e1 = _quad_sums(
                ad_rows[ad_slot[max(row_ads[k], 0)]],
                ad_rows[ad_slot[max(row_ads[k + 1], 0)]],
                ad_rows[ad_slot[max(row_ads[k + 2], 0)]],
                ad_rows[ad_slot[max(row_ads[k + 3], 0)]],
                row_cross[k],
                row_cross[k + 1],
                row_cross[k + 2],
                row_cross[k + 3],
                mats,
                weights,
            )
            row_first[k], row_first[k + 1], row_first[k + 2], row_first[k + 3] = a0, b0, c0, e0
            row_second[k], row_second[k + 1], row_second[k + 2], row_second[k + 3] = a1, b1, c1, e1
        for k in range(quads, n_candidates):
            row_first[k], row_second[k] = _pair_sums(
                ad_rows[ad_slot[max(row_ads[k], 0)]], row_cross[k], mats, weights
            )
        if hire_term:  # every value finite here (padding read some row), fixed below
            for k in range(n_candidates):
                row_first[k] += log_sigmoid(row_second[k])
        for k in range(n_candidates):
            if row_ads[k] < 0:
                row_first[k], row_second[k] = -np.inf, 0.0
            elif ad_slot[row_ads[k]] < 0:
                row_first[k], row_second[k] = np.nan, np.nan
                missing += 1
    return missing
