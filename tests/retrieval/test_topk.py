"""Exact blocked top-k: the same answer as a full sort, whatever the block size."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from jobrec.devices import pick_device
from jobrec.retrieval import topk
from jobrec.retrieval.topk import block_rows, exact_topk, tile_rows, two_stage_applies


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(53, 16)).astype(np.float32), rng.normal(size=(211, 16)).astype(
        np.float32
    )


@pytest.mark.parametrize("budget", [1, 4 * 211 * 7, 2**30])  # 1 row, 7 rows, all rows a block
def test_blocked_topk_equals_full_sort(data, budget):
    q, items = data
    full = q.astype(np.float64) @ items.T.astype(np.float64)
    expected = np.argsort(-full, axis=1)[:, :20]
    scores, index = exact_topk(q, items, 20, budget_bytes=budget, device=torch.device("cpu"))
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_excluded_pairs_are_never_returned(data):
    q, items = data
    _, first = exact_topk(q, items, 5)
    rows = np.repeat(np.arange(len(q)), 2)
    excluded = first[:, :2].ravel()  # each seeker's two best ads, e.g. already applied to
    _, index = exact_topk(q, items, 5, exclude_rows=rows, exclude_items=excluded, budget_bytes=4000)
    np.testing.assert_array_equal(index, exact_topk(q, items, 7)[1][:, 2:])


def test_k_larger_than_the_catalogue(data):
    q, items = data
    scores, index = exact_topk(q, items[:9], 1000)
    assert index.shape == (53, 9) and (np.sort(index, axis=1) == np.arange(9)).all()


def test_block_size_follows_the_memory_budget():
    assert block_rows(2_200_000, 1000, 256 * 2**20) == 30
    assert block_rows(10, 5, 1) == 1
    assert pick_device().type in ("cpu", "cuda")


# The CPU two-stage selection against torch.topk on the full float32 score matrix: the same
# top-k sets and scores. Continuous random data, so that ties have probability ~0. The full
# matrix is the product exact_topk computes (against the contiguous transposed items): BLAS's
# transposed-operand and one-row kernels round the last bit differently, which would swap
# near-ties for reasons that are not the selection's.
CPU = torch.device("cpu")


def _random(n_q, n_items, d, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n_q, d)).astype(np.float32),
        rng.normal(size=(n_items, d)).astype(np.float32),
    )


def _full_topk(q, items, k, ex_rows=None, ex_items=None, budget=256 * 2**20):
    """torch.topk over every score, each score the product of the rows `exact_topk` multiplies
    together (BLAS may round a product of another number of rows differently: seen on AMD
    EPYC for 4-row tiles against the 40-row whole; the whole product agrees to float32
    precision)."""
    q, it_t = torch.as_tensor(q), torch.as_tensor(items).T.contiguous()
    blocks = topk.row_blocks(len(q), it_t.shape[1], k, budget, CPU)
    full = torch.cat([torch.mm(q[lo:hi], it_t) for lo, hi in blocks])
    whole = torch.mm(q, it_t)
    both = torch.isfinite(whole)
    torch.testing.assert_close(full[both], whole[both], rtol=1e-5, atol=1e-5)
    if ex_rows is not None:
        full[torch.as_tensor(ex_rows), torch.as_tensor(ex_items)] = float("-inf")
    top = torch.topk(full, min(k, full.shape[1]), dim=1, sorted=True)
    return top.values.numpy(), top.indices.numpy()


def _assert_same_topk(got, expected):
    """Same scores in the same (decreasing) order, same item sets among the finite scores."""
    (scores, index), (ref_scores, ref_index) = got, expected
    assert index.shape == ref_index.shape
    np.testing.assert_array_equal(scores, ref_scores)
    assert (scores[:, 1:] <= scores[:, :-1]).all()
    finite = np.isfinite(scores)  # -inf entries (excluded pairs) tie: any of them will do
    for row in range(len(index)):
        assert set(index[row, finite[row]]) == set(ref_index[row, finite[row]])


@pytest.mark.parametrize(
    ("n_q", "n_items", "k", "d", "budget"),
    [
        (40, 5_000, 50, 16, 4 * 49_325),  # 4-row tiles: tile boundaries, a short last tile
        (40, 5_003, 50, 16, 2**28),  # padding columns (N not a multiple of 8)
        (9, 5_000, 50, 16, 4 * 49_325),  # 4, 3, 2 rows: never a one-row product
        (30, 1_600, 100, 8, 2**28),  # the smallest N for k: one fine group a coarse group
        (9, 20_001, 1_000, 64, 2**28),  # the production k
        (25, 3_000, 1, 4, 2**28),  # k = 1
        (20, 300, 290, 8, 2**28),  # k close to N: the plain path
        (20, 100, 1_000, 8, 2**28),  # k > N: all N items
    ],
)
def test_two_stage_equals_torch_topk_on_the_full_matrix(n_q, n_items, k, d, budget):
    q, items = _random(n_q, n_items, d)
    got = exact_topk(q, items, k, budget_bytes=budget, device=CPU)
    _assert_same_topk(got, _full_topk(q, items, k, budget=budget))


def test_two_stage_honours_exclusions_even_when_most_items_are_excluded():
    q, items = _random(24, 8_000, 16, seed=1)
    rng = np.random.default_rng(2)
    rows = [np.repeat(np.arange(24), 200), rng.integers(0, 24, 3_000)]
    items_ex = [rng.integers(0, 8_000, 24 * 200), rng.integers(0, 8_000, 3_000)]
    rows.append(np.full(8_000 - 30, 3))  # row 3: 30 items left, fewer than k: -inf threshold
    items_ex.append(rng.permutation(8_000)[30:])
    rows.append(np.full(8_000 - 600, 5))  # row 5: 600 left, the threshold still prunes
    items_ex.append(rng.permutation(8_000)[600:])
    ex_rows, ex_items = np.concatenate(rows), np.concatenate(items_ex)
    got = exact_topk(q, items, 100, ex_rows, ex_items, budget_bytes=10**6, device=CPU)
    _assert_same_topk(got, _full_topk(q, items, 100, ex_rows, ex_items))
    left = 8_000 - len(np.unique(ex_items[ex_rows == 3]))  # 30 or a few fewer
    assert left <= 30 and np.isfinite(got[0][3]).sum() == left
    excluded = set(zip(ex_rows.tolist(), ex_items.tolist(), strict=True))
    assert not any(
        (r, i) in excluded for r, i in np.argwhere(np.isfinite(got[0])) for i in [got[1][r, i]]
    )


def test_top_items_crowded_in_one_coarse_group():
    """The threshold comes from the other groups and prunes little; the answer is the same."""
    n_items, k = 20_000, 100
    q, items = _random(12, n_items, 8, seed=3)
    groups = n_items // topk.FINE
    crowded = np.flatnonzero((np.arange(n_items) % groups) % (topk.COARSE_PER_K * k) == 0)
    items[crowded] *= 6.0  # the crowded group holds every row's best scores
    got = exact_topk(q, items, k, device=CPU)
    _assert_same_topk(got, _full_topk(q, items, k))


def test_rows_the_threshold_cannot_prune_take_the_plain_path(monkeypatch):
    """Many equal top scores leave every group at the threshold: those rows go plain."""
    q, items = _random(16, 8_000, 8, seed=4)
    items[:5_000] = 10 * items[0]  # 5,000 equal scores a row, the best where q.v0 > 0
    got_s, got_i = exact_topk(q, items, 100, device=CPU)
    ref_s, ref_i = _full_topk(q, items, 100)
    np.testing.assert_array_equal(got_s, ref_s)
    tied = ref_s[:, 0] == ref_s[:, -1]  # rows whose whole top k is the tie: any 100 of 5,000
    assert tied.any() and (~tied).any()
    assert (got_i[tied] < 5_000).all()
    _assert_same_topk((got_s[~tied], got_i[~tied]), (ref_s[~tied], ref_i[~tied]))
    # A tile mixing plain and two-stage rows: a hot-group cap of k sends about half the rows
    # of random data to the plain path.
    monkeypatch.setattr(topk, "MAX_HOT_PER_K", 1)
    q, items = _random(32, 20_000, 16, seed=5)
    _assert_same_topk(exact_topk(q, items, 200, device=CPU), _full_topk(q, items, 200))


def test_a_nan_score_comes_first_as_in_torch_topk():
    q, items = _random(10, 5_000, 8, seed=6)
    items[77, 3] = np.nan
    scores, index = exact_topk(q, items, 50, device=CPU)
    ref_s, ref_i = _full_topk(q, items, 50)
    assert (index[:, 0] == 77).all() and np.isnan(scores[:, 0]).all()
    _assert_same_topk((scores[:, 1:], index[:, 1:]), (ref_s[:, 1:], ref_i[:, 1:]))


def test_two_stage_tiles_fit_the_budget():
    assert two_stage_applies(16_000, 1_000, CPU) and not two_stage_applies(15_992, 1_000, CPU)
    assert not two_stage_applies(350_000, 1_000, torch.device("cuda"))
    for n_items, budget in [(50_000, 256 * 2**20), (350_000, 256 * 2**20), (2_200_000, 2**20)]:
        rows = tile_rows(n_items, 1_000, budget)
        assert rows * 4 * n_items <= topk.TILE_BYTES or rows == 2
    per_row, per_thread = 4 * 50_000 + 12_000, 50_000 + 16 * 8 * (4 * 1_000 + 1)
    threads = numba.get_num_threads()
    assert tile_rows(50_000, 1_000, threads * per_thread + 10 * per_row) == 10
    assert tile_rows(50_000, 1_000, threads * per_thread + 10 * per_row - 1) == 9


def test_descending_keys_order_floats_from_largest_to_smallest():
    values = np.array([np.inf, 3.5, 1.0, 1e-30, 0.0, -1e-30, -1.0, -3.5, -np.inf], dtype=np.float32)
    keys = np.array([topk._descending_key(v) for v in values], dtype=np.uint64)
    assert (np.diff(keys) > 0).all()  # larger score, smaller key
    assert [topk._key_value(np.uint32(k)) for k in keys] == values.tolist()
    rng = np.random.default_rng(8)
    x = rng.normal(size=1_000).astype(np.float32) * 10.0 ** rng.integers(-5, 5, 1_000)
    keys = np.array([topk._descending_key(v) for v in x])
    np.testing.assert_array_equal(x[np.argsort(keys, kind="stable")], -np.sort(-x))


def test_threshold_is_at_most_the_kth_largest_and_keeps_at_least_k():
    rng = np.random.default_rng(9)
    hist, keys = np.empty(2048, np.int64), np.empty(2_000, np.uint32)
    for k in (1, 7, 500, 1_000, 2_000):
        coarse = rng.normal(size=2_000).astype(np.float32)
        thr = topk._threshold(coarse, k, keys, hist)
        kth = np.sort(coarse)[-k]
        assert thr <= kth and (coarse >= thr).sum() >= k
        assert (coarse >= thr).sum() <= k + 10  # within a bin of the k-th: it prunes
    assert np.isnan(topk._threshold(np.array([1.0, np.nan], np.float32), 1, keys, hist))
    # All equal: the threshold is that value.
    assert topk._threshold(np.full(50, 2.5, np.float32), 10, keys, hist) == 2.5


def test_radix_sort_is_a_stable_sort_by_key():
    rng = np.random.default_rng(10)
    for n, span in [(1, 5), (1_400, 300), (1_400, 2**31), (5_000, 2**32 - 1)]:
        keys = rng.integers(0, span, n, dtype=np.uint64).astype(np.uint32)
        items = np.arange(n, dtype=np.int32)
        order = np.argsort(keys, kind="stable")
        expected_keys, expected_items = keys[order], items[order]
        tmp_k, tmp_i = np.empty(n, np.uint32), np.empty(n, np.int32)
        topk._radix_sort(keys, items, n, tmp_k, tmp_i, np.empty(256, np.int64))
        np.testing.assert_array_equal(keys, expected_keys)
        np.testing.assert_array_equal(items, expected_items)


def test_equal_scores_come_in_item_order():
    """Ties inside the top k are listed by ascending item (the survivors' stable sort)."""
    q, items = _random(6, 20_000, 8, seed=11)
    tied = [40, 123, 7_000, 19_999]
    items[tied] = 5 * items[0]  # four equal scores a row, the best in some rows
    scores, index = exact_topk(q, items, 100, device=CPU)
    full = torch.mm(torch.as_tensor(q), torch.as_tensor(items).T.contiguous()).numpy()
    best = full[:, 40] == full.max(axis=1)
    assert best.any()
    for row in np.flatnonzero(best):
        assert scores[row, 0] == scores[row, 3] and list(index[row, :4]) == tied
