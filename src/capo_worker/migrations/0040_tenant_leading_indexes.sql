-- Every access of the stats functions to a club's rows goes through an index
-- that leads with tenant_id (issue 14): a club's job then reads its own rows
-- only, however many clubs share the database (docs/operations.md, "Many
-- clubs in one database"). Plain CREATE INDEX IF NOT EXISTS and DROP INDEX IF
-- EXISTS of our own indexes: the same on a fresh install and on an adopted
-- Capo database, where the app's own indexes are kept.

-- Players by id within the club (joins from a club's games); replaces the
-- tenant-only index, whose work it also does.
CREATE INDEX IF NOT EXISTS idx_players_tenant_player ON players (tenant_id, player_id);
DROP INDEX IF EXISTS idx_players_tenant;

-- Matches by id within the club (joins from a club's games); the club's
-- matches by date stay on idx_matches_tenant_date.
CREATE INDEX IF NOT EXISTS idx_matches_tenant_match ON matches (tenant_id, match_id);

-- A club's games by match. idx_player_matches_match (match_id) stays: it
-- serves the foreign-key check when the app deletes a match. The stats
-- functions never give the planner the choice: they read player_matches by
-- tenant alone and join in memory (the planner may take the match index for
-- "tenant and match" even with this one there).
CREATE INDEX IF NOT EXISTS idx_player_matches_tenant_match
    ON player_matches (tenant_id, match_id);

-- The two upserts of the stats functions find an existing row through a
-- unique key that leads with the tenant (their ON CONFLICT targets). Player
-- and match ids are global, so these keys hold wherever the primary keys do.
CREATE UNIQUE INDEX IF NOT EXISTS idx_personal_bests_tenant_match
    ON aggregated_personal_bests (tenant_id, match_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_performance_ratings_tenant_player
    ON aggregated_performance_ratings (tenant_id, player_id);
DROP INDEX IF EXISTS idx_performance_ratings_tenant;
