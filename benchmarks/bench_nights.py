"""Whole nights, timed: runs partition D of the whole chain N times, each in a fresh working
folder (warehouse, models, reports, Dagster instance), through the same command as
`scripts/nightly`, and prints the wall time of each night, their median, and the median seconds
of every asset (from metrics.runs).

    python benchmarks/bench_nights.py --raw /path/to/raw --day 2026-12-01 --nights 3 \
        --out /tmp/nights [--project /path/to/a/checkout]

`--project` runs another checkout of the project (for before/after comparisons: the other
tree goes first on PYTHONPATH, with this venv's packages). Each night's warehouse stays under
`--out/night-<i>/` for comparisons (benchmarks/compare_warehouses.py).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from bench_night import environment, night_command  # benchmarks/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]


def run_night(project: Path, raw: Path, day: str, folder: Path) -> float:
    if folder.exists():
        shutil.rmtree(folder)
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(project / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = environment(folder, raw, project)
    dagster = str(Path(sys.executable).parent / "dagster")
    subprocess.run(
        [dagster, "instance", "migrate"], env=env, cwd=project, check=True, capture_output=True
    )
    start = time.perf_counter()
    with open(folder / "night.log", "w") as log:
        subprocess.run(
            night_command(day),
            env=env,
            cwd=project,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return time.perf_counter() - start


def asset_seconds(folder: Path, day: str) -> dict[str, float]:
    with duckdb.connect(str(folder / "published" / "jobrec.duckdb"), read_only=True) as con:
        return dict(
            con.execute(
                "SELECT asset, sum(seconds) FROM metrics.runs WHERE run_date = ? GROUP BY asset",
                [day],
            ).fetchall()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--day", required=True)
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--project", type=Path, default=ROOT)
    args = parser.parse_args()
    walls, per_asset = [], {}
    for i in range(args.nights):
        folder = args.out / f"night-{i}"
        wall = run_night(args.project.resolve(), args.raw.resolve(), args.day, folder)
        walls.append(wall)
        for asset, seconds in asset_seconds(folder, args.day).items():
            per_asset.setdefault(asset, []).append(seconds)
        print(f"night {i}: {wall:.1f} s", flush=True)
    print(
        f"\n{args.project.resolve()} partition {args.day}: nights "
        f"{', '.join(f'{w:.1f}' for w in walls)} s; median {statistics.median(walls):.1f} s"
    )
    print("\n| asset | median s | runs |\n|---|---:|---:|")
    for asset, seconds in sorted(per_asset.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"| {asset} | {statistics.median(seconds):.1f} | {len(seconds)} |")


if __name__ == "__main__":
    main()
