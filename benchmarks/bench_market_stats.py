"""Side-by-side statistics of synthetic markets (the standard and the harder one, issue 17).

    python benchmarks/bench_market_stats.py --day 2026-11-23 RAW_DIR [RAW_DIR ...]

From each market's summary.json (volumes, concentration, occupation match) and its raw files:
the share of applications made in an ad's first 3 days (ads posted during the timeline), the
share of the week [D, D + 7)'s applications that go to ads posted in the 3 days before D, the
share of that week's applications by seekers registered in the 3 days before D, the share
of an employer's ads in the variance of applications per ad, and the career changers (from the
oracle's hidden search codes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np


def stats(raw: Path, day: dt.date) -> dict:
    summary = json.loads((raw / "summary.json").read_text())
    con = duckdb.connect()
    for name in ("applications", "job_ads", "jobseekers"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{raw}/{name}.parquet')")
    first_days = con.execute("""
        SELECT avg((CAST(a.applied_at AS DATE) - j.posted_on < 3)::INT)
        FROM applications a JOIN job_ads j USING (ad_id)
        WHERE j.posted_on > (SELECT min(CAST(applied_at AS DATE)) FROM applications)
    """).fetchone()[0]
    fresh_ads, new_ads, fresh_seekers = con.execute(
        """
        SELECT avg((j.posted_on BETWEEN $d - 3 AND $d - 1)::INT), avg((j.posted_on >= $d - 3)::INT),
               avg((s.registered_on BETWEEN $d - 3 AND $d - 1)::INT)
        FROM applications a JOIN job_ads j USING (ad_id) JOIN jobseekers s USING (jobseeker_id)
        WHERE CAST(a.applied_at AS DATE) >= $d AND CAST(a.applied_at AS DATE) < $d + 7
        """,
        {"d": day},
    ).fetchone()
    per_ad = con.execute("""
        SELECT j.employer_id, ln(1 + count(a.ad_id)) AS y
        FROM job_ads j LEFT JOIN applications a USING (ad_id) GROUP BY j.ad_id, j.employer_id
    """).df()
    big = per_ad.groupby("employer_id")["y"].transform("size") >= 5
    means = per_ad.groupby("employer_id")["y"].transform("mean")
    employer_share = float(np.var(means[big]) / np.var(per_ad["y"][big]))
    changers = summary.get("career_changers", 0)
    return {
        "market": summary.get("market", "standard"),
        "seekers": summary["seekers"],
        "ads": summary["ads"],
        "applications": summary["applications"],
        "applications_per_seeker": summary["applications_per_seeker"],
        "hires_per_seeker": summary["hires_per_seeker"],
        "applications_per_ad_gini": summary["applications_per_ad_gini"],
        "share_within_mobility": summary["share_within_mobility"],
        "same_code_share": summary["occupation_match_share"]["code"],
        "applications_in_ads_first_3_days": round(float(first_days), 4),
        "next_week_to_ads_posted_in_3_days_before_D": round(float(fresh_ads), 4),
        "next_week_to_ads_posted_since_D_minus_3": round(float(new_ads), 4),
        "next_week_by_seekers_registered_in_3_days_before_D": round(float(fresh_seekers), 4),
        "employer_share_of_log_applications_variance": round(employer_share, 4),
        "career_changers_share": round(changers / summary["seekers"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="+", type=Path)
    parser.add_argument("--day", required=True, type=dt.date.fromisoformat)
    args = parser.parse_args()
    rows = [stats(r, args.day) for r in args.raw]
    print(
        "| statistic | "
        + " | ".join(f"{r['market']} ({p})" for r, p in zip(rows, args.raw, strict=True))
        + " |"
    )
    print("|---|" + "---:|" * len(rows))
    for key in rows[0]:
        if key == "market":
            continue
        cells = [f"{r[key]:,}" if isinstance(r[key], int) else f"{r[key]}" for r in rows]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
