"""Consecutive whole nights of the chain through Dagster: time, memory and disk per asset and night,
growth exponents across scales and a projection to the service's scale (`pes`).

    python benchmarks/bench_night.py run --scale small --nights 3 --out /work/bench/night-small
    python benchmarks/bench_night.py project /work/bench/night-small/result.json \
        /work/bench/night-medium/result.json

run: generates the market of `--scale` (timeline ending `--end-date`, seed 0, `--market`) under
`--out/raw`, or reuses it (or `--raw`), then materialises the whole chain for N consecutive
partitions ending on the day after the timeline (tonight: the first night cold, the next ones warm)
in ONE working folder (warehouse, Parquet lists, models, published copy, Dagster instance), each
night with the same command as `scripts/nightly` in its own process. Per night: the wall time, the
night process's peak RSS (wait4's ru_maxrss: the process and its waited-for children), and the
bytes of the warehouse file, the Parquet lists, the model store and the published copy after it;
per asset and night: seconds and peak RSS from metrics.runs. Writes `--out/result.json` and prints
Markdown tables.

project: fits, per asset, seconds ~ (seekers + ads)^b and peak RSS ~ (seekers + ads)^b on the
warm nights of two or more `run` results (least squares on logs), and projects a warm night and
its disk at `pes` (1.2M seekers + 2.2M ads), naming the bounding step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
PES_ENTITIES = 1_200_000 + 2_200_000


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def market(args) -> Path:
    if args.raw:
        return args.raw.resolve()
    raw = (args.out / "raw").resolve()
    generate_market(raw, args.scale, args.end_date, args.market)
    return raw


def generate_market(
    raw: Path, scale: str, end_date: str, market: str | None = None, seed: int = 0
) -> None:
    """`python -m jobrec.synth` into `raw`, unless a market is there already."""
    if (raw / "summary.json").exists():
        return
    command = [sys.executable, "-m", "jobrec.synth", "--scale", scale, "--out", str(raw)]
    command += ["--seed", str(seed), "--end-date", end_date, "--no-progress"]
    command += ["--market", market] if market else []
    subprocess.run(command, cwd=ROOT, check=True)


def environment(work: Path, raw: Path, project: Path = ROOT) -> dict[str, str]:
    """The environment of a night run by `project`'s code in working folder `work`."""
    return {
        **os.environ,
        "PYTHONPATH": str(project),
        "DAGSTER_HOME": str(work / "dagster_home"),
        "JOBREC_RAW_DIR": str(raw),
        "JOBREC_WAREHOUSE": str(work / "warehouse" / "jobrec.duckdb"),
        "JOBREC_PUBLISHED": str(work / "published" / "jobrec.duckdb"),
        "JOBREC_MODELS_DIR": str(work / "models"),
        "JOBREC_REPORTS_DIR": str(work / "reports"),
        "JOBREC_OUTBOX_DIR": str(work / "outbox"),
        "JOBREC_ALERTS_DIR": str(work / "alerts"),
        "GX_ANALYTICS_ENABLED": "False",
    }


def night_command(day: dt.date | str) -> list[str]:
    """The whole chain for one partition, as `scripts/nightly` runs it."""
    dagster = str(Path(sys.executable).parent / "dagster")
    return [
        dagster,
        "asset",
        "materialize",
        "-m",
        "orchestration.definitions",
        "--select",
        "*",
        "--partition",
        str(day),
    ]


def run_night(
    work: Path, env: dict[str, str], day: dt.date, project: Path = ROOT, log: Path | None = None
) -> dict:
    """Run partition `day` in `work` with `project`'s code (its own checkout, not necessarily
    this one); the output goes to `log` (default `work/night-<day>.log`)."""
    command = night_command(day)
    start = time.perf_counter()
    with open(log or work / f"night-{day}.log", "w") as out:
        proc = subprocess.Popen(command, env=env, cwd=project, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    return {"day": day.isoformat(), "rc": rc, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def night_facts(work: Path, day: dt.date) -> dict:
    published = work / "published" / "jobrec.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        assets = {
            a: {"seconds": s, "peak_rss_mb": m}
            for a, s, m in con.execute(
                "SELECT asset, seconds, peak_rss_mb FROM metrics.runs WHERE run_date = ? "
                "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY finished_at DESC) = 1",
                [day],
            ).fetchall()
        }
        checks = con.execute(
            "SELECT status, detail FROM metrics.nights WHERE run_date = ?", [day]
        ).fetchone()
        checks_failed = con.execute(
            "SELECT count(*) FROM metrics.nights WHERE run_date = ? AND status <> 'complete'",
            [day],
        ).fetchone()[0]
        registered = [p for (p,) in con.execute("SELECT path FROM store.list_files").fetchall()]
    lists_bytes = sum(Path(p).stat().st_size for p in registered)
    disk = {
        "warehouse": folder_bytes(work / "warehouse" / "jobrec.duckdb"),
        "lists": lists_bytes,
        "models": folder_bytes(work / "models"),
        "published": folder_bytes(published),
    }
    disk["total"] = sum(disk.values())
    # list files no copy registers any more wait an hour before removal (a reader may hold
    # them): nights here follow each other within minutes, not a day, so they are counted apart
    every_list = work / "warehouse" / "lists"
    disk["lists_awaiting_removal"] = (
        folder_bytes(every_list) - lists_bytes if every_list.exists() else 0
    )
    return {
        "assets": assets,
        # a step's peak counts its worker processes (the audit's), which the night process's
        # own ru_maxrss does not
        "peak_rss_steps_mb": max((a["peak_rss_mb"] for a in assets.values()), default=0.0),
        "night_status": checks[0] if checks else None,
        "incomplete": checks_failed,
        "disk": disk,
    }


def night_peak_mb(night: dict) -> float:
    """The night's peak RSS: its process's, or a step's with its workers, whichever is higher."""
    return max(night["peak_rss_mb"], night.get("peak_rss_steps_mb", 0.0))


def result_header(scale: str, raw: Path) -> dict:
    """What a result file says of its market and machine, before its nights."""
    return {
        "scale": scale,
        "entities": summary_entities(raw),
        "raw": str(raw),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "date": dt.date.today().isoformat(),
    }


def summary_entities(raw: Path) -> int:
    summary = json.loads((raw / "summary.json").read_text())
    return int(summary["seekers"]) + int(summary["ads"])


def run(args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    raw = market(args)
    work = (args.out / "work").resolve()
    if work.exists() and not (args.keep or args.again):
        shutil.rmtree(work)
    (work / "dagster_home").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
    env = environment(work, raw)
    dagster = str(Path(sys.executable).parent / "dagster")
    subprocess.run(
        [dagster, "instance", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    tonight = dt.date.fromisoformat(args.end_date) + dt.timedelta(days=1)
    days = [tonight - dt.timedelta(days=args.nights - 1 - i) for i in range(args.nights)]
    if args.again:  # the last night once more, with this checkout's code
        days = [tonight]
    nights = []
    for i, day in enumerate(days):
        night = run_night(work, env, day)
        if night["rc"] == 0:
            night.update(night_facts(work, day))
        nights.append(night)
        kind = "again" if args.again else ("cold" if i == 0 else "warm")
        night["kind"] = kind
        print(
            f"night {i + 1} ({day}, {kind}): rc {night['rc']}, "
            f"{night['wall_s']:.1f} s, peak RSS {night_peak_mb(night):.0f} MB, "
            f"disk {night.get('disk', {}).get('total', 0) / 1e6:.1f} MB",
            flush=True,
        )
        if night["rc"]:
            break
    result = {
        **result_header(args.scale, raw),
        "nights": nights,
    }
    name = "result-again.json" if args.again else "result.json"
    (args.out / name).write_text(json.dumps(result, indent=1))
    print_tables(result)


def print_tables(result: dict) -> None:
    nights = [n for n in result["nights"] if "disk" in n]
    print(f"\n{result['scale']} ({result['entities']:,} seekers + ads), {result['machine']}\n")
    print(
        "| night | day | wall s | peak RSS MB | warehouse MB | lists MB | models MB | "
        "published MB | total MB | growth | lists awaiting removal MB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    first = nights[0]["disk"]["total"] if nights else 1
    for i, n in enumerate(nights):
        d = n["disk"]
        print(
            f"| {i + 1} {n.get('kind', 'cold' if i == 0 else 'warm')} | {n['day']} | "
            f"{n['wall_s']:.1f} | "
            f"{night_peak_mb(n):,.0f} | {d['warehouse'] / 1e6:.1f} | {d['lists'] / 1e6:.1f} | "
            f"{d['models'] / 1e6:.1f} | {d['published'] / 1e6:.1f} | {d['total'] / 1e6:.1f} | "
            f"{d['total'] / first:.2f}x | {d['lists_awaiting_removal'] / 1e6:.1f} |"
        )
    assets = sorted({a for n in nights for a in n["assets"]})
    print(
        "\n| asset | "
        + " | ".join(f"night {i + 1} s" for i in range(len(nights)))
        + " | peak RSS MB (max) |"
    )
    print("|---|" + "---:|" * (len(nights) + 1))
    by_time = sorted(
        assets, key=lambda a: -max(n["assets"].get(a, {}).get("seconds", 0) for n in nights)
    )
    for a in by_time:
        cells = [f"{n['assets'][a]['seconds']:.1f}" if a in n["assets"] else "" for n in nights]
        rss = max(n["assets"].get(a, {}).get("peak_rss_mb", 0) for n in nights)
        print(f"| {a} | " + " | ".join(cells) + f" | {rss:,.0f} |")


def fit(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(max(y, 1e-3)) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def project(args) -> None:
    results = [json.loads(Path(p).read_text()) for p in args.results]
    results.sort(key=lambda r: r["entities"])
    if len({r["entities"] for r in results}) < 2:
        raise SystemExit("projecting needs results at two or more scales")

    def warm(r):  # the warm nights' median of each asset (the cold one if it is alone)
        nights = [n for n in r["nights"] if "disk" in n]
        if all("kind" in n for n in nights):
            return [n for n in nights if n["kind"] != "cold"] or nights
        return nights[1:] or nights  # results written before nights had a kind

    rows = []
    # the assets every scale's warm nights report (publish/warehouse records itself only on
    # a night whose run log it can still write to)
    assets = sorted(set.intersection(*({a for n in warm(r) for a in n["assets"]} for r in results)))
    for a in assets:
        seconds = [
            (
                r["entities"],
                _median([n["assets"][a]["seconds"] for n in warm(r) if a in n["assets"]]),
            )
            for r in results
        ]
        rss = [
            (r["entities"], max(n["assets"][a]["peak_rss_mb"] for n in warm(r) if a in n["assets"]))
            for r in results
        ]
        b_t, b_m = fit(seconds), fit(rss)
        largest = results[-1]["entities"]
        t_pes = seconds[-1][1] * (PES_ENTITIES / largest) ** b_t
        m_pes = rss[-1][1] * (PES_ENTITIES / largest) ** b_m
        rows.append((a, seconds, b_t, t_pes, b_m, m_pes))
    rows.sort(key=lambda r: -r[3])
    scales = " | ".join(f"{r['scale']} s" for r in results)
    print(f"| asset | {scales} | time exponent | pes s | RSS exponent | pes peak RSS MB |")
    print("|---|" + "---:|" * (len(results) + 4))
    for a, seconds, b_t, t_pes, b_m, m_pes in rows:
        cells = " | ".join(f"{s:.1f}" for _, s in seconds)
        print(f"| {a} | {cells} | {b_t:.2f} | {t_pes:,.0f} | {b_m:.2f} | {m_pes:,.0f} |")
    total = sum(r[3] for r in rows)
    disks = [(r["entities"], _median([n["disk"]["total"] for n in warm(r)])) for r in results]
    b_d = fit(disks)
    d_pes = disks[-1][1] * (PES_ENTITIES / disks[-1][0]) ** b_d
    walls = [(r["entities"], _median([n["wall_s"] for n in warm(r)])) for r in results]
    b_w = fit(walls)
    w_pes = walls[-1][1] * (PES_ENTITIES / walls[-1][0]) ** b_w
    print(
        f"\nwarm night at pes: {w_pes / 3600:.1f} h by the night's own exponent {b_w:.2f} "
        f"({total / 3600:.1f} h as the sum of the assets' projections); bounding step "
        f"{rows[0][0]} ({rows[0][3] / 3600:.1f} h, {rows[0][3] / total:.0%}); peak RSS "
        f"{max(r[5] for r in rows):,.0f} MB ({max(rows, key=lambda r: r[5])[0]}); "
        f"disk {d_pes / 1e9:.1f} GB (exponent {b_d:.2f})"
    )


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="N consecutive nights at one scale")
    r.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "pes"])
    r.add_argument("--nights", type=int, default=3)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--raw", type=Path, help="an existing market (default: generate one)")
    r.add_argument(
        "--market",
        choices=["standard", "harder"],
        help="when generating (default the scale's: harder, standard at tiny)",
    )
    r.add_argument("--end-date", default="2026-11-30", help="the market's last day")
    r.add_argument("--keep", action="store_true", help="go on in an existing working folder")
    r.add_argument(
        "--again",
        action="store_true",
        help="re-run the last night in the existing working folder (result-again.json)",
    )
    p = sub.add_parser("project", help="growth exponents and the pes projection")
    p.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args()
    run(args) if args.command == "run" else project(args)


if __name__ == "__main__":
    main()
