"""The market of one partition as arrays: seekers, ads, events and the evaluation windows.

Everything later stages need about partition D, read once from the clean tables: the entity
frames (gender is never read here: the audit reads it on its own), integer indices for ids, and
the event pairs as index arrays. Windows:
  train       events before D - 7 days (what models learn from)
  validation  events in [D - 7, D), held out of training (early stopping, validation metrics)
  forward     events in [D, D + 7) from eval.forward_*, when the raw data holds the whole window
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from jobrec.data import warehouse
from jobrec.data.run_stats import counted_build

VALIDATION_DAYS = 7
FORWARD_DAYS = 7


@dataclasses.dataclass
class Events:
    """(seeker index, ad index, day) of applications or hires, sorted by seeker."""

    seeker: np.ndarray
    ad: np.ndarray
    day: np.ndarray  # datetime64[D]

    def where(self, mask: np.ndarray) -> Events:
        return Events(self.seeker[mask], self.ad[mask], self.day[mask])

    def between(self, start: dt.date, end: dt.date) -> Events:
        """Events on days in [start, end)."""
        lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
        return self.where((self.day >= lo) & (self.day < hi))

    def __len__(self) -> int:
        return len(self.seeker)


@dataclasses.dataclass
class Market:
    run_date: dt.date
    seekers: pd.DataFrame  # every seeker known at D, in a fixed order (row = index)
    ads: pd.DataFrame  # every ad known at D (row = index)
    applications: Events  # before D
    hires: Events  # before D
    forward_applications: Events | None  # [D, D + 7) when complete, else None
    forward_hires: Events | None

    @property
    def train_end(self) -> dt.date:
        return self.run_date - dt.timedelta(days=VALIDATION_DAYS)

    def seeker_index(self, ids) -> np.ndarray:
        return pd.Index(self.seekers["jobseeker_id"]).get_indexer(ids)

    def ad_index(self, ids) -> np.ndarray:
        return pd.Index(self.ads["ad_id"]).get_indexer(ids)

    def ads_open_between(self, start: dt.date, end: dt.date) -> np.ndarray:
        """Indices of the ads open on at least one day of [start, end) as known at D."""
        posted = self.ads["posted_on"].to_numpy("datetime64[D]")
        closed = self.ads["closed_on"].to_numpy("datetime64[D]")
        open_ = (posted < np.datetime64(end, "D")) & (
            np.isnat(closed) | (closed >= np.datetime64(start, "D"))
        )
        return np.flatnonzero(open_)

    def known_before(self, day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The seekers registered and the ads posted before `day` (a training window's
        entities)."""
        cut = np.datetime64(day, "D")
        seekers = self.seekers["registered_on"].to_numpy("datetime64[D]") < cut
        ads = self.ads["posted_on"].to_numpy("datetime64[D]") < cut
        return self.seekers[seekers], self.ads[ads]

    def active_seekers(self) -> np.ndarray:
        return np.flatnonzero(self.seekers["active"].to_numpy(bool))

    def active_ads(self) -> np.ndarray:
        return np.flatnonzero(self.ads["active"].to_numpy(bool))

    # Pickled with the skill lists as Arrow list arrays, a few buffers, rather than one object
    # per row: the night's steps load the market a dozen times, and the lists took most of it.
    _LIST_COLUMNS = ("skills",)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for side in ("seekers", "ads"):
            frame = state[side]
            lists = [c for c in self._LIST_COLUMNS if c in frame.columns]
            state[side] = frame.assign(
                **{c: pd.arrays.ArrowExtensionArray(_arrow_lists(frame[c])) for c in lists}
            )
        return state

    def __setstate__(self, state: dict) -> None:
        for side in ("seekers", "ads"):
            frame = state[side]
            for c in self._LIST_COLUMNS:
                if c in frame.columns and isinstance(frame[c].dtype, pd.ArrowDtype):
                    lists = pa.array(frame[c]).to_pylist()  # None where missing, as read
                    frame[c] = pd.Series(lists, index=frame.index, dtype=object)
        self.__dict__.update(state)


def _arrow_lists(column: pd.Series) -> pa.Array:
    if isinstance(column.dtype, pd.ArrowDtype):
        return pa.array(column)
    return pa.array(column.to_numpy(), type=pa.list_(pa.string()), from_pandas=True)


def _events(frame: pd.DataFrame, seekers: pd.Index, ads: pd.Index) -> Events:
    s = seekers.get_indexer(frame["jobseeker_id"])
    a = ads.get_indexer(frame["ad_id"])
    day = frame["day"].to_numpy("datetime64[D]")
    keep = (s >= 0) & (a >= 0)  # forward events may name entities created after D
    order = np.argsort(s[keep], kind="stable")
    return Events(s[keep][order], a[keep][order], day[keep][order])


@counted_build("market")
def read_market(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> Market:
    params = {"run_date": run_date}
    seekers = con.execute(warehouse.sql("market_jobseekers"), params).df()
    ads = con.execute(warehouse.sql("market_job_ads"), params).df()
    s_index, a_index = pd.Index(seekers["jobseeker_id"]), pd.Index(ads["ad_id"])

    def events(table: str, at: str) -> Events:
        frame = con.execute(
            f"SELECT jobseeker_id, ad_id, CAST(timezone('UTC', {at}) AS DATE) AS day "
            f"FROM {table} WHERE run_date = $run_date ORDER BY ALL",
            params,
        ).df()
        return _events(frame, s_index, a_index)

    complete = _forward_complete(con, run_date)
    forward = {
        name: events(f"eval.forward_{name}", at) if complete else None
        for name, at in (("applications", "applied_at"), ("hires", "hired_at"))
    }
    return Market(
        run_date,
        seekers,
        ads,
        events("clean.applications", "applied_at"),
        events("clean.hires", "hired_at"),
        forward["applications"],
        forward["hires"],
    )


def _forward_complete(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> bool:
    """The raw data holds the whole forward window when applications reach its last day."""
    (last,) = con.execute(
        "SELECT CAST(timezone('UTC', max(applied_at)) AS DATE) FROM eval.forward_applications "
        "WHERE run_date = ?",
        [run_date],
    ).fetchone()
    return last is not None and last >= run_date + dt.timedelta(days=FORWARD_DAYS - 1)


def read_lists(
    con,
    table: str,
    run_date: dt.date,
    market: Market,
    seekers: np.ndarray,
    k: int,
    model: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A ranked-list table's (recs.candidates, recs.reranked) lists of `seekers` (market rows)
    as (len(seekers), k) ad rows and scores, rank 1 first (-1 / NaN padded)."""
    ids = market.seekers["jobseeker_id"].to_numpy()[seekers]
    # ad ids become market rows inside DuckDB: no id string crosses into Python
    ad_rows = pa.table(
        {"ad_id": pa.array(market.ads["ad_id"]), "ad_row": np.arange(len(market.ads))}
    )
    con.register("wanted_seekers", pa.table({"jobseeker_id": ids, "pos": np.arange(len(ids))}))
    con.register("market_ad_rows", ad_rows)
    try:
        found = con.execute(
            'SELECT w.pos, coalesce(m.ad_row, -1) AS ad_row, t."rank", t.score '
            f"FROM {warehouse.checked_name(table)} AS t "
            "JOIN wanted_seekers AS w USING (jobseeker_id) "
            "LEFT JOIN market_ad_rows AS m USING (ad_id) "
            f'WHERE t.run_date = $day AND t."rank" <= $k'
            + (" AND t.model = $model" if model else ""),
            {"day": run_date, "k": k, **({"model": model} if model else {})},
        ).fetchnumpy()
    finally:
        con.unregister("wanted_seekers")
        con.unregister("market_ad_rows")
    ads = np.full((len(seekers), k), -1, dtype=np.int64)
    scores = np.full((len(seekers), k), np.nan, dtype=np.float32)
    at = (np.asarray(found["pos"]), np.asarray(found["rank"]) - 1)
    ads[at] = np.asarray(found["ad_row"])
    scores[at] = np.asarray(found["score"], dtype=np.float32)
    return ads, scores


def listed_seekers(
    con, table: str, run_date: dt.date, market: Market, model: str | None = None
) -> np.ndarray:
    """The seekers (market rows, in id order) with a list of D in a ranked-list table
    (recs.candidates, recs.reranked for one `model`, recs.recommendations)."""
    ids = con.execute(
        f"SELECT DISTINCT jobseeker_id FROM {warehouse.checked_name(table)} "
        "WHERE run_date = $day" + (" AND model = $model" if model else "") + " ORDER BY 1",
        {"day": run_date, **({"model": model} if model else {})},
    ).df()["jobseeker_id"]
    return market.seeker_index(ids)
