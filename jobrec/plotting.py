"""Figures drawn off-screen (PNG files) and their inlining in Dagster metadata: the helpers every
stage's plots share."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the batch machines
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["markdown_image", "plt", "save_figure"]


def save_figure(fig, path: Path) -> Path:
    """Write the figure atomically (a reader never sees half a PNG) and free it."""
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
