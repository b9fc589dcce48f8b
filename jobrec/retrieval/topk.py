"""Exact top-k of seeker × ad dot products, block by block.

The seeker × ad score matrix is never materialised: seekers are taken in blocks whose score
block fits a memory budget, each block is multiplied by the ad matrix and reduced to its top k
at once. Memory is bounded by the budget whatever the number of seekers.

On the CPU the reduction is a two-stage selection that stays exact. `torch.topk` over a whole
score row costs more than the product that made it (it copies every score into a (value,
index) buffer and selects there; the product is 2d flops a score). Instead each score row is
cut into groups; a threshold at most the k-th largest of the groups' maxima is never above the
row's true k-th score (k distinct groups each hold a score at least that high), so every score
of the top k is at or above it. Only the few groups whose maximum reaches the threshold are
read again, their scores at or above it kept (about 1.4 k a row on random data instead of N),
and those sorted by a radix sort. One numba pass a row does all of it, rows spread over the
cores: the same selection in stock torch ops ran ~35 small parallel ops a tile and was 3-8x
slower (BENCHMARKS.md). Rows where the threshold cannot prune (too many excluded items, NaN
scores, many equal scores) take the plain path (`torch.topk`). The product is done in tiles of
seekers small enough for the score tile to stay in cache while it is read again.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from jobrec.devices import pick_device

FINE = 8
"""Scores a fine group (strided: item j belongs to group j mod ceil(N / FINE))."""
COARSE_PER_K = 2
"""Coarse groups a row, per k: the threshold is the k-th largest of 2k coarse maxima."""
MAX_HOT_PER_K = 4
"""A row whose fine groups reaching the threshold exceed 4k takes the plain path."""
TILE_BYTES = 16 * 2**20
"""Score tile of the two-stage path: small enough to be read again from cache."""


def block_rows(n_items: int, k: int, budget_bytes: int) -> int:
    """Seekers per block so that the float32 score block (and top-k buffers) fit the budget."""
    per_row = 4 * n_items + 12 * k
    return max(1, budget_bytes // per_row)


def two_stage_applies(n_items: int, k: int, device: torch.device) -> bool:
    """Whether `exact_topk` uses the two-stage selection (CPU, and at least 2k coarse groups).

    On a GPU `torch.topk` is a radix select that costs little next to the product, and the
    compaction's host synchronisations would cost more than they save.
    """
    return device.type == "cpu" and k >= 1 and -(-n_items // FINE) >= COARSE_PER_K * k


def tile_rows(n_items: int, k: int, budget_bytes: int) -> int:
    """Seekers per tile of the two-stage path: a cache-sized score tile, within the budget.

    The budget holds the tile's float32 scores and top-k outputs (4 N + 12 k bytes a row) and
    each thread's work buffers (fine maxima and hot list, N / 8 entries of 4 bytes each; keys
    and items of at most 4k hot groups of 8, twice for the sort: 16 bytes each). The tile's
    scores stay within `TILE_BYTES`.
    """
    per_thread = n_items + 16 * FINE * (MAX_HOT_PER_K * k + 1)
    per_row = 4 * n_items + 12 * k
    room = max(0, budget_bytes - numba.get_num_threads() * per_thread)
    # At least 2 rows where the budget allows: one row would take the matrix-vector path.
    return max(1, min(room // per_row, max(2, TILE_BYTES // (4 * n_items))))


def row_blocks(
    n_q: int, n_items: int, k: int, budget_bytes: int, device: torch.device
) -> list[tuple[int, int]]:
    """The (first, end) query rows of each product `exact_topk` makes: tiles (`tile_rows`) on
    the two-stage path, else blocks (`block_rows`). A score is the float32 rounding of its
    block's product, which BLAS may round differently for another number of rows."""
    k = min(k, n_items)
    two_stage = two_stage_applies(n_items, k, device)
    step = (
        tile_rows(n_items, k, budget_bytes) if two_stage else block_rows(n_items, k, budget_bytes)
    )
    starts = list(range(0, n_q, step))
    if len(starts) > 1 and n_q - starts[-1] == 1 and step >= 3:
        # A one-row product takes BLAS's matrix-vector path, whose float32 rounding differs
        # most from the matrix product's: the last block takes a row from the one before.
        starts[-1] -= 1
    return list(zip(starts, [*starts[1:], n_q], strict=True))


@torch.no_grad()
def exact_topk(
    queries: np.ndarray | torch.Tensor,
    items: np.ndarray | torch.Tensor,
    k: int,
    exclude_rows: np.ndarray | None = None,
    exclude_items: np.ndarray | None = None,
    budget_bytes: int = 256 * 2**20,
    device: torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items by dot product for every query row, in decreasing score order.

    Queries are taken in blocks whose (block, N) float32 score matrix fits `budget_bytes`;
    each block is multiplied by the item matrix, its excluded pairs set to -inf, and reduced
    to its top k: on the CPU by the exact two-stage selection of this module's docstring, in
    cache-sized tiles (`tile_rows`), elsewhere by `torch.topk` on the whole block.

    Parameters
    ----------
    queries : (Q, d) array or tensor
        Query vectors (seekers).
    items : (N, d) array or tensor
        Item vectors (ads).
    k : int
        Items a query.
    exclude_rows, exclude_items : (E,) int arrays, optional
        (query row, item) pairs that must not be returned (ads a seeker already applied to).
        Their score is -inf: they can appear, last, only when fewer than k other items
        remain, and callers drop the non-finite entries.
    budget_bytes : int, default 256 MiB
        Memory budget of a score block (`block_rows`, `tile_rows`).
    device : torch.device, optional
        Default `pick_device()`.

    Returns
    -------
    scores : (Q, k') float32 array
        The top scores, k' = min(k, N), best first.
    indices : (Q, k') int64 array
        Their item rows.
    """
    device = device or pick_device()
    q = torch.as_tensor(queries, dtype=torch.float32).to(device)
    it = torch.as_tensor(items, dtype=torch.float32).to(device)
    n_q, n_items = q.shape[0], it.shape[0]
    k = min(k, n_items)
    scores = np.empty((n_q, k), dtype=np.float32)
    index = np.empty((n_q, k), dtype=np.int64)
    if exclude_rows is not None and len(exclude_rows):
        order = np.argsort(exclude_rows, kind="stable")
        ex_rows, ex_items = np.asarray(exclude_rows)[order], np.asarray(exclude_items)[order]
    else:
        ex_rows = ex_items = np.zeros(0, dtype=np.int64)
    two_stage = two_stage_applies(n_items, k, device)
    blocks = row_blocks(n_q, n_items, k, budget_bytes, device)
    if two_stage:
        # Pad the items to a multiple of FINE so that a row views as (FINE, groups); the
        # padding columns are set to -inf and can never pass a finite threshold.
        groups = -(-n_items // FINE)
        it_t = torch.zeros((it.shape[1], FINE * groups), dtype=torch.float32)
        it_t[:, :n_items] = it.T
        select = _TwoStage(n_items, groups, k)
        out_s, out_i = torch.from_numpy(scores), torch.from_numpy(index)
    else:
        it_t = it.T.contiguous()
    rows = max(hi - lo for lo, hi in blocks) if blocks else 0
    block = torch.empty((rows, it_t.shape[1]), dtype=torch.float32, device=device)
    for lo, hi in blocks:  # blocks, not single seekers
        out = block[: hi - lo]
        torch.mm(q[lo:hi], it_t, out=out)
        a, b = np.searchsorted(ex_rows, [lo, hi])
        if b > a:
            r = torch.as_tensor(ex_rows[a:b] - lo, device=device)
            c = torch.as_tensor(ex_items[a:b], device=device)
            out[r, c] = float("-inf")
        if two_stage:
            select(out, out_s[lo:hi], out_i[lo:hi])
            continue
        top = torch.topk(out, k, dim=1, largest=True, sorted=True)
        scores[lo:hi] = top.values.cpu().numpy()
        index[lo:hi] = top.indices.cpu().numpy()
    return scores, index


class _TwoStage:
    """The exact two-stage top-k of a CPU score tile, written into the caller's outputs."""

    def __init__(self, n_items: int, groups: int, k: int) -> None:
        self.n_items, self.groups, self.k = n_items, groups, k

    def __call__(self, out: torch.Tensor, s_out: torch.Tensor, i_out: torch.Tensor) -> None:
        """Top k of each row of `out` (rows, FINE·groups) into `s_out`, `i_out` (rows, k)."""
        if out.shape[1] > self.n_items:
            out[:, self.n_items :] = float("-inf")  # padding never passes a finite threshold
        plain = np.zeros(out.shape[0], dtype=np.bool_)
        max_hot = MAX_HOT_PER_K * self.k  # read at call time: tests lower it
        s, i = s_out.numpy(), i_out.numpy()
        chunks = min(numba.get_num_threads(), out.shape[0])  # a chunk of rows per thread
        _select_rows(out.numpy(), self.k, COARSE_PER_K * self.k, max_hot, s, i, plain, chunks)
        if plain.any():
            # Rows the threshold cannot prune: a -inf threshold (fewer than k coarse groups
            # with a finite score, e.g. most items excluded), a NaN score (which torch.topk
            # ranks first), or too many groups at the threshold (many equal scores).
            idx = torch.from_numpy(np.flatnonzero(plain))
            top = torch.topk(out[idx, : self.n_items], self.k, dim=1, sorted=True)
            s_out[idx], i_out[idx] = top.values, top.indices


@numba.njit(inline="always")
def _descending_key(value):
    """A uint32 whose ascending order is the float32's descending order (branch-free: the
    sign decides, per value, whether the magnitude bits are flipped)."""
    bits = np.float32(value).view(np.int32)
    return np.uint32(bits ^ (np.int32(0x7FFFFFFF) & ~(bits >> np.int32(31))))


@numba.njit(inline="always")
def _key_value(key):
    """The float32 of a `_descending_key`."""
    if key >> np.uint32(31):
        return np.uint32(key).view(np.float32)
    return np.uint32(np.uint32(0x7FFFFFFF) - key).view(np.float32)


@numba.njit(inline="always")
def _threshold(coarse, k, keys, hist):
    """A score at most the k-th largest of `coarse`, and within one histogram bin of it: the
    smallest score the bins (of the order-preserving keys) holding the k largest can hold.
    Two branch-light passes instead of a quickselect, whose mispredicted branches cost 2x more
    here. NaN when a coarse maximum is NaN."""
    lo, hi = np.uint32(0xFFFFFFFF), np.uint32(0)
    nan = False
    for i in range(len(coarse)):
        nan |= coarse[i] != coarse[i]
        key = _descending_key(coarse[i])
        keys[i] = key
        lo, hi = min(lo, key), max(hi, key)
    if nan:
        return np.float32(np.nan)
    shift = np.uint32(0)
    while ((hi - lo) >> shift) >= np.uint32(len(hist)):
        shift += np.uint32(1)
    hist[:] = 0
    for i in range(len(coarse)):
        hist[(keys[i] - lo) >> shift] += 1
    below, b = 0, 0
    while below + hist[b] < k:
        below += hist[b]
        b += 1
    # The bin's last key is its smallest score; never past `hi`, the smallest coarse maximum.
    last = np.uint64(lo) + ((np.uint64(b) + np.uint64(1)) << np.uint64(shift)) - np.uint64(1)
    return _key_value(np.uint32(min(last, np.uint64(hi))))


@numba.njit(inline="always")
def _radix_sort(keys, values, n, keys_tmp, values_tmp, hist):
    """Stable LSD radix sort of keys[:n] carrying values[:n], in place; 8-bit digits, only as
    many as the keys' span needs (survivors share their high bits)."""
    lo, hi = keys[0], keys[0]
    for i in range(n):
        lo, hi = min(lo, keys[i]), max(hi, keys[i])
    src_k, src_v, dst_k, dst_v = keys, values, keys_tmp, values_tmp
    shift, swapped = np.uint32(0), False
    while shift < 32 and ((hi - lo) >> shift) > 0:
        hist[:] = 0
        for i in range(n):
            hist[((src_k[i] - lo) >> shift) & np.uint32(255)] += 1
        total = 0
        for b in range(256):
            total, hist[b] = total + hist[b], total
        for i in range(n):
            d = ((src_k[i] - lo) >> shift) & np.uint32(255)
            dst_k[hist[d]], dst_v[hist[d]] = src_k[i], src_v[i]
            hist[d] += 1
        src_k, src_v, dst_k, dst_v = dst_k, dst_v, src_k, src_v
        swapped = not swapped
        shift += np.uint32(8)
    if swapped:
        keys[:n], values[:n] = src_k[:n], src_v[:n]


@numba.njit(parallel=True, cache=True)
def _select_rows(scores, k, n_coarse, max_hot, s_out, i_out, plain, n_chunks):
    """The exact top k of each score row (module docstring), rows spread over numba's threads.

    A row viewed as (FINE, groups): fine group g holds items g, g + groups, ... Survivors are
    gathered stripe by stripe, so in ascending item order, and the stable sort keeps equal
    scores in that order. Rows that cannot be pruned are flagged in `plain` and left alone.
    """
    rows, groups = scores.shape[0], scores.shape[1] // FINE
    per_coarse = groups // n_coarse
    head = per_coarse * n_coarse
    cap = FINE * (max_hot + 1)
    for chunk in numba.prange(n_chunks):
        fine = np.empty(groups, np.float32)
        coarse = np.empty(n_coarse, np.float32)
        hot = np.empty(groups, np.int32)
        keys, keys_tmp = np.empty(cap, np.uint32), np.empty(cap, np.uint32)
        items, items_tmp = np.empty(cap, np.int32), np.empty(cap, np.int32)
        hist_thr, hist_sort = np.empty(2048, np.int64), np.empty(256, np.int64)
        for r in range(chunk, rows, n_chunks):
            row = scores[r]
            # Maxima over strided groups: elementwise maxima of contiguous slices vectorise.
            fine[:] = row[:groups]
            for m in range(1, FINE):
                stripe = row[m * groups : (m + 1) * groups]
                for g in range(groups):
                    fine[g] = max(fine[g], stripe[g])
            coarse[:] = fine[:n_coarse]
            for c in range(1, per_coarse):
                part = fine[c * n_coarse : (c + 1) * n_coarse]
                for g in range(n_coarse):
                    coarse[g] = max(coarse[g], part[g])
            for g in range(head, groups):  # fewer than n_coarse left over: fold them in
                coarse[g - head] = max(coarse[g - head], fine[g])
            thr = _threshold(coarse, k, keys, hist_thr)
            if not thr > -np.inf:  # NaN, or fewer than k coarse groups with a finite score
                plain[r] = True
                continue
            n_hot = 0
            for g in range(groups):  # branch-free compaction: write always, advance if hot
                hot[n_hot] = g
                n_hot += fine[g] >= thr
            if n_hot > max_hot:
                plain[r] = True
                continue
            n = 0
            for m in range(FINE):
                for h in range(n_hot):
                    item = m * groups + hot[h]
                    items[n] = item
                    n += row[item] >= thr
            for i in range(n):
                keys[i] = _descending_key(row[items[i]])
            _radix_sort(keys, items, n, keys_tmp, items_tmp, hist_sort)
            for i in range(k):
                i_out[r, i] = items[i]
                s_out[r, i] = row[items[i]]
