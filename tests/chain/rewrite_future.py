"""Rewrite everything a partition D must not see: rows dated at or after D are deleted or
changed (still valid against the contract), and exits/closings at or after D are moved."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobrec.data.contract import TIME_COLUMN


def _as_date(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(col, pa.date32()) if pa.types.is_timestamp(col.type) else col


def rewrite_future(raw_dir: Path, day: dt.date, seed: int = 0) -> dict[str, int]:
    """Returns how many rows of each file were touched."""
    rng = np.random.default_rng(seed)
    touched = {}
    tables = {p.stem: pq.read_table(p) for p in Path(raw_dir).glob("*.parquet")}
    day_scalar = pa.scalar(day, pa.date32())
    ads = tables["job_ads"]
    # ads posted before D: a moved event can point at them without preceding their posting
    ad_ids = ads.filter(pc.less(ads["posted_on"], day_scalar))["ad_id"]
    for name, table in tables.items():
        time_col = TIME_COLUMN[name]
        future = pc.greater_equal(_as_date(table[time_col]), day_scalar).to_numpy(
            zero_copy_only=False
        )
        keep = ~future | (rng.random(len(table)) < 0.5)  # delete half of the future rows
        if not keep.any():  # an empty file is refused by the contract: keep one (changed) row
            keep[np.flatnonzero(future)[0]] = True
        columns = {c: table[c].to_pylist() for c in table.column_names}
        n = 0
        for i in np.flatnonzero(future & keep):  # change the other half
            n += 1
            if name == "jobseekers":
                columns["desired_wage"][i] = float(rng.integers(1000, 5000))
                columns["mobility_km"][i] = float(rng.integers(5, 100))
            elif name == "job_ads":
                columns["wage"][i] = float(rng.integers(1000, 5000))
                columns["positions"][i] = int(rng.integers(1, 5))
            else:
                columns["ad_id"][i] = ad_ids[int(rng.integers(len(ad_ids)))].as_py()
                columns[time_col][i] = columns[time_col][i] + dt.timedelta(hours=1)
                if name == "applications" and columns["ad_id"][i] is not None:
                    columns["channel"][i] = "organic"
        # exits and closings on or after D are not known at D: move them (or erase them)
        end_col = {"jobseekers": "exited_on", "job_ads": "closed_on"}.get(name)
        if end_col:
            for i, value in enumerate(columns[end_col]):
                if value is not None and value >= day and keep[i]:
                    columns[end_col][i] = None if rng.random() < 0.5 else value + dt.timedelta(3)
                    n += 1
        new = pa.Table.from_pydict(columns, schema=table.schema).filter(pa.array(keep))
        pq.write_table(new, Path(raw_dir) / f"{name}.parquet")
        touched[name] = n + int((~keep).sum())
    return touched
