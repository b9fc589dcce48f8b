"""Congestion-avoiding redistribution: entropic optimal transport on the candidate graph.

Each seeker u spreads one unit of attention over its K edges (its top-K Muse.2 ads); ad j
receives mass near its capacity b_j (`positions` rescaled to the seekers' total mass). The plan
P solves the semi-relaxed entropic problem (POT's `sinkhorn_unbalanced` with reg_type "kl" and
reg_m = (inf, τ), restricted to the edges):

    min_P  <C, P> + ε KL(P | a bᵀ) + τ KL(Pᵀ1 | b)   subject to  P 1 = a,  P ≥ 0 on the edges,

ε (`epsilon`): entropy, the plan's softness; τ (`tau`): the price of leaving an ad's capacity
unmet or exceeded (τ = inf is balanced OT, feasible only when the graph allows it). The KL on
the ad side is what makes a restricted graph always feasible.

Log-domain Sinkhorn over the edge list, float64 potentials. Edges are stored as (U, K) arrays
(seeker rows, K edges each, padding pointing at a dummy ad with zero kernel), so the seeker
side is a row-wise log-sum-exp and the ad side a weighted bincount of the row-normalised plan
(which cannot overflow: each row sums to a_u). An ad whose column sum underflows gets an exact
segment log-sum-exp. Scaled potentials φ = f/ε, ψ = g/ε:

    φ_u = log a_u - LSE_{e∈u}(log K_e + ψ_j)
    ψ_j = τ/(τ+ε) · (log b_j - LSE_{e∈j}(log K_e + φ_u)),   log K_e = log a_u + log b_j - C_e/ε

Convergence: the seeker marginal error of the plan (φ_old, ψ_new), max_u |Σ_e P_e / a_u - 1|
= max_u |exp(φ_old - φ_new) - 1|, below `tol` (free to compute: it is the next φ update).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

COSTS = ("neglogp", "linear", "rank")
_UNDERFLOW = 1e-280


@dataclasses.dataclass(frozen=True)
class OTConfig:
    """The solver's settings: ε (`epsilon`), τ (`tau`, math.inf: balanced on the ads), the
    seeker-marginal tolerance and the iteration cap."""

    epsilon: float = 0.5
    tau: float = 1.0  # math.inf: balanced on the ads
    tol: float = 1e-6
    max_iter: int = 2000


@dataclasses.dataclass
class EdgeGraph:
    """K edges per seeker row: `ads` (U, K) ad columns 0..n_ads-1 (-1: no edge), `cost` (U, K)
    finite on the edges. `seeker_mass` (U,) and `ad_mass` (n_ads,) are a and b."""

    ads: np.ndarray
    cost: np.ndarray
    seeker_mass: np.ndarray
    ad_mass: np.ndarray

    def __post_init__(self):
        if self.ads.shape != self.cost.shape or self.ads.ndim != 2:
            raise ValueError(f"edges {self.ads.shape} and costs {self.cost.shape} differ")
        edge = self.ads >= 0
        if not edge.any(axis=1).all():
            raise ValueError(f"{int((~edge.any(axis=1)).sum())} seekers without any edge")
        if not np.isfinite(self.cost[edge]).all():
            raise ValueError("non-finite cost on an edge")
        if (self.seeker_mass <= 0).any() or (self.ad_mass < 0).any():
            raise ValueError("seeker masses must be positive and ad masses non-negative")
        if (self.ad_mass[self.ads[edge]] <= 0).any():
            raise ValueError("an edge points at an ad with zero capacity")

    @property
    def n_ads(self) -> int:
        return len(self.ad_mass)


@dataclasses.dataclass
class Solution:
    """What `solve` returns: the potentials, the plan on the edges and the convergence report."""

    seeker_potential: np.ndarray  # f = ε φ, (U,)
    ad_potential: np.ndarray  # g = ε ψ, (n_ads,); 0 for ads without edges
    plan: np.ndarray  # (U, K) transported mass, 0 on padding; rows sum to a
    iterations: int
    converged: bool
    seeker_marginal_error: float  # max relative, at the last iteration (before the last φ)
    ad_marginal_error: float  # max relative gap of the ad masses to their optimal masses
    seconds: float

    def report(self) -> dict:
        return {
            "iterations": self.iterations,
            "converged": self.converged,
            "seeker_marginal_error": self.seeker_marginal_error,
            "ad_marginal_error": self.ad_marginal_error,
            "solve_seconds": round(self.seconds, 3),
        }


def solve(
    graph: EdgeGraph, cfg: OTConfig, init_ad_potential: np.ndarray | None = None, log=None
) -> Solution:
    """Semi-relaxed (or, with τ = inf, balanced) entropic OT on the edge graph.

    Log-domain Sinkhorn over the (U, K) edge arrays (see the module docstring): alternate
    seeker updates (row-wise log-sum-exp) and ad updates (a bincount of the row-normalised
    plan, damped by τ/(τ+ε)) until the seeker marginal error falls below `cfg.tol` or
    `cfg.max_iter` iterations have run.

    Parameters
    ----------
    graph : EdgeGraph
        The edges: `ads` (U, K) ad columns 0..n_ads-1 (-1: no edge), `cost` (U, K) finite on
        the edges, `seeker_mass` a (U,) and `ad_mass` b (n_ads,).
    cfg : OTConfig
        ε, τ (math.inf: balanced OT), the tolerance and the iteration cap.
    init_ad_potential : (n_ads,) float array, optional
        A warm start for the ad potentials g (unscaled, as `Solution.ad_potential`; NaN
        counts as 0, ads without edges are ignored). Default: zeros.
    log : callable, optional
        Called with a progress line every 100 iterations.

    Returns
    -------
    Solution
        The potentials f = εφ (U,) and g = εψ (n_ads,), 0 for ads without edges; the plan
        (U, K) float64, 0 on padding, rows summing to a; the iterations run, whether the
        tolerance was reached, the seeker and ad marginal errors and the wall-clock seconds.
    """
    start = time.perf_counter()
    eps = float(cfg.epsilon)
    fi = 1.0 if math.isinf(cfg.tau) else cfg.tau / (cfg.tau + eps)
    n_ads = graph.n_ads
    edge = graph.ads >= 0
    cols = np.where(edge, graph.ads, n_ads)  # padding -> the dummy column n_ads
    flat_cols = cols.ravel()
    log_a = np.log(graph.seeker_mass.astype(np.float64))
    with np.errstate(divide="ignore"):
        log_b = np.append(np.log(graph.ad_mass.astype(np.float64)), 0.0)
    work_dtype = np.result_type(graph.cost.dtype, np.float32)
    log_k = (-graph.cost / eps).astype(work_dtype)
    log_k += log_b[cols].astype(work_dtype)
    log_k += log_a[:, None].astype(work_dtype)
    log_k[~edge] = -np.inf
    has_edges = np.bincount(flat_cols, minlength=n_ads + 1)[:n_ads] > 0

    psi = np.zeros(n_ads + 1)
    if init_ad_potential is not None:
        psi[:n_ads] = np.where(has_edges, np.nan_to_num(init_ad_potential) / eps, 0.0)
    phi = np.zeros(len(log_a))
    err, converged, it = math.inf, False, 0
    plan = np.empty(graph.ads.shape, dtype=np.float64)
    for it in range(1, cfg.max_iter + 1):
        phi_old = phi
        phi = _seeker_update(log_k, psi, cols, log_a, plan)  # leaves the plan (φ, ψ) in `plan`
        if it > 1:
            err = float(np.max(np.abs(np.expm1(phi_old - phi))))
            if err < cfg.tol:
                converged = True
                break
        psi = _ad_update(plan, flat_cols, log_k, phi, psi, log_b, fi, has_edges, n_ads)
        if log and it % 100 == 0:
            log(f"sinkhorn iteration {it}: seeker marginal error {err:.2e}")
    # `plan` holds the plan after the last φ update (rows sum to a); its ad-side residual:
    psi_star = _ad_update(plan, flat_cols, log_k, phi, psi, log_b, fi, has_edges, n_ads)
    ad_err = float(np.max(np.abs(np.expm1(psi[:n_ads] - psi_star[:n_ads])[has_edges]), initial=0))
    plan[~edge] = 0.0
    return Solution(
        eps * phi, eps * psi[:n_ads], plan, it, converged, err, ad_err, time.perf_counter() - start
    )


def _seeker_update(log_k, psi, cols, log_a, out):
    """φ = log a - LSE_row(log K + ψ); writes the row-normalised plan into `out`."""
    np.add(log_k, psi[cols], out=out)
    top = out.max(axis=1)
    out -= top[:, None]
    np.exp(out, out=out)
    sums = out.sum(axis=1)
    out *= (np.exp(log_a) / sums)[:, None]
    return log_a - top - np.log(sums)


def _ad_update(plan, flat_cols, log_k, phi, psi, log_b, fi, has_edges, n_ads):
    """ψ = fi · (log b - LSE_col(log K + φ)), with LSE_col = log(column sum of the plan) - ψ."""
    colsum = np.bincount(flat_cols, weights=plan.ravel(), minlength=n_ads + 1)
    with np.errstate(divide="ignore"):
        lse = np.log(colsum) - psi
    tiny = np.flatnonzero(has_edges & (colsum[:n_ads] < _UNDERFLOW))
    if len(tiny):  # exact for the few ads whose mass underflowed
        lse[tiny] = _column_lse(log_k, phi, flat_cols, tiny)
    new = np.zeros_like(psi)
    new[:n_ads] = np.where(has_edges, fi * (log_b[:n_ads] - lse[:n_ads]), 0.0)
    return new


def _column_lse(log_k, phi, flat_cols, ads):
    pick = np.flatnonzero(np.isin(flat_cols, ads))
    rows = pick // log_k.shape[1]
    values = log_k.ravel()[pick] + phi[rows]
    order = np.argsort(flat_cols[pick], kind="stable")
    groups, starts = np.unique(flat_cols[pick][order], return_index=True)
    out = np.array([logsumexp(v) for v in np.split(values[order], starts[1:])])
    return out[np.searchsorted(groups, ads)]


# --- costs and calibration ---------------------------------------------------------------


def fit_temperature(scores: np.ndarray, relevant: np.ndarray) -> float:
    """The temperature T of p = softmax(score / T) over each list that maximises the likelihood
    of the relevant ads (lists with at least one), i.e. the listwise calibration of the scores.

    Parameters
    ----------
    scores : (U, K) float array
        Each seeker's list of scores (non-finite entries are left out of the softmax).
    relevant : (U, K) bool array
        The relevant entries (e.g. the edges the seeker applied to).

    Returns
    -------
    float
        T, searched (bounded) in log T ∈ [-4, 4]; 1.0 when no list holds a relevant entry.
    """
    has = relevant.any(axis=1)
    s, r = scores[has], relevant[has]
    if not len(s):
        return 1.0

    def nll(log_t):
        z = s / math.exp(log_t)
        lse = logsumexp(np.where(np.isfinite(z), z, -np.inf), axis=1, keepdims=True)
        # padding (-inf) times a False label would be NaN: count only the relevant entries
        return -float(np.where(r, z - lse, 0.0).sum() / r.sum())

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return float(math.exp(res.x))


def log_probabilities(scores: np.ndarray, temperature: float) -> np.ndarray:
    """log softmax(score / T) over each row (-inf on padding).

    Parameters
    ----------
    scores : (U, K) float array
        Scores, -inf on padding.
    temperature : float
        T, e.g. from `fit_temperature`.

    Returns
    -------
    (U, K) float64 array
        log p of each entry, -inf on padding.
    """
    z = scores.astype(np.float64) / temperature
    return z - logsumexp(z, axis=1, keepdims=True)


def edge_costs(scores: np.ndarray, kind: str, temperature: float = 1.0) -> np.ndarray:
    """Costs of each seeker's edges from its scores.

    `neglogp`: -log p, p the calibrated listwise probability (`log_probabilities`); `linear`:
    the score's gap to the row's best, scaled to [0, 1] per seeker; `rank`: log2(1 + rank),
    rank 1 the row's best score.

    Parameters
    ----------
    scores : (U, K) float array
        Each seeker's edge scores, best first, -inf (any non-finite value) on padding.
    kind : str
        One of `COSTS`: "neglogp", "linear" or "rank".
    temperature : float, default 1.0
        T of the listwise softmax (used by "neglogp" only).

    Returns
    -------
    (U, K) float64 array
        The edge costs, +inf on padding.
    """
    valid = np.isfinite(scores)
    if kind == "neglogp":
        cost = -log_probabilities(scores, temperature)
    elif kind == "linear":
        s = np.where(valid, scores, np.nan).astype(np.float64)
        best, worst = np.nanmax(s, axis=1, keepdims=True), np.nanmin(s, axis=1, keepdims=True)
        cost = (best - s) / np.maximum(best - worst, 1e-12)
    elif kind == "rank":
        cost = np.log2(1.0 + np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1) + 1)
    else:
        raise ValueError(f"unknown cost {kind!r}: one of {COSTS}")
    return np.where(valid, cost, np.inf)


def capacities(positions: np.ndarray, total_mass: float) -> np.ndarray:
    """Ad marginal: positions rescaled to the seekers' total mass.

    Parameters
    ----------
    positions : (n_ads,) array
        Open positions of each ad (non-negative, not all zero).
    total_mass : float
        The seekers' total mass Σ a_u.

    Returns
    -------
    (n_ads,) float64 array
        b, proportional to `positions`, summing to `total_mass`.
    """
    positions = np.asarray(positions, dtype=np.float64)
    return positions * (total_mass / positions.sum())


# --- final lists -------------------------------------------------------------------------


def final_lists(plan: np.ndarray, log_p: np.ndarray, ads: np.ndarray, k: int, alpha: float = 0.0):
    """Each seeker's top-k edges by (1 - α) log(plan mass) + α log p (α = 0: the plan alone,
    α = 1: Muse.2's order), ties by log p.

    Parameters
    ----------
    plan : (U, K) float array
        The transported mass of each edge (`Solution.plan`).
    log_p : (U, K) float array
        log p of each edge (`log_probabilities`), -inf on padding.
    ads : (U, K) int array
        The graph's ad columns (-1: no edge); padding gets key -inf.
    k : int
        List length; at most K is kept.
    alpha : float, default 0.0
        The blend α ∈ [0, 1].

    Returns
    -------
    order : (U, min(k, K)) int array
        Positions along the K axis of `ads` (edge slots) in rank order.
    key : (U, min(k, K)) float64 array
        The ranking key of each ranked edge; -inf for padding and, when α < 1, for edges
        without plan mass (the callers treat those as no recommendation).
    """
    with np.errstate(divide="ignore"):
        key = (1.0 - alpha) * np.log(plan) + alpha * log_p if alpha < 1 else log_p.copy()
    key = np.where(ads >= 0, key, -np.inf)
    k = min(k, ads.shape[1])
    order = _lexsort_rows(key, log_p, k)
    return order, np.take_along_axis(key, order, axis=1)


def _lexsort_rows(key: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the k largest `key`, ties broken by larger `tie`."""
    # A stable sort on the tie-breaker, then a stable sort on the key keeps ties in tie order.
    by_tie = np.argsort(-tie, axis=1, kind="stable")
    key_sorted = np.take_along_axis(key, by_tie, axis=1)
    order = np.argsort(-key_sorted, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(by_tie, order, axis=1)
