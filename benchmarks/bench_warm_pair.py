"""One warm night re-run by two (or more) versions of the code side by side: each on its own copy
of the same working folder, alternating, each alone. For a night-time change measured on the
same partition, in the same hour (this VM's speed moves by 10-20% between hours).

    python benchmarks/bench_warm_pair.py --work /work/bench/night-small2/work \
        --raw /work/bench/night-small/raw --day 2026-12-01 \
        --projects before=/work/old-checkout after=. --out /work/bench/warm-pair

`--work` is a `bench_night` working folder that ran `--day` (and the cold night before it); the
copies re-run `--day` as a warm night (its models start from the night before). A re-run replaces
exactly that day's ingest, so it does the work of a first run of the day. Per run: wall seconds,
peak RSS, the night's status and seconds per asset (`bench_night.night_facts`). Writes
`--out/result.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path

from bench_night import environment, night_facts, night_peak_mb, result_header, run_night


def run_copy(source: Path, work: Path, raw: Path, project: Path, day: dt.date) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work, symlinks=True)
    env = environment(work, raw, project)
    night = run_night(work, env, day, project, log=work.parent / f"{work.name}.log")
    return {**{k: night[k] for k in ("rc", "wall_s", "peak_rss_mb")}, **night_facts(work, day)}


def write_night_results(runs: list[dict], raw: Path, day: dt.date, out: Path) -> None:
    """Each version's runs as `bench_night` results (`out/night-<name>.json`, every night warm),
    so that `bench_night.py project` can fit them against another scale's."""
    summary = json.loads((raw / "summary.json").read_text())
    for name in dict.fromkeys(r["project"] for r in runs):
        nights = [
            {**r, "day": day.isoformat(), "kind": "warm"} for r in runs if r["project"] == name
        ]
        result = {
            **result_header(summary.get("scale", raw.name), raw),
            "nights": [n for n in nights if n["rc"] == 0],
        }
        (out / f"night-{name}.json").write_text(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a bench_night working folder")
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--projects", nargs="+", required=True, help="name=checkout ...")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    projects = {n: Path(p).resolve() for n, p in (s.split("=", 1) for s in args.projects)}
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for rep in range(args.repeats):
        for name, project in projects.items():
            work = args.out / f"{name}-{rep}"
            row = {"project": name, "checkout": str(project), "repeat": rep}
            row.update(run_copy(args.work, work, args.raw.resolve(), project, args.day))
            runs.append(row)
            print(f"{name} repeat {rep}: {row['wall_s']:.1f} s, rc {row['rc']}", flush=True)
            (args.out / "result.json").write_text(json.dumps(runs, indent=1))
            shutil.rmtree(work, ignore_errors=True)
    write_night_results(runs, args.raw.resolve(), args.day, args.out)
    assets = sorted({a for r in runs for a in r["assets"]})
    top = sorted(assets, key=lambda a: -max(r["assets"].get(a, {}).get("seconds", 0) for r in runs))
    print("\n| run | wall s | peak RSS MB | status | " + " | ".join(top[:8]) + " |")
    print("|---|---:|---:|---|" + "---:|" * 8)
    for r in runs:
        cells = " | ".join(f"{r['assets'].get(a, {}).get('seconds', 0):.1f}" for a in top[:8])
        print(
            f"| {r['project']} #{r['repeat']} | {r['wall_s']:.1f} | {night_peak_mb(r):,.0f} | "
            f"{r['night_status']} | {cells} |"
        )


if __name__ == "__main__":
    main()
