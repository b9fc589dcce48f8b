"""python -m jobrec.synth --scale small --out DIR --seed N [--end-date D] [--days 90]
[--gender-effect 1.0] [--no-progress] [--oracle-days D ...]"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from jobrec.synth import SCALES, behaviour, generate

COUNTS = (
    "seekers",
    "ads",
    "applications",
    "applications_organic",
    "applications_recommendation",
    "hires",
    "sends",
    "organic_draws",
    "applications_per_seeker",
    "applications_per_10_active_days",
    "hires_per_seeker",
    "hires_per_application",
    "applications_per_ad_gini",
    "share_within_mobility",
    "unsubscribe_rate",
    "negative_ratio",
    "seconds",
    "peak_rss_mb",
)


def format_summary(summary: dict) -> str:
    lines = [
        f"synthetic market {summary['scale']} (seed {summary['seed']}, gender effect "
        f"{summary['gender_effect']}), {summary['start_date']} .. {summary['end_date']}"
    ]
    for key in COUNTS:
        value = summary[key]
        lines.append(
            f"  {key:<32}{value:>12,}" if isinstance(value, int) else f"  {key:<32}{value:>12}"
        )
    for key, title in (
        ("occupation_match_share", "occupation match shares"),
        ("gender_gap_raw", "gender gap F - M, raw"),
        ("gender_gap_within_family", "gender gap, family FE"),
        ("gender_gap_conditional", "gender gap, search params"),
    ):
        lines.append(f"  {title:<32}{json.dumps(summary[key])}")
    lines.append("  funnel by occupation family (segment):")
    lines.append(
        f"    {'family':<8}{'sends':>9}{'response':>10}{'apply|resp':>11}"
        f"{'pos|apply':>10}{'unsub':>9}{'neg ratio':>10}"
    )
    for fam, f in summary["funnel_by_family"].items():
        lines.append(
            f"    {fam:<8}{f['sends']:>9,}{f['response_rate'] or 0:>10.3f}"
            f"{f['apply_per_response']:>11.3f}{f['positive_per_apply']:>10.3f}"
            f"{(f['unsubscribe_rate'] or 0) * 100:>8.3f}%{f['negative_ratio']:>10.3f}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Generate the synthetic labour market.")
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--out", default="data/raw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=None,
        help="last day of the timeline (default: yesterday, UTC)",
    )
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--gender-effect", type=float, default=1.0)
    parser.add_argument(
        "--market",
        choices=list(behaviour.MARKETS),
        default=None,
        help="harder: employer effects, fresh ads and seekers, career changers (issue 17); "
        "default the scale's: harder, standard at tiny",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--oracle-days",
        nargs="*",
        type=dt.date.fromisoformat,
        default=None,
        help="partitions whose oracle rankings are written (default: the day after the end)",
    )
    args = parser.parse_args(argv)
    summary = generate(
        args.scale,
        args.out,
        args.seed,
        args.end_date,
        args.days,
        args.gender_effect,
        progress=not args.no_progress,
        oracle_days=args.oracle_days,
        market=args.market,
    )
    print(format_summary(summary))


if __name__ == "__main__":
    main()
