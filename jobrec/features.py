"""Seeker and ad preprocessing into dense vectors (~400-500 dimensions a side).

Fitted on the training window of a partition (vocabularies, scalers, the text model) and saved
with its schema; applied unchanged to any later rows. Gender is excluded by construction: the
transform reads only the columns listed in SEEKER_COLUMNS / AD_COLUMNS, and gender is not one.

Blocks (same layout for both sides, so that the two towers see comparable inputs):
  occupation   family one-hot (14), domain one-hot (training vocabulary), code hashed (128)
  skills       hashed multi-hot (128), L2-normalised
  numeric      standardised numbers (log wages, experience, education, ...)
  contract     one-hot (4)
  location     standardised lat/lon and 16 random Fourier features of them a scale (2 scales)
  text         TF-IDF of the free text reduced by truncated SVD (64)

Beside the dense vector, `indices` gives each row's department, occupation code and skills as
integer ids into vocabularies fitted on the same window (0 = unknown or padding), for the learned
embedding tables of the Muse.0 towers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from jobrec.data.contract import CONTRACTS

FAMILIES = tuple("ABCDEFGHIJKLMN")
CODE_BUCKETS, SKILL_BUCKETS, TEXT_DIMS, FOURIER = 128, 128, 64, 16
# The random Fourier features' frequency spreads: FOURIER features each. A spread of s gives a
# kernel of width ~1/s standard deviations of lat/lon (at `small`/`medium` 2 ~ 140 km, 8 ~ 35
# km). The second scale is the seekers' (mobility 5-150 km): at `medium` it raised Muse.0's
# Recall@10 by 8% and Recall@1000 from 0.9704 to 0.9722 (BENCHMARKS.md, issue 17)
FOURIER_SCALES = (2.0, 8.0)

# The only columns the transforms read. Gender is deliberately absent.
SEEKER_COLUMNS = {
    "occupation": "desired_occupation",
    "contract": "desired_contract",
    "text": "profile_text",
    "numeric": ("experience_years", "education_level", "desired_wage", "mobility_km", "birth_year"),
}
AD_COLUMNS = {
    "occupation": "occupation",
    "contract": "contract",
    "text": ("title", "description"),
    "numeric": (
        "required_experience_years",
        "required_education",
        "wage",
        "hours_per_week",
        "positions",
    ),
}
LOG_COLUMNS = {"desired_wage", "mobility_km", "wage", "positions"}


def _numeric(frame: pd.DataFrame, columns) -> np.ndarray:
    out = np.column_stack(
        [pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64) for c in columns]
    )
    for i, c in enumerate(columns):
        if c in LOG_COLUMNS:
            out[:, i] = np.log1p(np.maximum(out[:, i], 0))
    return out


def _text(frame: pd.DataFrame, columns) -> pd.Series:
    if isinstance(columns, str):
        return frame[columns].fillna("")
    first, *rest = columns  # joined by column, not row by row (a Python call per row)
    return frame[first].fillna("").str.cat([frame[c].fillna("") for c in rest], sep=" ")


def _one_hot(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    index = pd.Index(vocabulary).get_indexer(values.fillna(""))
    out = np.zeros((len(values), len(vocabulary)), dtype=np.float32)
    rows = np.flatnonzero(index >= 0)
    out[rows, index[rows]] = 1.0
    return out


def _vocabulary(values: pd.Series) -> pd.Index:
    return pd.Index(sorted(values.dropna().astype(str).unique()))


@dataclasses.dataclass
class FittedSide:
    """The fitted state of one side (seekers or ads)."""

    columns: dict
    scaler: StandardScaler
    medians: np.ndarray


class FeatureSpace:
    """Fit on training-window seekers and ads; transform any seekers/ads into float32 vectors."""

    def __init__(self, seed: int = 0, fourier_scales: tuple[float, ...] = FOURIER_SCALES):
        self.seed = seed
        self.fourier_scales = tuple(fourier_scales)
        self.code_hasher = FeatureHasher(CODE_BUCKETS, input_type="string", alternate_sign=False)
        self.skill_hasher = FeatureHasher(SKILL_BUCKETS, input_type="string", alternate_sign=False)

    # -- fitting --------------------------------------------------------------------------
    def fit(self, seekers: pd.DataFrame, ads: pd.DataFrame) -> FeatureSpace:
        occupations = pd.concat(
            [seekers[SEEKER_COLUMNS["occupation"]], ads[AD_COLUMNS["occupation"]]]
        )
        self.domains = tuple(sorted(occupations.str[:3].dropna().unique()))
        texts = pd.concat([_text(seekers, SEEKER_COLUMNS["text"]), _text(ads, AD_COLUMNS["text"])])
        self.tfidf = TfidfVectorizer(max_features=5000, min_df=2, sublinear_tf=True)
        tf = self.tfidf.fit_transform(texts)
        self.svd = TruncatedSVD(min(TEXT_DIMS, max(1, tf.shape[1] - 1)), random_state=self.seed)
        self.svd.fit(tf)
        lat_lon = np.vstack(
            [
                seekers[["latitude", "longitude"]].to_numpy(float),
                ads[["latitude", "longitude"]].to_numpy(float),
            ]
        )
        self.geo_scaler = StandardScaler().fit(lat_lon)
        rng = np.random.default_rng(self.seed)
        # FOURIER // 2 frequencies a scale; frequencies in units of the standardised lat/lon
        self.fourier_w = np.hstack(
            [rng.normal(0, scale, (2, FOURIER // 2)) for scale in self.fourier_scales]
        )
        self.sides = {
            "seekers": self._fit_side(seekers, SEEKER_COLUMNS),
            "ads": self._fit_side(ads, AD_COLUMNS),
        }
        skills = pd.concat([seekers["skills"], ads["skills"]]).explode().dropna()
        self.vocab = {
            "department": _vocabulary(pd.concat([seekers["department"], ads["department"]])),
            "occupation": _vocabulary(occupations),
            "skill": _vocabulary(skills),
        }
        return self

    @staticmethod
    def _fit_side(frame: pd.DataFrame, columns: dict) -> FittedSide:
        num = _numeric(frame, columns["numeric"])
        medians = np.nan_to_num(np.nanmedian(num, axis=0))
        num = np.where(np.isnan(num), medians, num)
        return FittedSide(columns, StandardScaler().fit(num), medians)

    # -- transforming ---------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, side: str) -> np.ndarray:
        s = self.sides[side]
        if not len(frame):  # a day without active rows (the hashers refuse empty input)
            return np.zeros((0, self.dims), dtype=np.float32)
        occ = frame[s.columns["occupation"]].fillna("")
        skills = frame["skills"].apply(lambda v: [] if v is None else list(v))
        skill_mat = self.skill_hasher.transform(skills).toarray()
        norms = np.linalg.norm(skill_mat, axis=1, keepdims=True)
        num = _numeric(frame, s.columns["numeric"])
        num = np.where(np.isnan(num), s.medians, num)
        geo = self.geo_scaler.transform(frame[["latitude", "longitude"]].to_numpy(float))
        phase = geo @ self.fourier_w
        blocks = [
            _one_hot(occ.str[:1], FAMILIES),
            _one_hot(occ.str[:3], self.domains),
            self.code_hasher.transform(occ.map(lambda c: [c])).toarray(),
            skill_mat / np.maximum(norms, 1e-12),
            s.scaler.transform(num),
            _one_hot(frame[s.columns["contract"]], CONTRACTS),
            geo,
            np.sin(phase),
            np.cos(phase),
            self.svd.transform(self.tfidf.transform(_text(frame, s.columns["text"]))),
        ]
        return np.hstack(blocks).astype(np.float32)

    def indices(self, frame: pd.DataFrame, side: str) -> dict[str, np.ndarray]:
        """Vocabulary ids (0 = unknown): department (N,), occupation (N,), skills (N, max_len)
        padded with 0."""
        occupation = frame[self.sides[side].columns["occupation"]]
        lists = frame["skills"].apply(lambda v: [] if v is None else list(v))
        lengths = lists.map(len).to_numpy(dtype=np.int64)
        width = max(1, int(lengths.max(initial=0)))
        flat = (
            self.vocab["skill"].get_indexer(
                np.concatenate(
                    [np.array([""], dtype=object), *[np.asarray(v, object) for v in lists]]
                )[1:]
            )
            + 1
        )
        skills = np.zeros((len(frame), width), dtype=np.int64)
        rows = np.repeat(np.arange(len(frame)), lengths)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        skills[rows, cols] = flat
        return {
            "department": self.vocab["department"].get_indexer(frame["department"]) + 1,
            "occupation": self.vocab["occupation"].get_indexer(occupation) + 1,
            "skills": skills,
        }

    def unknown_share(self, frame: pd.DataFrame, side: str) -> float:
        """Share of `frame`'s rows the space knows only in part: an occupation domain, an
        occupation, a department or a skill it was not fitted on (the drift a reused space
        is refitted on)."""
        if not len(frame):
            return 0.0
        ids = self.indices(frame, side)
        occupation = frame[self.sides[side].columns["occupation"]].fillna("")
        lists = frame["skills"].apply(lambda v: [] if v is None else list(v)).map(len)
        known_skills = (ids["skills"] > 0).sum(axis=1)
        unknown = (
            ~occupation.str[:3].isin(self.domains).to_numpy()
            | (ids["occupation"] == 0)
            | (ids["department"] == 0)
            | (known_skills < lists.to_numpy())
        )
        return float(unknown.mean())

    def vocab_sizes(self) -> dict[str, int]:
        """Table sizes, the unknown/padding id 0 included."""
        return {name: len(v) + 1 for name, v in self.vocab.items()}

    def schema(self) -> dict:
        """Names and widths of the blocks, and the columns each side reads."""
        return {
            "blocks": {
                "family": len(FAMILIES),
                "domain": len(self.domains),
                "code": CODE_BUCKETS,
                "skills": SKILL_BUCKETS,
                "numeric": len(SEEKER_COLUMNS["numeric"]),
                "contract": len(CONTRACTS),
                "latlon": 2,
                "fourier": 2 * self.fourier_w.shape[1],
                "text": self.svd.n_components,
            },
            "seekers": SEEKER_COLUMNS,
            "ads": AD_COLUMNS,
            "vocabularies": self.vocab_sizes(),
        }

    def block_columns(self, name: str) -> slice:
        """The columns of block `name` (a key of the schema's blocks) in the dense vectors."""
        start = 0
        for block, width in self.schema()["blocks"].items():
            if block == name:
                return slice(start, start + width)
            start += width
        raise KeyError(name)

    @property
    def dims(self) -> int:
        return int(sum(self.schema()["blocks"].values()))

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, folder / "features.joblib")
        (folder / "features_schema.json").write_text(json.dumps(self.schema(), indent=2))

    @staticmethod
    def load(folder: str | Path) -> FeatureSpace:
        return joblib.load(Path(folder) / "features.joblib")
