"""Exact top-k of seeker × ad dot products, block by block.

The seeker × ad score matrix is never materialised: seekers are taken in blocks whose score
block fits a memory budget, each block is multiplied by the ad matrix and reduced to its top k
at once. Memory is bounded by the budget whatever the number of seekers.

On the CPU the reduction is a two-stage selection that stays exact. `torch.topk` over a whole
score row costs more than the product that made it (it copies every score into a (value,
index) buffer and selects there; the product is 2d flops a score). Instead each score row is
cut into groups; the k-th largest of the groups' maxima is a threshold that is never above the
row's true k-th score (k distinct groups each hold a score at least that high), so every score
of the top k is at or above it. Only the few groups whose maximum reaches the threshold are
gathered, their scores at or above it kept, and `torch.topk` runs on those survivors (about
1.4 k a row on random data instead of N). Rows where the threshold cannot prune (too many
excluded items, NaN scores, many near-equal scores) take the plain path. The product is done in
tiles of seekers small enough for the score tile to stay in cache while it is read again.
"""

from __future__ import annotations

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

    The budget bounds a row's worst case: its float32 scores, the fine maxima (1/8 of them) and
    their mask, at most 4k hot fine groups of 8 gathered candidates (value, item, mask: 16
    bytes each) and the top-k buffers. The tile's scores stay within `TILE_BYTES`.
    """
    per_row = 4 * n_items + n_items // 2 + n_items // 8 + 16 * FINE * MAX_HOT_PER_K * k + 12 * k
    # At least 2 rows where the budget allows: one row would take the matrix-vector path.
    return max(1, min(budget_bytes // per_row, max(2, TILE_BYTES // (4 * n_items))))


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
    if two_stage:
        step = tile_rows(n_items, k, budget_bytes)
        # Pad the items to a multiple of FINE so that a row views as (FINE, groups); the
        # padding columns are set to -inf and can never pass a finite threshold.
        groups = -(-n_items // FINE)
        it_t = torch.zeros((it.shape[1], FINE * groups), dtype=torch.float32)
        it_t[:, :n_items] = it.T
        select = _TwoStage(n_items, groups, k)
        out_s, out_i = torch.from_numpy(scores), torch.from_numpy(index)
    else:
        step = block_rows(n_items, k, budget_bytes)
        it_t = it.T.contiguous()
    starts = list(range(0, n_q, step))
    if len(starts) > 1 and n_q - starts[-1] == 1 and step >= 3:
        # A one-row product takes BLAS's matrix-vector path, whose float32 rounding differs
        # from the matrix product's: the last block takes a row from the one before, so that
        # a score does not depend on the block size.
        starts[-1] -= 1
    block = torch.empty((min(step, n_q), it_t.shape[1]), dtype=torch.float32, device=device)
    for lo, hi in zip(starts, [*starts[1:], n_q], strict=True):  # blocks, not single seekers
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
        self.n_coarse = COARSE_PER_K * k
        self.per_coarse = groups // self.n_coarse  # >= 1 by `two_stage_applies`
        self.max_hot = MAX_HOT_PER_K * k

    def __call__(self, out: torch.Tensor, s_out: torch.Tensor, i_out: torch.Tensor) -> None:
        """Top k of each row of `out` (rows, FINE·groups) into `s_out`, `i_out` (rows, k)."""
        rows, groups, k, n_coarse = out.shape[0], self.groups, self.k, self.n_coarse
        if out.shape[1] > self.n_items:
            out[:, self.n_items :] = float("-inf")
        # Fine maxima over strided groups: a max across FINE contiguous slices of the row,
        # which vectorises, unlike a reduction along short contiguous runs.
        fine = out.view(rows, FINE, groups).amax(1)
        head = n_coarse * self.per_coarse
        coarse = fine[:, :head].view(rows, self.per_coarse, n_coarse).amax(1)
        if head < groups:  # fewer than n_coarse groups left over: fold them in
            left = groups - head
            coarse[:, :left] = torch.maximum(coarse[:, :left], fine[:, head:])
        # The k-th largest coarse maximum. torch.topk ranks NaN first and amin propagates it,
        # so a row holding a NaN score gets a NaN threshold.
        thr = torch.topk(coarse, k, dim=1, sorted=False).values.amin(1)
        hot = fine >= thr[:, None]
        # Plain path: a -inf threshold (fewer than k coarse groups with a finite score, e.g.
        # most items excluded) prunes nothing, a NaN score must come first as in torch.topk,
        # and many equal scores can leave too many groups at the threshold.
        plain = (hot.sum(1) > self.max_hot) | ~(thr > float("-inf"))
        n_plain = int(plain.sum())
        if n_plain:
            hot[plain] = False
            idx = plain.nonzero().squeeze(1)
            top = torch.topk(out[idx, : self.n_items], k, dim=1, sorted=True)
            s_out[idx], i_out[idx] = top.values, top.indices
            if n_plain == rows:
                return
        # Gather the hot groups' scores; keep those at or above the row's threshold.
        row, group = hot.nonzero().unbind(1)
        vals = out.view(rows, FINE, groups)[row, :, group]  # (hot groups, FINE)
        hot_i, member = (vals >= thr[row, None]).nonzero().unbind(1)
        s_row, s_val = row[hot_i], vals[hot_i, member]
        s_item = group[hot_i] + member * groups
        # Lay the survivors out one row each (nonzero is row-major), -inf padded, and take the
        # exact top k there; a pruned row has at least k survivors.
        count = torch.bincount(s_row, minlength=rows)
        width = int(count.max())
        cell = s_row * width + torch.arange(len(s_row)) - (torch.cumsum(count, 0) - count)[s_row]
        val_pad = torch.full((rows, width), float("-inf"))
        val_pad.view(-1)[cell] = s_val
        item_pad = torch.empty((rows, width), dtype=torch.int64)  # cells past a count: unread
        item_pad.view(-1)[cell] = s_item
        top = torch.topk(val_pad, k, dim=1, sorted=True)
        done = (~plain).nonzero().squeeze(1) if n_plain else slice(None)
        s_out[done] = top.values[done]
        i_out[done] = item_pad.gather(1, top.indices)[done]
