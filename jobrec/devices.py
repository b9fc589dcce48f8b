"""Where torch runs: chosen once, here."""

from __future__ import annotations

import torch

CPU = torch.device("cpu")


def pick_device(prefer: str | None = None) -> torch.device:
    """The one place that chooses where torch runs: a GPU when present, else the CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
