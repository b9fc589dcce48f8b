"""The redistribution's figure: the OT trade-off curve of the night."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobrec.plotting import plt, save_figure


def tradeoff_plot(curve: pd.DataFrame, path: Path) -> Path:
    """Recall@100 against Congestion@100 of the OT grid (one line per (τ, α), ε labelled), Muse.2's
    lists as the reference point, the recall floor dashed and the chosen point circled."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    base = curve[curve["model"] == "muse2"].iloc[0]
    ot = curve[curve["model"] == "ot"]
    for (tau, alpha), group in ot.groupby(["tau", "alpha"]):
        group = group.sort_values("epsilon")
        ax.plot(
            group["congestion_at_100"],
            group["recall_at_100"],
            marker="o",
            label=f"OT, τ = {tau:g}, α = {alpha:g}",
        )
        for r in group.itertuples():
            ax.annotate(
                f"ε={r.epsilon:g}",
                (r.congestion_at_100, r.recall_at_100),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.scatter(
        [base["congestion_at_100"]],
        [base["recall_at_100"]],
        marker="s",
        color="black",
        label="Muse.2",
        zorder=3,
    )
    chosen = curve[curve["chosen"]]
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
        0.95 * base["recall_at_100"],
        color="grey",
        linestyle="--",
        linewidth=1,
        label="95% of Muse.2's recall",
    )
    ax.set_xlabel("Congestion@100 (-1: perfectly spread)")
    ax.set_ylabel("Recall@100, applications (validation)")
    ax.set_title("Redistribution: recall against congestion")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
