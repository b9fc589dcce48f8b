"""Figures drawn off-screen (PNG files) and their previews in Dagster metadata: the helpers every
stage's plots share. The PNG files are the record; the UI cannot fetch a local file, so the
report's metadata inlines small previews (900 px wide, 64 colours: ~100 KB a night in the event
log for the three plots, against 277 KB for the full PNGs)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the batch machines
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["markdown_with_previews", "plt", "save_figure"]
PREVIEW_WIDTH = 900
PREVIEW_COLOURS = 64


def save_figure(fig, path: Path) -> Path:
    """Write the figure atomically (a reader never sees half a PNG) and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def preview_uri(path: Path) -> str:
    """A small PNG preview of the image as a data URI (what Dagster's Markdown can show)."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        if rgb.width > PREVIEW_WIDTH:
            height = round(rgb.height * PREVIEW_WIDTH / rgb.width)
            rgb = rgb.resize((PREVIEW_WIDTH, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        rgb.quantize(PREVIEW_COLOURS).save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def markdown_with_previews(text: str, folder: Path) -> str:
    """Markdown whose images link files relative to `folder` (right for the file on disk), with
    each link replaced by the image's preview, so that the Dagster UI shows it."""

    def inline(match: re.Match) -> str:
        alt, target = match.group(1), match.group(2)
        path = Path(folder) / target
        if "://" in target or target.startswith("data:") or not path.is_file():
            return match.group(0)
        return f"![{alt}]({preview_uri(path)})"

    return re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", inline, text)
