CREATE SCHEMA IF NOT EXISTS metrics;
CREATE TABLE IF NOT EXISTS metrics.market (
    run_date DATE NOT NULL,
    stage VARCHAR NOT NULL,  -- retrieval / rerank / redistribution
    model VARCHAR NOT NULL,  -- muse0, muse2, ot
    k INTEGER NOT NULL,
    congestion DOUBLE NOT NULL,  -- Σ s_j log s_j / log |J|, -1 perfectly spread
    coverage DOUBLE NOT NULL,  -- share of the active ads in at least one top-k list
    gini DOUBLE NOT NULL,  -- of the exposure counts over all active ads, zeros included
    population VARCHAR NOT NULL  -- all: tonight's lists of every seeker; validation: the window's instance
);
