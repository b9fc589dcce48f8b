"""Generation time and peak memory of the synthetic market by scale, and the projection to pes.

    python benchmarks/bench_synth.py --scales tiny small medium [--out DIR]

Each scale runs in its own process (its peak RSS is its own); prints a Markdown table, the fitted
growth rates (seconds and MB ~ rows^b) and the projection for the scales not run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jobrec.synth import SCALES


def run(scale: str, out: Path) -> dict:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "jobrec.synth", "--scale", scale, "--out", str(out / scale),
         "--seed", "0", "--end-date", "2026-03-31", "--no-progress"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    summary = json.loads((out / scale / "summary.json").read_text())
    summary["wall_seconds"] = round(wall, 1)
    # the child's own peak (generate() reads it inside the process)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", nargs="+", default=["tiny", "small", "medium"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    rows = [run(s, out) for s in args.scales]
    print(f"machine: {platform.machine()}, {resource.getpagesize()} B pages, "
          f"python {platform.python_version()}")  # fmt: skip
    print("| scale | seekers | ads | applications | hires | sends | seconds | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = [
            r["scale"],
            *(f"{r[k]:,}" for k in ("seekers", "ads", "applications", "hires", "sends")),
            r["seconds"],
            r["peak_rss_mb"],
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    if len(rows) >= 2:
        # fixed costs dominate tiny: fit the growth on the larger scales when there are two
        fit_rows = rows[1:] if len(rows) > 2 else rows
        size = np.log([r["seekers"] + r["ads"] for r in fit_rows])
        fits = {}
        for key in ("seconds", "peak_rss_mb"):
            b, a = np.polyfit(size, np.log([r[key] for r in fit_rows]), 1)
            fits[key] = (b, a)
            print(f"growth: {key} ~ (seekers + ads)^{b:.2f}")
        for name, sc in SCALES.items():
            if name in args.scales:
                continue
            n = np.log(sc.seekers + sc.ads)
            proj = {k: float(np.exp(a + b * n)) for k, (b, a) in fits.items()}
            print(f"projection {name}: {proj['seconds']:.0f} s, {proj['peak_rss_mb']:.0f} MB peak")


if __name__ == "__main__":
    main()
