"""The sparse OT solver (jobrec.transport): agreement with POT's dense solvers given a huge cost off
the edge list (balanced and semi-relaxed), hand-checkable plans, an underflowing ad mass, warm
starts, costs, the listwise calibration and the final lists; the parallel kernels against the
plain iterations and across thread counts."""

from __future__ import annotations

import math

import numba
import numpy as np
import ot as pot
import pytest
from scipy.optimize import brentq
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
    # ad 1 costs 800 ε on its only edge: its plan mass underflows, its log-sum-exp does not
    eps = 1.0
    cols = np.array([[0, 1], [0, 2]])
    cost = np.array([[0.0, 800.0], [0.0, 0.5]])
    a, b = np.ones(2), np.array([1.0, 0.5, 0.5])
    g = transport.EdgeGraph(cols, cost, a, b)
    edges = transport._Edges.of(g, eps)
    phi = np.empty(2)
    edges.seeker_potentials(np.zeros(3), phi)
    assert edges.plan(np.zeros(3))[0, 1] < 1e-300
    new = edges.ad_potentials(phi, 0.5)
    z = -cost / eps + np.log(b)[cols] + np.log(a)[:, None] + phi[:, None]
    exact = [logsumexp(z[cols == j]) for j in range(3)]
    np.testing.assert_allclose(new, 0.5 * (np.log(b) - exact), rtol=1e-12)


def reference_solve(g: transport.EdgeGraph, cfg: transport.OTConfig, init=None):
    """The iterations of `transport.solve` written plainly: per seeker and per ad, scipy's
    logsumexp over its edges; the translation by a root finder."""
    eps = cfg.epsilon
    fi = 1.0 if math.isinf(cfg.tau) else cfg.tau / (cfg.tau + eps)
    edge = g.ads >= 0
    log_k = np.where(
        edge, np.log(g.seeker_mass)[:, None] + np.log(g.ad_mass)[g.ads] - g.cost / eps, -np.inf
    )
    by_ad = [np.nonzero(edge & (g.ads == j)) for j in range(g.n_ads)]
    psi = np.zeros(g.n_ads) if init is None else init / eps
    phi = np.zeros(len(g.seeker_mass))

    def seeker(psi):
        return np.log(g.seeker_mass) - logsumexp(log_k + psi[g.ads], axis=1)

    def ad(phi):
        lse = [logsumexp(log_k[u, e] + phi[u]) if len(u) else 0.0 for u, e in by_ad]
        return np.where([len(u) > 0 for u, _ in by_ad], fi * (np.log(g.ad_mass) - lse), 0.0)

    has = np.array([len(u) > 0 for u, _ in by_ad])

    def translation(psi):  # c: Σ_j b_j exp(-(ψ_j + c) ε/τ) = Σ a over the ads with edges
        def excess(c):
            return (g.ad_mass * np.exp(-(psi + c) * eps / cfg.tau))[has].sum() - g.seeker_mass.sum()

        return brentq(excess, -50 * cfg.tau / eps, 50 * cfg.tau / eps, xtol=1e-15)

    for it in range(1, cfg.max_iter + 1):
        phi_old, phi = phi, seeker(psi)
        if it > 1 and np.max(np.abs(np.expm1(phi_old - phi))) < cfg.tol:
            break
        psi = ad(phi)
        if 0 < cfg.tau < math.inf:
            psi[has] += translation(psi)
    plan = np.where(edge, np.exp(log_k + psi[g.ads] + seeker(psi)[:, None]), 0.0)  # rows: a
    return eps * phi, eps * psi, plan, it


def small_instance():
    # 4 seekers over 5 ads: padding in rows 1 and 3, ad 4 on no list, ad 0 wanted by all
    cols = np.array([[0, 1, 2], [0, 3, -1], [2, 0, 1], [0, -1, -1]])
    cost = np.array([[0.2, 0.9, 1.4], [0.1, 0.7, np.inf], [0.3, 0.5, 2.0], [0.0, np.inf, np.inf]])
    b = transport.capacities(np.array([1.0, 2.0, 1.0, 3.0, 2.0]), 4.0)
    return transport.EdgeGraph(cols, cost, np.ones(4), b)


@pytest.mark.parametrize("tau", [0.5, 20.0])
@pytest.mark.parametrize("warm", [False, True])
def test_parallel_kernels_equal_the_plain_iterations(tau, warm):
    g = small_instance()
    # tol 0: both run all 300 iterations, so rounding cannot stop one an iteration earlier
    cfg = transport.OTConfig(epsilon=0.5, tau=tau, tol=0.0, max_iter=300)
    init = np.array([0.3, -0.2, 0.1, 0.0, 0.0]) if warm else None
    sol = transport.solve(g, cfg, init_ad_potential=init)
    f, gpot, plan, iterations = reference_solve(g, cfg, init)
    assert sol.iterations == iterations == 300
    np.testing.assert_allclose(sol.seeker_potential, f, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol.ad_potential, gpot, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol.plan, plan, rtol=1e-11, atol=1e-15)
    assert sol.ad_potential[4] == 0.0 and (sol.plan[g.ads < 0] == 0).all()


def test_results_do_not_depend_on_the_number_of_threads(monkeypatch):
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    if threads < 2:
        pytest.skip("one thread only")
    monkeypatch.setattr(transport, "_PARALLEL_EDGES", 0)  # small as it is, run it in parallel
    g = random_instance(6, seekers=500, ads=300, k=40)
    cfg = transport.OTConfig(epsilon=0.5, tau=10.0, tol=1e-9, max_iter=5000)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = transport.solve(g, cfg)
        numba.set_num_threads(threads)
        two = transport.solve(g, cfg)
    finally:
        numba.set_num_threads(before)
    assert one.iterations == two.iterations
    for x, y in [(one.plan, two.plan), (one.ad_potential, two.ad_potential)]:
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=0)
    np.testing.assert_allclose(one.seeker_potential, two.seeker_potential, rtol=1e-12, atol=0)


def test_exp_kernel_agrees_with_numpy():
    x = np.concatenate([-np.geomspace(1e-12, 745, 20_001), [0.0, -800.0, -np.inf]])
    y = np.array([transport._exp_nonpositive(v) for v in x])
    np.testing.assert_allclose(y, np.exp(x), rtol=1e-15, atol=1e-310)
    assert y[-1] == y[-2] == 0.0


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


def test_final_lists_with_a_given_tie_order_are_the_same():
    rng = np.random.default_rng(3)
    plan = rng.integers(0, 4, size=(50, 30)) / 4.0  # many ties in the plan
    log_p = np.log(rng.integers(1, 5, size=(50, 30)) / 5.0)  # and in the tie-breaker
    cols = np.where(rng.random((50, 30)) < 0.9, rng.integers(0, 99, size=(50, 30)), -1)
    for alpha in (0.0, 0.5, 1.0):
        expected = transport.final_lists(plan, log_p, cols, 10, alpha)
        got = transport.final_lists(plan, log_p, cols, 10, alpha, transport.tie_order_of(log_p))
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
