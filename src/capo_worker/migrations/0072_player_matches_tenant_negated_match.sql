-- A club's games by match, for the stats that read one match's or a range of
-- matches' games (the match report, personal bests, the season race:
-- docs/stats.md). Leads with the tenant, as every index the stats read. The
-- id is negated so that only a condition on -match_id reaches it, and such a
-- condition no other index serves:
-- - written as tenant_id = t AND match_id BETWEEN a AND b, a lone club's plan
--   took the foreign key's index on match_id alone (idx_player_matches_match,
--   which spans every club);
-- - written as a (tenant_id, match_id) row range (idx_player_matches_tenant_match),
--   the planner estimated the range from the tenant alone (the whole club) and,
--   among many clubs, read the whole club through (tenant_id, player_id).
-- On -match_id the planner has this index's statistics for the range, and one
-- index to serve it.
CREATE INDEX IF NOT EXISTS idx_player_matches_tenant_negated_match
    ON player_matches (tenant_id, (-match_id));
