"""Exact top-k of seeker × ad dot products, block by block.

The seeker × ad score matrix is never materialised: seekers are taken in blocks whose score
block fits a memory budget, each block is multiplied by the ad matrix and reduced to its top k
at once. Memory is bounded by the budget whatever the number of seekers.
"""

from __future__ import annotations

import numpy as np
import torch

from jobrec.devices import pick_device


def block_rows(n_items: int, k: int, budget_bytes: int) -> int:
    """Seekers per block so that the float32 score block (and top-k buffers) fit the budget."""
    per_row = 4 * n_items + 12 * k
    return max(1, budget_bytes // per_row)


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
    to its top k.

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
        Memory budget of a score block (`block_rows`).
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
    step = block_rows(n_items, k, budget_bytes)
    it_t = it.T.contiguous()
    block = torch.empty((min(step, n_q), n_items), dtype=torch.float32, device=device)
    for lo in range(0, n_q, step):  # blocks of seekers, not single seekers
        hi = min(n_q, lo + step)
        out = block[: hi - lo]
        torch.mm(q[lo:hi], it_t, out=out)
        a, b = np.searchsorted(ex_rows, [lo, hi])
        if b > a:
            r = torch.as_tensor(ex_rows[a:b] - lo, device=device)
            c = torch.as_tensor(ex_items[a:b], device=device)
            out[r, c] = float("-inf")
        top = torch.topk(out, k, dim=1, largest=True, sorted=True)
        scores[lo:hi] = top.values.cpu().numpy()
        index[lo:hi] = top.indices.cpu().numpy()
    return scores, index
