"""The oracle's rankings of chosen partitions, written beside the raw files for the evaluations.

For each partition D: the market as known at D is rebuilt from the raw files exactly as the
nightly chain builds it (the clean statements of sql/, in an in-memory DuckDB), the evaluation
splits and their oracle samples are drawn by the same core functions the evaluations use, and
each sampled seeker's ads are ranked by the oracle's true probability summed over the window's
days (`apply` and `hire`). The evaluations read the files (jobrec.evaluation.oracle).

    python -m jobrec.synth.oracle_rankings --raw data/raw --days 2026-11-20 2026-11-21
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from jobrec.data.clean import CLEAN_TABLES, write_clean_partition
from jobrec.data.market import read_market
from jobrec.evaluation.offline import evaluated_seekers, oracle_lists, oracle_sample, splits
from jobrec.evaluation.oracle import COLUMNS, LIST_K, write_rankings
from jobrec.synth.oracle import Oracle

KINDS = ("apply", "hire")


def rankings_frame(oracle: Oracle, raw_dir: Path, run_date: dt.date) -> pd.DataFrame:
    """The oracle's rankings of partition D: one row per (split, kind, seeker, rank)."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for table in CLEAN_TABLES:
            write_clean_partition(con, table, raw_dir, run_date)
        market = read_market(con, run_date)
    seeker_ids = market.seekers["jobseeker_id"].to_numpy()
    ad_ids = market.ads["ad_id"].to_numpy()
    frames = []
    for split in splits(market):
        who = evaluated_seekers(split)
        if not len(who):
            continue
        sample = who[oracle_sample(len(who))]
        k = min(LIST_K, len(split.universe))
        for kind in KINDS:
            lists = oracle_lists(oracle, market, split, sample, k, kind)
            frames.append(
                pd.DataFrame(
                    {
                        "split": split.name,
                        "kind": kind,
                        "jobseeker_id": np.repeat(seeker_ids[sample], k),
                        "rank": np.tile(np.arange(1, k + 1), len(sample)),
                        "ad_id": ad_ids[split.universe[lists.reshape(-1)]],
                    }
                )
            )
    columns = list(COLUMNS)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def write_oracle_rankings(raw_dir: str | Path, days: Iterable[dt.date], log=print) -> list[Path]:
    """Write the rankings of each partition of `days` under `raw_dir`/oracle/rankings/."""
    raw_dir = Path(raw_dir)
    oracle = Oracle(raw_dir / "oracle")
    written = []
    for day in days:
        frame = rankings_frame(oracle, raw_dir, day)
        written.append(write_rankings(frame, raw_dir, day))
        if log:
            log(f"oracle rankings of {day}: {len(frame):,} rows")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True, help="a generated market's folder")
    parser.add_argument("--days", nargs="+", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args()
    write_oracle_rankings(args.raw, args.days)


if __name__ == "__main__":
    main()
