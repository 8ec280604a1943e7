-- What update_aggregated_recent_performance and update_half_and_full_season_stats
-- last computed each player's rows from (docs/stats.md, "Only changed players"):
-- per function (kind) and player, the number of the player's games and the
-- bit_xor of a 64-bit hash per game of the columns the function reads. A full
-- run recomputes only the players whose digest came, went or changed. The row
-- with player_id 0 is the function's header: `header` holds what every row
-- depends on (settings, the functions' source, the server version, and for the
-- season stats the windows derived from today), and its games and digest the
-- guard of the function's output rows as the last run left them (their number
-- and the bit_xor of a hash of each row's (ctid, xmin)); a header or guard that
-- differs makes the next full run recompute everyone.
-- capo-worker's own; it holds nothing that cannot be rebuilt: missing or stale
-- rows only make the next full run compute more. IF NOT EXISTS, so this runs
-- the same on an adopted Capo database. No foreign key (as the records'
-- candidates): a full run from scratch writes a row per player, and a check
-- per row cost more than the rows (about 20 ms on the large league);
-- capo_delete_tenant_league removes a tenant's rows with its league.
CREATE TABLE IF NOT EXISTS capo_player_games_digests (
    tenant_id uuid NOT NULL,
    kind      text NOT NULL,     -- 'recent_performance' or 'season_stats'
    player_id integer NOT NULL,  -- 0: the header row
    games     integer NOT NULL,  -- the header row: its output rows
    digest    bigint NOT NULL,   -- the header row: their (ctid, xmin) hash
    header    text,              -- the header row's only
    PRIMARY KEY (tenant_id, kind, player_id)
);

COMMENT ON TABLE capo_player_games_digests IS
    'capo-worker: per function and player, a digest of the games the player''s rows of recent performance or season stats were computed from; a full run recomputes only the players whose digest changed.';
