"""Labels and free texts from templates that carry occupation and skill words (vectorised with
pyarrow string kernels: no Python loop over entities)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROLES = np.array([
    "agent", "technician", "assistant", "driver", "manager", "operator", "officer", "worker",
    "seller", "nurse", "engineer", "cook", "clerk", "installer", "advisor", "inspector",
])  # fmt: skip
SYLLABLES = np.array([
    "ba", "ca", "da", "fe", "ge", "ha", "ji", "ka", "lo", "ma", "ne", "po", "qua", "ri", "sa",
    "ta", "vi", "wo", "xe", "zu", "bri", "cla", "dro", "fle", "gra", "pli", "sto", "tri",
])  # fmt: skip


def pseudo_words(rng: np.random.Generator, n: int, syllables: int = 3) -> np.ndarray:
    parts = SYLLABLES[rng.integers(0, len(SYLLABLES), (n, syllables))]
    words = parts[:, 0].astype(object)
    for k in range(1, syllables):  # a loop over syllables, not entities
        words = words + parts[:, k]
    return words.astype(str)


def occupation_labels(rng, n: int) -> np.ndarray:
    return np.char.add(np.char.add(ROLES[rng.integers(0, len(ROLES), n)], " of "),
                       pseudo_words(rng, n))  # fmt: skip


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _skill_names(skill_labels: np.ndarray, skills: np.ndarray, k: int) -> list[pa.Array]:
    """The labels of the first k skills of each row ('' where there are fewer)."""
    cols = []
    for i in range(k):
        idx = skills[:, i]
        cols.append(pa.array(np.where(idx >= 0, skill_labels[np.maximum(idx, 0)], "")))
    return cols


def seeker_profiles(rng, occ_label, skill_labels, skills, experience) -> pa.Array:
    s1, s2, s3 = _skill_names(skill_labels, skills, 3)
    exp = pc.cast(pa.array(np.rint(experience).astype(np.int64)), pa.string())
    templates = [
        _join("Looking for a job as ", occ_label, ". ", exp, " years of experience. Skills: ",
              s1, ", ", s2, ", ", s3, "."),
        _join(occ_label, " with ", exp, " years of experience, good at ", s1, " and ", s2, "."),
        _join("Experienced in ", s1, ", ", s2, ". Wants to work as ", occ_label, "."),
    ]  # fmt: skip
    return pc.choose(pa.array(rng.integers(0, len(templates), len(occ_label))), *templates)


def ad_titles(rng, occ_label, contract) -> pa.Array:
    templates = [
        _join(occ_label, " (", contract, ")"),
        _join("We are hiring: ", occ_label),
        _join(occ_label, " - ", contract, " position"),
    ]
    return pc.choose(pa.array(rng.integers(0, len(templates), len(occ_label))), *templates)


def ad_descriptions(rng, occ_label, skill_labels, skills, hours, wage) -> pa.Array:
    s1, s2, s3 = _skill_names(skill_labels, skills, 3)
    h = pc.cast(pa.array(hours.astype(np.int64)), pa.string())
    w = pc.cast(pa.array(wage.astype(np.int64)), pa.string())
    templates = [
        _join("Our team needs a ", occ_label, ". Required skills: ", s1, ", ", s2, ", ", s3,
              ". ", h, " hours a week, ", w, " EUR a month."),
        _join("As ", occ_label, " you will use ", s1, " and ", s2, ". ", h, " h/week."),
        _join("Join us as ", occ_label, "! Ideally you know ", s1, ". Salary ", w, " EUR."),
    ]  # fmt: skip
    return pc.choose(pa.array(rng.integers(0, len(templates), len(occ_label))), *templates)
