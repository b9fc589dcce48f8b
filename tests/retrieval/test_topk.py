"""Exact blocked top-k: the same answer as a full sort, whatever the block size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jobrec.devices import pick_device
from jobrec.retrieval.topk import block_rows, exact_topk


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
