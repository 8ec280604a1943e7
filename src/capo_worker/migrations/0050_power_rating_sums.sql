-- What a post-match job needs to rebuild aggregated_performance_ratings from
-- its match's players (docs/stats.md, "Post-match updates"): each player's
-- recency-weighted sums, as the last run of update_power_ratings computed them,
-- and the day, decay and fantasy points they were computed with. A full run
-- rewrites both; a scoped run rewrites its players' sums only when the header
-- says they are for the same day, decay, points and PostgreSQL major version
-- (else it runs in full).
-- capo-worker's own tables, holding nothing that cannot be rebuilt: IF NOT
-- EXISTS, so this runs the same on an adopted Capo database.

-- Per tenant: what the sums below were computed for.
CREATE TABLE IF NOT EXISTS capo_power_rating_state (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    as_of      date NOT NULL,     -- "today" of the run (capo_today())
    lambda     numeric NOT NULL,  -- the decay (ln 2 / half-life, 15 significant digits)
    fantasy    text NOT NULL,     -- the fantasy points settings, as text
    pg_version integer NOT NULL   -- server_version_num / 10000 (the weights' exp)
);

-- Per player with games: the sums of spec 20 §5.2 step 5, unrounded and
-- unconstrained numeric (a scoped run reads back exactly the digits a full run
-- computes). No foreign keys: a full run writes a row per player, and a check
-- per row would cost more than the row; a deleted player's row is ignored (the
-- ratings join players) and goes with the next full run.
CREATE TABLE IF NOT EXISTS capo_power_rating_sums (
    tenant_id   uuid NOT NULL,
    player_id   integer NOT NULL,
    first_match date NOT NULL,   -- J: earliest match date, future matches included
    wp          numeric,         -- Σ w over the player's rows (NULL: no weighted row)
    f           numeric,         -- Σ fantasy points × w
    g           numeric,         -- Σ goals × w
    extra       numeric,         -- Σ (rows − 1) × w over matches with duplicated rows
    PRIMARY KEY (tenant_id, player_id)
);

-- Per tenant and number of days before today: the weight exp(-lambda x days),
-- numeric (spec 20 §5.2 step 2), as an earlier run computed it. Its exp costs
-- more than reading it back; a row with another lambda, or from another major
-- PostgreSQL version (its exp may differ in the last digits), is recomputed.
CREATE TABLE IF NOT EXISTS capo_power_rating_weights (
    tenant_id  uuid NOT NULL,
    days       integer NOT NULL,
    lambda     numeric NOT NULL,
    pg_version integer NOT NULL,  -- server_version_num / 10000
    w          numeric NOT NULL,
    PRIMARY KEY (tenant_id, days)
);

COMMENT ON TABLE capo_power_rating_state IS
    'capo-worker: the day, decay and fantasy settings capo_power_rating_sums were computed with, per tenant.';
COMMENT ON TABLE capo_power_rating_weights IS
    'capo-worker: the power ratings'' match weights exp(-lambda x days) per tenant, computed once per number of days.';
COMMENT ON TABLE capo_power_rating_sums IS
    'capo-worker: each player''s recency-weighted sums for the power ratings, so that a post-match job recomputes only its match''s players.';
