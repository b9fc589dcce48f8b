"""Figures of the nightly report (PNG files), drawn off-screen."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the batch machines
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def tradeoff_plot(curve: pd.DataFrame, path: Path) -> Path:
    """Recall@100 against Congestion@100 of the OT grid (one line per (τ, α), ε labelled), Muse.2's
    lists as the reference point, the recall floor dashed and the chosen point circled."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    base = curve[curve["model"] == "muse2"].iloc[0]
    ot = curve[curve["model"] == "ot"]
    for (tau, alpha), group in ot.groupby(["tau", "alpha"]):
        group = group.sort_values("epsilon")
        ax.plot(group["congestion_at_100"], group["recall_at_100"], marker="o",
                label=f"OT, τ = {tau:g}, α = {alpha:g}")  # fmt: skip
        for r in group.itertuples():
            ax.annotate(f"ε={r.epsilon:g}", (r.congestion_at_100, r.recall_at_100), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.scatter([base["congestion_at_100"]], [base["recall_at_100"]], marker="s", color="black",
               label="Muse.2", zorder=3)  # fmt: skip
    chosen = curve[curve["chosen"]]
    if len(chosen):
        ax.scatter(chosen["congestion_at_100"], chosen["recall_at_100"], s=160,
                   facecolors="none", edgecolors="red", label="chosen", zorder=4)  # fmt: skip
    ax.axhline(0.95 * base["recall_at_100"], color="grey", linestyle="--", linewidth=1,
               label="95% of Muse.2's recall")  # fmt: skip
    ax.set_xlabel("Congestion@100 (-1: perfectly spread)")
    ax.set_ylabel("Recall@100, applications (validation)")
    ax.set_title("Redistribution: recall against congestion")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def markdown_image(path: Path, alt: str) -> str:
    """The PNG inlined in Markdown (Dagster's UI renders it in the asset's metadata)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"
