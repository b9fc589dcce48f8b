"""The sparse OT solver (jobrec.transport): agreement with POT's dense solvers given a huge cost off
the edge list (balanced and semi-relaxed), hand-checkable plans, the underflow fallback, warm
starts, costs, the listwise calibration and the final lists."""

from __future__ import annotations

import math

import numpy as np
import ot as pot
import pytest
from scipy.special import logsumexp

from jobrec import transport

OFF_EDGE = 1e4  # POT's cost off the edge list: its kernel there is exp(-1e4 / ε) = 0


def random_instance(seed: int, seekers: int = 300, ads: int = 400, k: int = 60):
    rng = np.random.default_rng(seed)
    cols = np.stack([rng.choice(ads, k, replace=False) for _ in range(seekers)])
    # popular ads score higher for everyone: congestion for OT to relieve
    appeal = rng.normal(size=ads)
    scores = 1.5 * appeal[cols] + rng.normal(size=(seekers, k))
    cost = transport.edge_costs(scores, "neglogp")
    a = np.ones(seekers)
    b = transport.capacities(rng.integers(1, 5, ads), seekers)
    return transport.EdgeGraph(cols, cost, a, b)


def dense(graph: transport.EdgeGraph, values: np.ndarray, fill: float) -> np.ndarray:
    out = np.full((len(graph.seeker_mass), graph.n_ads), fill)
    np.put_along_axis(out, graph.ads, values, axis=1)
    return out


@pytest.mark.parametrize("epsilon", [1.0, 0.3])
def test_balanced_equals_pot_sinkhorn_log(epsilon):
    g = random_instance(0)
    sol = transport.solve(
        g, transport.OTConfig(epsilon=epsilon, tau=math.inf, tol=1e-11, max_iter=50_000)
    )
    ref = pot.sinkhorn(
        g.seeker_mass,
        g.ad_mass,
        dense(g, g.cost, OFF_EDGE),
        epsilon,
        method="sinkhorn_log",
        numItermax=200_000,
        stopThr=1e-13,
    )
    assert sol.converged
    np.testing.assert_allclose(dense(g, sol.plan, 0.0), ref, atol=1e-8)
    # the balanced plan meets both marginals
    np.testing.assert_allclose(sol.plan.sum(1), g.seeker_mass, rtol=1e-9)
    np.testing.assert_allclose(dense(g, sol.plan, 0.0).sum(0), g.ad_mass, rtol=1e-8)


@pytest.mark.parametrize(("epsilon", "tau"), [(1.0, 1.0), (0.5, 0.2), (0.1, 5.0)])
def test_semi_relaxed_equals_pot_unbalanced(epsilon, tau):
    g = random_instance(1)
    sol = transport.solve(
        g, transport.OTConfig(epsilon=epsilon, tau=tau, tol=1e-11, max_iter=50_000)
    )
    ref = pot.unbalanced.sinkhorn_unbalanced(
        g.seeker_mass,
        g.ad_mass,
        dense(g, g.cost, OFF_EDGE),
        epsilon,
        (math.inf, tau),
        method="sinkhorn",
        reg_type="kl",
        numItermax=200_000,
        stopThr=1e-14,
    )
    assert sol.converged and sol.ad_marginal_error < 1e-9
    np.testing.assert_allclose(dense(g, sol.plan, 0.0), ref, atol=1e-9)
    np.testing.assert_allclose(sol.plan.sum(1), 1.0, rtol=1e-9)  # seeker marginal is fixed


def test_no_ad_constraint_is_each_seekers_softmax():
    # τ = 0: the ad marginal costs nothing, each row is b_j exp(-C/ε) normalised
    cost = np.array([[0.0, 1.0, 2.0]])
    b = np.array([1.0, 1.0, 2.0])
    g = transport.EdgeGraph(np.array([[0, 1, 2]]), cost, np.ones(1), b / b.sum())
    sol = transport.solve(g, transport.OTConfig(epsilon=1.0, tau=0.0, tol=1e-12))
    w = np.array([1.0, math.exp(-1), 2 * math.exp(-2)])
    np.testing.assert_allclose(sol.plan[0], w / w.sum(), rtol=1e-12)


def test_contested_ad_goes_to_who_loses_most_without_it():
    # both seekers prefer ad 0; seeker 1 loses 3 by moving, seeker 0 only 1. With capacity one
    # each the balanced plan is [[x, 1 - x], [1 - x, x]] and x / (1 - x) = exp(-(3 - 1) / (2ε)):
    # the optimal assignment (seeker 0 -> ad 1, seeker 1 -> ad 0) softened by ε
    eps = 0.2
    g = transport.EdgeGraph(
        np.array([[0, 1], [0, 1]]), np.array([[0.0, 1.0], [0.0, 3.0]]), np.ones(2), np.ones(2)
    )
    sol = transport.solve(
        g, transport.OTConfig(epsilon=eps, tau=math.inf, tol=1e-12, max_iter=100_000)
    )
    x = 1 / (1 + math.exp(1 / eps))
    assert sol.converged
    np.testing.assert_allclose(sol.plan, [[x, 1 - x], [1 - x, x]], atol=1e-10)


def test_padding_and_ads_without_edges():
    # seeker 1 has one edge (the rest padded); ad 3 is on no list and must stay empty
    cols = np.array([[0, 1, 2], [2, -1, -1]])
    cost = np.array([[0.1, 0.5, 0.2], [0.3, np.inf, np.inf]])
    g = transport.EdgeGraph(cols, cost, np.ones(2), np.array([0.5, 0.5, 0.5, 0.5]))
    sol = transport.solve(g, transport.OTConfig(epsilon=0.5, tau=1.0, tol=1e-12))
    assert sol.converged
    assert sol.plan[1, 0] == pytest.approx(1.0) and (sol.plan[1, 1:] == 0).all()
    assert sol.ad_potential[3] == 0.0 and np.isfinite(sol.plan).all()


def test_ad_update_is_exact_when_an_ads_mass_underflows():
    # ad 1 costs 800 ε on its only edge: its column sum underflows, the fallback is exact
    eps = 1.0
    cols = np.array([[0, 1], [0, 2]])
    cost = np.array([[0.0, 800.0], [0.0, 0.5]])
    a, b = np.ones(2), np.array([1.0, 0.5, 0.5])
    log_k = -cost / eps + np.log(b)[cols] + np.log(a)[:, None]
    phi, psi = np.zeros(2), np.zeros(4)
    plan = np.empty((2, 2))
    phi = transport._seeker_update(log_k, psi, cols, np.log(a), plan)
    assert plan[0, 1] < 1e-300
    new = transport._ad_update(
        plan, cols.ravel(), log_k, phi, psi, np.append(np.log(b), 0), 0.5, np.ones(3, bool), 3
    )
    z = log_k + phi[:, None]
    exact = [logsumexp(z[cols == j]) for j in range(3)]
    np.testing.assert_allclose(new[:3], 0.5 * (np.log(b) - exact), rtol=1e-12)


def test_warm_start_from_the_solution_converges_at_once():
    g = random_instance(2)
    cfg = transport.OTConfig(epsilon=0.5, tau=1.0, tol=1e-10, max_iter=10_000)
    cold = transport.solve(g, cfg)
    warm = transport.solve(g, cfg, init_ad_potential=cold.ad_potential)
    assert warm.iterations <= 3 < cold.iterations
    np.testing.assert_allclose(warm.plan, cold.plan, atol=1e-9)


def test_unconverged_is_reported():
    g = random_instance(3)
    sol = transport.solve(g, transport.OTConfig(epsilon=0.05, tau=math.inf, tol=1e-12, max_iter=5))
    assert not sol.converged and sol.iterations == 5 and sol.seeker_marginal_error > 1e-12


def test_graph_refuses_bad_edges():
    with pytest.raises(ValueError, match="without any edge"):
        transport.EdgeGraph(
            np.array([[0], [-1]]), np.array([[0.0], [np.inf]]), np.ones(2), np.ones(1)
        )
    with pytest.raises(ValueError, match="non-finite cost"):
        transport.EdgeGraph(np.array([[0]]), np.array([[np.nan]]), np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match="zero capacity"):
        transport.EdgeGraph(np.array([[0]]), np.array([[0.0]]), np.ones(1), np.zeros(1))


def test_edge_costs_by_hand():
    s = np.array([[3.0, 1.0, 2.0, -np.inf]])
    np.testing.assert_allclose(transport.edge_costs(s, "linear")[0, :3], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(transport.edge_costs(s, "rank")[0, :3], np.log2([2, 4, 3]))
    p = np.exp(s[0, :3] / 2) / np.exp(s[0, :3] / 2).sum()
    np.testing.assert_allclose(transport.edge_costs(s, "neglogp", 2.0)[0, :3], -np.log(p))
    assert all(np.isinf(transport.edge_costs(s, kind)[0, 3]) for kind in transport.COSTS)
    with pytest.raises(ValueError, match="unknown cost"):
        transport.edge_costs(s, "quadratic")


def test_fit_temperature_recovers_the_sampling_temperature():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(4000, 30)) * 3
    p = np.exp(scores / 2.0)
    p /= p.sum(1, keepdims=True)
    chosen = (rng.random((4000, 1)) > np.cumsum(p, 1)).sum(1)
    relevant = np.zeros_like(scores, bool)
    relevant[np.arange(4000), chosen] = True
    assert transport.fit_temperature(scores, relevant) == pytest.approx(2.0, rel=0.1)


def test_fit_temperature_ignores_padding():
    """Lists shorter than K (-inf padded, as when a seeker has fewer candidates than edges) give
    the temperature of the same lists unpadded: padding neither enters the softmax nor the
    likelihood (it once turned the whole objective into NaN)."""
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(500, 20)) * 3
    relevant = np.zeros_like(scores, bool)
    relevant[np.arange(500), rng.integers(0, 10, 500)] = True
    padded = scores.copy()
    padded[:, 10:] = -np.inf  # the relevant entries sit in the first 10
    unpadded = transport.fit_temperature(scores[:, :10], relevant[:, :10])
    assert np.isfinite(unpadded)
    assert transport.fit_temperature(padded, relevant) == pytest.approx(unpadded, rel=1e-6)


def test_final_lists_order_and_ties():
    plan = np.array([[0.2, 0.5, 0.2, 0.1]])
    log_p = np.log(np.array([[0.4, 0.1, 0.3, 0.2]]))
    cols = np.array([[5, 6, 7, -1]])
    order, key = transport.final_lists(plan, log_p, cols, 3, alpha=0.0)
    assert order.tolist() == [[1, 0, 2]]  # by plan mass; the 0.2 tie goes to the higher p
    order, _ = transport.final_lists(plan, log_p, cols, 3, alpha=1.0)
    assert order.tolist() == [[0, 2, 1]]  # Muse.2's order; the padded edge never listed
    assert np.all(np.diff(key, axis=1) <= 0)
