"""Labels and free texts from templates that carry occupation and skill words (vectorised with
pyarrow string kernels: no Python loop over entities).

Every code, domain and skill gets a distinct pseudo-word of three syllables; an occupation's
label is its code word and a role ("brivita technician"); texts name the occupation label, the
domain word (ads), some of the entity's skills, and a filler phrase (noise).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROLES = np.array(
    [
        "agent",
        "technician",
        "assistant",
        "driver",
        "manager",
        "operator",
        "officer",
        "worker",
        "seller",
        "nurse",
        "engineer",
        "cook",
        "clerk",
        "installer",
        "advisor",
        "inspector",
    ]
)
SYLLABLES = np.array(
    [
        "ba",
        "ca",
        "da",
        "fe",
        "ge",
        "ha",
        "ji",
        "ka",
        "lo",
        "ma",
        "ne",
        "po",
        "qua",
        "ri",
        "sa",
        "ta",
        "vi",
        "wo",
        "xe",
        "zu",
        "bri",
        "cla",
        "dro",
        "fle",
        "gra",
        "pli",
        "sto",
        "tri",
    ]
)
FILLERS = np.array(
    [
        "",
        "",
        "Available immediately.",
        "Motivated and reliable.",
        "Driving licence.",
        "Team player.",
        "Flexible hours possible.",
        "Dynamic team.",
        "Training provided.",
        "Urgent.",
        "Good benefits.",
        "",
    ]
)


@dataclasses.dataclass
class Vocabulary:
    occupation: np.ndarray  # label per code
    domain: np.ndarray  # word per domain
    skill: np.ndarray  # word per skill


def vocabulary(rng, n_codes: int, n_domains: int, n_skills: int) -> Vocabulary:
    k = len(SYLLABLES)
    idx = rng.choice(k**3, n_codes + n_domains + n_skills, replace=False)  # distinct words
    words = np.char.add(
        np.char.add(SYLLABLES[idx // (k * k)], SYLLABLES[idx // k % k]), SYLLABLES[idx % k]
    )
    roles = ROLES[rng.integers(0, len(ROLES), n_codes)]
    return Vocabulary(
        occupation=np.char.add(np.char.add(words[:n_codes], " "), roles),
        domain=words[n_codes : n_codes + n_domains],
        skill=words[n_codes + n_domains :],
    )


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _skill_names(skill_labels: np.ndarray, skills: np.ndarray, k: int) -> list[pa.Array]:
    """The labels of k skills of each row taken in a random order ('' where there are fewer)."""
    cols = []
    for i in range(k):  # a loop over k columns, not over entities
        idx = skills[:, i]
        cols.append(pa.array(np.where(idx >= 0, skill_labels[np.maximum(idx, 0)], "")))
    return cols


def _shuffle_rows(rng, skills: np.ndarray) -> np.ndarray:
    """Each row's valid skills in a random order, padding (-1) last."""
    keys = np.where(skills >= 0, rng.random(skills.shape), 2.0)
    return np.take_along_axis(skills, np.argsort(keys, axis=1), axis=1)


def _choose(rng, templates: list[pa.Array], n: int) -> pa.Array:
    return pc.choose(pa.array(rng.integers(0, len(templates), n)), *templates)


def _filler(rng, n: int) -> pa.Array:
    return pa.array(FILLERS[rng.integers(0, len(FILLERS), n)])


def seeker_profiles(
    rng, occ_label, skill_labels, skills, experience, part_time, also_said=None
) -> pa.Array:
    """Profile texts; `also_said` (strings, "" for none) is appended to the search parameters'
    sentence (a career changer's target, in the harder market)."""
    n = len(occ_label)
    s1, s2, s3, s4 = _skill_names(skill_labels, _shuffle_rows(rng, skills), 4)
    exp = pc.cast(pa.array(np.rint(experience).astype(np.int64)), pa.string())
    # part-time desire is a search parameter: said in most profiles of those who want it
    pt = pa.array(np.where(part_time & (rng.random(n) < 0.9), " Part-time wanted.", ""))
    if also_said is not None:
        pt = pc.binary_join_element_wise(pt, pa.array(also_said, pa.string()), "")
    fill = _filler(rng, n)
    templates = [
        _join(
            "Looking for a job as ",
            occ_label,
            ". ",
            exp,
            " years of experience. Skills: ",
            s1,
            ", ",
            s2,
            ", ",
            s3,
            ".",
            pt,
            " ",
            fill,
        ),
        _join(
            occ_label,
            " with ",
            exp,
            " years of experience, good at ",
            s1,
            " and ",
            s2,
            ".",
            pt,
            " ",
            fill,
        ),
        _join("Experienced in ", s1, ", ", s2, ", ", s4, ". Wants to work as ", occ_label, ".", pt),
        _join(fill, " ", occ_label, ". ", s1, " / ", s2, " / ", s3, " / ", s4, ".", pt),
    ]
    return pc.utf8_trim_whitespace(_choose(rng, templates, n))


def ad_titles(rng, occ_label, contract) -> pa.Array:
    templates = [
        _join(occ_label, " (", contract, ")"),
        _join("We are hiring: ", occ_label),
        _join(occ_label, " - ", contract, " position"),
        _join(pc.utf8_upper(occ_label), " wanted"),
    ]
    return _choose(rng, templates, len(occ_label))


def ad_descriptions(rng, occ_label, domain_word, skill_labels, skills, hours, wage) -> pa.Array:
    n = len(occ_label)
    s1, s2, s3 = _skill_names(skill_labels, _shuffle_rows(rng, skills), 3)
    h = pc.cast(pa.array(hours.astype(np.int64)), pa.string())
    w = pc.cast(pa.array(wage.astype(np.int64)), pa.string())
    fill = _filler(rng, n)
    templates = [
        _join(
            "Our ",
            domain_word,
            " team needs a ",
            occ_label,
            ". Required skills: ",
            s1,
            ", ",
            s2,
            ", ",
            s3,
            ". ",
            h,
            " hours a week, ",
            w,
            " EUR a month. ",
            fill,
        ),
        _join("As ", occ_label, " you will use ", s1, " and ", s2, ". ", h, " h/week. ", fill),
        _join(
            "Join us as ",
            occ_label,
            " in ",
            domain_word,
            "! Ideally you know ",
            s1,
            ". Salary ",
            w,
            " EUR.",
        ),
        _join(
            fill,
            " ",
            occ_label,
            " (",
            domain_word,
            "): ",
            s1,
            ", ",
            s2,
            ". ",
            w,
            " EUR, ",
            h,
            " h.",
        ),
    ]
    return pc.utf8_trim_whitespace(_choose(rng, templates, n))
