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
(seeker rows, K edges each, padding with log K = -inf), so the seeker side is a row-wise
log-sum-exp; for the ad side a copy of the edges grouped by ad (CSC, built once per solve) makes it
a row-wise log-sum-exp too: exact, whatever the magnitudes (no column sum can underflow). Both are
fused numba kernels (one pass per row: gather, max, exp, sum) run over all cores; each row is
reduced by one thread in a fixed order, so the results do not depend on the number of threads.
Scaled potentials φ = f/ε, ψ = g/ε:

    φ_u = log a_u - LSE_{e∈u}(log K_e + ψ_j)
    ψ_j = τ/(τ+ε) · (log b_j - LSE_{e∈j}(log K_e + φ_u)),   log K_e = log a_u + log b_j - C_e/ε

With τ < inf, (φ - c, ψ + c) leaves the plan unchanged, and plain Sinkhorn shrinks an error
along it only by τ/(τ+ε) an iteration (0.984 at τ = 30, ε = 0.5: ~700 iterations). After each ψ
update the solver takes the dual-optimal c (translation-invariant Sinkhorn, Séjourné et al.
2022): the one that makes the ad masses the update aims at, b_j exp(-(ψ_j + c) ε/τ), sum to Σ a,
as they do at the optimum. Same fixed point, a few dozen iterations.

Convergence: the seeker marginal error of the plan (φ_old, ψ_new), max_u |Σ_e P_e / a_u - 1|
= max_u |exp(φ_old - φ_new) - 1|, below `tol` (free to compute: it is the next φ update).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numba
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

COSTS = ("neglogp", "linear", "rank")
# fastmath without nnan/ninf: padding edges carry log K = -inf
_FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
_POW2 = 2.0 ** np.arange(-1075.0, 1.0)  # 2^k for k = -1075..0 (2^-1075 rounds to 0)
# below this many edge slots one thread: on a busy machine a parallel loop waits for a core
# (measured 18 ms an iteration on 250 edges with 2 threads, 0.2 ms with one)
_PARALLEL_EDGES = 1 << 20


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
    seeker updates (a log-sum-exp over each seeker's edges) and ad updates (a log-sum-exp over
    each ad's edges, damped by τ/(τ+ε), then translated: 0 < τ < inf), on all of numba's
    threads, until the seeker marginal error falls below `cfg.tol` or `cfg.max_iter`
    iterations have run.

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
    threads = numba.get_num_threads()
    if graph.ads.size < _PARALLEL_EDGES:
        numba.set_num_threads(1)  # this thread's setting only
    try:
        return _solve(graph, cfg, init_ad_potential, log, start)
    finally:
        numba.set_num_threads(threads)


def _solve(graph, cfg, init_ad_potential, log, start) -> Solution:
    eps = float(cfg.epsilon)
    fi = 1.0 if math.isinf(cfg.tau) else cfg.tau / (cfg.tau + eps)
    edges = _Edges.of(graph, eps)
    psi = np.zeros(graph.n_ads)
    if init_ad_potential is not None:
        psi = np.where(edges.has_edges, np.nan_to_num(init_ad_potential) / eps, 0.0)
    phi, phi_new = np.zeros(len(edges.log_a)), np.empty(len(edges.log_a))
    err, converged, it = math.inf, False, 0
    shift = 0 < cfg.tau < math.inf
    for it in range(1, cfg.max_iter + 1):
        edges.seeker_potentials(psi, phi_new)
        phi, phi_new = phi_new, phi
        if it > 1:
            err = float(np.max(np.abs(np.expm1(phi_new - phi))))
            if err < cfg.tol:
                converged = True
                break
        psi = edges.ad_potentials(phi, fi)
        if shift:  # the dual-optimal (φ - c, ψ + c): see the module docstring
            psi[edges.has_edges] += edges.translation(psi, cfg.tau / eps)
        if log and it % 100 == 0:
            log(f"sinkhorn iteration {it}: seeker marginal error {err:.2e}")
    # the plan (φ, ψ): rows sum to a; its ad-side residual against the next ψ update
    psi_star = edges.ad_potentials(phi, fi)
    ad_err = float(np.max(np.abs(np.expm1(psi - psi_star)[edges.has_edges]), initial=0))
    plan = edges.plan(psi)
    return Solution(
        eps * phi, eps * psi, plan, it, converged, err, ad_err, time.perf_counter() - start
    )


@dataclasses.dataclass
class _Edges:
    """The solver's working arrays, built once per solve: `log_k` (U, K) (work dtype: float32
    for float32 costs, -inf on padding) and `ads` (U, K) as in the graph; the same edges grouped
    by ad: `log_k_by_ad` and `seeker_by_ad` over ad j's edges `by_ad_start[j]:by_ad_start[j+1]`
    (in seeker order); `row_bounds` and `ad_bounds`, the rows and ads each parallel chunk
    reduces (the ads' cut at equal edge counts)."""

    log_k: np.ndarray
    ads: np.ndarray
    log_a: np.ndarray
    log_b: np.ndarray
    by_ad_start: np.ndarray
    log_k_by_ad: np.ndarray
    seeker_by_ad: np.ndarray
    row_bounds: np.ndarray
    ad_bounds: np.ndarray
    has_edges: np.ndarray

    @classmethod
    def of(cls, graph: EdgeGraph, eps: float) -> _Edges:
        log_a = np.log(graph.seeker_mass.astype(np.float64))
        with np.errstate(divide="ignore"):
            log_b = np.log(graph.ad_mass.astype(np.float64))
        work_dtype = np.result_type(graph.cost.dtype, np.float32)
        log_k = np.empty(graph.ads.shape, dtype=work_dtype)
        _log_kernel(graph.cost, graph.ads, log_a, log_b, 1.0 / eps, log_k)
        counts = np.bincount(graph.ads[graph.ads >= 0], minlength=graph.n_ads)
        start = np.zeros(graph.n_ads + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        log_k_by_ad = np.empty(start[-1], dtype=work_dtype)
        seeker_by_ad = np.empty(start[-1], dtype=np.int32)
        _group_by_ad(log_k, graph.ads, start, log_k_by_ad, seeker_by_ad)
        # a few chunks a thread: rows are all K long, ads' degrees vary
        chunks = 4 * numba.config.NUMBA_NUM_THREADS
        rows = np.linspace(0, len(log_a), chunks + 1).astype(np.int64)
        ads = np.searchsorted(start, np.linspace(0, start[-1], chunks + 1)).astype(np.int64)
        ads[0], ads[-1] = 0, graph.n_ads
        return cls(
            log_k, graph.ads, log_a, log_b, start, log_k_by_ad, seeker_by_ad, rows, ads, counts > 0
        )

    def seeker_potentials(self, psi: np.ndarray, out: np.ndarray) -> None:
        """φ = log a - LSE_row(log K + ψ), into `out`."""
        _seeker_lse(self.log_k, self.ads, psi, self.row_bounds, out)
        np.subtract(self.log_a, out, out=out)

    def ad_potentials(self, phi: np.ndarray, fi: float) -> np.ndarray:
        """ψ = fi · (log b - LSE_col(log K + φ)); 0 for ads without edges."""
        lse = np.empty(len(self.log_b))
        _ad_lse(self.by_ad_start, self.log_k_by_ad, self.seeker_by_ad, phi, self.ad_bounds, lse)
        return np.where(self.has_edges, fi * (self.log_b - lse), 0.0)

    def translation(self, psi: np.ndarray, tau_over_eps: float) -> float:
        """The c that makes the ad masses the ad update aims at, b_j exp(-(ψ_j + c) ε/τ), sum to
        Σ a (true at the optimum): the shift (φ - c, ψ + c) leaves the plan as it is and
        maximises the dual along it (translation-invariant Sinkhorn, Séjourné et al. 2022)."""
        x = self.log_b[self.has_edges] - psi[self.has_edges] / tau_over_eps
        return tau_over_eps * float(logsumexp(x) - logsumexp(self.log_a))

    def plan(self, psi: np.ndarray) -> np.ndarray:
        """The row-normalised plan exp(log K + ψ - LSE_row) a, (U, K) float64, 0 on padding."""
        plan = np.empty(self.log_k.shape)
        _row_plan(self.log_k, self.ads, psi, np.exp(self.log_a), self.row_bounds, plan)
        return plan


# not inlined, no reassoc: that would fold k log 2's two parts into one and lose ~50 ulp
@numba.njit(fastmath={"contract"}, cache=True)
def _exp_nonpositive(x):
    """exp(x) for x ≤ 0 (-inf included) to about 1 ulp, branch-free so that loops over it
    vectorise (numba's math.exp is a scalar libm call): x = k log 2 + r, |r| ≤ log(2) / 2,
    exp(r) by its degree-12 Taylor polynomial (remainder < 2.3e-16), 2^k from a table."""
    x = min(max(x, -745.2), 0.0)
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10  # exact k log 2
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _POW2[np.int64(k) + 1075]


@numba.njit(fastmath=_FASTMATH, cache=True, inline="always")
def _lse_into(values, buf):
    """LSE of `values` (at least one finite); leaves exp(values - max) in `buf`. Two passes over
    a row-sized buffer (in L1): one exp per value, no rescaling as in a one-pass LSE."""
    n = len(values)
    top = -np.inf
    for i in range(n):
        top = max(top, values[i])
    total = 0.0
    for i in range(n):
        w = _exp_nonpositive(values[i] - top)
        buf[i] = w
        total += w
    return top, total


@numba.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _log_kernel(cost, ads, log_a, log_b, inv_eps, out):
    """out = log a_u + log b_j - C_e/ε on the edges, -inf on padding."""
    for u in numba.prange(cost.shape[0]):
        for e in range(cost.shape[1]):
            j = ads[u, e]
            out[u, e] = log_a[u] + log_b[max(j, 0)] - cost[u, e] * inv_eps if j >= 0 else -np.inf


@numba.njit(cache=True)
def _group_by_ad(log_k, ads, start, log_k_by_ad, seeker_by_ad):
    """The edges grouped by ad (a counting sort, seekers in increasing order within an ad)."""
    fill = start[:-1].copy()
    for u in range(ads.shape[0]):
        for e in range(ads.shape[1]):
            j = ads[u, e]
            if j >= 0:
                log_k_by_ad[fill[j]] = log_k[u, e]
                seeker_by_ad[fill[j]] = u
                fill[j] += 1


@numba.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _seeker_lse(log_k, ads, psi, bounds, out):
    """out_u = LSE_e(log K_e + ψ_{ads[u, e]}) of every row (padding: log K = -inf)."""
    width = log_k.shape[1]
    for c in numba.prange(len(bounds) - 1):
        values, buf = np.empty(width), np.empty(width)
        for u in range(bounds[c], bounds[c + 1]):
            row, cols = log_k[u], ads[u]
            for e in range(width):
                values[e] = row[e] + psi[max(cols[e], 0)]
            top, total = _lse_into(values, buf)
            out[u] = top + math.log(total)


@numba.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _row_plan(log_k, ads, psi, a, bounds, plan):
    """plan_u = a_u softmax_e(log K_e + ψ_{ads[u, e]}) of every row."""
    width = log_k.shape[1]
    for c in numba.prange(len(bounds) - 1):
        values = np.empty(width)
        for u in range(bounds[c], bounds[c + 1]):
            row, cols = log_k[u], ads[u]
            for e in range(width):
                values[e] = row[e] + psi[max(cols[e], 0)]
            _, total = _lse_into(values, plan[u])
            scale = a[u] / total
            for e in range(width):
                plan[u, e] *= scale


@numba.njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _ad_lse(start, log_k_by_ad, seeker_by_ad, phi, bounds, out):
    """out_j = LSE over ad j's edges of log K_e + φ_u; -inf for an ad without edges."""
    for c in numba.prange(len(bounds) - 1):
        lo, hi = bounds[c], bounds[c + 1]
        widest = 0
        for j in range(lo, hi):
            widest = max(widest, start[j + 1] - start[j])
        values, buf = np.empty(widest), np.empty(widest)
        for j in range(lo, hi):
            first, n = start[j], start[j + 1] - start[j]
            if n == 0:
                out[j] = -np.inf
                continue
            for i in range(n):
                values[i] = log_k_by_ad[first + i] + phi[seeker_by_ad[first + i]]
            top, total = _lse_into(values[:n], buf)
            out[j] = top + math.log(total)


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


def final_lists(
    plan: np.ndarray,
    log_p: np.ndarray,
    ads: np.ndarray,
    k: int,
    alpha: float = 0.0,
    tie_order: np.ndarray | None = None,
):
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
    tie_order : (U, K) int array, optional
        `tie_order_of(log_p)` when already computed (a policy grid ranks the same edges many
        times).

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
    by_tie = tie_order if tie_order is not None else tie_order_of(log_p)
    order = _lexsort_rows(key, by_tie, k)
    return order, np.take_along_axis(key, order, axis=1)


def tie_order_of(tie: np.ndarray) -> np.ndarray:
    """Per row, the stable order of `tie` from largest (`final_lists`' tie-breaker)."""
    return np.argsort(-tie, axis=1, kind="stable")


def _lexsort_rows(key: np.ndarray, by_tie: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the k largest `key`, ties broken by the order `by_tie`."""
    # A stable sort on the tie-breaker, then a stable sort on the key keeps ties in tie order.
    key_sorted = np.take_along_axis(key, by_tie, axis=1)
    order = np.argsort(-key_sorted, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(by_tie, order, axis=1)
