"""Warm-started nights against a full retrain of the same partition: Muse.2's forward-window
Recall@10 and Recall@100, paired over seekers, night by night.

    python benchmarks/bench_warm_vs_full.py --raw /work/bench/raw --nights 7 \
        --last 2026-11-23 --out /work/bench/warm-vs-full

One working folder runs the chain night after night as the service does (`bench_night`'s
environment and command): a cold night the day before the first, then `--nights` warm ones; the
full-retrain period is set past the window (JOBREC_FULL_RETRAIN_DAYS) so that no weekly refit
falls inside it. Before each warm night the folder is copied and the copy runs the same
partition with JOBREC_FULL_RETRAIN=1 (feature space refitted, every model from scratch). Both
are scored on the partition's forward window [D, D + 7), which the market must hold (`--last`
at least 7 days before its end): per seeker with a Muse.2 list and an application there, the
share of its applied ads in the list's top 10 and top 100 (sql/bench_forward_recall.sql). The
difference warm − full is paired over the seekers both score, with its standard error. Writes
`--out/result.json`, each night's per-seeker recalls (`--out/recall/{warm,full}-D.json`) and
prints a Markdown table.

`--full-from O` takes the full retrains' per-seeker recalls from an earlier run's `O/recall`
instead of running them again: a full retrain of D does not depend on the nights before it (the
space is refitted and every model trained from scratch on the same raw files), so this is sound
while the code of the full path is unchanged (e.g. when only the warm start changed): 2026-11-17's
full retrain gave the same Recall@10 to every digit in two runs a day apart.

`--resume` goes on with an interrupted run in `--out`: its warm folder and finished nights are
kept, and the first unfinished night runs again (re-running a partition is idempotent).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import shutil
from pathlib import Path

import bench_night
import duckdb
import numpy as np
from bench_night import environment

from jobrec.data import warehouse


def run_night(work: Path, env: dict[str, str], day: dt.date, log_name: str) -> float:
    log = work.parent / f"{log_name}-{day}.log"
    night = bench_night.run_night(work, env, day, log=log)
    if night["rc"]:
        raise SystemExit(f"night {day} in {work} failed (rc {night['rc']}): see {log}")
    return night["wall_s"]


def per_seeker_recall(work: Path, day: dt.date) -> dict[str, tuple[float, float]]:
    """jobseeker_id -> (Recall@10, Recall@100) of Muse.2 on the forward window of `day`."""
    with duckdb.connect(str(work / "published" / "jobrec.duckdb"), read_only=True) as con:
        rows = con.execute(warehouse.sql("bench_forward_recall"), {"run_date": day}).fetchall()
    return {s: (h10 / n, h100 / n) for s, n, h10, h100 in rows}


def save_recalls(path: Path, recalls: dict[str, tuple[float, float]]) -> None:
    path.write_text(json.dumps({s: list(r) for s, r in sorted(recalls.items())}))


def load_recalls(path: Path) -> dict[str, tuple[float, float]]:
    return {s: tuple(r) for s, r in json.loads(path.read_text()).items()}


def starts(work: Path, day: dt.date) -> dict[str, str]:
    """How each model of `day` started (its training report's `start`)."""
    out = {}
    for kind in ("muse0", "muse1", "muse2", "xgboost"):
        report = work / "models" / day.isoformat() / kind / "training.json"
        out[kind] = json.loads(report.read_text()).get("start", "?")
    return out


def paired(warm: dict, full: dict, k: int) -> dict:
    seekers = sorted(warm.keys() & full.keys())
    w = np.array([warm[s][k] for s in seekers])
    f = np.array([full[s][k] for s in seekers])
    d = w - f
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {
        "seekers": len(seekers),
        "warm": float(w.mean()),
        "full": float(f.mean()),
        "difference": float(d.mean()),
        "se": se,
        "within_2se": bool(abs(d.mean()) <= 2 * se),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True, help="the market (raw files)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--nights", type=int, default=7)
    parser.add_argument("--last", required=True, help="the last warm night (D + 7 in the market)")
    parser.add_argument(
        "--full-from", type=Path, help="an earlier run's --out: reuse its full retrains' recalls"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with an interrupted run in --out: keep its warm folder and finished nights",
    )
    args = parser.parse_args()
    last = dt.date.fromisoformat(args.last)
    days = [last - dt.timedelta(days=i) for i in range(args.nights - 1, -1, -1)]
    cold = days[0] - dt.timedelta(days=1)
    recall_dir = args.out / "recall"
    recall_dir.mkdir(parents=True, exist_ok=True)
    work, scratch = args.out / "warm", args.out / "full"
    base = environment(work, args.raw.resolve())
    base["JOBREC_FULL_RETRAIN_DAYS"] = str(args.nights + 2)  # no weekly refit in the window
    if args.resume:  # a night re-run is idempotent: an interrupted warm night simply runs again
        nights = json.loads((args.out / "result.json").read_text())["nights"]
        print(f"resuming after {nights[-1]['day']}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
        (work / "dagster_home").mkdir(parents=True)
        nights = [{"day": cold.isoformat(), "cold_s": run_night(work, base, cold, "warm")}]
        print(f"cold night {cold}: {nights[0]['cold_s']:.0f} s", flush=True)
    done = {n["day"] for n in nights}
    for day in (d for d in days if d.isoformat() not in done):
        if args.full_from is None:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(work, scratch, symlinks=True)
            full_env = {**environment(scratch, args.raw.resolve()), "JOBREC_FULL_RETRAIN": "1"}
            full_env["JOBREC_FULL_RETRAIN_DAYS"] = base["JOBREC_FULL_RETRAIN_DAYS"]
            full_s = run_night(scratch, full_env, day, "full")
            full, full_starts = per_seeker_recall(scratch, day), starts(scratch, day)
        else:
            earlier = json.loads((args.full_from / "result.json").read_text())
            row = next(n for n in earlier["nights"] if n["day"] == day.isoformat())
            full_s, full_starts = row["full_s"], row["full_starts"]
            full = load_recalls(args.full_from / "recall" / f"full-{day}.json")
        warm_s = run_night(work, base, day, "warm")
        warm = per_seeker_recall(work, day)
        save_recalls(recall_dir / f"warm-{day}.json", warm)
        save_recalls(recall_dir / f"full-{day}.json", full)
        row = {
            "day": day.isoformat(),
            "warm_s": warm_s,
            "full_s": full_s,
            "full_from": str(args.full_from) if args.full_from else None,
            "warm_starts": starts(work, day),
            "full_starts": full_starts,
            "recall_at_10": paired(warm, full, 0),
            "recall_at_100": paired(warm, full, 1),
        }
        nights.append(row)
        print(json.dumps(row), flush=True)
        (args.out / "result.json").write_text(
            json.dumps({"raw": str(args.raw), "machine": platform.node(), "nights": nights})
        )
    shutil.rmtree(scratch, ignore_errors=True)
    print_table(nights[1:])


def print_table(nights: list[dict]) -> None:
    print(
        "\n| night | seekers | R@10 warm | R@10 full | warm − full (SE) | within 2 SE | "
        "R@100 warm | R@100 full | warm − full (SE) | within 2 SE | warm s | full s |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
    for n in nights:
        a, b = n["recall_at_10"], n["recall_at_100"]
        print(
            f"| {n['day']} | {a['seekers']:,} | {a['warm']:.4f} | {a['full']:.4f} | "
            f"{a['difference']:+.4f} ({a['se']:.4f}) | {'yes' if a['within_2se'] else 'no'} | "
            f"{b['warm']:.4f} | {b['full']:.4f} | {b['difference']:+.4f} ({b['se']:.4f}) | "
            f"{'yes' if b['within_2se'] else 'no'} | {n['warm_s']:.0f} | {n['full_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
