"""Operational alerts: one JSON line per alert in a log outside the warehouse (an alert never
waits for the warehouse's writer lock, and a failed night is not published), and a webhook call
when one is configured. Alerts carry run ids, partitions, step names and error lines, never a
personal field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import urllib.request
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Alert:
    kind: str  # run_failure | late
    summary: str  # one line a person reads first
    run_id: str | None = None
    partition: str | None = None
    steps: tuple[str, ...] = ()
    error: str = ""  # the error's first lines
    at: str = dataclasses.field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    def as_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def first_lines(text: str | None, lines: int = 5, width: int = 300) -> str:
    """The start of an error message: its first non-empty lines, each cut to `width`."""
    kept = [line[:width] for line in (text or "").splitlines() if line.strip()][:lines]
    return "\n".join(kept)


def append_alert(alerts_dir: Path, alert: Alert) -> Path:
    """Append the alert to `alerts_dir/alerts-<UTC day>.jsonl` (one line, flushed)."""
    alerts_dir = Path(alerts_dir)
    alerts_dir.mkdir(parents=True, exist_ok=True)
    path = alerts_dir / f"alerts-{alert.at[:10]}.jsonl"
    with open(path, "a", encoding="utf-8") as log:
        log.write(alert.as_json() + "\n")
    return path


def post_webhook(url: str, alert: Alert, timeout_s: float = 10.0) -> int:
    """POST the alert as JSON to `url`; returns the HTTP status (raises on a failed call)."""
    request = urllib.request.Request(
        url,
        data=alert.as_json().encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return response.status


def send_alert(alert: Alert, alerts_dir: Path, webhook: str | None) -> str | None:
    """Log the alert, then call the webhook when set. Returns the webhook's failure, if any
    (the line is written whatever the webhook does)."""
    append_alert(alerts_dir, alert)
    if not webhook:
        return None
    try:
        post_webhook(webhook, alert)
    except Exception as exc:  # an unreachable webhook must not hide the alert
        return f"webhook {webhook} failed: {exc}"
    return None
