"""Gender-gap audit by double machine learning: the partially linear model
Y = θ·female + g(X) + ε with cross-fitting (Chernozhukov et al. 2018, "partialling out").

Per fold k of K (seeded): fit l(X) = E[Y | X] and m(X) = E[female | X] on the other folds,
predict on fold k; with the residuals Ỹ = Y - l̂(X) and D̃ = female - m̂(X):
    θ = Σ D̃ Ỹ / Σ D̃²                      (the pooled moment, DoubleML's "dml2")
    ψ = (Ỹ - θ D̃) D̃,  J = mean(D̃²),  SE = sqrt(mean(ψ²) / J² / n)
θ is the gap between women and men with the same X (search parameters and qualifications),
with its 95% interval θ ± 1.96 SE. Checked against DoubleML's `DoubleMLPLR` in a test.

The PLR θ is a variance-weighted average of the conditional gaps: where the gap differs across X,
it is not the mean effect on women. The headline estimand is therefore the average effect on the
treated (ATTE) of the interactive model Y = g(D, X) + ε, by the same cross-fitting: per fold, fit
g0(X) = E[Y | X, man] on the men and m(X) = P(woman | X) (clipped to [0.01, 0.99], counted as
trimmed) on every row of the other folds; with p = mean(D),
    ψ_b = D (Y - g0)/p - m (1 - D)(Y - g0) / (p (1 - m)),   θ = mean(ψ_b),
    ψ = ψ_b - θ D / p,   SE = sqrt(mean(ψ²) / n)
(DoubleML's `DoubleMLIRM(score="ATTE")`, checked in a test). Every estimate keeps its influence
values φ (θ̂ - θ ≈ mean φ), so that two estimates on overlapping seekers can be compared with the
standard error of their difference (`joint_difference`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from jobrec.data import warehouse
from jobrec.evaluation.compare import holm

Z95 = 1.959964


@dataclasses.dataclass(frozen=True)
class Gap:
    gap: float
    std_error: float
    ci_low: float
    ci_high: float
    n: int
    trimmed: int = 0  # rows whose propensity was clipped (ATTE only)
    # θ̂ - θ ≈ mean(influence) over the n rows (not a column of metrics.fairness)
    influence: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    def row(self) -> dict:
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "influence"
        }


def _gap(theta: float, influence: np.ndarray, trimmed: int = 0) -> Gap:
    se = float(np.sqrt(np.mean(influence**2) / len(influence)))
    return Gap(theta, se, theta - Z95 * se, theta + Z95 * se, len(influence), trimmed, influence)


def default_learner(seed: int = 0) -> RegressorMixin:
    """Gradient-boosted trees for both nuisances (non-linear in the search parameters).

    Parameters
    ----------
    seed : int, default 0
        The learner's random state.

    Returns
    -------
    HistGradientBoostingRegressor
        Unfitted.
    """
    return HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=40, random_state=seed
    )


def fold_splits(n: int, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The cross-fitting folds: a seeded, shuffled K-fold split of n rows.

    Parameters
    ----------
    n : int
        Rows.
    folds : int, default 5
        K.
    seed : int, default 0
        The shuffle's seed.

    Returns
    -------
    list of (train, test) int arrays
        One pair of row indices per fold.
    """
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))


def _residuals(target: np.ndarray, x: np.ndarray, splits, learner, seed) -> np.ndarray:
    out = np.empty(len(target))
    for train, test in splits:
        model = clone(learner(seed)).fit(x[train], target[train])
        out[test] = target[test] - model.predict(x[test])
    return out


def _prepared(female, x, folds: int, seed: int, splits):
    """The treatment and controls as floats, and the folds; ValueError when too few rows or one
    gender only."""
    d = np.asarray(female, np.float64)
    x = np.asarray(x, np.float64)
    n = len(d)
    if n < 2 * folds or d.min() == d.max():
        raise ValueError(f"{n} rows with {int(d.sum())} women: too few to estimate a gap")
    return d, x, splits or fold_splits(n, folds, seed)


def plr_gaps(
    outcomes: dict[str, np.ndarray],
    female: np.ndarray,
    x: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    learner: Callable[[int], RegressorMixin] = default_learner,
    splits: list | None = None,
) -> dict[str, Gap]:
    """θ of the partially linear model for each outcome (same rows), with cross-fitted
    nuisances; m(X) = E[female | X] is fitted once for all outcomes.

    Parameters
    ----------
    outcomes : dict of (n,) arrays
        Outcome name -> Y.
    female : (n,) array
        The treatment D, 1 for women and 0 for men.
    x : (n, p) array
        The controls X.
    folds : int, default 5
        K of the cross-fitting (ignored when `splits` is given).
    seed : int, default 0
        Seed of the folds and of the learners.
    learner : callable, default default_learner
        seed -> an unfitted scikit-learn regressor, for both nuisances.
    splits : list of (train, test) int arrays, optional
        The folds; default `fold_splits(n, folds, seed)`.

    Returns
    -------
    dict of Gap
        Outcome name -> θ, its standard error, the 95% interval and n.

    Raises
    ------
    ValueError
        With fewer than 2 × folds rows, or when `female` is constant.
    """
    d, x, splits = _prepared(female, x, folds, seed, splits)
    d_res = _residuals(d, x, splits, learner, seed)
    j = np.mean(d_res**2)
    out = {}
    for name, y in outcomes.items():
        y_res = _residuals(np.asarray(y, np.float64), x, splits, learner, seed)
        theta = float(d_res @ y_res / (d_res @ d_res))
        psi = (y_res - theta * d_res) * d_res
        out[name] = _gap(theta, psi / j)  # SE = sqrt(mean(ψ²) / J² / n)
    return out


PROPENSITY_CLIP = 0.01  # DoubleML's default clipping of m(X)


def default_classifier(seed: int = 0):
    """Gradient-boosted trees for the propensity m(X) = P(woman | X)."""
    return HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=40, random_state=seed
    )


def atte_gaps(
    outcomes: dict[str, np.ndarray],
    female: np.ndarray,
    x: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    learner: Callable[[int], RegressorMixin] = default_learner,
    classifier: Callable[[int], object] = default_classifier,
    splits: list | None = None,
    clip: float = PROPENSITY_CLIP,
) -> dict[str, Gap]:
    """The average gap women face (ATTE of the interactive model) for each outcome, with
    cross-fitted nuisances: m(X) once for all outcomes, g0(X) per outcome on the men of the
    training folds (see the module's docstring).

    Parameters
    ----------
    outcomes, female, x, folds, seed, learner, splits
        As in `plr_gaps`.
    classifier : callable, default default_classifier
        seed -> an unfitted scikit-learn classifier with `predict_proba`, for m(X).
    clip : float, default 0.01
        m(X) is clipped to [clip, 1 - clip]; the clipped rows are counted in `trimmed`.

    Returns
    -------
    dict of Gap
        Outcome name -> θ (ATTE), its standard error, the 95% interval, n and trimmed.

    Raises
    ------
    ValueError
        With fewer than 2 × folds rows, or when `female` is constant.
    """
    d, x, splits = _prepared(female, x, folds, seed, splits)
    n = len(d)
    m = np.empty(n)
    for train, test in splits:
        model = clone(classifier(seed)).fit(x[train], d[train])
        m[test] = model.predict_proba(x[test])[:, 1]
    trimmed = int(((m < clip) | (m > 1 - clip)).sum())
    m = np.clip(m, clip, 1 - clip)
    p = d.mean()
    men = d == 0
    out = {}
    for name, y in outcomes.items():
        y = np.asarray(y, np.float64)
        g0 = np.empty(n)
        for train, test in splits:
            fit = train[men[train]]
            g0[test] = clone(learner(seed)).fit(x[fit], y[fit]).predict(x[test])
        u0 = y - g0
        psi_b = d * u0 / p - m * (1 - d) * u0 / (p * (1 - m))
        theta = float(psi_b.mean())
        out[name] = _gap(theta, psi_b - theta * d / p, trimmed)  # J = -mean(D / p) = -1
    return out


def joint_difference(a: Gap, a_ids, b: Gap, b_ids) -> tuple[float, float]:
    """θ_a - θ_b and its standard error when the two estimates share seekers: from each
    seeker's contribution to both (its influence values, 0 where it is not in a sample),
    Var = Σ_i (φ_a,i / n_a - φ_b,i / n_b)².

    Parameters
    ----------
    a, b : Gap
        Estimates with their influence values.
    a_ids, b_ids : sequences of str
        The seekers of their rows, in order.

    Returns
    -------
    (float, float)
        The difference and its standard error.
    """
    contribution = pd.concat(
        [
            pd.Series(a.influence / a.n, index=pd.Index(a_ids)),
            pd.Series(-b.influence / b.n, index=pd.Index(b_ids)),
        ]
    )
    per_seeker = contribution.groupby(level=0).sum().to_numpy()
    return a.gap - b.gap, float(np.sqrt(np.sum(per_seeker**2)))


def plr_gap(
    y: np.ndarray,
    female: np.ndarray,
    x: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    learner: Callable[[int], RegressorMixin] = default_learner,
    splits: list | None = None,
) -> Gap:
    """θ of one outcome (see plr_gaps).

    Parameters
    ----------
    y : (n,) array
        The outcome Y.
    female, x, folds, seed, learner, splits
        As in `plr_gaps`.

    Returns
    -------
    Gap
        θ, its standard error, the 95% interval and n.
    """
    return plr_gaps({"y": y}, female, x, folds, seed, learner, splits)["y"]


# --- the audit's data: outcomes of a seeker's ads, and the controls ------------------------

OUTCOMES = ("log_wage", "permanent", "hours", "distance_km")
EARTH_KM = 6371.0


def seeker_outcomes(seekers, ads, pairs):
    """Per seeker of `pairs` (jobseeker_id, ad_id): the mean over its ads of log wage,
    permanent contract (0/1), weekly hours and distance from home (km).

    Parameters
    ----------
    seekers : pandas.DataFrame
        Seekers with `jobseeker_id`, `latitude`, `longitude`.
    ads : pandas.DataFrame
        Ads with `ad_id`, `wage`, `contract`, `hours_per_week`, `latitude`, `longitude`.
    pairs : pandas.DataFrame
        (jobseeker_id, ad_id) pairs; pairs naming an unknown seeker or ad are dropped.

    Returns
    -------
    pandas.DataFrame
        Indexed by jobseeker_id (sorted), one column per `OUTCOMES` entry.
    """
    a = ads.set_index("ad_id")
    s = seekers.set_index("jobseeker_id")
    p = pairs[["jobseeker_id", "ad_id"]]
    p = p[p["ad_id"].isin(a.index) & p["jobseeker_id"].isin(s.index)]
    ad, sk = a.loc[p["ad_id"]], s.loc[p["jobseeker_id"]]
    lat1, lon1 = np.radians(sk["latitude"].to_numpy()), np.radians(sk["longitude"].to_numpy())
    lat2, lon2 = np.radians(ad["latitude"].to_numpy()), np.radians(ad["longitude"].to_numpy())
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    frame = pd.DataFrame(
        {
            "jobseeker_id": p["jobseeker_id"].to_numpy(),
            "log_wage": np.log(np.maximum(ad["wage"].to_numpy(np.float64), 1.0)),
            "permanent": (ad["contract"].to_numpy() == "permanent").astype(np.float64),
            "hours": ad["hours_per_week"].to_numpy(np.float64),
            "distance_km": 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1))),
        }
    )
    return frame.groupby("jobseeker_id", sort=True).mean()


def controls(seekers) -> tuple[np.ndarray, np.ndarray]:
    """X: the search parameters and qualifications — desired occupation (family, domain, and
    code within the domain),
    desired contract, log desired wage, part-time wish, mobility, location (latitude,
    longitude, department), experience, education.

    Parameters
    ----------
    seekers : pandas.DataFrame
        The seekers (one row each).

    Returns
    -------
    x : (n, 12) float64 array
        The controls, categorical ones as integer codes.
    categorical : (12,) bool array
        Which columns are categorical.
    """
    occ = seekers["desired_occupation"].fillna("?")

    def codes(values):
        return np.unique(values.astype(str), return_inverse=True)[1].astype(np.float64)

    columns = [
        (codes(occ.str[:1]), True),
        (codes(occ.str[:3]), True),
        (codes(occ.str[3:]), True),  # the code within its domain (500 codes > 255 categories)
        (codes(seekers["desired_contract"].fillna("?")), True),
        (codes(seekers["department"].fillna("?")), True),
        (np.log(np.maximum(seekers["desired_wage"].fillna(0).to_numpy(np.float64), 1.0)), False),
        (seekers["profile_text"].fillna("").str.contains("Part-time").to_numpy(np.float64), False),
        (seekers["mobility_km"].to_numpy(np.float64), False),
        (seekers["latitude"].to_numpy(np.float64), False),
        (seekers["longitude"].to_numpy(np.float64), False),
        (seekers["experience_years"].to_numpy(np.float64), False),
        (seekers["education_level"].to_numpy(np.float64), False),
    ]
    return np.column_stack([c for c, _ in columns]), np.array([cat for _, cat in columns])


ESTIMANDS = ("atte", "plr")  # the headline first


@dataclasses.dataclass(frozen=True)
class Estimates:
    ids: np.ndarray  # the seekers of the estimates' rows, in order
    gaps: dict[str, dict[str, Gap]]  # estimand -> outcome -> Gap
    left_out: int  # seekers of other or unknown gender, or with a non-finite outcome


def estimate(seekers, outcomes, folds: int = 5, seed: int = 0, estimands=ESTIMANDS) -> Estimates:
    """ATTE and PLR per outcome on the seekers of `outcomes` (index jobseeker_id): women
    (gender F) against men (M), conditional on `controls`; other or unknown genders are left out
    and counted. Both estimands share the folds and the learners' settings.

    Raises
    ------
    ValueError
        When too few seekers remain (see `plr_gaps`).
    """
    s = seekers.set_index("jobseeker_id").loc[outcomes.index].reset_index()
    gender = s["gender"].to_numpy()
    binary = np.isin(gender, ["F", "M"])
    x, categorical = controls(s[binary])
    female = (gender[binary] == "F").astype(np.float64)
    settings = dict(
        max_iter=100,
        learning_rate=0.15,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        categorical_features=categorical,
    )
    learner = lambda sd: HistGradientBoostingRegressor(random_state=sd, **settings)  # noqa: E731
    classifier = lambda sd: HistGradientBoostingClassifier(random_state=sd, **settings)  # noqa: E731
    y = {o: outcomes[o].to_numpy(np.float64)[binary] for o in OUTCOMES}
    ok = np.logical_and.reduce([np.isfinite(v) for v in y.values()])
    y, female, x = {o: v[ok] for o, v in y.items()}, female[ok], x[ok]
    splits = fold_splits(len(female), folds, seed) if len(female) >= 2 * folds else None
    fits = {
        "atte": lambda: atte_gaps(y, female, x, folds, seed, learner, classifier, splits),
        "plr": lambda: plr_gaps(y, female, x, folds, seed, learner, splits),
    }
    gaps = {e: fits[e]() for e in estimands}
    ids = s["jobseeker_id"].to_numpy()[binary][ok]
    return Estimates(ids, gaps, int((~binary).sum() + (~ok).sum()))


def audit(seekers, outcomes, folds: int = 5, seed: int = 0) -> list[dict]:
    """The rows of `estimate`: one per estimand and outcome, with the Gap's fields and
    `left_out`.

    Parameters
    ----------
    seekers : pandas.DataFrame
        Seekers with `jobseeker_id`, `gender` and the `controls` columns.
    outcomes : pandas.DataFrame
        `seeker_outcomes`, indexed by jobseeker_id.
    folds, seed
        K of the cross-fitting; seed of the folds and the learners.

    Returns
    -------
    list of dict
        estimand, outcome, gap, std_error, ci_low, ci_high, n, trimmed, left_out.
    """
    found = estimate(seekers, outcomes, folds, seed)
    return [
        {"estimand": e, "outcome": o, **g.row(), "left_out": found.left_out}
        for e in ESTIMANDS
        for o, g in found.gaps[e].items()
    ]


def raw_application_outcomes(raw_dir) -> tuple[object, object]:
    """(seekers, per-seeker application outcomes) of a raw market folder (Parquet files).

    Parameters
    ----------
    raw_dir : path
        A folder with jobseekers.parquet, job_ads.parquet and applications.parquet.

    Returns
    -------
    seekers : pandas.DataFrame
        Every seeker of the folder.
    outcomes : pandas.DataFrame
        `seeker_outcomes` of all its applications.
    """
    con = duckdb.connect()
    try:
        seekers = con.execute(f"SELECT * FROM '{raw_dir}/jobseekers.parquet'").df()
        ads = con.execute(f"SELECT * FROM '{raw_dir}/job_ads.parquet'").df()
        pairs = con.execute(
            f"SELECT jobseeker_id, ad_id FROM '{raw_dir}/applications.parquet'"
        ).df()
    finally:
        con.close()
    return seekers, seeker_outcomes(seekers, ads, pairs)


def realised_gap(with_effect_dir, without_effect_dir) -> dict[str, float]:
    """The planted term's realised effect on women's applications: the mean over women with
    applications of each outcome in the market generated with the gender effect, minus the same
    in the market regenerated without it (same seed: the same random draws otherwise).

    Parameters
    ----------
    with_effect_dir, without_effect_dir : path
        The two raw market folders.

    Returns
    -------
    dict of float
        Outcome name -> the difference of the two means.
    """
    out = {}
    means = []
    for folder in (with_effect_dir, without_effect_dir):
        seekers, outcomes = raw_application_outcomes(folder)
        gender = seekers.set_index("jobseeker_id").loc[outcomes.index, "gender"].to_numpy()
        means.append(outcomes[gender == "F"].mean())
    for o in OUTCOMES:
        out[o] = float(means[0][o] - means[1][o])
    return out


# --- the nightly audit ----------------------------------------------------------------------

AUDIT_K = 10  # list depth of the audited recommendations (the send list holds at most 10)
AUDIT_DAYS = 28  # applications and hires of the 28 days before the partition
SOURCES = ("muse2", "ot", "send", "applications", "hires")
RECOMMENDERS = ("muse2", "ot", "send")
# processes estimating the sources side by side (each on one thread, see `_estimate_task`)
AUDIT_WORKERS = min(len(SOURCES), os.cpu_count() or 1)

_worker_seekers = None  # the seekers, sent once to each audit worker (`_keep_seekers`)


def _keep_seekers(seekers) -> None:
    global _worker_seekers
    _worker_seekers = seekers


def _estimate_task(outcomes, estimand: str, seekers=None) -> Estimates | str:
    """`estimate` of one source and one estimand, or why not (too few seekers of either
    gender); the seekers are the worker's own (`_keep_seekers`) unless given.

    One OpenMP thread: the fits are small, and in the nightly process (scikit-learn's and
    torch's OpenMP runtimes both loaded) two threads ran the audit 4.4x slower than one (66.6 s
    against 14.6 s on `small`; BENCHMARKS.md). The tasks run in parallel processes instead: a
    task per source and estimand, so that the workers' shares come out even."""
    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            return estimate(
                _worker_seekers if seekers is None else seekers, outcomes, estimands=(estimand,)
            )
    except ValueError as exc:
        return str(exc)


def _merged(parts: list[Estimates | str]) -> Estimates | str:
    """One source's estimates from its per-estimand tasks (the same seekers in each)."""
    refused = [p for p in parts if isinstance(p, str)]
    if refused:
        return refused[0]
    gaps = {e: g for p in parts for e, g in p.gaps.items()}
    return Estimates(parts[0].ids, gaps, parts[0].left_out)


def nightly_audit(con, run_date, log=None, workers: int = AUDIT_WORKERS):
    """metrics.fairness rows of partition D: θ per source, estimand and outcome, and for each
    recommender source its difference to the applications' gap, tested jointly.

    Sources: tonight's muse2 and ot lists (top `AUDIT_K`), the send list, and the
    applications and hires of the `AUDIT_DAYS` days before D (sql/fairness_pairs.sql). A
    source with too few seekers of either gender is logged and skipped. A recommender row also
    holds `diff_applications` (its θ minus the applications' θ), `diff_std_error` (from both
    estimates' influence values: the two samples share seekers) and `p_holm`: the one-sided
    p-value that the recommender's gap lies further from 0 than the applications' (in their
    direction), Holm-corrected over the recommender sources and outcomes of the estimand.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (clean tables and recs.* of D).
    run_date : date
        The partition D.
    log : callable, optional
        A line per source.
    workers : int, default AUDIT_WORKERS
        Processes estimating the sources side by side (1: one after the other, in this
        process). The estimates do not depend on it.

    Returns
    -------
    pandas.DataFrame
        The metrics.fairness columns.
    """
    seekers = con.execute(
        "SELECT * EXCLUDE (skills) FROM clean.jobseekers WHERE run_date = ?", [run_date]
    ).df()
    ads = con.execute(
        "SELECT ad_id, wage, contract, hours_per_week, latitude, longitude FROM clean.job_ads "
        "WHERE run_date = ?",
        [run_date],
    ).df()
    pairs = con.execute(
        warehouse.sql("fairness_pairs"), {"run_date": run_date, "k": AUDIT_K, "days": AUDIT_DAYS}
    ).df()
    outcomes = {s: seeker_outcomes(seekers, ads, pairs[pairs["source"] == s]) for s in SOURCES}
    tasks = [(s, e) for e in ESTIMANDS for s in SOURCES]
    each = [outcomes[s] for s, _ in tasks]
    estimands = [e for _, e in tasks]
    if workers > 1:
        # spawned, not forked (the night's process runs threads: DuckDB's, the step tracker's);
        # the pool ends with the audit, so no idle worker keeps its memory into later steps
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(workers, len(tasks)), spawn, initializer=_keep_seekers, initargs=(seekers,)
        ) as pool:
            results = list(pool.map(_estimate_task, each, estimands))
    else:
        results = [_estimate_task(o, e, seekers) for o, e in zip(each, estimands, strict=True)]
    estimates = [
        _merged([r for (s, _), r in zip(tasks, results, strict=True) if s == source])
        for source in SOURCES
    ]
    found: dict[str, Estimates] = {}
    for source, est in zip(SOURCES, estimates, strict=True):
        if isinstance(est, str):  # too few seekers of either gender: said, not estimated
            if log:
                log(f"fairness {source}: {est}")
            continue
        found[source] = est
        if log:
            log(f"fairness {source}: {len(outcomes[source])} seekers")
    rows = []
    for source, est in found.items():
        for estimand in ESTIMANDS:
            for outcome, g in est.gaps[estimand].items():
                rows.append(
                    {
                        "source": source,
                        "estimand": estimand,
                        "outcome": outcome,
                        **g.row(),
                        "left_out": est.left_out,
                        "k": AUDIT_K if source in ("muse2", "ot") else None,
                        "days": AUDIT_DAYS if source in ("applications", "hires") else None,
                        **_against_applications(found, source, estimand, outcome),
                    }
                )
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["source", "estimand", "outcome"])
    _holm_per_estimand(frame)
    frame.insert(0, "run_date", run_date)
    return frame


def _against_applications(found: dict, source: str, estimand: str, outcome: str) -> dict:
    if source not in RECOMMENDERS or "applications" not in found:
        return {"diff_applications": None, "diff_std_error": None, "p_value": None}
    mine, apps = found[source], found["applications"]
    a, b = mine.gaps[estimand][outcome], apps.gaps[estimand][outcome]
    diff, se = joint_difference(a, mine.ids, b, apps.ids)
    direction = np.sign(b.gap) or np.sign(a.gap) or 1.0  # away from 0, as the applications go
    p = float(norm.sf(direction * diff / se)) if se > 0 else 1.0
    return {"diff_applications": diff, "diff_std_error": se, "p_value": p}


def _holm_per_estimand(frame: pd.DataFrame) -> None:
    frame["p_holm"] = None
    if "p_value" not in frame:
        return
    for _, group in frame[frame["p_value"].notna()].groupby("estimand"):
        frame.loc[group.index, "p_holm"] = holm(group["p_value"].astype(float).tolist())
    frame.drop(columns="p_value", inplace=True)


AMPLIFICATION_ALPHA = 0.05


def amplification(rows) -> list[str]:
    """The recommender sources whose gap lies further from 0 than the applications' beyond
    noise: the joint one-sided test of their difference (shared seekers accounted for),
    Holm-corrected over sources and outcomes, at 5%, on the headline estimand (ATTE).

    Parameters
    ----------
    rows : pandas.DataFrame
        The rows of `nightly_audit` (or metrics.fairness of one night).

    Returns
    -------
    list of str
        One line per (recommender source, outcome) that amplifies the gap.
    """
    if "p_holm" not in rows:
        return []
    hits = rows[
        (rows["estimand"] == ESTIMANDS[0])
        & rows["p_holm"].notna()
        & (rows["p_holm"].astype(float) < AMPLIFICATION_ALPHA)
    ]
    return [
        f"{r.source} {r.outcome}: {r.gap:+.4f}, {r.diff_applications:+.4f} "
        f"(± {Z95 * r.diff_std_error:.4f}) from the applications' gap, Holm p = {r.p_holm:.3g}"
        for r in hits.itertuples()
    ]
