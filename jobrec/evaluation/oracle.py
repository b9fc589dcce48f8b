"""Oracle rankings: the true best lists of a synthetic market, read from files beside the raw data.

A synthetic market knows the true probability that a seeker applies to (or is hired on) an ad.
Its generator (jobrec.synth) writes, for chosen partitions D, each split's ranking by that truth
for the split's oracle sample (`oracle_sample` of the evaluated seekers), as
`<raw>/oracle/rankings/<D>.parquet` with columns split, kind (apply / hire), jobseeker_id, rank,
ad_id. The evaluations read those files when they exist; production code never imports the
generator. Real data has no such files: no oracle rows, nothing else changes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from jobrec.data.market import Market
from jobrec.evaluation.offline import Split, positions

RANKINGS_DIR = ("oracle", "rankings")
COLUMNS = ("split", "kind", "jobseeker_id", "rank", "ad_id")
LIST_K = 1000  # the longest list the evaluations score (Recall@1000)


def rankings_path(raw_dir: str | Path, run_date: dt.date) -> Path:
    return Path(raw_dir).joinpath(*RANKINGS_DIR, f"{run_date.isoformat()}.parquet")


def has_rankings(raw_dir: str | Path, run_date: dt.date) -> bool:
    """Whether the raw folder holds the oracle's rankings of partition D."""
    return rankings_path(raw_dir, run_date).exists()


def write_rankings(frame: pd.DataFrame, raw_dir: str | Path, run_date: dt.date) -> Path:
    """Write one partition's rankings atomically (a reader sees the old file or the new one)."""
    path = rankings_path(raw_dir, run_date)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame[list(COLUMNS)].to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


class OracleRankings:
    """The oracle's lists of one partition."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    @classmethod
    def load(cls, raw_dir: str | Path, run_date: dt.date) -> OracleRankings | None:
        """The partition's rankings, None when the raw folder has none for it."""
        path = rankings_path(raw_dir, run_date)
        return cls(pd.read_parquet(path)) if path.exists() else None

    def lists(
        self, market: Market, split: Split, seekers: np.ndarray, kind: str, k: int
    ) -> np.ndarray | None:
        """The oracle's top-k of `seekers` (market rows) on `split` as (len(seekers), k)
        universe positions, rank 1 first; None when the file does not hold exactly these
        seekers for the split (it was written for another sample or another market).

        Parameters
        ----------
        market : Market
            The market as known at D (ids to rows).
        split : Split
            The evaluation window (its universe orders the positions).
        seekers : (S,) int array
            The oracle sample, market rows, sorted.
        kind : str
            `apply` or `hire`.
        k : int
            List length, at most the length the file holds.

        Returns
        -------
        (S, k) int array or None
        """
        part = self.frame[(self.frame["split"] == split.name) & (self.frame["kind"] == kind)]
        rows = market.seeker_index(part["jobseeker_id"])
        if not np.array_equal(np.unique(rows), np.sort(seekers)):
            return None
        held = part.groupby("jobseeker_id").size()
        if len(held) and held.min() < k:
            return None
        at = positions(np.asarray(seekers), rows)
        ranks = part["rank"].to_numpy() - 1
        keep = ranks < k
        out = np.full((len(seekers), k), -1, dtype=np.int64)
        ad_rows = market.ad_index(part["ad_id"].to_numpy()[keep])
        out[at[keep], ranks[keep]] = positions(split.universe, ad_rows)
        return out
