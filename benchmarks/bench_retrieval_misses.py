"""Where tonight's candidates miss, read against a synthetic market's hidden truth, and how far
Muse.0 is from the Bayes-optimal ranking (issue 17, sixteenth session).

    python benchmarks/bench_retrieval_misses.py --night W/seed-2/night --raw W/seed-2/raw \
        --day 2026-11-23 [--oracle-seekers 2000]

`--night` is a night folder (`bench_night` / `bench_market_draws` layout: warehouse/ and
models/, the night's features still there), `--raw` the generated market it ran on (its
`oracle/`). Over the forward window's applications of the evaluated seekers (as
`metrics.ranking` scores them), the share found among each seeker's 1,000 candidates by: the
ad's occupation against the seeker's (same code, the code a career changer searches, same
domain, same family, other), distance over the seeker's mobility, the ad's age at D, the fifth
of the ad's hidden attractiveness (employer effect included), whether the seeker is a career
changer; then the largest occupation codes among the active ads, and Recall@10/100/1000 of the
oracle's ranking (true probabilities summed over the window) against the candidates' on a
seeded sample of forward seekers, paired.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from jobrec.evaluation.offline import (
    evaluated_seekers,
    oracle_lists,
    per_seeker_recall,
    positions,
    splits,
)
from jobrec.retrieval import night_inputs, stage
from jobrec.synth.oracle import Oracle


def km_between(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(x) for x in (lat1, lon1, lat2, lon2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371 * 2 * np.arcsin(np.sqrt(a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--night", type=Path, required=True)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--oracle-seekers", type=int, default=2000)
    args = parser.parse_args()
    market = night_inputs.load_market(args.night / "models", args.day)
    forward = next(s for s in splits(market) if s.name == "forward")
    who = evaluated_seekers(forward)
    with duckdb.connect(str(args.night / "warehouse" / "jobrec.duckdb"), read_only=True) as con:
        lists = stage.candidate_lists(con, args.day, market, forward, who, 1000)
    events = forward.relevant["applications"]
    pos = positions(forward.universe, events.ad)
    keep = np.isin(events.seeker, who) & (pos >= 0)
    seeker, ad, pos = events.seeker[keep], events.ad[keep], pos[keep]
    found = (lists[np.searchsorted(who, seeker)] == pos[:, None]).any(axis=1)

    hidden = np.load(args.raw / "oracle" / "hidden.npz")
    oracle = Oracle(args.raw / "oracle")
    so = oracle.seeker_index(market.seekers["jobseeker_id"].to_numpy()[seeker])
    ao = oracle.ad_index(market.ads["ad_id"].to_numpy()[ad])
    own, searched, code = (
        hidden["seeker_code"][so],
        hidden["seeker_search_code"][so],
        hidden["ad_code"][ao],
    )
    domain, family = hidden["occ_domain"], hidden["occ_family"]
    match = np.select(
        [own == code, searched == code, domain[own] == domain[code], family[own] == family[code]],
        ["code", "searched code", "domain", "family"],
        "other",
    )
    km = km_between(
        hidden["seeker_lat"][so],
        hidden["seeker_lon"][so],
        hidden["ad_lat"][ao],
        hidden["ad_lon"][ao],
    )
    day_index = (np.datetime64(args.day) - np.datetime64(oracle.start)).astype(int)
    frame = pd.DataFrame(
        {
            "found": found,
            "occupation": match,
            "distance / mobility": pd.cut(
                km / hidden["seeker_mobility_km"][so], [0, 0.5, 1, 2, 4, np.inf]
            ),
            "ad age at D (days)": pd.cut(
                day_index - hidden["ad_first_day"][ao], [0, 3, 7, 14, 30, np.inf]
            ),
            "attractiveness fifth": pd.qcut(
                np.log(hidden["ad_attractiveness"][ao]), 5, labels=False
            )
            + 1,
            "career changer": own != searched,
        }
    )
    print(
        f"{args.night}, {args.day}: {len(frame):,} forward applications of {len(who):,} seekers, "
        f"{found.mean():.4f} found among the candidates\n"
    )
    for column in frame.columns[1:]:
        table = frame.groupby(column, observed=True)["found"].agg(applications="size", found="mean")
        table["share of misses"] = table.applications * (1 - table.found)
        table["share of misses"] /= table["share of misses"].sum()
        print(table.round(4).to_markdown(), "\n")

    active_codes = hidden["ad_code"][
        oracle.ad_index(market.ads["ad_id"].to_numpy()[market.active_ads()])
    ]
    print(
        f"active ads at D: {len(active_codes):,}; the largest codes hold "
        f"{np.sort(np.bincount(active_codes))[::-1][:3].tolist()}\n"
    )

    sample = np.sort(
        np.random.default_rng(1).choice(who, min(args.oracle_seekers, len(who)), replace=False)
    )
    best = oracle_lists(oracle, market, forward, sample, 1000, "apply")
    ours = lists[np.searchsorted(who, sample)]
    print(f"| k | oracle | candidates | difference (SE), {len(sample):,} seekers |")
    print("|---:|---:|---:|---|")
    for k in (10, 100, 1000):
        a, b = (
            per_seeker_recall(best, forward, sample, k),
            per_seeker_recall(ours, forward, sample, k),
        )
        d = b - a
        se = d.std(ddof=1) / np.sqrt(len(d))
        print(f"| {k} | {a.mean():.4f} | {b.mean():.4f} | {d.mean():+.4f} ({se:.4f}) |")


if __name__ == "__main__":
    main()
