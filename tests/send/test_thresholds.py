"""The thresholds' evaluator and searches (jobrec.thresholds): Wilson bounds against
statsmodels' formula by hand, the suffix-sum tables against a direct count, the grid's optimum
against brute force, and a hand-traced greedy run (the triples it visits, its pruning)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from jobrec.send import thresholds


def test_wilson_upper_by_hand():
    # 2 successes in 10: p = 0.2, z = 1.96
    z = 1.959964
    p, n = 0.2, 10
    expected = (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )
    assert thresholds.wilson_upper(2, 10) == pytest.approx(expected)
    assert thresholds.wilson_upper(2, 10) == pytest.approx(0.5098, abs=1e-4)
    # no event in 100 sends still allows 3.7%: tiny samples cannot pass a 0.045% SLO by luck
    assert thresholds.wilson_upper(0, 100) == pytest.approx(z * z / (100 + z * z))
    assert thresholds.wilson_upper(0, 0) == 1.0


def random_sends(seed, n=3000, segments=3):
    rng = np.random.default_rng(seed)
    probs = rng.random((n, 3))
    outcomes = rng.random((n, 5)) < np.array([0.3, 0.2, 0.1, 0.01, 0.05])
    return rng.integers(0, segments, n), probs, outcomes


def test_tables_equal_direct_counts():
    seg, probs, outcomes = random_sends(0)
    grid = thresholds.quantile_grid(probs, steps=6)
    tables = thresholds.build_tables(seg, thresholds.bins(probs, grid), outcomes, 3, grid)
    for s, i, j, k in [(0, 0, 0, 0), (1, 2, 3, 4), (2, 5, 5, 5), (0, 5, 0, 3)]:
        passing = (seg == s) & (probs >= grid[[0, 1, 2], [i, j, k]]).all(axis=1)
        direct = [passing.sum(), *(outcomes[passing, c].sum() for c in range(5))]
        np.testing.assert_array_equal(tables.counts[s, :, i, j, k], direct)


def table_of(applies, sends, positives):
    """A one-segment table (6, G, G, G) from per-triple metrics (no unsubscribes or negatives,
    many sends, so the SLOs hold)."""
    counts = np.zeros((6, *applies.shape))
    counts[0], counts[1], counts[2], counts[3] = sends, sends, applies, positives
    return counts


def test_grid_search_equals_brute_force():
    rng = np.random.default_rng(1)
    g = 4
    sends = rng.integers(20_000, 40_000, (g, g, g)).astype(float)
    applies = np.floor(sends * rng.uniform(0.02, 0.05, (g, g, g)))
    positives = np.floor(applies * rng.uniform(0.1, 0.4, (g, g, g)))
    counts = table_of(applies, sends, positives)
    default = (1, 1, 1)
    result = thresholds.grid_search(counts, default)
    m = thresholds.metrics_of(counts)
    base = {k: m[k][default] for k in thresholds.METRICS}
    best, best_score = None, 0.0
    for t in itertools.product(range(g), repeat=3):
        d = [m[k][t] / base[k] - 1 for k in thresholds.METRICS]
        if all(x > 0 for x in d) and sum(0.25 * x for x in d) > best_score:
            best, best_score = t, sum(0.25 * x for x in d)
    assert result.triple == best and result.objective == pytest.approx(best_score)
    assert result.evaluations == g**3


def test_greedy_visits_by_hand():
    # G = 2. Volume (applies) and apply rate depend on (θ_JA, θ_PO) only; θ_JR changes nothing
    # but is still swept. Defaults (0, 1, 1): 100 applies at rate 0.10, 20 positives.
    g = 2
    applies = np.zeros((g, g, g))
    sends = np.zeros((g, g, g))
    positives = np.zeros((g, g, g))
    values = {  # (ja, po): (applies, sends, positives)
        (0, 0): (300, 5000, 30),  # more volume, lower rate than the defaults
        (0, 1): (150, 1200, 40),  # everything better: admissible
        (1, 0): (120, 1000, 25),  # everything better, smaller objective
        (1, 1): (100, 1000, 20),  # the defaults' values
    }
    for r in range(g):
        for (ja, po), (a, s, p) in values.items():
            applies[r, ja, po], sends[r, ja, po], positives[r, ja, po] = a, s * 10, p
    counts = table_of(applies, sends, positives)
    result = thresholds.greedy_search(counts, (0, 1, 1))
    # θ_JR = 0: JA up from 0, PO down from 1: (0,0,1) is admissible and becomes the best
    # (rate 0.0125 > 0.01); (0,0,0) has rate 0.006 < best: the inner sweep stops; the largest
    # volume reached (300) is not below the best's (150): JA rises to 1: (0,1,1) rate 0.01 <
    # 0.0125 stops at once, volume 100 < 150 stops the outer sweep. Reverse order: PO up from 0,
    # JA down from 1: (0,1,0) rate 0.012 < 0.0125 stops; reached 120 < 150 stops.
    # θ_JR = 1: the same walk on (1, ·, ·), nothing better than the incumbent.
    assert result.visited == [
        (0, 0, 1),
        (0, 0, 0),
        (0, 1, 1),
        (0, 1, 0),
        (1, 0, 1),
        (1, 0, 0),
        (1, 1, 1),
        (1, 1, 0),
    ]
    assert result.triple == (0, 0, 1) and result.evaluations == 8
    assert result.triple == thresholds.grid_search(counts, (0, 1, 1)).triple


def test_slo_blocks_small_samples_and_high_rates():
    counts = np.zeros((6, 1, 1, 1))
    counts[:, 0, 0, 0] = [100, 50, 10, 2, 0, 1]  # 0 unsubscribes in 100 sends: bound 3.7%
    assert not thresholds.slo_met(thresholds.metrics_of(counts)).any()
    counts[:, 0, 0, 0] = [200_000, 50_000, 10_000, 2_000, 10, 5_000]  # 0.005%, 10% negatives
    assert thresholds.slo_met(thresholds.metrics_of(counts)).all()
    counts[:, 0, 0, 0] = [200_000, 50_000, 10_000, 2_000, 10, 12_000]  # 24% negatives > 22.5%
    assert not thresholds.slo_met(thresholds.metrics_of(counts)).any()


def test_default_balances_the_four_metrics_under_the_slos():
    g = 3
    # along θ_PO (the other thresholds change nothing): sends 900k, 600k, 300k; applies 27k,
    # 24k, 15k; positives 5.4k, 6k, 4.5k. Σ ¼ log x_i = ¼ log(a p² / s): 874,800, 1,440,000,
    # 1,012,500 — the middle one, where the largest volume would send everything
    sends = np.array([[[9e5, 6e5, 3e5]] * g] * g)
    applies = np.array([[[27e3, 24e3, 15e3]] * g] * g)
    positives = np.array([[[5.4e3, 6e3, 4.5e3]] * g] * g)
    counts = table_of(applies, sends, positives)
    assert thresholds.default_triple(counts) == (0, 0, 1)
    m = thresholds.metrics_of(counts[:, 0, 0, :])
    assert np.exp(4 * thresholds.unified_score(m)) == pytest.approx([874_800, 1_440_000, 1_012_500])
    # 500 and 400 unsubscribes (0.056%, 0.067%) break the SLO below θ_PO = 2: the best that holds
    counts[4] = np.array([[[500, 400, 10]] * g] * g)
    assert thresholds.default_triple(counts) == (0, 0, 2)
    # no triple holds: the one closest to holding
    counts[4] = np.array([[[900, 600, 200]] * g] * g)
    assert thresholds.default_triple(counts) == (0, 0, 2)


def test_search_grid_is_finer_around_the_defaults():
    # uniform probabilities: a quantile level is its own threshold
    probs = np.tile(np.linspace(0.0, 1.0, 100_001)[:, None], (1, 3))
    grid, default = thresholds.search_grid(probs, [0.4, 0.0, 0.85], steps=20, half_range=0.2)
    assert grid.shape == (3, 20) and default == (10, 0, 14)
    # 0.4 ± 0.2 in steps of 0.02; at 0 the window starts at 0; near the top it ends at 0.95
    np.testing.assert_allclose(grid[0], 0.2 + 0.02 * np.arange(20), atol=1e-9)
    np.testing.assert_allclose(grid[1], 0.02 * np.arange(20), atol=1e-9)
    np.testing.assert_allclose(grid[2], 0.57 + 0.02 * np.arange(20), atol=1e-9)
    assert [grid[m, default[m]] for m in range(3)] == pytest.approx([0.4, 0.0, 0.85])
    # a level off the window's steps becomes a grid point itself, the order kept
    grid, default = thresholds.search_grid(probs, [0.4737, 0.4737, 0.4737])
    assert grid[0, default[0]] == pytest.approx(0.4737) and (np.diff(grid[0]) > 0).all()
    with pytest.raises(ValueError, match="half_range"):
        thresholds.search_grid(probs, [0.5] * 3, half_range=0.6)


def test_tuning_tables_keep_the_unified_defaults():
    seg, probs, outcomes = random_sends(3, n=20_000)
    probs[:, 0] = probs[:, 0] ** 3  # a response model with a skewed scale
    tables, default = thresholds.tuning_tables(seg, probs, outcomes, 3, steps=8, half_range=0.2)
    coarse = thresholds.quantile_grid(probs, 8)
    everyone = np.zeros(len(seg), int)
    pooled = thresholds.build_tables(
        everyone, thresholds.bins(probs, coarse), outcomes, 1, coarse
    ).counts[0]
    unified = thresholds.default_triple(pooled)
    # the defaults are the same thresholds in both grids, so the same sends pass them
    np.testing.assert_allclose(
        tables.grid[[0, 1, 2], list(default)], coarse[[0, 1, 2], list(unified)]
    )
    np.testing.assert_array_equal(
        tables.pooled().counts[0][(slice(None), *default)], pooled[(slice(None), *unified)]
    )
