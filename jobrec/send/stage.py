"""The send stage of partition D: funnel models, per-segment thresholds, and the send list.

Windows of past sends (`recommendation_feedback`, sent before D):
  funnel training  [D - 7 - 56, D - 7)
  threshold tuning [D - 7 - 28, D - 7)  (the segment's historical sends of 28 days)
  held-out check   [D - 7, D)           (the improvement confirmed on later sends the models and
                                         the search never saw)
Segment = the occupation family of the ad. The defaults: one triple for all segments, chosen on
all of them together on a coarse grid (per model, its predicted probabilities' quantiles 0..0.9
on the tuning window): the best Σ ¼ log of the four metrics under the SLOs. Per segment the
greedy search picks the thresholds on a finer grid around the defaults (the exhaustive grid is
its reference); a segment keeps the defaults when it has no admissible triple, or when the
held-out week does not confirm its triple (objective ≤ 0 there).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa

from jobrec.data import model_store, warehouse
from jobrec.data.market import VALIDATION_DAYS, Market
from jobrec.reranker_model import load_reranker
from jobrec.retrieval import load_night_inputs
from jobrec.send import funnel, thresholds


@dataclasses.dataclass(frozen=True)
class SendSettings:
    """The send stage's tunables."""

    train_days: int = 56  # the funnel's training window of sends, before D - 7
    tuning_days: int = 28  # the thresholds' tuning window, before D - 7
    sends_per_seeker: int = 10  # at most, per night
    recent_send_days: int = 14  # an ad sent to the seeker this recently is not sent again


SETTINGS = SendSettings()
TRAIN_DAYS = SETTINGS.train_days
TUNING_DAYS = SETTINGS.tuning_days
SENDS_PER_SEEKER = SETTINGS.sends_per_seeker
RECENT_SEND_DAYS = SETTINGS.recent_send_days
FUNNEL = "funnel"
METHODS = ("greedy", "grid")


@dataclasses.dataclass
class Sends:
    seekers: np.ndarray  # market rows
    ads: np.ndarray
    days: np.ndarray  # datetime64[D]
    outcomes: pd.DataFrame  # OUTCOMES booleans
    keys: pd.DataFrame  # jobseeker_id, ad_id, sent_at: what names a send in store.send_features
    cached: np.ndarray  # (n, len(funnel.FEATURES)) pair features a night computed; NaN rows: none

    def __len__(self) -> int:
        return len(self.seekers)


def load_sends(con, run_date: dt.date, market: Market, start: dt.date, end: dt.date) -> Sends:
    """The past sends of partition D sent in [start, end) (UTC days), with their outcomes.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (clean.recommendation_feedback of D).
    run_date : date
        The partition D.
    market : Market
        The market as known at D; sends whose seeker or ad it lacks are dropped.
    start, end : date
        The window [start, end).

    Returns
    -------
    Sends
        n sends in send order: `seekers` and `ads` (n,) market rows, `days` (n,)
        datetime64[D], `outcomes` (n rows of the funnel's OUTCOMES booleans).
    """
    con.execute(warehouse.sql("create_send_features"))
    frame = con.execute(
        warehouse.sql("send_window"), {"run_date": run_date, "start": start, "end": end}
    ).df()
    s, a = market.seeker_index(frame["jobseeker_id"]), market.ad_index(frame["ad_id"])
    keep = (s >= 0) & (a >= 0)
    frame = frame[keep].reset_index(drop=True)
    cached = np.full((len(frame), len(funnel.FEATURES)), np.nan, dtype=np.float32)
    # features stored under another feature set (a pair feature added since: an older, shorter
    # row) are computed again, with tonight's models, and stored beside the old ones
    known = (frame["n_features"] == len(funnel.FEATURES)).to_numpy()
    if known.any():
        cached[known] = np.stack(frame["features"].to_numpy()[known]).astype(np.float32)
    return Sends(
        s[keep],
        a[keep],
        frame["day"].to_numpy("datetime64[D]"),
        frame[list(funnel.OUTCOMES)].astype(bool),
        frame[["jobseeker_id", "ad_id", "sent_at"]],
        cached,
    )


def send_features(con, run_date: dt.date, sc: funnel.Scorer, sends: Sends) -> np.ndarray:
    """The funnel's pair features of past sends: those an earlier night computed, the others
    computed now with tonight's models and stored (`store.send_features`, computed_on D), so
    that each send's features are computed once, by the first night that needs them (and once
    more when the feature set has changed since: see `load_sends`).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse, inside the step's transaction.
    run_date : date
        The partition D.
    sc : funnel.Scorer
        Tonight's market, Muse.0 vectors and Muse.2.
    sends : Sends
        From `load_sends`.

    Returns
    -------
    (n, len(funnel.FEATURES)) float32 array
    """
    x = sends.cached.copy()
    missing = np.flatnonzero(np.isnan(x).any(axis=1))
    if len(missing):
        x[missing] = funnel.pair_features(
            sc, sends.seekers[missing], sends.ads[missing], sends.days[missing]
        )
        rows = sends.keys.iloc[missing].reset_index(drop=True)
        con.register(
            "computed_features",
            pa.table(
                {
                    "jobseeker_id": pa.array(rows["jobseeker_id"], pa.string()),
                    "ad_id": pa.array(rows["ad_id"], pa.string()),
                    "sent_at": pa.array(rows["sent_at"]),
                    "features": pa.array(list(x[missing]), pa.list_(pa.float32())),
                }
            ),
        )
        try:
            con.execute(
                "INSERT INTO store.send_features BY NAME SELECT *, "
                "CAST($run_date AS DATE) AS computed_on FROM computed_features",
                {"run_date": run_date},
            )
        finally:
            con.unregister("computed_features")
    return x


def forget_send_features(con, run_date: dt.date) -> int:
    """Delete the pair features night D computed (a re-run of its funnel recomputes them with
    its new models); the rows deleted."""
    con.execute(warehouse.sql("create_send_features"))
    (n,) = con.execute(
        "SELECT count(*) FROM store.send_features WHERE computed_on = ?", [run_date]
    ).fetchone()
    con.execute("DELETE FROM store.send_features WHERE computed_on = ?", [run_date])
    return int(n)


def segments_of(market: Market, ads: np.ndarray) -> np.ndarray:
    """Each ad's segment: the occupation family (its code's first letter, "?" when unknown).

    Parameters
    ----------
    market : Market
        The market as known at D.
    ads : (n,) int array
        Market ad rows.

    Returns
    -------
    (n,) str array
        The segments.
    """
    return market.ads["occupation"].fillna("?").str[0].to_numpy()[ads]


def _scorer(con, run_date, models_dir) -> funnel.Scorer:
    night = load_night_inputs(models_dir, run_date)
    muse2, _ = load_reranker(model_store.model_dir(models_dir, run_date, "muse2") / "model.pt")
    return funnel.scorer_from(night, muse2)


def windows(run_date: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """The send windows of partition D (see the module docstring).

    Parameters
    ----------
    run_date : date
        The partition D.

    Returns
    -------
    dict
        "train", "tuning" and "holdout" -> (start, end), each the days [start, end).
    """
    cut = run_date - dt.timedelta(days=VALIDATION_DAYS)
    return {
        "train": (cut - dt.timedelta(days=TRAIN_DAYS), cut),
        "tuning": (cut - dt.timedelta(days=TUNING_DAYS), cut),
        "holdout": (cut, run_date),
    }


def train(con, run_date: dt.date, models_dir) -> dict:
    """Fit the funnel on the training window, report its calibration on the held-out week.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (the past sends of D).
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs and Muse.2 are read; the `funnel` folder of D,
        funnel.pkl and calibration.json, is written).

    Returns
    -------
    dict
        `train_sends`, `holdout_sends` and `calibration` (per model, `funnel.calibration`).
    """
    sc = _scorer(con, run_date, models_dir)
    w = windows(run_date)
    forgotten = forget_send_features(con, run_date)
    train_sends = load_sends(con, run_date, sc.market, *w["train"])
    held = load_sends(con, run_date, sc.market, *w["holdout"])
    computed_before = int(np.isnan(train_sends.cached).any(axis=1).sum())
    computed_before += int(np.isnan(held.cached).any(axis=1).sum())
    x = send_features(con, run_date, sc, train_sends)
    models = funnel.train_funnel(x, train_sends.outcomes)
    report = funnel.calibration(models, send_features(con, run_date, sc, held), held.outcomes)
    with model_store.writing(models_dir, run_date, FUNNEL) as folder:
        (folder / "funnel.pkl").write_bytes(pickle.dumps(models))
        (folder / "calibration.json").write_text(json.dumps(report, indent=2))
    return {
        "train_sends": len(train_sends),
        "holdout_sends": len(held),
        "features_computed": computed_before,
        "features_recomputed": forgotten,
        "calibration": report,
    }


def load_funnel(models_dir, run_date: dt.date) -> funnel.Funnel:
    folder = model_store.model_dir(models_dir, run_date, FUNNEL)
    return pickle.loads((folder / "funnel.pkl").read_bytes())  # our own file, written above


@dataclasses.dataclass
class Tuned:
    rows: pd.DataFrame  # recs.segment_thresholds rows
    grid: np.ndarray
    default: tuple[int, int, int]
    tables: thresholds.Tables
    holdout: thresholds.Tables
    segment_names: list[str]
    chosen: dict[str, tuple[int, int, int]]  # the greedy's grid indices (or the defaults)


def _segment_rows(sends: Sends, names: list[str], market: Market):
    seg = pd.Index(names).get_indexer(segments_of(market, sends.ads))
    keep = seg >= 0
    return seg[keep], keep


def _scored_tables(
    sends: Sends, probs, grid, names: list[str], market: Market
) -> thresholds.Tables:
    seg, keep = _segment_rows(sends, names, market)
    outcomes = sends.outcomes.to_numpy(bool)[keep]
    return thresholds.build_tables(
        seg, thresholds.bins(probs[keep], grid), outcomes, len(names), grid
    )


def _row(
    segment, method, grid, triple, counts, base_counts, result, note, holdout_counts, holdout_base
) -> dict:
    t = tuple(triple)
    m = {k: float(v) for k, v in thresholds.metrics_of(counts[(slice(None), *t)]).items()}
    base = {k: float(v) for k, v in thresholds.metrics_of(base_counts).items()}
    d = thresholds.deltas(m, base)
    hm = {k: float(v) for k, v in thresholds.metrics_of(holdout_counts[(slice(None), *t)]).items()}
    hb = {k: float(v) for k, v in thresholds.metrics_of(holdout_base).items()}
    hd = thresholds.deltas(hm, hb)
    return {
        "segment": segment,
        "method": method,
        "theta_response": float(grid[0, t[0]]),
        "theta_apply": float(grid[1, t[1]]),
        "theta_positive": float(grid[2, t[2]]),
        # keeping the defaults changes nothing: objective 0 (even where a Δ is undefined)
        "objective": float(thresholds.objective(d)) if result.triple is not None else 0.0,
        "sends": int(m["sends"]),
        "applies": int(m["applies"]),
        "apply_rate": m["apply_rate"],
        "positives": int(m["positives"]),
        "positives_per_apply": m["positives_per_apply"],
        "unsubscribe_rate": m["unsubscribe_rate"],
        "negative_ratio": m["negative_ratio"],
        "evaluations": int(result.evaluations),
        **{f"delta_{k}": float(v) for k, v in zip(thresholds.METRICS, d, strict=True)},
        "slo_met": bool(thresholds.slo_met(m)),
        "improved": result.triple is not None,
        "note": note,
        "holdout_sends": int(hm["sends"]),
        "holdout_objective": _finite(thresholds.objective(hd)),
        **{f"holdout_delta_{k}": float(v) for k, v in zip(thresholds.METRICS, hd, strict=True)},
        "holdout_slo_met": bool(thresholds.slo_met(hm)),
    }


def _finite(x) -> float:
    x = float(x)
    return x if np.isfinite(x) else float("nan")  # no held-out applies: no relative change


def choose_thresholds(con, run_date: dt.date, models_dir, log=None) -> Tuned:
    """Choose each segment's threshold triple on the tuning window, checked on the held-out
    week.

    The funnel scores the tuning window's sends; `thresholds.tuning_tables` picks the unified
    defaults and builds each segment's tables on the finer grid around them. Per segment both
    searches run (greedy and the exhaustive grid); the greedy's triple is kept only when the
    held-out week confirms it (objective > 0 there), else the segment keeps the defaults.
    The grid and the defaults are saved in the `thresholds` folder of D.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (the past sends of D).
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs, Muse.2 and the funnel of D are read).
    log : callable, optional
        A line per segment.

    Returns
    -------
    Tuned
        The recs.segment_thresholds rows (one a segment and method), the (3, G) grid, the
        defaults' indices, the tuning and held-out tables, the segment names, and the
        greedy's chosen indices per segment.

    Raises
    ------
    ValueError
        When the tuning window holds no sends.
    """
    sc = _scorer(con, run_date, models_dir)
    models = load_funnel(models_dir, run_date)
    w = windows(run_date)
    tuning = load_sends(con, run_date, sc.market, *w["tuning"])
    holdout = load_sends(con, run_date, sc.market, *w["holdout"])
    if not len(tuning):
        raise ValueError(f"no sends in the tuning window {w['tuning']}: cannot set thresholds")
    probs = models.probabilities(send_features(con, run_date, sc, tuning))
    names = sorted(set(segments_of(sc.market, tuning.ads)))
    seg, keep = _segment_rows(tuning, names, sc.market)
    tables, default = thresholds.tuning_tables(
        seg, probs[keep], tuning.outcomes.to_numpy(bool)[keep], len(names)
    )
    grid = tables.grid
    h_probs = (
        models.probabilities(send_features(con, run_date, sc, holdout))
        if len(holdout)
        else np.zeros((0, 3))
    )
    h_tables = _scored_tables(holdout, h_probs, grid, names, sc.market)
    rows, chosen = [], {}
    for s, name in enumerate(names):
        counts, h_counts = tables.counts[s], h_tables.counts[s]
        base, h_base = counts[(slice(None), *default)], h_counts[(slice(None), *default)]
        for method, search in (
            ("greedy", thresholds.greedy_search),
            ("grid", thresholds.grid_search),
        ):
            result = search(counts, default)
            triple = result.triple if result.triple is not None else default
            note = (
                ""
                if result.triple is not None
                else "keeps the defaults: no triple improves all four metrics under the SLOs"
            )
            row = _row(name, method, grid, triple, counts, base, result, note, h_counts, h_base)
            tuned, held = row["objective"], row["holdout_objective"]
            if method == "greedy" and result.triple is not None and not held > 0:
                # the held-out week must agree before thresholds move (noise-sized gains don't)
                theta = ", ".join(f"{grid[m, t]:.4f}" for m, t in enumerate(triple))
                note = (
                    f"keeps the defaults: the tuned triple ({theta}) gains {tuned:+.4f} on "
                    f"the tuning window but {held:+.4f} on the held-out week"
                )
                result = dataclasses.replace(result, triple=None)
                triple = default
                row = _row(name, method, grid, triple, counts, base, result, note, h_counts, h_base)
            if method == "greedy":
                chosen[name] = tuple(triple)
            rows.append({**row, "tuned_objective": tuned, "tuned_holdout_objective": held})
        if log:
            g, r = rows[-2], rows[-1]
            log(
                f"segment {name}: greedy {g['tuned_objective']:.4f} in {g['evaluations']} "
                f"evaluations, grid {r['objective']:.4f} in {r['evaluations']}; "
                f"{'moved' if g['improved'] else 'defaults kept'}"
            )
    frame = pd.DataFrame(rows)
    frame.insert(0, "run_date", run_date)
    with model_store.writing(models_dir, run_date, "thresholds") as folder:
        np.save(folder / "grid.npy", grid)
        (folder / "defaults.json").write_text(json.dumps({"default": list(default)}))
    return Tuned(frame, grid, default, tables, h_tables, names, chosen)


def threshold_problems(tuned: Tuned) -> list[str]:
    """What the night's thresholds must not show: a segment of the tuning window without both
    rows; thresholds moved without the SLOs, with a Δ_i ≤ 0 or against the held-out week; a greedy
    objective above the grid's optimum.

    Parameters
    ----------
    tuned : Tuned
        The output of `choose_thresholds`.

    Returns
    -------
    list of str
        One line per problem found (empty: none).
    """
    rows, problems = tuned.rows, []
    per_segment = rows.groupby("segment")["method"].apply(set)
    missing = [s for s in tuned.segment_names if per_segment.get(s) != set(METHODS)]
    if missing:
        problems.append(f"segments without both rows: {missing[:5]}")
    moved = rows[rows["improved"]]
    delta_cols = [c for c in rows.columns if c.startswith("delta_")]
    unconfirmed = moved["method"].eq("greedy") & ~(moved["holdout_objective"] > 0)
    bad = moved[~moved["slo_met"] | (moved[delta_cols] <= 0).any(axis=1) | unconfirmed]
    if len(bad):
        problems.append(
            f"moved without SLOs, with a Δ ≤ 0 or unconfirmed on the held-out week: "
            f"{bad['segment'].tolist()[:5]}"
        )
    by = rows.pivot(index="segment", columns="method", values="tuned_objective")
    above = by[by["greedy"] > by["grid"] + 1e-12]
    if len(above):
        problems.append(f"greedy above the grid optimum: {above.index.tolist()[:5]}")
    return problems


def write_thresholds(con, run_date: dt.date, tuned: Tuned) -> int:
    """Replace the partition of recs.segment_thresholds with the tuned rows.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse.
    run_date : date
        The partition D.
    tuned : Tuned
        The output of `choose_thresholds`.

    Returns
    -------
    int
        The rows written.
    """
    con.execute(warehouse.sql("create_recs_segment_thresholds"))
    warehouse.replace_rows(con, "recs.segment_thresholds", run_date, tuned.rows, {})
    return len(tuned.rows)


def write_to_send(con, run_date: dt.date, models_dir, per_seeker: int = SENDS_PER_SEEKER) -> dict:
    """Tonight's recommendations that pass their segment's thresholds (the greedy's), after the
    exclusions, at most `per_seeker` a seeker (best recommendation ranks first).

    Exclusions (sql/to_send_candidates.sql): seekers who unsubscribed, ads the seeker applied
    to, was hired on or was sent since `RECENT_SEND_DAYS` days, ads whose positions are
    filled. A pair passes when its three funnel probabilities are all at or above its
    segment's thresholds; segments unseen in the tuning window get the defaults.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse: recs.recommendations and recs.segment_thresholds of D are read, the
        partition of recs.to_send replaced.
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs, Muse.2, the funnel and the thresholds folder).
    per_seeker : int, default SENDS_PER_SEEKER
        Sends a seeker at most.

    Returns
    -------
    dict
        `rows` written, `seekers` with a send, `eligible_pairs` (after the exclusions) and
        `passing_pairs` (passing the thresholds, before the per-seeker cap).
    """
    candidates = con.execute(
        warehouse.sql("to_send_candidates"),
        {"run_date": run_date, "recent": run_date - dt.timedelta(days=RECENT_SEND_DAYS)},
    ).df()
    sc = _scorer(con, run_date, models_dir)
    models = load_funnel(models_dir, run_date)
    seekers = sc.market.seeker_index(candidates["jobseeker_id"])
    ads = sc.market.ad_index(candidates["ad_id"])
    days = np.full(len(seekers), np.datetime64(run_date, "D"))
    probs = (
        models.probabilities(funnel.pair_features(sc, seekers, ads, days))
        if len(seekers)
        else np.zeros((0, 3))
    )
    segment_thetas = (
        con.execute(
            "SELECT segment, theta_response, theta_apply, theta_positive "
            "FROM recs.segment_thresholds WHERE run_date = ? AND method = 'greedy'",
            [run_date],
        )
        .df()
        .set_index("segment")
    )
    folder = model_store.model_dir(models_dir, run_date, "thresholds")
    grid = np.load(folder / "grid.npy")
    triple = json.loads((folder / "defaults.json").read_text())["default"]
    default = grid[[0, 1, 2], triple]  # segments unseen in the tuning window get the defaults
    segment = segments_of(sc.market, ads)
    theta = np.stack(
        [
            segment_thetas.reindex(segment)[c].fillna(default[i]).to_numpy()
            for i, c in enumerate(segment_thetas.columns)
        ],
        axis=1,
    )
    passing = (probs >= theta).all(axis=1)
    out = candidates.assign(
        segment=segment, p_response=probs[:, 0], p_apply=probs[:, 1], p_positive=probs[:, 2]
    )[passing]
    out = out.sort_values(["jobseeker_id", "recommendation_rank"])
    out["rank"] = out.groupby("jobseeker_id").cumcount() + 1
    out = out[out["rank"] <= per_seeker]
    out.insert(0, "run_date", run_date)
    con.execute(warehouse.sql("create_recs_to_send"))
    warehouse.replace_rows(con, "recs.to_send", run_date, out, {})
    return {
        "rows": len(out),
        "seekers": int(out["jobseeker_id"].nunique()),
        "eligible_pairs": len(candidates),
        "passing_pairs": int(passing.sum()),
    }


def mailer_list(con, run_date: dt.date) -> pa.Table:
    """Night `run_date`'s send list as the mailing system takes it: one row per mail (seeker,
    ad, the ad's place in the seeker's mail), in a stable order."""
    return con.sql(
        "SELECT run_date, jobseeker_id, ad_id, rank FROM recs.to_send WHERE run_date = ? "
        "ORDER BY jobseeker_id, rank",
        params=[run_date],
    ).to_arrow_table()
