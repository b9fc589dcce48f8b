"""The redistribution stage of partition D: the nightly choice of the OT parameters on the
validation window, tonight's redistributed lists (`recs.recommendations`), and the stage's
market and ranking metrics.

Validation instance: every seeker of the validation window (their Muse.0 top-1,000 over the ads
open in [D - 7, D), reranked by Muse.2, the top K kept as edges), capacities = those ads'
positions. Market metrics count all of them (a market as crowded as possible); recall counts only
the rerank stage's held-out seekers (Muse.2 trained on the others' applications).
There the Muse.2 scores are calibrated (one listwise temperature), the (ε, α) grid is solved and
scored, and the rule picks tonight's parameters: the lowest Congestion@100 among the points whose
Recall@100 (applications) is ≥ 95% of Muse.2's own top-100 on the same seekers (ties: higher
recall), over ε (entropy), α (blend with Muse.2's order) and τ (capacity enforcement). When no
point qualifies, the lists stay Muse.2's (α = 1) and the policy says so.

Tonight's instance: every seeker's `recs.reranked` muse2 top K, capacities = the active ads'
positions, solved with the chosen parameters (warm-started from the previous night's ad
potentials when present).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import typing

import numpy as np
import pandas as pd

from jobrec import transport
from jobrec.data import lists, model_store, warehouse
from jobrec.data.market import Market, listed_seekers, read_lists
from jobrec.evaluation.metrics import market_metrics
from jobrec.evaluation.offline import (
    Split,
    evaluated_seekers,
    frame_of,
    metric_rows,
    oracle_sample,
    splits,
)
from jobrec.rerank import RERANK_KEEP, muse_tables, reranked_lists
from jobrec.reranker_model import Reranker, load_reranker, score_tables
from jobrec.retrieval import load_market, load_night_inputs


@dataclasses.dataclass(frozen=True)
class RedistributionSettings:
    """The redistribution stage's tunables. The nightly grid was measured on `small`
    (BENCHMARKS.md): beyond τ = 30 the plan barely spreads more and the solves get long; below
    ε = 0.25 recall falls and iterations grow."""

    list_k: int = 100  # recommendations per seeker
    edges_k: int = RERANK_KEEP["muse2"]  # OT edges per seeker (≥ 3 × list_k)
    market_ks: tuple[int, ...] = (1, 10, 100)
    ranking_ks: tuple[int, ...] = (10, 100)
    epsilons: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    alphas: tuple[float, ...] = (0.0, 0.5, 0.75)
    taus: tuple[float, ...] = (1.0, 10.0, 30.0)
    cost: str = "neglogp"  # the edge cost from the Muse.2 score (JOBREC_OT_COST overrides it)
    tolerance: float = 1e-6
    max_iterations: int = 3000
    recall_keep: float = 0.95  # the rule: Recall@100 ≥ 95% of Muse.2's


SETTINGS = RedistributionSettings()
LIST_K = SETTINGS.list_k
EDGES_K = SETTINGS.edges_k
MARKET_KS = SETTINGS.market_ks
RANKING_KS = SETTINGS.ranking_ks
EPSILONS, ALPHAS, TAUS = SETTINGS.epsilons, SETTINGS.alphas, SETTINGS.taus
COST = SETTINGS.cost
TOL = SETTINGS.tolerance
MAX_ITER = SETTINGS.max_iterations
RECALL_KEEP = SETTINGS.recall_keep
POLICY = "ot"  # the model folder of the night's OT policy


@dataclasses.dataclass
class Instance:
    """Seekers (market rows) with their edges: `ads` (U, K) market ad rows in Muse.2 order
    (-1 padded), `scores` (U, K) Muse.2 scores (-inf padded); `positions` per market ad row."""

    seekers: np.ndarray
    ads: np.ndarray
    scores: np.ndarray
    positions: np.ndarray

    def graph_ads(self) -> np.ndarray:
        """The market ad rows on at least one list: the graph's ad columns, sorted."""
        return np.unique(self.ads[self.ads >= 0])


@dataclasses.dataclass
class Policy:
    epsilon: float
    alpha: float
    tau: float
    cost: str
    temperature: float
    qualified: bool  # False: no grid point kept the recall; the lists stay Muse.2's

    @classmethod
    def load(cls, models_dir, run_date: dt.date) -> Policy:
        folder = model_store.model_dir(models_dir, run_date, POLICY)
        return cls(**json.loads((folder / "policy.json").read_text())["policy"])


@dataclasses.dataclass
class Redistributed:
    """Final lists: `lists` (U, k) market ad rows (-1 padded), the ranking key, the plan mass and
    the Muse.2 rank (1-based) of each recommended ad, and the solver's report."""

    lists: np.ndarray
    key: np.ndarray
    mass: np.ndarray
    rerank_rank: np.ndarray
    muse2_score: np.ndarray
    solution: transport.Solution | None
    ad_rows: np.ndarray  # the graph's ad columns as market rows


class _Built(typing.NamedTuple):
    """An instance's edge graph (`_graph`): it depends on the instance, the cost and the
    temperature only, so a policy grid builds it once."""

    graph: transport.EdgeGraph
    used: np.ndarray  # the graph's ad columns as market rows
    log_p: np.ndarray
    tie_order: np.ndarray  # transport.tie_order_of(log_p): the final lists' tie-breaker


def _graph(inst: Instance, policy: Policy) -> _Built:
    valid = inst.ads >= 0
    used = inst.graph_ads()
    cols = np.where(valid, np.searchsorted(used, np.where(valid, inst.ads, used[0])), -1)
    scores = np.where(valid, inst.scores, -np.inf)
    cost = transport.edge_costs(scores, policy.cost, policy.temperature)
    log_p = transport.log_probabilities(scores, policy.temperature)
    seeker_mass = np.ones(len(inst.seekers))
    ad_mass = transport.capacities(inst.positions[used], seeker_mass.sum())
    graph = transport.EdgeGraph(cols, cost, seeker_mass, ad_mass)
    return _Built(graph, used, log_p, transport.tie_order_of(log_p))


def redistribute(
    inst: Instance,
    policy: Policy,
    k: int = LIST_K,
    solution=None,
    init_ad_potential=None,
    log=None,
    graph=None,
) -> Redistributed:
    """Solve (unless `solution` for the same instance and ε is given) and rank each seeker's
    edges by (1 - α) log(plan mass) + α log p.

    A policy that did not qualify ranks with α = 1 (Muse.2's own order); the plan is still
    solved.

    Parameters
    ----------
    inst : Instance
        U seekers with K edges each (Muse.2 order) and the ads' positions.
    policy : Policy
        ε, α, τ, the edge cost and the calibration temperature.
    k : int, default LIST_K
        Recommendations a seeker (at most K).
    solution : transport.Solution, optional
        A solution of the same graph (same instance, cost, temperature, ε and τ), to rank
        again with another α without solving.
    init_ad_potential : (n_graph_ads,) float array, optional
        Warm start of the ad potentials over `inst.graph_ads()` (NaN: none for that ad).
    log : callable, optional
        The solver's progress lines.
    graph : tuple, optional
        `_graph(inst, policy)` when already built (it depends on the instance, the cost and
        the temperature only, not on ε, α or τ).

    Returns
    -------
    Redistributed
        `lists` (U, min(k, K)) market ad rows (-1 padded), their ranking key, plan mass,
        Muse.2 rank (1-based) and score, the solution and the graph's ad rows.
    """
    graph, used, log_p, tie_order = graph or _graph(inst, policy)
    if solution is None:
        cfg = transport.OTConfig(policy.epsilon, policy.tau, TOL, MAX_ITER)
        solution = transport.solve(graph, cfg, init_ad_potential, log=log)
    alpha = policy.alpha if policy.qualified else 1.0
    order, key = transport.final_lists(solution.plan, log_p, graph.ads, k, alpha, tie_order)
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    lists = np.where(np.isfinite(key), take(inst.ads), -1)
    return Redistributed(
        lists, key, take(solution.plan), order + 1, take(inst.scores), solution, used
    )


# --- validation: calibration, the trade-off curve and the rule ------------------------------


@dataclasses.dataclass
class ValidationInstance:
    instance: Instance
    split: Split
    applied: np.ndarray  # (U, K) the edges the seeker applied to in the window
    muse0_lists: np.ndarray  # (U, LIST_K) Muse.0's own top of the same seekers (ad rows)
    held: np.ndarray  # (U,) the rerank stage's held-out seekers: recall is measured on them
    recon_weight: float = 0.0  # λ of the ReCon term Muse.2 trained with (0: plain)

    @property
    def method(self) -> str:
        """How Muse.2's scores were trained: `muse2` (plain) or `recon` (with the ReCon
        term); the curve's OT rows are this method followed by the redistribution (`+ot`)."""
        return "recon" if self.recon_weight > 0 else "muse2"


def validation_instance(
    con, run_date: dt.date, models_dir, muse2: Reranker | None = None
) -> ValidationInstance:
    """The validation window's instance: every validation seeker's candidate list (the
    rerankers' training seekers, then the held-out ones) rescored by Muse.2, its top
    `EDGES_K` kept as edges; capacities from every ad's positions.

    Parameters
    ----------
    con : DuckDB connection
        Unused (everything comes from the model store); kept so every step has one signature.
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs and Muse.2).
    muse2 : Reranker, optional
        The model whose scores make the instance; default the night's Muse.2 (a benchmark
        passes others: a ReCon-trained one).

    Returns
    -------
    ValidationInstance
        The instance (U seekers, (U, K') edges, K' = min(EDGES_K, candidates), and the
        positions of every market ad row), the validation split, the (U, K') edges applied
        to in the window, Muse.0's own (U, LIST_K) lists, the (U,) held-out mask and the
        model's ReCon λ.
    """
    night = load_night_inputs(models_dir, run_date)
    validation = splits(night.market)[0]
    train, held = night.train_lists, night.holdout_lists
    if muse2 is None:
        path = model_store.model_dir(models_dir, run_date, "muse2") / "model.pt"
        muse2, _ = load_reranker(path)
    seekers = np.concatenate([train.seeker, held.seeker])
    tables = muse_tables(muse2, night.inputs)
    scores = np.vstack(
        [score_tables(tables, lists.seeker, lists.ads, lists.cross) for lists in (train, held)]
    )
    list_ads = np.vstack([train.ads, held.ads])
    k = min(EDGES_K, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1)
    ads = np.where(np.isfinite(top_scores), np.take_along_axis(list_ads, order, axis=1), -1)
    applied = np.take_along_axis(np.vstack([train.applied, held.applied]), order, axis=1)
    inst = Instance(seekers, ads, top_scores, _positions(night.market))
    is_held = np.arange(len(seekers)) >= len(train.seeker)
    return ValidationInstance(
        inst,
        validation,
        applied & (ads >= 0),
        list_ads[:, :LIST_K],
        is_held,
        float(muse2.cfg.recon_weight),
    )


def _positions(market: Market) -> np.ndarray:
    return market.ads["positions"].to_numpy(np.float64)


def _universe_lists(lists: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """`positions(universe, lists)` (-1 kept) by a lookup table over the ad rows: the policy
    grid maps ~40 lists of the same universe, and a gather beats a binary search per entry."""
    top = max(universe.max(initial=-1), lists.max(initial=-1))
    lookup = np.full(int(top) + 2, -1)
    lookup[universe] = np.arange(len(universe))
    return lookup[lists]  # -1 (padding) reads the table's last entry, always -1


def _curve_row(lists: np.ndarray, v: ValidationInstance, **labels) -> dict:
    pos = _universe_lists(lists, v.split.universe)
    held = v.held
    apps = [
        r
        for r in metric_rows(pos[held], v.split, v.instance.seekers[held], RANKING_KS)
        if r["relevance"] == "applications"
    ]
    row = dict(labels)
    for r in apps:
        row[f"recall_at_{r['k']}"], row[f"ndcg_at_{r['k']}"] = r["recall"], r["ndcg"]
    for m in market_metrics(pos, len(v.split.universe), (10, 100)):
        row[f"congestion_at_{m.k}"] = m.congestion
        row[f"coverage_at_{m.k}"] = m.coverage
        row[f"gini_at_{m.k}"] = m.gini
    return row


def tradeoff(
    v: ValidationInstance, cost: str = COST, taus=TAUS, epsilons=EPSILONS, alphas=ALPHAS, log=None
) -> tuple[pd.DataFrame, Policy]:
    """The trade-off curve on the validation instance (one row per (τ, ε, α), Muse.2's row
    first) and the policy the rule picks.

    The temperature is fitted on the held-out seekers' edges (`transport.fit_temperature`).
    Per τ, ε is swept in descending order, each solve warm-started from the previous one's ad
    potentials; the α values reuse one solve, and every point the one graph (edge costs and
    log-probabilities depend on the cost and the temperature only).

    Parameters
    ----------
    v : ValidationInstance
        From `validation_instance`.
    cost : str, default COST
        The edge cost (one of `transport.COSTS`).
    taus, epsilons, alphas : sequences of float
        The grid (default the stage's settings).
    log : callable, optional
        A line per solve (iterations and seconds).

    Returns
    -------
    curve : pandas.DataFrame
        Row 0 Muse.2 (model "muse2"), then one row per grid point (model "ot"), each with its
        `method` (`muse2` / `muse2+ot`, or `recon` / `recon+ot` for a ReCon-trained Muse.2,
        whose λ is `recon_weight`): held-out
        Recall@ and NDCG@10/100 (applications), Congestion, Coverage and Gini @10/100 over
        all the instance's seekers, the solver's report, `cost`, `temperature`, and the
        `qualifies` / `chosen` marks of `pick_point`.
    policy : Policy
        The chosen point; when none qualifies, (epsilons[0], α = 1, taus[0]) with
        `qualified` False.
    chosen : Redistributed
        The validation instance redistributed by `policy` (its solve warm-started from the
        grid's own at that point: a few iterations).
    """
    temperature = transport.fit_temperature(v.instance.scores[v.held], v.applied[v.held])
    rows = [
        _curve_row(
            v.instance.ads[:, :LIST_K],
            v,
            model="muse2",
            method=v.method,
            epsilon=None,
            alpha=1.0,
            tau=None,
        )
    ]
    built = _graph(v.instance, Policy(epsilons[0], 1.0, taus[0], cost, temperature, True))
    potentials = {}  # (τ, ε) -> the solve's ad potentials: the chosen point's warm start
    for tau in taus:
        previous = None  # ε descending, each solve warm-started from the previous one's ads
        for eps in sorted(epsilons, reverse=True):
            solution = None
            for alpha in alphas:
                policy = Policy(eps, alpha, tau, cost, temperature, True)
                init = previous.ad_potential if previous is not None else None
                out = redistribute(
                    v.instance, policy, solution=solution, init_ad_potential=init, graph=built
                )
                solution = out.solution
                rows.append(
                    _curve_row(
                        out.lists,
                        v,
                        model="ot",
                        method=f"{v.method}+ot",
                        epsilon=eps,
                        alpha=alpha,
                        tau=tau,
                        **solution.report(),
                    )
                )
            previous = solution
            potentials[(tau, eps)] = solution.ad_potential
            if log:
                log(
                    f"OT τ={tau} ε={eps}: {solution.iterations} iterations, {solution.seconds:.2f}s"
                )
    curve = pd.DataFrame(rows)
    curve["cost"], curve["temperature"] = cost, temperature
    curve["recon_weight"] = v.recon_weight
    best = pick_point(curve)
    if best is not None:
        r = curve.loc[best]
        policy = Policy(
            float(r["epsilon"]), float(r["alpha"]), float(r["tau"]), cost, temperature, True
        )
    else:
        policy = Policy(float(epsilons[0]), 1.0, float(taus[0]), cost, temperature, False)
    init = potentials[(policy.tau, policy.epsilon)]
    chosen = redistribute(v.instance, policy, init_ad_potential=init, graph=built)
    return curve, policy, chosen


def pick_point(curve: pd.DataFrame) -> int | None:
    """The rule, on a curve whose row 0 is Muse.2's: among the converged OT points with
    Recall@100 ≥ RECALL_KEEP × Muse.2's, the lowest Congestion@100 (ties: higher recall).

    Parameters
    ----------
    curve : pandas.DataFrame
        The trade-off curve (`tradeoff`); its `qualifies` and `chosen` columns are set in
        place.

    Returns
    -------
    int or None
        The chosen row's index label; None when no point qualifies.
    """
    floor = RECALL_KEEP * curve.loc[0, "recall_at_100"]
    ok = (curve["model"] == "ot") & (curve["recall_at_100"] >= floor)
    ok &= curve["converged"].fillna(False).astype(bool)
    curve["qualifies"] = ok
    curve["chosen"] = False
    if not ok.any():
        return None
    best = (
        curve[ok]
        .sort_values(["congestion_at_100", "recall_at_100"], ascending=[True, False])
        .index[0]
    )
    curve.loc[best, "chosen"] = True
    return best


def choose_policy(con, run_date: dt.date, models_dir, cost: str | None = None, log=None) -> dict:
    """Sweep the grid on the validation instance, save the policy, the curve and the validation
    lists (Muse.0, Muse.2, OT) under the models folder, write metrics.ot_tradeoff.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (metrics.ot_tradeoff is written to it).
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs and Muse.2 are read, the policy written).
    cost : str, optional
        The edge cost (`neglogp`, `linear`, `rank`); default the stage's (`SETTINGS.cost`).
    log : callable, optional
        Progress lines.

    Returns
    -------
    dict
        `policy` (the chosen Policy) and `curve` (the trade-off curve, one row per grid point).
    """
    cost = cost or SETTINGS.cost
    if cost not in transport.COSTS:
        raise ValueError(f"unknown OT cost {cost!r} (JOBREC_OT_COST): one of {transport.COSTS}")
    v = validation_instance(con, run_date, models_dir)
    curve, policy, chosen = tradeoff(v, cost=cost, log=log)
    with model_store.writing(models_dir, run_date, POLICY) as folder:
        (folder / "policy.json").write_text(
            json.dumps(
                {
                    "policy": dataclasses.asdict(policy),
                    "rule": f"min congestion@100 with recall@100 >= {RECALL_KEEP} x muse2",
                    "validation_seekers": len(v.instance.seekers),
                },
                indent=2,
            )
        )
        np.savez_compressed(
            folder / "validation_lists.npz",
            seekers=v.instance.seekers,
            held=v.held,
            muse0=v.muse0_lists,
            muse2=v.instance.ads[:, :LIST_K],
            ot=chosen.lists,
        )
    frame = curve.drop(columns="solve_seconds")  # timings live in metrics.runs: rows reproduce
    frame.insert(0, "run_date", run_date)
    con.execute(warehouse.sql("create_metrics_ot_tradeoff"))
    warehouse.replace_rows(con, "metrics.ot_tradeoff", run_date, frame, {})
    return {"policy": policy, "curve": curve}


# --- tonight ---------------------------------------------------------------------------------


def tonight_instance(con, run_date: dt.date, market: Market) -> Instance:
    """Tonight's instance: every seeker's recs.reranked muse2 list of D, its top `EDGES_K`.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (recs.reranked of D).
    run_date : date
        The partition D.
    market : Market
        The market as known at D.

    Returns
    -------
    Instance
        `seekers` (U,) market rows (sorted by id), `ads` (U, EDGES_K) market ad rows in
        Muse.2 order (-1 padded), `scores` (U, EDGES_K) (-inf padded), `positions` of every
        market ad row.
    """
    seekers = listed_seekers(con, "recs.reranked", run_date, market, model="muse2")
    ads, scores = read_lists(
        con, "recs.reranked", run_date, market, seekers, EDGES_K, model="muse2"
    )
    return Instance(seekers, ads, np.where(ads >= 0, scores, -np.inf), _positions(market))


def _previous_potentials(models_dir, run_date: dt.date, market: Market, used: np.ndarray):
    path = model_store.model_dir(models_dir, run_date - dt.timedelta(days=1), POLICY)
    path = path / "ad_potentials.parquet"
    if not path.exists():
        return None
    prev = pd.read_parquet(path)
    rows = market.ad_index(prev["ad_id"])
    g = np.full(len(market.ads), np.nan)
    g[rows[rows >= 0]] = prev["potential"].to_numpy()[rows >= 0]
    return g[used]


def write_recommendations(con, run_date: dt.date, models_dir, log=None) -> dict:
    """Redistribute tonight's Muse.2 lists and replace the partition of recs.recommendations.

    Solved with the night's policy, warm-started from the previous night's ad potentials when
    they exist; tonight's potentials are saved beside the policy for tomorrow.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse: recs.reranked of D is read, the partition of recs.recommendations
        replaced.
    run_date : date
        The partition D.
    models_dir : path
        The model store (the market, the policy of D; ad_potentials.parquet is written).
    log : callable, optional
        The solver's progress lines.

    Returns
    -------
    dict
        `rows` written, `seekers`, `edges`, `ads_in_graph`, `warm_start`, the parameters
        used (`epsilon`, `alpha`, `tau`, `tolerance`) and the solver's report.
    """
    market = load_market(models_dir, run_date)
    policy = Policy.load(models_dir, run_date)
    inst = tonight_instance(con, run_date, market)
    init = _previous_potentials(models_dir, run_date, market, inst.graph_ads())
    out, spread = lists_for_tonight(inst, policy, market.active_ads(), init, log=log)
    ad_ids = market.ads["ad_id"].to_numpy()
    folder = model_store.model_dir(models_dir, run_date, POLICY)
    pd.DataFrame({"ad_id": ad_ids[out.ad_rows], "potential": out.solution.ad_potential}).to_parquet(
        folder / "ad_potentials.parquet.tmp"
    )
    (folder / "ad_potentials.parquet.tmp").replace(folder / "ad_potentials.parquet")
    with lists.partition(con, "recs.recommendations", run_date) as writer:
        writer.append(
            market.seekers["jobseeker_id"].to_numpy(),
            ad_ids,
            inst.seekers,
            out.lists,
            out.key,
            per_pair={
                "plan_mass": out.mass,
                "rerank_rank": out.rerank_rank,
                "muse2_score": out.muse2_score,
            },
        )
    rows = writer.rows
    return {
        "rows": rows,
        "seekers": len(inst.seekers),
        "edges": int((inst.ads >= 0).sum()),
        "ads_in_graph": len(out.ad_rows),
        "warm_start": init is not None,
        "epsilon": policy.epsilon,
        "alpha": policy.alpha if policy.qualified else 1.0,
        "tau": policy.tau,
        "tolerance": TOL,
        "fallback_to_muse2": not spread.helps,
        "spread": spread.text,
        **out.solution.report(),
    }


@dataclasses.dataclass(frozen=True)
class Spread:
    helps: bool  # no more congested and covering no fewer ads than Muse.2's lists, at k
    text: str


def spread_against_muse2(
    ot_lists: np.ndarray, muse2_lists: np.ndarray, active: np.ndarray
) -> Spread:
    """OT lists against Muse.2's (same seekers, market ad rows) over the `active` ads at the
    lists' length k: the redistribution helps when Congestion@k is no higher and Coverage@k no
    lower (the point of the stage)."""
    k = ot_lists.shape[1]
    at = {
        name: market_metrics(_universe_lists(lists[:, :k], active), len(active), (k,))[0]
        for name, lists in (("muse2", muse2_lists), ("ot", ot_lists))
    }
    m2, ot = at["muse2"], at["ot"]
    helps = ot.congestion <= m2.congestion + 1e-9 and ot.coverage >= m2.coverage - 1e-9
    text = (
        f"@{k} congestion {m2.congestion:.4f} → {ot.congestion:.4f}, "
        f"coverage {m2.coverage:.4f} → {ot.coverage:.4f}"
    )
    return Spread(bool(helps), text)


def lists_for_tonight(
    inst: Instance,
    policy: Policy,
    active: np.ndarray,
    init_ad_potential=None,
    k: int = LIST_K,
    log=None,
) -> tuple[Redistributed, Spread]:
    """The redistributed lists, or Muse.2's own when they would crowd the `active` ads more.

    A policy is chosen on the validation window; tonight's market can differ (a tiny market's
    plan made congestion slightly worse, −0.9911 → −0.9902). Then the night sends Muse.2's
    order (α = 1 on the same plan, kept for tomorrow's warm start) instead of stopping.
    """
    out = redistribute(inst, policy, k=k, init_ad_potential=init_ad_potential, log=log)
    spread = spread_against_muse2(out.lists, inst.ads, active)
    if not spread.helps:
        muse2_order = dataclasses.replace(policy, qualified=False)
        out = redistribute(inst, muse2_order, k=k, solution=out.solution)
        if log:
            log(f"redistribution falls back to Muse.2's lists: {spread.text}")
    return out, spread


# --- the stage's metrics --------------------------------------------------------------------


def market_rows(lists_by_model: dict[str, np.ndarray], n_ads: int, **labels) -> list[dict]:
    """metrics.market rows (Congestion, Coverage, Gini at `MARKET_KS`) of each model's lists.

    Parameters
    ----------
    lists_by_model : dict of (U, k) int arrays
        "muse0", "muse2" and/or "ot" -> lists as positions 0..n_ads-1 (-1 padded).
    n_ads : int
        The ads the shares are taken over.
    **labels
        Constant columns (e.g. population).

    Returns
    -------
    list of dict
        One row per model and k.
    """
    stage = {"muse0": "retrieval", "muse2": "rerank", "ot": "redistribution"}
    return [
        {
            "stage": stage[model],
            "model": model,
            "k": m.k,
            "congestion": m.congestion,
            "coverage": m.coverage,
            "gini": m.gini,
            **labels,
        }
        for model, lists in lists_by_model.items()
        for m in market_metrics(lists, n_ads, MARKET_KS)
    ]


@dataclasses.dataclass
class StageMetrics:
    market: pd.DataFrame
    ranking: pd.DataFrame


def evaluate(con, run_date: dt.date, models_dir, has_oracle: bool = False) -> StageMetrics:
    """metrics.market for muse0, muse2 and ot at k 1, 10, 100: tonight's lists of every seeker
    (population all) and the validation instance (population validation); metrics.ranking
    rows of model ot: validation on the held-out seekers, forward when the raw data holds it.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (recs.candidates, recs.reranked and recs.recommendations of D).
    run_date : date
        The partition D.
    models_dir : path
        The model store (the market, the policy folder's validation lists).
    has_oracle : bool, default False
        Whether the partition has oracle rankings (forward oracle-sample rows are added).

    Returns
    -------
    StageMetrics
        `market` (metrics.market rows) and `ranking` (metrics.ranking rows).
    """
    market = load_market(models_dir, run_date)
    active = market.active_ads()
    tonight = listed_seekers(con, "recs.recommendations", run_date, market)
    lists = {
        "muse0": read_lists(con, "recs.candidates", run_date, market, tonight, LIST_K)[0],
        "muse2": reranked_lists(con, run_date, market, tonight, "muse2", LIST_K),
        "ot": read_lists(con, "recs.recommendations", run_date, market, tonight, LIST_K)[0],
    }
    rows = market_rows(
        {m: _universe_lists(x, active) for m, x in lists.items()}, len(active), population="all"
    )
    saved = np.load(model_store.model_dir(models_dir, run_date, POLICY) / "validation_lists.npz")
    all_splits = splits(market)
    validation = all_splits[0]
    val = {m: _universe_lists(saved[m], validation.universe) for m in ("muse0", "muse2", "ot")}
    rows += market_rows(val, len(validation.universe), population="validation")
    held = saved["held"]
    ranking = metric_rows(
        val["ot"][held],
        validation,
        saved["seekers"][held],
        RANKING_KS,
        stage="redistribution",
        model="ot",
        population="rerank_holdout",
    )
    if len(all_splits) > 1:
        forward = all_splits[1]
        who = evaluated_seekers(forward)
        ads = read_lists(con, "recs.recommendations", run_date, market, who, LIST_K)[0]
        pos = _universe_lists(ads, forward.universe)
        ranking += metric_rows(
            pos, forward, who, RANKING_KS, stage="redistribution", model="ot", population="all"
        )
        if has_oracle:
            pick = oracle_sample(len(who))
            ranking += metric_rows(
                pos[pick],
                forward,
                who[pick],
                RANKING_KS,
                stage="redistribution",
                model="ot",
                population="oracle_sample",
            )
    return StageMetrics(frame_of(rows, run_date), frame_of(ranking, run_date))


def write_evaluation(con, run_date: dt.date, m: StageMetrics) -> int:
    """Replace this stage's rows of D in metrics.market (models muse0, muse2, ot) and
    metrics.ranking (stage redistribution).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse.
    run_date : date
        The partition D.
    m : StageMetrics
        The output of `evaluate`.

    Returns
    -------
    int
        The rows written to both tables.
    """
    con.execute(warehouse.sql("create_metrics_market"))
    con.execute(warehouse.sql("create_metrics_ranking"))
    n = warehouse.replace_rows(
        con, "metrics.market", run_date, m.market, {"model": ["muse0", "muse2", "ot"]}
    )
    return n + warehouse.replace_rows(
        con, "metrics.ranking", run_date, m.ranking, {"stage": ["redistribution"]}
    )


def recall_floor_ok(curve: pd.DataFrame) -> bool:
    """Whether the chosen point keeps the rule's recall floor (a check on the saved curve).

    Parameters
    ----------
    curve : pandas.DataFrame
        A trade-off curve marked by `pick_point` (row 0 Muse.2's).

    Returns
    -------
    bool
        True when no point was chosen, or the chosen Recall@100 is ≥ RECALL_KEEP × Muse.2's.
    """
    chosen = curve[curve["chosen"]]
    if chosen.empty:
        return True
    return bool(
        chosen["recall_at_100"].iloc[0] >= RECALL_KEEP * curve.loc[0, "recall_at_100"] - 1e-12
    )
