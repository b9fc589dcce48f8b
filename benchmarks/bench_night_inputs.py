"""What the night's shared inputs cost: disk, build and load time, part by part, for one partition
of a market (the first steps of a night, run by the same public functions the assets call).

    python benchmarks/bench_night_inputs.py --raw data/raw --day 2026-12-01 --out /tmp/inputs \
        [--muse0-epochs 1]

Builds the clean tables of D in a fresh warehouse, then `models/features` (the feature space, the
market as known at D, Muse.0's tower inputs) and, after Muse.0 (trained `--muse0-epochs` epochs:
the sizes do not depend on how well it trained), `models/night_inputs`; prints the bytes of each
file and of each part of the night's inputs, and the seconds to build and to load them.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import pickle
import platform
import shutil
import time
from pathlib import Path

import duckdb

from jobrec import retrieval
from jobrec.data.clean import CLEAN_TABLES, write_clean_partition
from jobrec.data.model_store import model_dir


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--muse0-epochs", type=int, default=1)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    models = args.out / "models"
    con = duckdb.connect(str(args.out / "warehouse.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    for table in CLEAN_TABLES:
        write_clean_partition(con, table, args.raw, args.day)
    clean_s = time.perf_counter() - t0
    _, features_s = timed(retrieval.fit_features, con, args.day, models)
    cfg = dataclasses.replace(retrieval.Muse0Config(), max_epochs=args.muse0_epochs)
    _, muse0_s = timed(retrieval.train, con, args.day, models, cfg)
    stats, night_s = timed(retrieval.write_night_inputs, models, args.day)
    night, load_s = timed(retrieval.load_night_inputs, models, args.day)
    _, market_load_s = timed(retrieval.load_market, models, args.day)
    market = night.market
    print(
        f"machine: {platform.machine()}; partition {args.day}: {len(market.seekers):,} seekers "
        f"and {len(market.ads):,} ads known, {len(market.active_seekers()):,} and "
        f"{len(market.active_ads()):,} active; {stats['train_seekers']:,} training and "
        f"{stats['holdout_seekers']:,} held-out lists of {stats['list_k']:,}"
    )
    print(
        f"seconds: clean tables {clean_s:.1f}, models/features {features_s:.1f}, Muse.0 "
        f"({args.muse0_epochs} epochs) {muse0_s:.1f}, models/night_inputs {night_s:.1f}; "
        f"loading the night's inputs {load_s:.2f} (of which the market {market_load_s:.2f})"
    )
    print("\n| folder | file | MiB |\n|---|---|---:|")
    total = 0
    for folder in ("features", "night_inputs"):  # the two model-store folders
        for path in sorted(model_dir(models, args.day, folder).iterdir()):
            size = path.stat().st_size
            total += size
            print(f"| {folder} | {path.name} | {mib(size)} |")
    print(f"| all | | {mib(total)} |")
    print("\n| part of night_inputs.pkl | MiB |\n|---|---:|")
    for field in dataclasses.fields(night):
        if field.name == "market":
            continue
        size = len(pickle.dumps(getattr(night, field.name), protocol=pickle.HIGHEST_PROTOCOL))
        print(f"| {field.name} | {mib(size)} |")


if __name__ == "__main__":
    main()
