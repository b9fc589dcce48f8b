"""python -m jobrec.synth --scale small --out DIR --seed N [--end-date D] [--days 90]"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from jobrec.synth import SCALES, generate


def format_summary(summary: dict) -> str:
    lines = [f"synthetic market {summary['scale']} (seed {summary['seed']}), "
             f"{summary['start_date']} .. {summary['end_date']}"]  # fmt: skip
    for key in ("seekers", "ads", "applications", "applications_organic",
                "applications_recommendation", "hires", "sends", "applications_per_ad_gini",
                "applications_drawn", "share_within_mobility", "hires_per_application",
                "unsubscribe_rate",
                "seconds", "peak_rss_mb"):  # fmt: skip
        value = summary[key]
        lines.append(f"  {key:<30}{value:>14,}" if isinstance(value, int)
                     else f"  {key:<30}{value:>14}")  # fmt: skip
    lines.append(
        f"  occupation match shares        {json.dumps(summary['occupation_match_share'])}"
    )
    lines.append(f"  gender gap (F - M), raw        {json.dumps(summary['gender_gap_raw'])}")
    lines.append(
        f"  gender gap within family       {json.dumps(summary['gender_gap_within_family'])}"
    )
    lines.append("  funnel by occupation family (segment):")
    lines.append(f"    {'family':<8}{'sends':>9}{'response':>10}{'apply|resp':>11}"
                 f"{'pos|apply':>10}{'unsub':>9}{'neg ratio':>10}")  # fmt: skip
    for fam, f in summary["funnel_by_family"].items():
        lines.append(
            f"    {fam:<8}{f['sends']:>9,}{f['response_rate'] or 0:>10.3f}"
            f"{f['apply_per_response']:>11.3f}{f['positive_per_apply']:>10.3f}"
            f"{(f['unsubscribe_rate'] or 0) * 100:>8.3f}%{f['negative_ratio']:>10.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the synthetic labour market.")
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--out", default="data/raw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--end-date", type=dt.date.fromisoformat, default=None,
                        help="last day of the timeline (default: yesterday, UTC)")  # fmt: skip
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--gender-effect", type=float, default=1.0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    summary = generate(args.scale, args.out, args.seed, args.end_date, args.days,
                       args.gender_effect, progress=not args.no_progress)  # fmt: skip
    print(format_summary(summary))


if __name__ == "__main__":
    main()
