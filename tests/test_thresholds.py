"""The thresholds' evaluator and searches (jobrec.thresholds): Wilson bounds against
statsmodels' formula by hand, the suffix-sum tables against a direct count, the grid's optimum
against brute force, and a hand-traced greedy run (the triples it visits, its pruning)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from jobrec import thresholds as th


def test_wilson_upper_by_hand():
    # 2 successes in 10: p = 0.2, z = 1.96
    z = 1.959964
    p, n = 0.2, 10
    expected = (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )
    assert th.wilson_upper(2, 10) == pytest.approx(expected)
    assert th.wilson_upper(2, 10) == pytest.approx(0.5098, abs=1e-4)
    # no event in 100 sends still allows 3.7%: tiny samples cannot pass a 0.045% SLO by luck
    assert th.wilson_upper(0, 100) == pytest.approx(z * z / (100 + z * z))
    assert th.wilson_upper(0, 0) == 1.0


def random_sends(seed, n=3000, segments=3):
    rng = np.random.default_rng(seed)
    probs = rng.random((n, 3))
    outcomes = rng.random((n, 5)) < np.array([0.3, 0.2, 0.1, 0.01, 0.05])
    return rng.integers(0, segments, n), probs, outcomes


def test_tables_equal_direct_counts():
    seg, probs, outcomes = random_sends(0)
    grid = th.quantile_grid(probs, steps=6)
    tables = th.build_tables(seg, th.bins(probs, grid), outcomes, 3, grid)
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
    result = th.grid_search(counts, default)
    m = th.metrics_of(counts)
    base = {k: m[k][default] for k in th.METRICS}
    best, best_score = None, 0.0
    for t in itertools.product(range(g), repeat=3):
        d = [m[k][t] / base[k] - 1 for k in th.METRICS]
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
    result = th.greedy_search(counts, (0, 1, 1))
    # θ_JR = 0: JA up from 0, PO down from 1: (0,0,1) is admissible and becomes the best
    # (rate 0.0125 > 0.01); (0,0,0) has rate 0.006 < best: the inner sweep stops; the largest
    # volume reached (300) is not below the best's (150): JA rises to 1: (0,1,1) rate 0.01 <
    # 0.0125 stops at once, volume 100 < 150 stops the outer sweep. Reverse order: PO up from 0,
    # JA down from 1: (0,1,0) rate 0.012 < 0.0125 stops; reached 120 < 150 stops.
    # θ_JR = 1: the same walk on (1, ·, ·), nothing better than the incumbent.
    assert result.visited == [(0, 0, 1), (0, 0, 0), (0, 1, 1), (0, 1, 0),
                              (1, 0, 1), (1, 0, 0), (1, 1, 1), (1, 1, 0)]  # fmt: skip
    assert result.triple == (0, 0, 1) and result.evaluations == 8
    assert result.triple == th.grid_search(counts, (0, 1, 1)).triple


def test_slo_blocks_small_samples_and_high_rates():
    counts = np.zeros((6, 1, 1, 1))
    counts[:, 0, 0, 0] = [100, 50, 10, 2, 0, 1]  # 0 unsubscribes in 100 sends: bound 3.7%
    assert not th.slo_met(th.metrics_of(counts)).any()
    counts[:, 0, 0, 0] = [200_000, 50_000, 10_000, 2_000, 10, 5_000]  # 0.005%, 10% negatives
    assert th.slo_met(th.metrics_of(counts)).all()
    counts[:, 0, 0, 0] = [200_000, 50_000, 10_000, 2_000, 10, 12_000]  # 24% negatives > 22.5%
    assert not th.slo_met(th.metrics_of(counts)).any()


def test_default_is_the_largest_volume_under_the_slos():
    g = 3
    sends = np.array([[[9e5, 6e5, 3e5]] * g] * g)  # volume falls with θ_PO only
    applies = sends * 0.03
    counts = table_of(applies, sends, applies * 0.2)
    counts[4] = sends * np.array([8e-4, 3e-4, 2e-4])  # unsubscribes: only PO ≥ 1 meets the SLO
    assert th.default_triple(counts) == (0, 0, 1)
