-- What the tenant's player profiles were last computed from, per match
-- (docs/stats.md, "aggregated_player_profile_stats"): a full run of
-- update_aggregated_player_profile_stats compares these hashes with the
-- current ones and recomputes only the players of the matches that changed.
-- capo-worker's own; it holds nothing that cannot be rebuilt: a missing or
-- stale row only makes the next full run compute everything. IF NOT EXISTS,
-- so this runs the same on an adopted Capo database.
CREATE TABLE IF NOT EXISTS capo_profile_match_state (
    tenant_id  uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
    -- the match (0 also holds the rows without a match)
    match_id   integer NOT NULL,
    -- a 64-bit hash of everything a profile reads about the match: its row,
    -- the match before it in the league's order, and its player_matches rows
    hash       bigint NOT NULL,
    player_ids integer[] NOT NULL,  -- the match's distinct players
    PRIMARY KEY (tenant_id, match_id)
);

COMMENT ON TABLE capo_profile_match_state IS
    'capo-worker: per match, a hash of the profile inputs and the players of the match as of the last full run of update_aggregated_player_profile_stats; a full run recomputes only the players of changed matches.';

-- The header of that state: besides the digest of the settings and function
-- source (inputs_digest, now without the tables), two 64-bit hashes per
-- player, of the columns of their own row (name, ringer flag, selected club)
-- and of what their teammates' rows read (name, ringer and retired flags,
-- player_mate_hashes); a check of the rows that works after partial rewrites
-- (their count and the sum of their xmin); and the players whose rows a
-- scoped (post-match) run rewrote since, whom the next full run recomputes
-- too. rows_xmin is no longer used.
ALTER TABLE capo_profile_stats_state
    ADD COLUMN IF NOT EXISTS player_ids    integer[],
    ADD COLUMN IF NOT EXISTS player_hashes bigint[],
    ADD COLUMN IF NOT EXISTS player_mate_hashes bigint[],
    ADD COLUMN IF NOT EXISTS rows_xmin_sum numeric,
    ADD COLUMN IF NOT EXISTS dirty_players integer[];
