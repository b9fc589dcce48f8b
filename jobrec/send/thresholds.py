"""Per-segment thresholds on a three-model funnel (Jin et al., RecSys in HR 2022): the offline
evaluator on historical sends, the exhaustive grid and the paper's greedy search (Algorithm 1).

A send passes a threshold triple (θ_JR, θ_JA, θ_PO) when its three funnel probabilities
(response | sent, apply | response, positive | apply) are all at or above them. On the passing
sends of a segment: apply volume a, apply rate ar = a / sends, positives p, positives per apply
poa = p / a, unsubscribe rate = unsubscribes / sends, negative ratio = negative feedback /
responses. Against the default triple's values (a0, ar0, p0, poa0): Δ_i = x_i / x0_i - 1 and the
objective Σ λ_i Δ_i (λ_i = 0.25). A triple is admissible when every Δ_i > 0 and both SLOs hold;
an SLO holds only when the Wilson 95% upper bound of its rate is under the limit minus ε (ε = 10%
of the limit), so a handful of sends cannot pass by luck.

Grids: the unified defaults are chosen on a coarse grid of each model's quantile levels (0 to
0.9); each segment then searches a finer grid around the defaults (their levels ± 0.2, 20 steps a
model; the defaults are one of its points).

Evaluator: each model's probabilities are quantised onto its threshold grid (G steps); per
segment, the six counts are accumulated in a G × G × G table of bin triples, and 3-D suffix sums
turn it into the counts passing every grid triple at once (a triple's sends are those whose bins
are all ≥ its indices). One pass over the sends, then O(G³) per segment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

COUNTS = ("sends", "responses", "applies", "positives", "unsubscribes", "negatives")
METRICS = ("applies", "apply_rate", "positives", "positives_per_apply")
LAMBDAS = (0.25, 0.25, 0.25, 0.25)
GRID_STEPS = 20
TOP_QUANTILE = 0.9  # the highest threshold of a model cuts 90% of the sends
HALF_RANGE = 0.2  # the segments' search grid: the defaults' quantile levels ± 0.2


@dataclasses.dataclass(frozen=True)
class SLO:
    unsubscribe_rate: float = 0.0005  # 0.05%
    negative_ratio: float = 0.25
    margin: float = 0.10  # ε = 10% of each SLO
    z: float = 1.959964  # Wilson 95%

    def limits(self) -> tuple[float, float]:
        return (self.unsubscribe_rate * (1 - self.margin), self.negative_ratio * (1 - self.margin))


def wilson_upper(k, n, z: float = SLO.z) -> np.ndarray:
    """Upper bound of the Wilson score interval of k successes in n trials (1 when n = 0)."""
    k, n = np.asarray(k, np.float64), np.asarray(n, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2n = z * z / n
        centre = p + z2n / 2
        spread = z * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
        upper = (centre + spread) / (1 + z2n)
    return np.where(n > 0, np.minimum(upper, 1.0), 1.0)


def quantile_grid(
    probabilities: np.ndarray, steps: int = GRID_STEPS, top: float = TOP_QUANTILE
) -> np.ndarray:
    """(3, steps) thresholds per model: its probabilities' quantiles from 0 (everything passes)
    to `top`, so the grid spans the models' own scales."""
    levels = grid_levels(steps, top)
    return np.stack([np.quantile(probabilities[:, m], levels) for m in range(3)])


def grid_levels(steps: int = GRID_STEPS, top: float = TOP_QUANTILE) -> np.ndarray:
    return np.linspace(0.0, top, steps)


def search_grid(
    probabilities: np.ndarray,
    default_levels,
    steps: int = GRID_STEPS,
    half_range: float = HALF_RANGE,
    ceiling: float = 0.95,
):
    """The segments' grid: per model, `steps` quantile levels half_range / (steps // 2) apart,
    from the defaults' level − half_range (shifted to stay within [0, ceiling]), the nearest
    one replaced by the defaults' own level so that the defaults are a grid point. Finer than the
    unified grid where it matters: a segment's better triple is near the defaults.
    Returns ((3, steps) thresholds, the defaults' indices)."""
    step = half_range / (steps // 2)
    if not 0 < step * (steps - 1) <= ceiling:
        raise ValueError(f"half_range {half_range}: {steps} steps must fit in [0, {ceiling}]")
    grid, default = [], []
    for m, level in enumerate(default_levels):
        low = min(max(level - half_range, 0.0), ceiling - step * (steps - 1))
        levels = low + step * np.arange(steps)
        i = int(np.argmin(np.abs(levels - level)))
        levels[i] = level
        grid.append(np.quantile(probabilities[:, m], levels))
        default.append(i)
    return np.stack(grid), tuple(default)


def bins(probabilities: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(n, 3) index of the highest grid threshold each probability reaches (-1: none)."""
    return np.stack(
        [np.searchsorted(grid[m], probabilities[:, m], side="right") - 1 for m in range(3)], axis=1
    )


@dataclasses.dataclass
class Tables:
    """counts[s, c, i, j, k]: count c of segment s's sends passing triple (i, j, k)."""

    counts: np.ndarray
    grid: np.ndarray

    @property
    def steps(self) -> int:
        return self.grid.shape[1]

    def pooled(self) -> Tables:
        return Tables(self.counts.sum(axis=0, keepdims=True), self.grid)


def build_tables(
    segment: np.ndarray,
    bin_index: np.ndarray,
    outcomes: np.ndarray,
    n_segments: int,
    grid: np.ndarray,
) -> Tables:
    """The counts passing every grid triple, per segment (the evaluator: one pass over the
    sends, then 3-D suffix sums).

    Parameters
    ----------
    segment : (n,) int array
        Each send's segment, 0..n_segments-1.
    bin_index : (n, 3) int array
        Each send's bins on `grid` (`bins`); a send with a -1 passes no triple and is left out.
    outcomes : (n, 5) bool array
        Responded, applied, positive, unsubscribed, negative.
    n_segments : int
        The segments.
    grid : (3, G) float array
        Each model's thresholds.

    Returns
    -------
    Tables
        `counts` (n_segments, 6, G, G, G): count c (`COUNTS`) of segment s's sends passing
        triple (i, j, k), and the grid.
    """
    g = grid.shape[1]
    keep = (bin_index >= 0).all(axis=1)
    b, seg = bin_index[keep], segment[keep]
    cell = ((seg * g + b[:, 0]) * g + b[:, 1]) * g + b[:, 2]
    size = n_segments * g**3
    weights = [None, *(outcomes[keep, c] for c in range(5))]
    counts = np.stack([np.bincount(cell, w, minlength=size) for w in weights], axis=1)
    counts = counts.reshape(n_segments, g, g, g, len(COUNTS)).transpose(0, 4, 1, 2, 3)
    for axis in (2, 3, 4):  # suffix sums: bins ≥ the triple's indices
        counts = np.flip(np.cumsum(np.flip(counts, axis), axis), axis)
    return Tables(np.ascontiguousarray(counts), grid)


def tuning_tables(
    segment: np.ndarray,
    probabilities: np.ndarray,
    outcomes: np.ndarray,
    n_segments: int,
    steps: int = GRID_STEPS,
    half_range: float = HALF_RANGE,
) -> tuple[Tables, tuple]:
    """The unified defaults on the coarse grid of all sends, then every segment's table on the
    finer grid around them.

    Parameters
    ----------
    segment : (n,) int array
        Each send's segment, 0..n_segments-1.
    probabilities : (n, 3) float array
        The funnel's probabilities of each send (response, apply, positive).
    outcomes : (n, 5) bool array
        Responded, applied, positive, unsubscribed, negative.
    n_segments : int
        The segments.
    steps : int, default GRID_STEPS
        Thresholds a model, on both grids.
    half_range : float, default HALF_RANGE
        Half-width, in quantile levels, of the segments' grid around the defaults.

    Returns
    -------
    tables : Tables
        The segments' counts on the finer (3, steps) grid.
    default : tuple of 3 int
        The defaults' indices in that grid.
    """
    coarse = quantile_grid(probabilities, steps)
    pooled = build_tables(
        np.zeros(len(segment), np.int64), bins(probabilities, coarse), outcomes, 1, coarse
    )
    levels = grid_levels(steps)[list(default_triple(pooled.counts[0]))]
    grid, default = search_grid(probabilities, levels, steps, half_range)
    return build_tables(segment, bins(probabilities, grid), outcomes, n_segments, grid), default


def metrics_of(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Rates from counts (axis 0 = COUNTS, any shape after)."""
    c = dict(zip(COUNTS, counts, strict=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "sends": c["sends"],
            "responses": c["responses"],
            "applies": c["applies"],
            "apply_rate": c["applies"] / c["sends"],
            "positives": c["positives"],
            "positives_per_apply": c["positives"] / c["applies"],
            "unsubscribes": c["unsubscribes"],
            "negatives": c["negatives"],
            "unsubscribe_rate": c["unsubscribes"] / c["sends"],
            "negative_ratio": c["negatives"] / c["responses"],
        }


def slo_met(m: dict[str, np.ndarray], slo: SLO = SLO()) -> np.ndarray:
    unsub, neg = slo.limits()
    return (wilson_upper(m["unsubscribes"], m["sends"], slo.z) < unsub) & (
        wilson_upper(m["negatives"], m["responses"], slo.z) < neg
    )


def deltas(m: dict[str, np.ndarray], base: dict[str, float]) -> np.ndarray:
    """(4, ...) relative changes of a, ar, p, poa against the defaults' values."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([np.asarray(m[k], np.float64) / base[k] - 1 for k in METRICS])


def objective(d: np.ndarray) -> np.ndarray:
    return np.tensordot(np.asarray(LAMBDAS), np.nan_to_num(d, nan=-np.inf), axes=1)


def admissible(m: dict[str, np.ndarray], d: np.ndarray, slo: SLO = SLO()) -> np.ndarray:
    return (np.nan_to_num(d, nan=-1.0) > 0).all(axis=0) & slo_met(m, slo)


@dataclasses.dataclass
class SearchResult:
    triple: tuple[int, int, int] | None  # grid indices; None: no admissible triple
    objective: float
    evaluations: int
    visited: list[tuple[int, int, int]]


def grid_search(counts: np.ndarray, default: tuple[int, int, int], slo: SLO = SLO()):
    """The exhaustive reference: every triple of one segment's table (counts (6, G, G, G)),
    the admissible one with the largest objective.

    Parameters
    ----------
    counts : (6, G, G, G) array
        One segment's counts (`Tables.counts[s]`).
    default : tuple of 3 int
        The defaults' indices: the reference point of the Δ_i.
    slo : SLO, default SLO()
        The limits and their margin.

    Returns
    -------
    SearchResult
        `triple` (grid indices of the best admissible triple; None: no admissible triple),
        its `objective` (0.0 when None), the number of distinct triples evaluated and, for
        this search, an empty `visited`.
    """
    m = metrics_of(counts)
    base = {k: float(m[k][default]) for k in METRICS}
    d = deltas(m, base)
    score = np.where(admissible(m, d, slo), objective(d), -np.inf)
    g = counts.shape[1]
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    found = bool(np.isfinite(score[best]))
    return SearchResult(
        tuple(int(i) for i in best) if found else None,
        float(score[best]) if found else 0.0,
        g**3,
        [],
    )


def greedy_search(counts: np.ndarray, default: tuple[int, int, int], slo: SLO = SLO()):
    """The paper's Algorithm 1 on one segment's table: the full grid on θ_JR outside; inside,
    θ_JA swept up from its lower bound with θ_PO swept down from its upper bound, then the
    reverse order (θ_PO up outside, θ_JA down inside). Pruning, against the best admissible triple
    found so far (at first the defaults): an inner sweep (its threshold falling: volume grows,
    the apply rate falls) stops as soon as the apply rate falls below the best's; an outer sweep
    (its threshold rising: volume can only fall) stops as soon as the largest volume its inner
    sweep reached is below the best's. An evaluation = the metrics of one distinct triple.

    Parameters
    ----------
    counts : (6, G, G, G) array
        One segment's counts (`Tables.counts[s]`).
    default : tuple of 3 int
        The defaults' indices: the reference point of the Δ_i and the first best.
    slo : SLO, default SLO()
        The limits and their margin.

    Returns
    -------
    SearchResult
        `triple` (grid indices of the best admissible triple; None: none found),
        its `objective` (0.0 when None), the number of distinct triples evaluated and, for
        this search, the triples `visited` in evaluation order.
    """
    m_all = metrics_of(counts)
    base = {k: float(m_all[k][default]) for k in METRICS}
    cache: dict[tuple[int, int, int], tuple[float, float, float, bool]] = {}
    visited: list[tuple[int, int, int]] = []

    def evaluate(t):
        if t not in cache:
            m = {k: v[t] for k, v in m_all.items()}
            d = deltas(m, base)
            ok = bool(admissible(m, d, slo))
            cache[t] = (
                float(m["applies"]),
                float(np.nan_to_num(m["apply_rate"])),
                float(objective(d)),
                ok,
            )
            visited.append(t)
        return cache[t]

    g = counts.shape[1]
    best = {"volume": base["applies"], "rate": base["apply_rate"], "objective": 0.0, "triple": None}

    def consider(t, volume, rate, score, ok):
        if ok and score > best["objective"]:
            best.update(volume=volume, rate=rate, objective=score, triple=t)

    for r in range(g):
        for outer_is_ja in (True, False):
            for x in range(g):  # the outer threshold rises from its lower bound
                reached = -np.inf
                for y in range(g - 1, -1, -1):  # the inner one falls from its upper bound
                    t = (r, x, y) if outer_is_ja else (r, y, x)
                    volume, rate, score, ok = evaluate(t)
                    consider(t, volume, rate, score, ok)
                    reached = max(reached, volume)
                    if rate < best["rate"]:
                        break
                if reached < best["volume"]:
                    break
    return SearchResult(best["triple"], best["objective"], len(cache), visited)


def unified_score(m: dict[str, np.ndarray]) -> np.ndarray:
    """Σ λ_i log x_i over a, ar, p, poa: the objective's own trade-off without a reference point
    (a small step changes it by Σ λ_i Δ_i). -inf where a metric is 0 or undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = [np.log(np.asarray(m[k], np.float64)) for k in METRICS]
    score = np.tensordot(np.asarray(LAMBDAS), np.stack(logs), axes=1)
    return np.where(np.isfinite(score), score, -np.inf)


def default_triple(pooled_counts: np.ndarray, slo: SLO = SLO()) -> tuple[int, int, int]:
    """The unified setting's one triple for all segments: on all segments' sends together, the
    best `unified_score` whose SLOs hold; when none holds, the triple closest to holding them.
    (The largest apply volume instead would pick "send everything" whenever the SLOs allow it,
    and no segment could then raise its volume above the defaults'.)

    Parameters
    ----------
    pooled_counts : (6, G, G, G) array
        The counts of all segments' sends together on the coarse grid.
    slo : SLO, default SLO()
        The limits and their margin.

    Returns
    -------
    tuple of 3 int
        The triple's grid indices.
    """
    m = metrics_of(pooled_counts)
    ok = slo_met(m, slo)
    if ok.any():
        score = np.where(ok, unified_score(m), -np.inf)
    else:
        unsub, neg = slo.limits()
        worst = np.maximum(
            wilson_upper(m["unsubscribes"], m["sends"], slo.z) / unsub,
            wilson_upper(m["negatives"], m["responses"], slo.z) / neg,
        )
        score = -worst
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), score.shape))


Search = Callable[[np.ndarray, tuple[int, int, int], SLO], SearchResult]
