"""The redistribution's figure: the OT trade-off curve of the night."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobrec.plotting import plt, save_figure


def _method_label(method: str, weight: float) -> str:
    """A curve row's method as a legend names it."""
    base, _, after = method.partition("+")
    name = "Muse.2" if base == "muse2" else f"Muse.2 ReCon λ={weight:g}"
    return f"{name} + OT" if after else name


def tradeoff_plot(curve: pd.DataFrame, path: Path, title: str | None = None) -> Path:
    """Recall@100 against Congestion@100 of the OT grid (one line per (τ, α), ε labelled), the
    lists before the redistribution as reference points (squares), the recall floor (95% of
    the first such point's recall) dashed and the chosen point circled. A curve of several
    methods (a benchmark's: plain and ReCon-trained Muse.2, `method` and `recon_weight`
    columns) gets a reference point and lines per method and λ."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    curve = curve.copy()
    if "method" not in curve:  # a curve from before issue 19: plain Muse.2 only
        curve["method"] = curve["model"].map({"muse2": "muse2"}).fillna("muse2+ot")
    if "recon_weight" not in curve:
        curve["recon_weight"] = 0.0
    bases = curve[curve["model"] == "muse2"]
    ot = curve[curve["model"] == "ot"]
    several = len(bases) > 1
    for (method, weight, tau, alpha), group in ot.groupby(
        ["method", "recon_weight", "tau", "alpha"], sort=False
    ):
        group = group.sort_values("epsilon")
        prefix = f"{_method_label(method, weight)}, " if several else "OT, "
        ax.plot(
            group["congestion_at_100"],
            group["recall_at_100"],
            marker="o",
            label=f"{prefix}τ = {tau:g}, α = {alpha:g}",
        )
        for r in group.itertuples():
            ax.annotate(
                f"ε={r.epsilon:g}",
                (r.congestion_at_100, r.recall_at_100),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    for i, r in enumerate(bases.itertuples()):
        ax.scatter(
            [r.congestion_at_100],
            [r.recall_at_100],
            marker="s",
            color="black" if i == 0 else None,
            label=_method_label(r.method, r.recon_weight),
            zorder=3,
        )
    chosen = curve[curve["chosen"].astype(bool)]
    if len(chosen):
        ax.scatter(
            chosen["congestion_at_100"],
            chosen["recall_at_100"],
            s=160,
            facecolors="none",
            edgecolors="red",
            label="chosen",
            zorder=4,
        )
    ax.axhline(
        0.95 * bases["recall_at_100"].iloc[0],
        color="grey",
        linestyle="--",
        linewidth=1,
        label=f"95% of {_method_label(bases['method'].iloc[0], bases['recon_weight'].iloc[0])}'s "
        "recall",
    )
    ax.set_xlabel("Congestion@100 (-1: perfectly spread)")
    ax.set_ylabel("Recall@100, applications (validation)")
    ax.set_title(title or "Redistribution: recall against congestion")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
