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


@numba.njit(fastmath=True, cache=True, inline="always")
def _prefetch_row(ad_rows, slot):
    """Every cache line of one ad row (a hint every 32 halves, 64 bytes, and the last)."""
    last = ad_rows.shape[1] - 1
    for d in range(0, last, 32):
        _prefetch(ad_rows, slot, d)
    _prefetch(ad_rows, slot, last)


@numba.njit(fastmath=True, cache=True, inline="always")
def _dots(ad, pair, mats, weights):
    """Both outputs of one pair: <ad[:D], mats[o]> + ad[D + o] + <pair, weights[o]>, o = 0, 1
    (D = mats.shape[1]: the dot vectors, then the ad's two biases; `ad` float16 bits)."""
    dims = mats.shape[1]
    acc0, acc1 = _float_of_half(ad[dims]), _float_of_half(ad[dims + 1])
    for d in range(dims):
        value = _float_of_half(ad[d])
        acc0 += value * mats[0, d]
        acc1 += value * mats[1, d]
    for c in range(pair.shape[0]):
        acc0 += pair[c] * weights[0, c]
        acc1 += pair[c] * weights[1, c]
    return acc0, acc1


@numba.njit(fastmath=True, cache=True, inline="always")
def _ad_dots4(a, b, c, e, mats):
    """Both outputs' ad part of four pairs: <x[:D], mats[o]> + x[D + o] for x = a, b, c, e (ad
    rows as float16 bits)."""
    dims = mats.shape[1]
    a0 = a1 = b0 = b1 = c0 = c1 = e0 = e1 = np.float32(0.0)
    for d in range(dims):
        w0, w1 = mats[0, d], mats[1, d]
        x, y = _float_of_half(a[d]), _float_of_half(b[d])
        z, u = _float_of_half(c[d]), _float_of_half(e[d])
        a0 += x * w0
        a1 += x * w1
        b0 += y * w0
        b1 += y * w1
        c0 += z * w0
        c1 += z * w1
        e0 += u * w0
        e1 += u * w1
    return (
        a0 + _float_of_half(a[dims]),
        a1 + _float_of_half(a[dims + 1]),
        b0 + _float_of_half(b[dims]),
        b1 + _float_of_half(b[dims + 1]),
        c0 + _float_of_half(c[dims]),
        c1 + _float_of_half(c[dims + 1]),
        e0 + _float_of_half(e[dims]),
        e1 + _float_of_half(e[dims + 1]),
    )


@numba.njit(fastmath=True, cache=True, inline="always")
def _dots4(a, b, c, e, weights, sums):
    """`sums` (both outputs of four pairs) plus <x, weights[o]> for x = a, b, c, e: eight
    independent sums, so that the multiply-adds of four pairs overlap."""
    a0, a1, b0, b1, c0, c1, e0, e1 = sums
    for d in range(weights.shape[1]):
        w0, w1 = weights[0, d], weights[1, d]
        a0 += a[d] * w0
        a1 += a[d] * w1
        b0 += b[d] * w0
        b1 += b[d] * w1
        c0 += c[d] * w0
        c1 += c[d] * w1
        e0 += e[d] * w0
        e1 += e[d] * w1
    return a0, a1, b0, b1, c0, c1, e0, e1


@numba.njit(parallel=True, fastmath=True, cache=True)
def pair_logits(ad_rows, ad_slot, seeker_mats_t, cross_w_t, ads, cross, first, second, hire_term):
    """first[g, k], second[g, k] = <row[:D], seeker_mats_t[g, o]> + row[D + o]
    + <cross[g, k], cross_w_t[g, o]> for o = 0, 1, row = ad_rows[ad_slot[ads[g, k]]], every
    list g and candidate k (a one-output model passes zeros for o = 1), and with `hire_term`
    first[g, k] += log_sigmoid(second[g, k]) (Muse.2's final score, while the list's row is in
    the core's cache); padding (ads < 0) gives -inf and 0, an ad without a row (ad_slot < 0)
    NaN; returns how many of those there were.

    ad_rows (N_r, W >= D + 2) uint16, the bits of float16 values (an ad's dot vectors, then its
    bias of each output, then any padding), ad_slot (N_a,) integers, seeker_mats_t (G, 2, D),
    cross_w_t (G, 2, C), ads (G, K) integers, cross (G, K, C), first and second (G, K); all
    float32 but the integers and the ad rows; the sums are float32. `ad_slot` lets the rows be
    a compact, reordered subset of the ads (see `reranker_model.scoring_tables`). Both outputs
    share one pass over a pair's inputs, four candidates are scored side by side, eight
    independent sums in flight, the ad rows PREFETCH_AHEAD candidates on are asked for ahead
    (the rows are gathered at random: each measured faster than its alternative:
    BENCHMARKS.md, "Rerank inference", "Where the time went")."""
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
            a = ad_rows[ad_slot[max(row_ads[k], 0)]]
            b = ad_rows[ad_slot[max(row_ads[k + 1], 0)]]
            c = ad_rows[ad_slot[max(row_ads[k + 2], 0)]]
            e = ad_rows[ad_slot[max(row_ads[k + 3], 0)]]
            sums = _ad_dots4(a, b, c, e, mats)
            a0, a1, b0, b1, c0, c1, e0, e1 = _dots4(
                row_cross[k], row_cross[k + 1], row_cross[k + 2], row_cross[k + 3], weights, sums
            )
            row_first[k], row_first[k + 1], row_first[k + 2], row_first[k + 3] = a0, b0, c0, e0
            row_second[k], row_second[k + 1], row_second[k + 2], row_second[k + 3] = a1, b1, c1, e1
        for k in range(quads, n_candidates):
            row_first[k], row_second[k] = _dots(
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
