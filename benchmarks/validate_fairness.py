"""The gap estimator against the planted truth, over several seeds.

    python benchmarks/validate_fairness.py [--scale small --seeds 0 1 2]

For each seed the market is generated twice, with the planted gender term and without it (same
seed: every other random draw unchanged). Truth: the realised gap, the mean over women of each
application outcome with the term minus without it (jobrec.fairness.realised_gap). Estimates: the
audit (double ML, 5 folds) on each market's applications. Reported per seed and outcome: the
realised gap, θ with its 95% interval, whether it covers the truth, the half-width as a share of
the gap, and θ on the market without the term (whose interval should cover 0). The planted term
acts on wage and hours (the outcomes the criteria are about); contract and distance carry none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from jobrec import audit
from jobrec.synth import generate

END = dt.date(2026, 11, 27)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    print(
        "| seed | outcome | realised | θ | 95% interval | covers | half-width / gap | "
        "θ without the term | covers 0 |"
    )
    print("|---|---|---:|---:|---|---|---:|---:|---|")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            dirs = {}
            for effect in (1.0, 0.0):
                dirs[effect] = Path(tmp) / f"effect_{effect}"
                generate(
                    args.scale,
                    dirs[effect],
                    seed=seed,
                    end_date=END,
                    gender_effect=effect,
                    progress=False,
                )
            truth = audit.realised_gap(dirs[1.0], dirs[0.0])
            t0 = time.perf_counter()
            on = {r["outcome"]: r for r in audit.audit(*audit.raw_application_outcomes(dirs[1.0]))}
            off = {r["outcome"]: r for r in audit.audit(*audit.raw_application_outcomes(dirs[0.0]))}
            seconds = time.perf_counter() - t0
        for o in audit.OUTCOMES:
            r, z = on[o], off[o]
            covers = r["ci_low"] <= truth[o] <= r["ci_high"]
            half = (r["ci_high"] - r["ci_low"]) / 2 / abs(truth[o])
            print(
                f"| {seed} | {o} | {truth[o]:.4f} | {r['gap']:.4f} | [{r['ci_low']:.4f}, "
                f"{r['ci_high']:.4f}] | {'yes' if covers else 'no'} | {half:.2f} | "
                f"{z['gap']:.4f} [{z['ci_low']:.4f}, {z['ci_high']:.4f}] | "
                f"{'yes' if z['ci_low'] <= 0 <= z['ci_high'] else 'no'} |"
            )
        print(
            f"(seed {seed}: n = {on['log_wage']['n']} seekers, {on['log_wage']['left_out']} "
            f"left out; both audits {seconds:.0f} s)"
        )


if __name__ == "__main__":
    main()
