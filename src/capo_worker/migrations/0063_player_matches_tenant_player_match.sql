-- A player's games newest first, read from the top: the match report's
-- streaks read each regular player's last games (about 20 rows) through this
-- index instead of numbering every game of the club (docs/stats.md, match
-- report). Leads with the tenant, as every index the stats read. The ids are
-- negated so that the index holds no plain match_id: with it, the planner
-- took this index for index-only scans of (tenant_id, match_id) ranges, which
-- it can bound only by the tenant here (every row of the club).
CREATE INDEX IF NOT EXISTS idx_player_matches_tenant_player_match
    ON player_matches (tenant_id, player_id, (-match_id), (-player_match_id));
