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
