-- What the tenant's player profiles (aggregated_player_profile_stats) were last
-- computed from by a full run of update_aggregated_player_profile_stats
-- (docs/stats.md, "aggregated_player_profile_stats"). A full run whose inputs
-- and rows are unchanged since then keeps the rows instead of computing them
-- again. capo-worker's own; it holds nothing that cannot be rebuilt: a missing
-- or stale row only makes the next full run compute everything. IF NOT EXISTS,
-- so this runs the same on an adopted Capo database.
CREATE TABLE IF NOT EXISTS capo_profile_stats_state (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    -- counts and hash sums of everything the rows are computed from: the
    -- tenant's players, matches and player_matches (the columns the function
    -- reads), the fantasy settings and match duration it used, and the source
    -- of the functions that compute them
    inputs_digest text NOT NULL,
    rows_written  integer NOT NULL,  -- rows that run inserted
    rows_xmin     xid,               -- their xmin (NULL when it wrote none)
    written_in    xid8 NOT NULL,     -- its top-level transaction
    updated_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE capo_profile_stats_state IS
    'capo-worker: the inputs and rows of the last full run of update_aggregated_player_profile_stats, per tenant; a full run with the same inputs and untouched rows keeps the rows.';
