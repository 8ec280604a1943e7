-- The biggest victory joins the players' record candidates (docs/stats.md,
-- "Post-match updates"): each player's games of the largest (margin, date)
-- are kept as kind 'victory', with the player's team and goals, so the records
-- are built from the candidates alone and a post-match job reads no other
-- player's games. Additive: two nullable columns.
ALTER TABLE capo_records_player_bests
    ADD COLUMN IF NOT EXISTS team  text,     -- 'victory': the player's team ('A', 'B', other)
    ADD COLUMN IF NOT EXISTS goals integer;  -- 'victory': the player's goals in the game

-- The candidates written by an earlier build have no 'victory' rows: forget
-- every tenant's last complete run, so that the next job of each runs in full
-- and writes them (a post-match job would build the records from them).
DELETE FROM capo_stats_scope_state;

-- The records are read kind by kind from the top: the longest run of a kind
-- (and the best goals and victory) is found through this index, so building
-- them reads the holders' rows, not every player's candidates.
CREATE INDEX IF NOT EXISTS idx_records_player_bests_tenant_kind
    ON capo_records_player_bests (tenant_id, kind, streak, end_day);

-- A post-match job reads and rewrites only its players' rows of these tables:
-- indexes that lead with the tenant, then the player.
CREATE INDEX IF NOT EXISTS idx_season_stats_tenant_player
    ON aggregated_season_stats (tenant_id, player_id);
CREATE INDEX IF NOT EXISTS idx_half_season_stats_tenant_player
    ON aggregated_half_season_stats (tenant_id, player_id);
CREATE INDEX IF NOT EXISTS idx_all_time_stats_tenant_player
    ON aggregated_all_time_stats (tenant_id, player_id);
CREATE INDEX IF NOT EXISTS idx_recent_performance_tenant_player
    ON aggregated_recent_performance (tenant_id, player_id);
