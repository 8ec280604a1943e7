-- What a post-match job needs to know to recompute only what its match changed
-- (docs/stats.md, "Post-match updates"). Both tables are capo-worker's own and
-- hold nothing that cannot be rebuilt: a missing or stale row only makes the
-- next post-match job run in full. IF NOT EXISTS, so this runs the same on an
-- adopted Capo database.

-- Per tenant: the inputs every output table was last made consistent with, by
-- a job whose ten functions all succeeded.
CREATE TABLE IF NOT EXISTS capo_stats_scope_state (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    as_of         date NOT NULL,        -- "today" of that run (capo_today())
    inputs_digest text NOT NULL,        -- md5 of the tenant's players and app_config
    match_count   integer NOT NULL,     -- the tenant's matches at that run
    scope         text NOT NULL,        -- 'full' or 'match <id>'
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Per match: its date and players at that run, so that a job for a match that
-- was edited or deleted since knows who played in it before.
CREATE TABLE IF NOT EXISTS capo_stats_match_players (
    tenant_id  uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
    match_id   integer NOT NULL,        -- no foreign key: a deleted match's row must stay
    match_date date NOT NULL,
    player_ids integer[] NOT NULL,
    PRIMARY KEY (tenant_id, match_id)
);

COMMENT ON TABLE capo_stats_scope_state IS
    'capo-worker: the inputs the aggregated tables were last computed from, per tenant; post-match jobs compare against it to decide what to recompute.';
COMMENT ON TABLE capo_stats_match_players IS
    'capo-worker: each match''s date and players at the last complete stats run, so a post-match job for an edited or deleted match knows who played in it.';

-- Per player: the candidates for the league records (docs/stats.md), written by
-- update_aggregated_season_honours_and_records in the transaction that writes
-- aggregated_records. A record's holders are always among them, so a post-match
-- job recomputes the rows of its match's players and builds the records from
-- this table instead of every player's history.
-- No foreign keys: a full run writes thousands of rows, and a check per row
-- would cost more than the rows; a deleted player's rows are ignored (the
-- records join players) and go with the next full run.
CREATE TABLE IF NOT EXISTS capo_records_player_bests (
    tenant_id uuid NOT NULL,
    player_id integer NOT NULL,
    -- 'Win Streak', 'Losing Streak', 'Undefeated Streak', 'Winless Streak':
    -- every run of the player's longest length; 'scoring': the same for scoring
    -- runs; 'attendance': the latest run of the longest length; 'most_goals':
    -- the games of the player's best (goals, date)
    kind      text NOT NULL,
    streak    integer NOT NULL,        -- run length, or goals for 'most_goals'
    start_day integer,                 -- days since 0001-01-01
    end_day   integer NOT NULL,
    match_id  integer,                 -- 'most_goals': the game's match and score
    score     text
);
CREATE INDEX IF NOT EXISTS idx_records_player_bests_tenant_player
    ON capo_records_player_bests (tenant_id, player_id);
COMMENT ON TABLE capo_records_player_bests IS
    'capo-worker: each player''s candidates for the league records, so that a post-match job rebuilds the records from its match''s players.';

-- Removing a tenant's league (before a re-import) also removes what post-match
-- jobs decide from, so the next job runs in full. (0003's function, with the
-- three tables above.)
CREATE OR REPLACE FUNCTION capo_delete_tenant_league(target_tenant_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM capo_stats_scope_state WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_stats_match_players WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_records_player_bests WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_half_season_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_all_time_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_hall_of_fame WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_recent_performance WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_honours WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_records WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_personal_bests WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_match_report WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_player_profile_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_race_data WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_performance_ratings WHERE tenant_id = target_tenant_id;
    DELETE FROM cache_metadata WHERE tenant_id = target_tenant_id;
    DELETE FROM app_config WHERE tenant_id = target_tenant_id;
    DELETE FROM player_matches WHERE tenant_id = target_tenant_id;
    DELETE FROM matches WHERE tenant_id = target_tenant_id;
    DELETE FROM players WHERE tenant_id = target_tenant_id;
END;
$$;
