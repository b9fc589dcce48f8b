"""Generation time and peak memory of the synthetic market by scale, and the projection to pes.

    python benchmarks/bench_synth.py --scales tiny small medium [--out DIR] [--keep]

Each scale runs `python -m jobrec.synth` in its own process (seed 0, 90 days ending
2026-03-31), so that its peak RSS is its own (os.wait4 returns the child's resource usage).
Prints a Markdown table, the fitted growth rates (seconds and MB ~ (seekers + ads)^b, on the
scales above tiny when there are at least three, tiny's fixed costs would bend the fit) and the
projection for every scale not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jobrec.synth import SCALES

END_DATE = "2026-03-31"


def run(scale: str, out: Path) -> dict:
    """One generation in a child process; its summary, wall time and peak RSS."""
    t0 = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "jobrec.synth",
        "--scale",
        scale,
        "--out",
        str(out / scale),
        "--seed",
        "0",
        "--end-date",
        END_DATE,
        "--no-progress",
    ]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{scale}: generation failed with exit code {child.returncode}")
    summary = json.loads((out / scale / "summary.json").read_text())
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    summary["child_peak_rss_mb"] = round(usage.ru_maxrss / 1024)  # Linux: KiB
    return summary


def machine() -> str:
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{mem}, python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--scales", nargs="+", default=["tiny", "small", "medium"], choices=list(SCALES)
    )
    parser.add_argument("--out", type=Path, default=None, help="where the markets go")
    parser.add_argument("--keep", action="store_true", help="keep the generated markets")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        rows = [run(s, out) for s in args.scales]
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    print(f"machine: {machine()}")
    print(
        "| scale | seekers | ads | applications | hires | sends | seconds | wall s | peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        counts = (f"{r[k]:,}" for k in ("seekers", "ads", "applications", "hires", "sends"))
        cells = [r["scale"], *counts, r["seconds"], r["wall_seconds"], r["child_peak_rss_mb"]]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    if len(rows) < 2:
        return
    fit_rows = [r for r in rows if r["scale"] != "tiny"] if len(rows) >= 3 else rows
    if len(fit_rows) < 2:
        fit_rows = rows
    size = np.log([r["seekers"] + r["ads"] for r in fit_rows])
    fits = {}
    for key in ("seconds", "child_peak_rss_mb"):
        b, a = np.polyfit(size, np.log([r[key] for r in fit_rows]), 1)
        fits[key] = (b, a)
        print(f"growth: {key} ~ (seekers + ads)^{b:.2f}  (fit on {len(fit_rows)} scales)")
    for name, sc in SCALES.items():
        if name in args.scales:
            continue
        n = np.log(sc.seekers + sc.ads)
        proj = {k: float(np.exp(a + b * n)) for k, (b, a) in fits.items()}
        print(
            f"projection {name}: {proj['seconds']:.0f} s, "
            f"{proj['child_peak_rss_mb']:.0f} MB peak RSS"
        )


if __name__ == "__main__":
    main()
