"""The project's settings: paths and knobs from environment variables, with defaults under the
project's data/ folder. The Dagster resource wraps this object as it is (assets.resources).
Each stage's own tunables are a frozen dataclass in its package (`SETTINGS`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from jobrec.data.arrival import parse_tolerances

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"


def _date(var: str) -> dt.date | None:
    value = os.environ.get(var)
    return dt.date.fromisoformat(value) if value else None


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def _flag(var: str) -> bool:
    value = os.environ.get(var, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{var}={value!r}: expected 1/true/yes or 0/false/no")


def _non_negative(var: str) -> float:
    """A number ≥ 0 from the environment (unset or empty: 0)."""
    text = os.environ.get(var, "").strip()
    try:
        value = float(text or 0.0)
    except ValueError:
        raise ValueError(f"{var}={text!r}: expected a number ≥ 0") from None
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{var}={text!r}: expected a number ≥ 0")
    return value


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path
    models_dir: Path
    published: Path
    reports_dir: Path
    outbox_dir: Path  # the send lists handed to the mailing system (jobrec.send.outbox)
    alerts_dir: Path  # the operational alerts' log (jobrec.alerts), outside the warehouse
    start_date: dt.date | None  # the first daily partition; None: the raw files' first day
    retention_days: int
    # nights whose big intermediates are kept, tonight included: the Parquet lists
    # (recs.candidates, recs.reranked) and the model store's caches (jobrec.data.model_store)
    intermediate_nights: int = 1
    # the redistribution's edge cost (neglogp, linear or rank); None: the stage's default
    ot_cost: str | None = None
    # where alerts are also POSTed as JSON (JOBREC_ALERT_WEBHOOK); None: the log only
    alert_webhook: str | None = None
    # days each raw input may lag D - 1 (jobrec.data.arrival); unset inputs: their history's
    input_tolerances: dict[str, int] = dataclasses.field(default_factory=dict)
    # whose lists XGBoost reranks into recs.reranked (jobrec.rerank.xgboost_seekers): nobody's
    # (`evaluation`: the evaluation scores the lists it compares on) or every seeker's (`all`)
    xgboost_scope: str = "evaluation"
    # refit the feature space and train every model from scratch tonight, whatever the day
    # (JOBREC_FULL_RETRAIN=1); otherwise weekly, or on vocabulary drift
    full_retrain: bool = False
    # width of Muse.1/2's per-pair MLP over the pair features (JOBREC_PAIR_HIDDEN, issue 17);
    # 0: none, the factored model's pair term stays linear
    pair_hidden: int = 0
    # λ of Muse.2's ReCon congestion term (JOBREC_RECON_WEIGHT, issue 19; jobrec.recon);
    # 0: off, Muse.2 trains on its ranking losses alone
    recon_weight: float = 0.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            raw_dir=_path("JOBREC_RAW_DIR", DATA_DIR / "raw"),
            warehouse=_path("JOBREC_WAREHOUSE", DATA_DIR / "warehouse" / "jobrec.duckdb"),
            models_dir=_path("JOBREC_MODELS_DIR", DATA_DIR / "models"),
            published=_path("JOBREC_PUBLISHED", DATA_DIR / "published" / "jobrec.duckdb"),
            reports_dir=_path("JOBREC_REPORTS_DIR", DATA_DIR / "reports"),
            outbox_dir=_path("JOBREC_OUTBOX_DIR", DATA_DIR / "outbox"),
            alerts_dir=_path("JOBREC_ALERTS_DIR", DATA_DIR / "alerts"),
            alert_webhook=os.environ.get("JOBREC_ALERT_WEBHOOK") or None,
            start_date=_date("JOBREC_START_DATE"),
            # Large per-partition snapshots (clean tables, candidates) keep this many days; 0 = all.
            retention_days=int(os.environ.get("JOBREC_RETENTION_DAYS", "7")),
            # Tonight's big lists and caches are rebuilt by a re-run; 0 keeps all.
            intermediate_nights=int(os.environ.get("JOBREC_INTERMEDIATE_NIGHTS", "1")),
            # The redistribution's edge cost from the Muse.2 score: neglogp, linear or rank.
            ot_cost=os.environ.get("JOBREC_OT_COST") or None,
            input_tolerances=parse_tolerances(os.environ.get("JOBREC_INPUT_TOLERANCE_DAYS")),
            # XGBoost is the comparison, never sent: by default it scores only the lists the
            # evaluation compares it on; `all` scores every candidate pair (30-50 min at pes).
            xgboost_scope=os.environ.get("JOBREC_XGBOOST_SCOPE") or "evaluation",
            full_retrain=_flag("JOBREC_FULL_RETRAIN"),
            pair_hidden=int(os.environ.get("JOBREC_PAIR_HIDDEN") or 0),
            recon_weight=_non_negative("JOBREC_RECON_WEIGHT"),
        )
