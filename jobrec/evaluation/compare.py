"""Paired comparisons of rankers on the same seekers, whole and by slice (issue 17).

A difference of 2% at k = 10 is invisible in a table of means: two models' averages move with
the seekers drawn. Scored on the same seekers, the per-seeker differences carry the comparison:
their mean, its standard error, a 95% interval and a two-sided p-value (normal: the windows
hold thousands of seekers), with Holm's correction across the slices of one comparison.

Slices (the `slice` column of metrics.ranking and metrics.ranking_pairs):
- `all`: every evaluated seeker;
- `history:0`, `history:1-2`, `history:3+`: the applications a seeker made before the window;
- `family:<letter>`: the desired occupation's family (its code's first letter; `family:unknown`
  without one);
- `ad_age:<3d`, `ad_age:3d+`: relevance restricted to the ads posted in the 3 days before the
  window (fresh) or earlier; the seekers with such relevant ads.
Sliced rows are for applications; hires are too few a slice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np

from jobrec.data.market import Events, Market
from jobrec.evaluation.metrics import per_seeker_scores
from jobrec.evaluation.offline import paired_difference, pairs_in

HISTORY_BINS = ((0, 0, "history:0"), (1, 2, "history:1-2"), (3, None, "history:3+"))
FRESH_DAYS = 3
Z_95 = 1.959963984540054
METRICS = ("recall", "ndcg")


@dataclasses.dataclass(frozen=True)
class Slice:
    name: str
    rows: np.ndarray  # bool over the evaluated seekers
    relevant: Events  # the relevant events the slice scores


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given).

    Parameters
    ----------
    p_values : list of float
        Unadjusted p-values of one family of tests.

    Returns
    -------
    list of float
        Adjusted p-values: the i-th smallest is max over j ≤ i of min(1, (m - j + 1) p_(j)).
    """
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def paired_summary(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean of a - b over paired values with its standard error, 95% interval and two-sided
    p-value (normal approximation).

    Parameters
    ----------
    a, b : (n,) float arrays
        Paired per-seeker values (a model and its reference).

    Returns
    -------
    dict
        seekers, model_value, reference_value, difference, relative (difference over the
        reference's mean; NaN when that is 0), se, ci_low, ci_high and p_value (NaN when
        n < 2; with no spread at all, 1 for a zero difference and 0 otherwise).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a)
    mean, se = paired_difference(a, b) if n > 1 else (float("nan"), float("nan"))
    if n < 2:
        p = float("nan")
    elif se == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = math.erfc(abs(mean / se) / math.sqrt(2))
    ref = float(b.mean()) if n else float("nan")
    return {
        "seekers": n,
        "model_value": float(a.mean()) if n else float("nan"),
        "reference_value": ref,
        "difference": mean,
        "relative": mean / ref if ref else float("nan"),
        "se": se,
        "ci_low": mean - Z_95 * se,
        "ci_high": mean + Z_95 * se,
        "p_value": p,
    }


def slices(market: Market, seekers: np.ndarray, relevant: Events, start: dt.date) -> list[Slice]:
    """The slices of a window's evaluated seekers (module docstring).

    Parameters
    ----------
    market : Market
        The market as known at D (past applications, desired occupations, posting dates).
    seekers : (U,) int array
        Sorted market seeker rows: the evaluated seekers.
    relevant : Events
        The window's relevant applications (market rows).
    start : date
        The window's first day: history counts the applications before it, an ad is fresh
        when posted in the FRESH_DAYS days before it (or later).

    Returns
    -------
    list of Slice
        `all` first, then history, family and ad-age slices (empty ones left out).
    """
    everyone = np.ones(len(seekers), dtype=bool)
    out = [Slice("all", everyone, relevant)]
    before = market.applications.between(dt.date.min, start)
    pairs = np.unique(before.seeker.astype(np.int64) * len(market.ads) + before.ad)
    history = np.bincount(pairs // len(market.ads), minlength=len(market.seekers))[seekers]
    for lo, hi, name in HISTORY_BINS:
        rows = (history >= lo) & (history <= hi if hi is not None else True)
        out.append(Slice(name, rows, relevant))
    occupation = market.seekers["desired_occupation"].fillna("").astype(str)
    family = occupation.str[:1].replace("", "unknown").to_numpy()[seekers]
    for letter in sorted(set(family)):
        out.append(Slice(f"family:{letter}", family == letter, relevant))
    posted = market.ads["posted_on"].to_numpy("datetime64[D]")[relevant.ad]
    fresh = posted >= np.datetime64(start - dt.timedelta(days=FRESH_DAYS), "D")
    out.append(Slice(f"ad_age:<{FRESH_DAYS}d", everyone, relevant.where(fresh)))
    out.append(Slice(f"ad_age:{FRESH_DAYS}d+", everyone, relevant.where(~fresh)))
    return [s for s in out if s.rows.any() and len(s.relevant)]


def compare(
    lists: dict[str, np.ndarray],
    universe: np.ndarray,
    seekers: np.ndarray,
    slices_: list[Slice],
    ks: tuple[int, ...],
    reference: str,
) -> tuple[list[dict], list[dict]]:
    """Per-slice metric rows of every model, and each model's paired differences against the
    reference, on the same seekers.

    Parameters
    ----------
    lists : dict of str to (U, K) int arrays
        Each model's lists as universe positions, -1 padded, row-aligned with `seekers`.
    universe : (J,) int array
        The window's sorted ad rows.
    seekers : (U,) int array
        Sorted market seeker rows.
    slices_ : list of Slice
        From `slices`.
    ks : tuple of int
        Cut-offs.
    reference : str
        The model every other one is compared with (absent: no pair rows).

    Returns
    -------
    metric_rows : list of dict
        model, slice, k, recall, ndcg, hit_rate, seekers (relevance applications); the `all`
        slice too.
    pair_rows : list of dict
        model, reference, slice, k, metric and `paired_summary`'s fields, with p_holm across
        the slices other than `all` of each (model, k, metric) (the `all` row keeps its p).
    """
    metric_rows, pair_rows = [], []
    n_ads = len(universe) + 1  # position J: a relevant ad outside the universe
    cache: dict[tuple[int, int], dict] = {}  # seeker slices share their relevant events
    for sl in slices_:
        rows, pos = pairs_in(seekers, universe, sl.relevant, keep_outside=True)
        for k in ks:
            key = (id(sl.relevant), k)
            if key not in cache:
                cache[key] = {
                    m: per_seeker_scores(ls[:, :k], rows, pos, n_ads, k) for m, ls in lists.items()
                }
            scores = cache[key]
            for model, s in scores.items():
                use = s.has & sl.rows
                metric_rows.append(
                    {
                        "model": model,
                        "slice": sl.name,
                        "k": k,
                        "recall": float(s.recall[use].mean()) if use.any() else float("nan"),
                        "ndcg": float(s.ndcg[use].mean()) if use.any() else float("nan"),
                        "hit_rate": float((s.found[use] > 0).mean()) if use.any() else float("nan"),
                        "seekers": int(use.sum()),
                    }
                )
            if reference not in scores:
                continue
            ref = scores[reference]
            use = ref.has & sl.rows
            for model, s in scores.items():
                if model == reference or not use.any():
                    continue
                for metric in METRICS:
                    pair_rows.append(
                        {
                            "model": model,
                            "reference": reference,
                            "slice": sl.name,
                            "k": k,
                            "metric": metric,
                            **paired_summary(getattr(s, metric)[use], getattr(ref, metric)[use]),
                        }
                    )
    _holm_across_slices(pair_rows)
    return metric_rows, pair_rows


def _holm_across_slices(pair_rows: list[dict]) -> None:
    families: dict[tuple, list[dict]] = {}
    for r in pair_rows:
        r["p_holm"] = r["p_value"]
        if r["slice"] != "all" and not math.isnan(r["p_value"]):
            families.setdefault((r["model"], r["k"], r["metric"]), []).append(r)
    for rows in families.values():
        for r, p in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
            r["p_holm"] = p
