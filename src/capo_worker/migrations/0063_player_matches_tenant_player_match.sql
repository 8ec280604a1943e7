-- A player's games newest first, read from the top: the match report's
-- streaks read each regular player's last games (about 20 rows) through this
-- index instead of numbering every game of the club (docs/stats.md, match
-- report). Leads with the tenant, as every index the stats read.
CREATE INDEX IF NOT EXISTS idx_player_matches_tenant_player_match
    ON player_matches (tenant_id, player_id, match_id, player_match_id);
