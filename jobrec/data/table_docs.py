"""What every warehouse table and column means, for analysts: one source for the DuckDB comments
of the published copy (`apply_comments`) and the README's table reference (`readme_reference`;
`python -m jobrec.data.table_docs` rewrites it in README.md).

DuckDB 2.0.0, as checked: `COPY FROM DATABASE` keeps table and column comments, and `COMMENT ON`
works on an attached catalog (catalog.schema.table). On a view (e.g. over Parquet files) COMMENT
ON VIEW / TABLE / COLUMN all work: the view's comment is in `duckdb_views()` (not
`duckdb_tables()`), its columns' in `duckdb_columns()`; `CREATE OR REPLACE VIEW` drops them, so
apply the comments again after (re)creating a view. `apply_comments` covers tables and views.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb

README = Path(__file__).resolve().parents[2] / "README.md"
README_START = "<!-- table-reference:start -->"
README_END = "<!-- table-reference:end -->"


@dataclasses.dataclass(frozen=True)
class TableDoc:
    description: str
    columns: dict[str, str]  # column -> description, in the table's column order


RUN_DATE = "The partition D: the night the row belongs to (the world as known at the start of D)."
SEEKER_ID = "The job seeker (`clean.jobseekers`)."
AD_ID = "The job ad (`clean.job_ads`)."
OCCUPATION_CODE = "a ROME-like code (family letter A-N, two-digit domain, two-digit code: K2204)"
CONTRACTS = "permanent, fixed_term, temp or other"
APPLIED_AT = "When the seeker applied (timestamp with time zone)."
CHANNEL = (
    "How the seeker came to the ad: `recommendation` (a sent recommendation) or `organic` "
    "(own search; also when the raw file leaves it empty)."
)
HIRED_AT = "When the seeker was hired on the ad (timestamp with time zone)."
FORWARD_SEEKER_ID = "The job seeker (known in the raw files)."
FORWARD_AD_ID = "The job ad (known in the raw files)."
HOLDOUT_WEEK = "the held-out week [D - 7, D)"


def _delta(metric: str, window: str = "the tuning window") -> str:
    return f"Relative change of {metric} against the defaults on {window}: x / x_default - 1."


TABLES: dict[str, TableDoc] = {
    "clean.jobseekers": TableDoc(
        "Every seeker registered before `run_date`, as known at the start of that day, typed and "
        "deduplicated; `active` marks those still registered. A view of `store.jobseekers`.",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": "The seeker's id.",
            "registered_on": "Day the seeker registered with the employment service.",
            "exited_on": "Day the seeker left the register; NULL while registered, and for an exit "
            "on or after `run_date` (not known yet that night).",
            "gender": "F, M, X or NULL. Read only by the fairness audit, never a model feature.",
            "birth_year": "Year of birth.",
            "education_level": "Education level, 0 (lowest) to 8 (highest).",
            "experience_years": "Years of work experience.",
            "desired_occupation": f"Occupation sought: {OCCUPATION_CODE}.",
            "desired_contract": f"Contract sought: {CONTRACTS}.",
            "desired_wage": "Wage sought, EUR a month.",
            "mobility_km": "How far from home the seeker will work, km.",
            "latitude": "Home latitude, degrees.",
            "longitude": "Home longitude, degrees.",
            "department": "Administrative department of the home (a code such as `75`).",
            "skills": "The seeker's skill codes, sorted and deduplicated (empty when none).",
            "profile_text": "Free-text profile.",
            "active": "Registered on `run_date` (no exit known before it).",
        },
    ),
    "clean.job_ads": TableDoc(
        "Every ad posted before `run_date`, as known at the start of that day, typed and "
        "deduplicated; `active` marks those still open. A view of `store.job_ads`.",
        {
            "run_date": RUN_DATE,
            "ad_id": "The ad's id.",
            "employer_id": "The employer's id.",
            "posted_on": "Day the ad was posted.",
            "closed_on": "Day the ad closed; NULL while open, and for a closing on or after "
            "`run_date` (not known yet that night).",
            "occupation": f"Occupation of the job: {OCCUPATION_CODE}; its first letter, the "
            "occupation family, is the send list's segment.",
            "contract": f"Contract offered: {CONTRACTS}.",
            "wage": "Wage offered, EUR a month.",
            "hours_per_week": "Working hours a week.",
            "required_experience_years": "Years of experience required.",
            "required_education": "Education level required, on the seekers' 0-8 scale.",
            "latitude": "Workplace latitude, degrees.",
            "longitude": "Workplace longitude, degrees.",
            "department": "Administrative department of the workplace (a code such as `75`).",
            "skills": "Skill codes the job asks for, sorted and deduplicated (empty when none).",
            "positions": "Openings to fill (at least 1): the ad's capacity in the redistribution.",
            "title": "The ad's title.",
            "description": "The ad's text.",
            "active": "Open on `run_date` (not closed before it).",
        },
    ),
    "clean.applications": TableDoc(
        "Applications made strictly before `run_date`, by seekers and on ads known that night, "
        "exact duplicates removed. A view of `store.applications`.",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": SEEKER_ID,
            "ad_id": AD_ID,
            "applied_at": APPLIED_AT,
            "channel": CHANNEL,
        },
    ),
    "clean.hires": TableDoc(
        "Hires strictly before `run_date`, of seekers and on ads known that night, exact "
        "duplicates removed. A view of `store.hires`.",
        {"run_date": RUN_DATE, "jobseeker_id": SEEKER_ID, "ad_id": AD_ID, "hired_at": HIRED_AT},
    ),
    "clean.recommendation_feedback": TableDoc(
        "Outcomes of the recommendations sent strictly before `run_date`, one row a send, on "
        "seekers and ads known that night; the funnel models and thresholds learn from them. "
        "A view of `store.recommendation_feedback` (a send's latest outcomes).",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": SEEKER_ID,
            "ad_id": AD_ID,
            "sent_at": "When the recommendation was sent (timestamp with time zone).",
            "responded": "The seeker responded to the recommendation (the funnel's first step).",
            "applied": "The seeker applied to the ad after responding.",
            "positive_outcome": "The application had a positive outcome (the funnel's last step).",
            "unsubscribed": "The seeker unsubscribed from recommendations after this send.",
            "negative_feedback": "The seeker gave negative feedback on the recommendation.",
        },
    ),
    "eval.forward_applications": TableDoc(
        "Applications in [`run_date`, `run_date` + 7 days) when the raw data holds them "
        "(backfills): the forward evaluation window, read by evaluation only, never by training.",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": FORWARD_SEEKER_ID,
            "ad_id": FORWARD_AD_ID,
            "applied_at": APPLIED_AT,
            "channel": CHANNEL,
        },
    ),
    "eval.forward_hires": TableDoc(
        "Hires in [`run_date`, `run_date` + 7 days) when the raw data holds them (backfills): "
        "the forward evaluation window, read by evaluation only, never by training.",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": FORWARD_SEEKER_ID,
            "ad_id": FORWARD_AD_ID,
            "hired_at": HIRED_AT,
        },
    ),
    "embed.jobseekers": TableDoc(
        "Muse.0 vectors of the seekers active on `run_date` (the retrieval's seeker tower).",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": SEEKER_ID,
            "embedding": "Muse.0's score vector: the seeker tower's unit vector (64 values by "
            "default), then the 4 values of the learned distance term, then the ad prior's "
            "weight times the temperature; its dot product with an ad's vector is the pair's "
            "Muse.0 score.",
        },
    ),
    "embed.job_ads": TableDoc(
        "Muse.0 vectors of the ads active on `run_date` (the retrieval's ad tower).",
        {
            "run_date": RUN_DATE,
            "ad_id": AD_ID,
            "embedding": "Muse.0's score vector: the ad tower's unit vector (64 values by "
            "default), then the 4 values of the learned distance term, then the log of the "
            "ad's applications per day online before `run_date` relative to the market's "
            "(the ad prior); its dot product with a seeker's vector is the pair's Muse.0 score.",
        },
    ),
    "recs.candidates": TableDoc(
        "Muse.0 retrieval: each active seeker's top 1,000 active ads by Muse.0 score; ads the "
        "seeker already applied to are left out.",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": SEEKER_ID,
            "ad_id": AD_ID,
            "rank": "1..1000 by decreasing `score`.",
            "score": "Muse.0 score: the dot product of the seeker's and the ad's vectors "
            "(`embed.*`): their towers' cosine less the seeker's distance decay times the "
            "squared distance, plus the ad prior (the ad's log application rate times a "
            "weight chosen on the validation window): the logit times the temperature.",
        },
    ),
    "recs.reranked": TableDoc(
        "Each active seeker's candidates reranked, per `model`: `muse2` keeps the top 300 (the "
        "redistribution's edges), `muse1` the top 100; `xgboost` (the top 100) only with "
        "JOBREC_XGBOOST_SCOPE=all: by default the evaluation scores XGBoost on the lists it "
        "compares.",
        {
            "run_date": RUN_DATE,
            "model": "muse2 (the chain's reranker), muse1 or xgboost (baselines).",
            "jobseeker_id": SEEKER_ID,
            "ad_id": AD_ID,
            "rank": "1..300 (muse2) or 1..100 by decreasing `score`.",
            "score": "The model's ranking score, a logit: Muse.2's top head (log P(apply) + "
            "log P(hire | apply) + a learned correction), Muse.1's single head, XGBoost's margin.",
        },
    ),
    "recs.recommendations": TableDoc(
        "Tonight's recommendations: each active seeker's top 100 after entropic optimal "
        "transport spreads the seekers' attention over the ads' capacities (from the seeker's "
        "Muse.2 top 300).",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": SEEKER_ID,
            "ad_id": AD_ID,
            "rank": "1..100 by decreasing `score`.",
            "score": "The ranking key (1 - α)·log(plan_mass) + α·log p: p the calibrated Muse.2 "
            "probability (softmax of the seeker's Muse.2 scores at the night's temperature), α "
            "the night's chosen blend (`metrics.ot_tradeoff`).",
            "plan_mass": "Share of the seeker's attention the transport plan sends to the ad (a "
            "seeker's masses over its 300 edges sum to 1).",
            "rerank_rank": "The ad's rank in the seeker's Muse.2 list (`recs.reranked`).",
            "muse2_score": "The ad's Muse.2 score (`recs.reranked`.score).",
        },
    ),
    "recs.segment_thresholds": TableDoc(
        "Per segment (the ad's occupation family) and search `method`: the funnel's three "
        "thresholds, their metrics on the tuning window's sends [D - 35, D - 7) against the "
        f"unified defaults, and the same on {HOLDOUT_WEEK}.",
        {
            "run_date": RUN_DATE,
            "segment": "The occupation family: the first letter of the ad's occupation code "
            "(`?` when unknown).",
            "method": "`greedy`: the greedy search (Jin et al., Algorithm 1), the thresholds the "
            "send list applies; `grid`: the exhaustive search on the same grid, its reference.",
            "theta_response": "Threshold on p_response = P(response | sent); a send passes when "
            "its three probabilities are all at or above their thresholds.",
            "theta_apply": "Threshold on p_apply = P(apply | response).",
            "theta_positive": "Threshold on p_positive = P(positive outcome | apply).",
            "objective": "Σ 0.25·Δ_i over the four deltas (tuning window); 0 when the segment "
            "keeps the defaults.",
            "sends": "Sends of the tuning window in the segment that pass the thresholds.",
            "applies": "Applications among those sends.",
            "apply_rate": "applies / sends.",
            "positives": "Positive outcomes among those sends.",
            "positives_per_apply": "positives / applies.",
            "unsubscribe_rate": "Unsubscribes / sends (SLO: under 0.05%).",
            "negative_ratio": "Negative feedback / responses (SLO: under 25%).",
            "evaluations": "Distinct threshold triples the search evaluated.",
            "delta_applies": _delta("applies"),
            "delta_apply_rate": _delta("the apply rate"),
            "delta_positives": _delta("positives"),
            "delta_positives_per_apply": _delta("positives per apply"),
            "slo_met": "Both SLOs hold on the tuning window: the Wilson 95% upper bounds of the "
            "unsubscribe rate and the negative ratio under their limits minus 10%.",
            "improved": "The thresholds moved; false: the defaults are kept (`note` says why).",
            "note": "Why the defaults are kept (empty when the thresholds moved).",
            "holdout_sends": f"Sends of {HOLDOUT_WEEK} in the segment that pass the thresholds.",
            "holdout_objective": f"The objective on {HOLDOUT_WEEK}; NULL when undefined.",
            "holdout_delta_applies": _delta("applies", HOLDOUT_WEEK),
            "holdout_delta_apply_rate": _delta("the apply rate", HOLDOUT_WEEK),
            "holdout_delta_positives": _delta("positives", HOLDOUT_WEEK),
            "holdout_delta_positives_per_apply": _delta("positives per apply", HOLDOUT_WEEK),
            "holdout_slo_met": f"Both SLOs hold on {HOLDOUT_WEEK}.",
            "tuned_objective": "The search's own objective, before the held-out week's veto.",
            "tuned_holdout_objective": "The held-out week's objective of the searched triple "
            "(a greedy triple moves only when it is > 0).",
        },
    ),
    "recs.to_send": TableDoc(
        "The night's send list: recommendations that pass their segment's thresholds, at most "
        "10 a seeker; never to an unsubscribed seeker, never an ad the seeker applied to, was "
        "hired on or was sent in the last 14 days, or whose positions are filled.",
        {
            "run_date": RUN_DATE,
            "jobseeker_id": SEEKER_ID,
            "ad_id": AD_ID,
            "rank": "Position in the seeker's send list of the night (by recommendation rank).",
            "recommendation_rank": "The ad's rank in `recs.recommendations`.",
            "segment": "The ad's occupation family (its thresholds' segment).",
            "p_response": "Funnel probability of a response given the send.",
            "p_apply": "Funnel probability of an application given a response.",
            "p_positive": "Funnel probability of a positive outcome given an application.",
        },
    ),
    "metrics.ranking": TableDoc(
        "Offline ranking quality of each stage's lists: recall, NDCG and hit rate at k, by "
        "stage, model, relevance, split and population.",
        {
            "run_date": RUN_DATE,
            "stage": "retrieval, rerank, redistribution or baseline.",
            "model": "muse0, muse1, muse2, xgboost, ot, popularity or oracle (the synthetic "
            "market's true ranking).",
            "relevance": "What counts as relevant: first `applications` or `hires` in the split's "
            "window, on ads active when the lists were built.",
            "split": "`validation`: lists built as of D - 7, relevance in [D - 7, D); `forward`: "
            "tonight's lists, relevance in [D, D + 7) (when the raw data holds it).",
            "k": "The list depth the metric is cut at.",
            "recall": "Recall@k: relevant ads in the top k / relevant ads, averaged over "
            "`seekers`; NULL when `seekers` is 0.",
            "ndcg": "NDCG@k, binary gains and log2 discount, averaged over `seekers`.",
            "hit_rate": "Share of `seekers` with a relevant ad in their top k.",
            "seekers": "Seekers with at least one relevant ad: the averages' base.",
            "population": "`all`; `oracle_sample` (the fixed sample on which the oracle and "
            "Muse.0 are scored side by side); `rerank_holdout` (validation-window seekers held "
            "out of the rerankers' training).",
            "slice": "`all` (every row before issue 17), or the rerank stage's slices of the "
            "seekers (applications only): `history:0`, `history:1-2`, `history:3+` "
            "(applications before the window), `family:<letter>` (desired occupation), "
            "`ad_age:<3d` and `ad_age:3d+` (relevance restricted to ads posted in the 3 days "
            "before the window, or earlier).",
        },
    ),
    "metrics.ranking_pairs": TableDoc(
        "Paired differences of the rerankers against XGBoost on the same seekers, whole and by "
        "slice: what a 2% difference at k = 10 needs to be seen (jobrec.evaluation.compare).",
        {
            "run_date": RUN_DATE,
            "stage": "rerank.",
            "split": "`validation` (held-out seekers) or `forward` (tonight's lists).",
            "population": "`rerank_holdout` (validation) or `all` (forward).",
            "relevance": "applications.",
            "slice": "As in metrics.ranking: `all`, history, family and ad-age slices.",
            "k": "The list depth.",
            "metric": "`recall` or `ndcg` at k.",
            "model": "muse2 or muse1.",
            "reference": "xgboost.",
            "seekers": "Seekers of the slice with relevant ads: the paired mean's base.",
            "model_value": "The model's mean over those seekers.",
            "reference_value": "The reference's mean over the same seekers.",
            "difference": "Mean of model - reference over the seekers.",
            "relative": "difference / reference_value.",
            "se": "Standard error of the paired mean.",
            "ci_low": "95% interval of the difference, low end (normal).",
            "ci_high": "95% interval of the difference, high end.",
            "p_value": "Two-sided p-value of a zero difference (normal).",
            "p_holm": "p_value Holm-adjusted across the slices (not `all`) of one model, k and "
            "metric; `all` keeps its own.",
        },
    ),
    "metrics.market": TableDoc(
        "How the lists spread over the active ads: congestion, coverage and Gini of the ads' "
        "exposure, by stage, model and k.",
        {
            "run_date": RUN_DATE,
            "stage": "retrieval, rerank or redistribution.",
            "model": "muse0, muse2 or ot.",
            "k": "The list depth (top k of each list).",
            "congestion": "Σ_j s_j·log s_j / log J, s_j the share of the top-k slots on ad j, J "
            "the active ads: -1 perfectly spread, 0 all on one ad.",
            "coverage": "Share of the active ads in at least one top-k list.",
            "gini": "Gini of the ads' exposure counts (top-k lists holding the ad), zeros "
            "included: 0 equal, towards 1 concentrated.",
            "population": "`all`: tonight's lists of every seeker; `validation`: the validation "
            "window's instance (lists as of D - 7).",
        },
    ),
    "metrics.ot_tradeoff": TableDoc(
        "The redistribution's trade-off curve of the night on the validation window: Muse.2's "
        "own lists (model muse2), then one row per grid point (τ, ε, α); `chosen` marks the "
        "night's parameters.",
        {
            "run_date": RUN_DATE,
            "model": "`muse2` (its own lists, the reference) or `ot` (a grid point).",
            "epsilon": "ε: entropy weight, the plan's softness (NULL for muse2).",
            "alpha": "α: blend of the ranking key (1 - α)·log(plan mass) + α·log p (1 for muse2).",
            "tau": "τ: price of leaving an ad's capacity unmet or exceeded (NULL for muse2).",
            "cost": "The edge cost from the Muse.2 score: neglogp (-log p), linear or rank.",
            "temperature": "T of the calibration p = softmax(score / T) over a seeker's list, "
            "fitted on the held-out seekers' applications.",
            "recall_at_10": "Recall@10 of applications on the rerankers' held-out seekers.",
            "ndcg_at_10": "NDCG@10 of applications on the rerankers' held-out seekers.",
            "recall_at_100": "Recall@100 of applications on the rerankers' held-out seekers.",
            "ndcg_at_100": "NDCG@100 of applications on the rerankers' held-out seekers.",
            "congestion_at_10": "Congestion@10 over all the instance's seekers (see "
            "`metrics.market`).",
            "coverage_at_10": "Coverage@10 over all the instance's seekers.",
            "gini_at_10": "Gini@10 over all the instance's seekers.",
            "congestion_at_100": "Congestion@100 over all the instance's seekers.",
            "coverage_at_100": "Coverage@100 over all the instance's seekers.",
            "gini_at_100": "Gini@100 over all the instance's seekers.",
            "iterations": "Sinkhorn iterations of the solve (NULL for muse2).",
            "converged": "The seeker marginal error fell under the tolerance within the "
            "iteration cap.",
            "seeker_marginal_error": "Largest relative gap between a seeker's plan mass and its "
            "one unit, at the last iteration.",
            "ad_marginal_error": "Largest relative gap between an ad's received mass and its "
            "optimal mass.",
            "qualifies": "A converged ot point whose Recall@100 is at least 95% of Muse.2's.",
            "chosen": "The night's parameters: among qualifying points the lowest Congestion@100 "
            "(ties: higher recall); none chosen when none qualifies (the lists stay Muse.2's).",
            "method": "How the row's lists were made: `muse2` (Muse.2's own, trained plain) or "
            "`recon` (Muse.2 trained with the ReCon congestion term), each alone or followed by "
            "the redistribution (`muse2+ot`, `recon+ot`). The night's Muse.2 is one of the two "
            "(JOBREC_RECON_WEIGHT): its λ was chosen offline (BENCHMARKS.md, ReCon).",
            "recon_weight": "λ of the ReCon term the night's Muse.2 trained with (0: plain).",
        },
    ),
    "metrics.fairness": TableDoc(
        "Gender gap (women - men) in what each source gives seekers, given their search "
        "parameters and qualifications, by double machine learning (5-fold cross-fitting): the "
        "average gap women face (`estimand` atte, the headline) and the partially linear "
        "model's θ (plr) beside it.",
        {
            "run_date": RUN_DATE,
            "source": "`muse2`, `ot` (tonight's top `k` of Muse.2 and of the redistributed "
            "lists), `send` (the send list), `applications`, `hires` (the `days` before D).",
            "outcome": "The seeker's mean over the source's ads: `log_wage` (log monthly wage), "
            "`permanent` (share of permanent contracts), `hours` (weekly hours), `distance_km` "
            "(great-circle distance from home).",
            "gap": "θ: women's minus men's outcome at equal controls (desired occupation, "
            "contract, wage, mobility, location, experience, education), in the outcome's unit; "
            "for atte the mean over women, for plr a variance-weighted average of the "
            "conditional gaps.",
            "std_error": "Standard error of `gap`.",
            "ci_low": "Lower bound of the 95% interval: gap - 1.96·std_error.",
            "ci_high": "Upper bound of the 95% interval: gap + 1.96·std_error.",
            "n": "Seekers (women and men) in the estimate.",
            "left_out": "Seekers of other or unknown gender, left out.",
            "k": "List depth for muse2 and ot; NULL for the other sources.",
            "days": "Window in days for applications and hires; NULL for the other sources.",
            "estimand": "`atte`: the average effect on the treated of the interactive model "
            "(the mean gap women face; DoubleML's IRM ATTE score), the headline; `plr`: the "
            "partially linear model's θ (rows of nights before the ATTE are plr).",
            "trimmed": "Seekers whose propensity P(woman | controls) was clipped to [0.01, "
            "0.99] (atte; 0 for plr).",
            "diff_applications": "Recommender sources (muse2, ot, send): gap minus the "
            "applications' gap of the same estimand and outcome; NULL for the others.",
            "diff_std_error": "Standard error of diff_applications, from both estimates' "
            "influence values per seeker (the two samples share seekers).",
            "p_holm": "One-sided p-value that the source's gap lies further from 0 than the "
            "applications' (in their direction), Holm-corrected over the recommender sources and "
            "outcomes of the estimand; below 0.05 on atte: the WARN check no_amplification.",
        },
    ),
    "metrics.runs": TableDoc(
        "One row per asset, partition and run (a log: a re-run adds rows): each step's time and "
        "memory. Published with failed nights too.",
        {
            "run_date": RUN_DATE,
            "asset": "The Dagster asset, e.g. `recs/candidates`.",
            "seconds": "Wall-clock seconds of the step.",
            "peak_rss_mb": "The peak resident memory during the step, MiB: the night process's "
            "and its worker processes' (the audit's), summed.",
            "rows": "Rows the step wrote (0 for most model steps).",
            "run_id": "The Dagster run.",
            "start_rss_mb": "Resident memory when the step began, MiB (the step's own growth: "
            "peak_rss_mb - start_rss_mb).",
            "finished_at": "When the step finished.",
        },
    ),
    "metrics.nights": TableDoc(
        "One row per partition: whether its night is whole. Only complete nights are published; "
        "this table shows failed ones too, and why.",
        {
            "run_date": RUN_DATE,
            "status": "`running` (being written), `failed` (a blocking check failed or an input "
            "was refused) or `complete` (every blocking check passed; published).",
            "run_id": "The Dagster run that last changed the status.",
            "detail": "The asset and check that failed, or the step that last wrote.",
            "updated_at": "When the status was last set.",
        },
    ),
}


INGESTED_ON = (
    "The night that stored the row: the first night whose raw files held it (or an earlier "
    "night re-run since). `clean.*` shows a night the rows of nights up to it."
)
VERSION_COLUMNS = {
    "row_hash": "Hash of the version's content: a night whose files differ starts a new version.",
    "valid_from": "First night of this version (the night that stored it).",
    "valid_to": "First night of the next version or of the entity's absence from the files; "
    "NULL while current.",
}


def _stored_doc(view: str, what: str, versions: bool) -> TableDoc:
    columns = {c: d for c, d in TABLES[view].columns.items() if c not in ("run_date", "active")}
    if versions:
        for column in ("exited_on", "closed_on"):
            if column in columns:
                columns[column] = (
                    columns[column].split(";")[0] + " as the raw files give it (possibly in the "
                    f"future; `{view}` blanks it until it has passed)."
                )
        columns.update(VERSION_COLUMNS)
    else:
        columns["ingested_on"] = INGESTED_ON
    return TableDoc(
        f"{what} stored once (the history `{view}` is a view of; a night adds "
        + ("the new or changed ones" if versions else "the rows not stored yet")
        + "). Kept whole: the clean views' retention drops nights, not history.",
        columns,
    )


TABLES.update(
    {
        "store.jobseekers": _stored_doc("clean.jobseekers", "Seeker versions", True),
        "store.job_ads": _stored_doc("clean.job_ads", "Ad versions", True),
        "store.applications": _stored_doc("clean.applications", "Applications", False),
        "store.hires": _stored_doc("clean.hires", "Hires", False),
        "store.recommendation_feedback": _stored_doc(
            "clean.recommendation_feedback", "Recommendation outcomes", False
        ),
        "store.send_features": TableDoc(
            "The funnel's pair features of each past send, computed once: by the first night "
            "whose send windows held the send, with that night's Muse.0 and Muse.2 (again, "
            "by the next night, when the feature set has grown since).",
            {
                "jobseeker_id": SEEKER_ID,
                "ad_id": AD_ID,
                "sent_at": "When the recommendation was sent (names the send with the ids).",
                "features": "The features in the order of `jobrec.send.funnel.FEATURES`: the "
                "reranker's cross features, the Muse.2 score, the seeker's recent applications.",
                "computed_on": "The night that computed them; a night reads the latest computed "
                "up to it, and a re-run of a night's funnel recomputes its own.",
            },
        ),
        "store.list_files": TableDoc(
            "The Parquet files holding the nights' big ranked lists (`recs.candidates`, "
            "`recs.reranked` and `recs.recommendations` read them): one a table and night, read "
            "once its row is here.",
            {
                "table_name": "The view the file belongs to (`recs.candidates`, ...).",
                "run_date": RUN_DATE,
                "path": "The file's absolute path (beside the warehouse, under `lists/`).",
                "rows": "Rows in the file.",
                "bytes": "The file's size on disk.",
                "written_at": "When the file was registered.",
            },
        ),
        "store.partitions": TableDoc(
            "The nights each clean view answers for (the retained ones) and what each night's "
            "ingest stored.",
            {
                "table_name": "The clean view (`clean.jobseekers`, ...).",
                "run_date": RUN_DATE,
                "ingested_rows": "Rows (events) or versions (seekers, ads) the night stored.",
                "ingested_at": "When the night's ingest committed.",
            },
        ),
    }
)


def table_description(table: str) -> str:
    """The one-line description of `table` ("schema.table"); KeyError when undocumented."""
    return TABLES[table].description


def column_descriptions(table: str) -> dict[str, str]:
    """Column -> description of `table`, in its column order; KeyError when undocumented."""
    return dict(TABLES[table].columns)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def apply_comments(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[str]:
    """`COMMENT ON` every documented table or view of `catalog` (default: the connection's
    database) and each of its documented columns.

    Returns the "schema.table.column" names of `catalog` (every schema, tables and views) that
    have no description, sorted; documented tables or columns absent from `catalog` are skipped.
    """
    catalog = catalog or con.execute("SELECT current_database()").fetchone()[0]
    relations = con.execute(
        "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() "
        "WHERE database_name = $catalog AND NOT internal AND NOT temporary "
        "UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() "
        "WHERE database_name = $catalog AND NOT internal AND NOT temporary",
        {"catalog": catalog},
    ).fetchall()
    kinds = {f"{schema}.{name}": kind for schema, name, kind in relations}
    columns = con.execute(
        "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = ? ORDER BY schema_name, table_name, column_index",
        [catalog],
    ).fetchall()
    undocumented = []
    for table, kind in kinds.items():
        doc = TABLES.get(table)
        if doc is not None:
            target = _qualified(catalog, table)
            con.execute(f"COMMENT ON {kind} {target} IS {_literal(doc.description)}")
    for table, column in columns:
        if table not in kinds:
            continue
        text = TABLES[table].columns.get(column) if table in TABLES else None
        if text is None:
            undocumented.append(f"{table}.{column}")
            continue
        con.execute(
            f"COMMENT ON COLUMN {_qualified(catalog, table)}.{_ident(column)} IS {_literal(text)}"
        )
    return sorted(undocumented)


def undescribed_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The "schema.table.column" names of the connection's database whose comment is empty
    (what an analyst would find without a description), sorted."""
    rows = con.execute(
        "SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND NOT internal "
        "AND coalesce(comment, '') = '' ORDER BY 1"
    ).fetchall()
    return [c for (c,) in rows]


def _qualified(catalog: str, table: str) -> str:
    schema, name = table.split(".", 1)
    return f"{_ident(catalog)}.{_ident(schema)}.{_ident(name)}"


def readme_reference() -> str:
    """The README's table reference (Markdown), generated from `TABLES`."""
    lines = [
        "<!-- generated from jobrec/data/table_docs.py by `python -m jobrec.data.table_docs`: "
        "edit there -->"
    ]
    for table, doc in TABLES.items():
        lines += ["", f"**`{table}`**: {_cell(doc.description)}", ""]
        lines += ["| column | description |", "|---|---|"]
        lines += [f"| `{c}` | {_cell(text)} |" for c, text in doc.columns.items()]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def replace_readme_reference(readme: str) -> str:
    """`readme` with the text between its reference markers replaced by `readme_reference()`."""
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError(f"README lacks the markers {README_START} ... {README_END}")
    return f"{head}{README_START}\n{readme_reference()}\n{README_END}{tail}"


def readme_block(readme: str) -> str:
    """The text between the reference markers of `readme` (without the markers' newlines)."""
    return readme.partition(README_START)[2].partition(README_END)[0].strip("\n")


def main() -> None:
    """Rewrite the table reference in README.md from `TABLES`."""
    before = README.read_text()
    after = replace_readme_reference(before)
    if after != before:
        README.write_text(after)
    print(f"{README}: table reference {'rewritten' if after != before else 'up to date'}")


if __name__ == "__main__":
    main()
