-- update_half_and_full_season_stats (spec 20-core-stats §1)
--
-- Per-player totals of non-ringers (retired included) for the current
-- half-season (aggregated_half_season_stats, rebuilt) and for every calendar
-- year up to today's year that has at least one match
-- (aggregated_season_stats: each such year deleted and rebuilt; other years
-- untouched). A NULL result counts as a game and scores fantasy points as a
-- loss (FP_loss) without being counted as a loss. Errors are re-raised as
-- "Error in update_half_and_full_season_stats: <message>" (the SQLSTATE is kept).

-- The half-season table is deleted per tenant on every run (the other tables
-- this function writes already have a tenant index in 0003_stats_outputs.sql).
CREATE INDEX IF NOT EXISTS idx_half_season_stats_tenant
    ON aggregated_half_season_stats (tenant_id);

-- Helpers of this function (docs/stats.md, "Only changed players"): the hash
-- of one game as this function reads it: the game's row id and match id (so
-- that two equal games do not cancel out in the player's bit_xor), the match's
-- day, the goals (NULL as 0, as the sums read them), the result as the
-- function tells it apart (NULL, win, draw, loss, any other text) and the
-- three flags (NULL as false). Two 64-bit integer hashes of packed fields,
-- each keyed by more packed fields (hashint8extended's seed); not linear in the
-- fields, so two games swapping a value do not cancel out.
CREATE OR REPLACE FUNCTION capo_season_game_hash(
    player_match_id int, match_id int, day int, result text, goals int,
    heavy_win boolean, heavy_loss boolean, clean_sheet boolean
) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(
        hashint8extended((match_id::bigint << 32) # (player_match_id::bigint & 4294967295),
                         (day::bigint << 32) # (COALESCE(goals, 0)::bigint & 4294967295)),
        (CASE WHEN result IS NULL THEN 0 WHEN result = 'win' THEN 8
              WHEN result = 'draw' THEN 16 WHEN result = 'loss' THEN 24 ELSE 32 END)
        # (CASE WHEN heavy_win THEN 4 ELSE 0 END)
        # (CASE WHEN heavy_loss THEN 2 ELSE 0 END)
        # (CASE WHEN clean_sheet THEN 1 ELSE 0 END))
$$;

-- The guard of the tenant's rows of both tables (of `players`; NULL: all): the
-- number of rows and the bit_xor of a hash of each row's (ctid, xmin), seeded
-- per table. Any insert, update or delete since (by anyone, in any
-- transaction) gives a row version with another (ctid, xmin), so the guard
-- changes (but for a 2^-64 chance). A scoped run updates the stored guard by
-- its players' rows before and after its write, which keeps any difference
-- made by others.
CREATE OR REPLACE FUNCTION capo_season_stats_guard(target_tenant_id uuid, players int[])
RETURNS TABLE (n int, x bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (h.n + s.n)::int, h.x # s.x
    FROM (SELECT count(*) AS n,
                 COALESCE(bit_xor(hashtextextended(a.ctid::text || a.xmin::text, 1)), 0) AS x
          FROM aggregated_half_season_stats a
          WHERE a.tenant_id = target_tenant_id
            AND (players IS NULL OR a.player_id = ANY (players))) h,
         (SELECT count(*) AS n,
                 COALESCE(bit_xor(hashtextextended(a.ctid::text || a.xmin::text, 2)), 0) AS x
          FROM aggregated_season_stats a
          WHERE a.tenant_id = target_tenant_id
            AND (players IS NULL OR a.player_id = ANY (players))) s
$$;

-- The digests of `players` (each one's games and the bit_xor of
-- capo_season_game_hash), read through (tenant_id, player_id); a scoped run's,
-- after its write. The full run computes everyone's inline.
CREATE OR REPLACE FUNCTION capo_season_digests(target_tenant_id uuid, players int[])
RETURNS TABLE (player_id int, games int, digest bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.player_id, count(g.player_match_id)::int, COALESCE(bit_xor(g.h), 0)
    FROM players p
    LEFT JOIN (
        SELECT pm.player_id, pm.player_match_id,
               capo_season_game_hash(pm.player_match_id, pm.match_id,
                                     m.match_date - DATE '0001-01-01', pm.result, pm.goals,
                                     pm.heavy_win, pm.heavy_loss, pm.clean_sheet) AS h
        FROM player_matches pm
        JOIN matches m ON m.tenant_id = target_tenant_id AND m.match_id = pm.match_id
        WHERE pm.tenant_id = target_tenant_id AND pm.player_id = ANY (players)
    ) g ON g.player_id = p.player_id
    WHERE p.tenant_id = target_tenant_id AND NOT p.is_ringer AND p.player_id = ANY (players)
    GROUP BY p.player_id
$$;

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_half_and_full_season_stats(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_half_and_full_season_stats()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_half_and_full_season_stats() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_half_and_full_season_stats(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_half_and_full_season_stats(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- JIT compilation costs more than it saves on these short queries
-- Planned per call, as every stats function: a generic plan (PostgreSQL's
-- choice after five calls in a session) is made without the tenant and can
-- misjudge one club among many (docs/stats.md, "Generic plans").
SET plan_cache_mode = force_custom_plan
-- joins of CTEs have no statistics: PostgreSQL 15 guessed millions of rows and
-- sorted every game (on disk) for merge joins; hash joins are right for all of
-- them (docs/stats.md)
SET enable_mergejoin = off
SET enable_nestloop = off  -- the same for comparing the stored rows with the new ones
SET work_mem = '64MB'
AS $$
DECLARE
    v_players  int[] := capo_scope_players();  -- NULL: every player (docs/stats.md)
    v_today      date;
    v_half_start date;
    v_half_end   date;
    v_last_day   date;   -- 31 December of today's year: later years are never computed
    fs            record;
    v_half_rows  bigint;
    v_years      int;
    v_year_starts date[];  -- 1 January of each rebuilt year
    v_season_rows bigint;
    v_written    bigint;  -- rows deleted or inserted (unchanged rows are kept)
    v_full       boolean := v_players IS NULL;
    v_header     text;     -- a full run's header (capo_player_games_digests)
    v_has_state  boolean;
    v_guard      record;   -- the output rows' guard (n, x): count and (ctid, xmin) hash
    v_after      record;
    v_digests    int;      -- non-ringers (a digest each)
    v_ids        int[];    -- a full run's new digests: player, games, digest
    v_games      int[];
    v_hashes     bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_half_and_full_season_stats'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        v_today := capo_today();
        v_half_start := get_current_half_season_start_date();
        v_half_end := get_current_half_season_end_date();
        v_last_day := make_date(extract(year FROM v_today)::int, 12, 31);

        -- Read (and cast) like the reference, though unused: a bad value fails.
        PERFORM get_config_value('match_duration_minutes', '60', target_tenant_id)::int;
        SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);

        -- Full seasons: the years (up to today's) that still have a match are
        -- rebuilt; a year whose rows are all ringers ends empty.
        SELECT count(*), COALESCE(array_agg(y.start ORDER BY y.start), '{}')
        INTO v_years, v_year_starts
        FROM (SELECT DISTINCT make_date(extract(year FROM m.match_date)::int, 1, 1) AS start
              FROM matches m
              WHERE m.tenant_id = target_tenant_id AND m.match_date <= v_last_day) y;

        -- A full run recomputes only the players whose digest (the number of
        -- their games and the bit_xor of the games' hashes) came, went or
        -- changed since the last full run (docs/stats.md, "Only changed
        -- players"): a player's rows depend only on the player's own games, given
        -- the windows. Everyone when there is no state yet, when the header (the
        -- windows derived from today, the rebuilt years, the fantasy settings,
        -- the functions' source, the server) or the guard of the output rows
        -- differs (someone else, a scoped run included, changed a row), or when
        -- more than half the players changed.
        IF v_full THEN
            v_header := concat_ws('#', current_setting('server_version_num'),
                (SELECT md5(string_agg(p.prosrc, '|' ORDER BY p.proname, p.oid))
                 FROM pg_proc p
                 WHERE p.proname IN ('update_half_and_full_season_stats',
                                     'capo_season_game_hash', 'capo_fantasy_points')),
                row(fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw)::text,
                v_half_start, v_half_end, v_last_day, v_year_starts::text);
            SELECT * INTO v_guard FROM capo_season_stats_guard(target_tenant_id, NULL);
            v_has_state := EXISTS (
                SELECT FROM capo_player_games_digests
                WHERE tenant_id = target_tenant_id AND kind = 'season_stats'
                  AND player_id = 0 AND header = v_header
                  AND games = v_guard.n AND digest = v_guard.x);
            WITH new_digests AS MATERIALIZED (
                SELECT p.player_id, COALESCE(g.games, 0) AS games,
                       COALESCE(g.digest, 0) AS digest
                FROM (SELECT player_id FROM players
                      WHERE tenant_id = target_tenant_id AND NOT is_ringer OFFSET 0) p
                LEFT JOIN (
                    SELECT pm.player_id, count(*)::int AS games,
                           bit_xor(capo_season_game_hash(pm.player_match_id, pm.match_id, m.day,
                                                         pm.result, pm.goals, pm.heavy_win,
                                                         pm.heavy_loss, pm.clean_sheet)) AS digest
                    -- the club's rows, read by tenant and joined in memory
                    FROM (SELECT player_id, match_id, player_match_id, result, goals,
                                 heavy_win, heavy_loss, clean_sheet
                          FROM player_matches WHERE tenant_id = target_tenant_id OFFSET 0) pm
                    JOIN (SELECT match_id, (match_date - DATE '0001-01-01') AS day
                          FROM matches WHERE tenant_id = target_tenant_id OFFSET 0) m
                      -- (+ 0: no statistics, else PostgreSQL judges the join by the
                      -- match ids of every club, expects a few hundred games and sorts
                      -- them all to group them; docs/stats.md)
                      ON m.match_id = pm.match_id + 0
                    GROUP BY pm.player_id
                ) g ON g.player_id = p.player_id
            ),
            old_digests AS (
                SELECT player_id, games, digest FROM capo_player_games_digests
                WHERE tenant_id = target_tenant_id AND kind = 'season_stats'
                  AND player_id <> 0
            )
            SELECT (SELECT count(*) FROM new_digests),
                   -- the players whose digest came, went or changed
                   (SELECT COALESCE(array_agg(COALESCE(n.player_id, o.player_id)), '{}')
                    FROM new_digests n FULL JOIN old_digests o ON o.player_id = n.player_id
                    WHERE n.games IS DISTINCT FROM o.games
                       OR n.digest IS DISTINCT FROM o.digest),
                   (SELECT array_agg(player_id) FROM new_digests),
                   (SELECT array_agg(games) FROM new_digests),
                   (SELECT array_agg(digest) FROM new_digests)
            INTO v_digests, v_players, v_ids, v_games, v_hashes;
            IF NOT v_has_state OR cardinality(v_players) * 2 > v_digests THEN
                v_players := NULL;
            END IF;
        ELSE
            -- A scoped run keeps the state, if any, true: its players' guard
            -- before the write, to update the stored guard after it.
            v_has_state := EXISTS (
                SELECT FROM capo_player_games_digests
                WHERE tenant_id = target_tenant_id AND kind = 'season_stats'
                  AND player_id = 0);
            IF v_has_state THEN
                SELECT * INTO v_guard FROM capo_season_stats_guard(target_tenant_id, v_players);
            END IF;
        END IF;

        -- (a full run where no player changed computes nothing)
        IF v_players IS NULL OR cardinality(v_players) > 0 THEN
        -- One statement reads the games once for both tables. Half-season: every
        -- row of the window, both ends inclusive (future matches inside the window
        -- count); seasons: every year up to today's.
        -- Both tables are written as a difference: a row whose values are unchanged
        -- is kept (its last_updated too), the others are deleted (found by ctid among
        -- the rows read, so only the tenant's rows are touched) and inserted. The
        -- numeric columns are numeric(10,1), so equal values are equal digits.
        WITH club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
              AND (v_players IS NULL OR player_id = ANY (v_players))
        ),
        by_year AS MATERIALIZED (
            -- One pass over the games: totals per player, year and whether the
            -- game is in today's half-season (always in today's year). The half's
            -- and the seasons' totals add these up (integers: exact).
            SELECT pm.player_id,
                   extract(year FROM m.match_date)::int                AS y,
                   m.match_date BETWEEN v_half_start AND v_half_end    AS in_half,
                   count(*)                                            AS games,
                   count(*) FILTER (WHERE pm.result = 'win')           AS wins,
                   count(*) FILTER (WHERE pm.result = 'draw')          AS draws,
                   count(*) FILTER (WHERE pm.result = 'loss')          AS losses,
                   sum(pm.goals)                                       AS goals,
                   count(*) FILTER (WHERE pm.heavy_win)                AS heavy_wins,
                   count(*) FILTER (WHERE pm.heavy_loss)               AS heavy_losses,
                   count(*) FILTER (WHERE pm.clean_sheet)              AS clean_sheets,
                   sum(capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win,
                                           pm.heavy_loss, pm.clean_sheet,
                                           fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd,
                                           fs.hcw))                    AS fp
            -- The club's rows (OFFSET 0: read by tenant, not through the other
            -- clubs' ids), joined in memory; subqueries rather than CTEs, so the
            -- planner knows match_id is unique and hashes the matches.
            FROM (SELECT g.player_id, g.match_id, g.result, g.goals, g.heavy_win,
                         g.heavy_loss, g.clean_sheet
                  FROM player_matches g
                  WHERE g.tenant_id = target_tenant_id
                    AND (v_players IS NULL OR g.player_id = ANY (v_players))
                  OFFSET 0) pm
            JOIN (SELECT c.match_id, c.match_date FROM matches c
                  WHERE c.tenant_id = target_tenant_id AND c.match_date <= v_last_day
                  OFFSET 0) m ON m.match_id = pm.match_id
            JOIN club_players p ON p.player_id = pm.player_id
            GROUP BY 1, 2, 3
        ),
        half_new AS MATERIALIZED (
            SELECT a.player_id, a.games, a.wins, a.draws, a.losses, a.goals,
                   a.heavy_wins, a.heavy_losses, a.clean_sheets,
                   round(a.wins::numeric / a.games * 100, 1) AS win_percentage,
                   a.fp,
                   round(a.fp::numeric / a.games, 1) AS points_per_game
            FROM (
                SELECT g.player_id,
                       sum(g.games)::int                                  AS games,
                       sum(g.wins)::int                                   AS wins,
                       sum(g.draws)::int                                  AS draws,
                       sum(g.losses)::int                                 AS losses,
                       COALESCE(sum(g.goals), 0)::int                     AS goals,
                       sum(g.heavy_wins)::int                             AS heavy_wins,
                       sum(g.heavy_losses)::int                           AS heavy_losses,
                       sum(g.clean_sheets)::int                           AS clean_sheets,
                       sum(g.fp)::int                                     AS fp
                FROM by_year g
                WHERE g.in_half
                GROUP BY g.player_id
            ) a
        ),
        season_new AS MATERIALIZED (
            SELECT a.player_id, make_date(a.y, 1, 1) AS season_start_date,
                   make_date(a.y, 12, 31) AS season_end_date,
                   a.games, a.wins, a.draws, a.losses, a.goals,
                   a.heavy_wins, a.heavy_losses, a.clean_sheets,
                   round(a.wins::numeric / a.games * 100, 1) AS win_percentage,
                   a.fp,
                   round(a.fp::numeric / a.games, 1) AS points_per_game
            FROM (
                SELECT g.player_id, g.y,
                       sum(g.games)::int                                  AS games,
                       sum(g.wins)::int                                   AS wins,
                       sum(g.draws)::int                                  AS draws,
                       sum(g.losses)::int                                 AS losses,
                       COALESCE(sum(g.goals), 0)::int                     AS goals,
                       sum(g.heavy_wins)::int                             AS heavy_wins,
                       sum(g.heavy_losses)::int                           AS heavy_losses,
                       sum(g.clean_sheets)::int                           AS clean_sheets,
                       sum(g.fp)::bigint                                  AS fp
                FROM by_year g
                GROUP BY g.player_id, g.y
            ) a
        ),
        half_old AS MATERIALIZED (
            SELECT h.ctid AS row_id, h.player_id, h.games_played, h.wins, h.draws, h.losses,
                   h.goals, h.heavy_wins, h.heavy_losses, h.clean_sheets, h.win_percentage,
                   h.fantasy_points, h.points_per_game, h.historical_blocks
            FROM aggregated_half_season_stats h
            WHERE h.tenant_id = target_tenant_id
              AND (v_players IS NULL OR h.player_id = ANY (v_players))
        ),
        -- the rows of the rebuilt years (those with a match up to today's year)
        season_old AS MATERIALIZED (
            SELECT s.ctid AS row_id, s.player_id, s.season_start_date, s.season_end_date,
                   s.games_played, s.wins, s.draws, s.losses, s.goals, s.heavy_wins,
                   s.heavy_losses, s.clean_sheets, s.win_percentage, s.fantasy_points,
                   s.points_per_game
            FROM aggregated_season_stats s
            WHERE s.tenant_id = target_tenant_id
              AND (v_players IS NULL OR s.player_id = ANY (v_players))
              AND s.season_start_date = ANY (v_year_starts)
        ),
        half_kept AS MATERIALIZED (
            SELECT o.row_id, o.player_id
            FROM half_old o JOIN half_new n
              ON n.player_id = o.player_id AND n.games = o.games_played
             AND n.wins = o.wins AND n.draws = o.draws AND n.losses = o.losses
             AND n.goals = o.goals AND n.heavy_wins = o.heavy_wins
             AND n.heavy_losses = o.heavy_losses AND n.clean_sheets = o.clean_sheets
             AND n.win_percentage = o.win_percentage AND n.fp = o.fantasy_points
             AND n.points_per_game = o.points_per_game
            WHERE o.historical_blocks = '[]'::jsonb
        ),
        season_kept AS MATERIALIZED (
            SELECT o.row_id, o.player_id, o.season_start_date
            FROM season_old o JOIN season_new n
              ON n.player_id = o.player_id AND n.season_start_date = o.season_start_date
             AND n.season_end_date = o.season_end_date AND n.games = o.games_played
             AND n.wins = o.wins AND n.draws = o.draws AND n.losses = o.losses
             AND n.goals = o.goals AND n.heavy_wins = o.heavy_wins
             AND n.heavy_losses = o.heavy_losses AND n.clean_sheets = o.clean_sheets
             AND n.win_percentage = o.win_percentage AND n.fp = o.fantasy_points
             AND n.points_per_game = o.points_per_game
        ),
        half_gone AS (
            DELETE FROM aggregated_half_season_stats h
            WHERE h.tenant_id = target_tenant_id
              AND h.ctid = ANY (ARRAY(SELECT o.row_id FROM half_old o
                                      WHERE o.row_id NOT IN (SELECT row_id FROM half_kept)))
            RETURNING 1
        ),
        season_gone AS (
            DELETE FROM aggregated_season_stats s
            WHERE s.tenant_id = target_tenant_id
              AND s.ctid = ANY (ARRAY(SELECT o.row_id FROM season_old o
                                      WHERE o.row_id NOT IN (SELECT row_id FROM season_kept)))
            RETURNING 1
        ),
        half_came AS (
            INSERT INTO aggregated_half_season_stats (
                tenant_id, player_id, games_played, wins, draws, losses, goals,
                heavy_wins, heavy_losses, clean_sheets, win_percentage, fantasy_points,
                points_per_game)
            SELECT target_tenant_id, n.player_id, n.games, n.wins, n.draws, n.losses, n.goals,
                   n.heavy_wins, n.heavy_losses, n.clean_sheets, n.win_percentage, n.fp,
                   n.points_per_game
            FROM half_new n
            WHERE n.player_id NOT IN (SELECT player_id FROM half_kept)
              AND (SELECT count(*) FROM half_gone) >= 0  -- after the deletes (unique keys)
            ORDER BY n.player_id
            RETURNING 1
        ),
        season_came AS (
            INSERT INTO aggregated_season_stats (
                tenant_id, player_id, season_start_date, season_end_date, games_played, wins,
                draws, losses, goals, heavy_wins, heavy_losses, clean_sheets, win_percentage,
                fantasy_points, points_per_game)
            SELECT target_tenant_id, n.player_id, n.season_start_date, n.season_end_date,
                   n.games, n.wins, n.draws, n.losses, n.goals,
                   n.heavy_wins, n.heavy_losses, n.clean_sheets, n.win_percentage, n.fp,
                   n.points_per_game
            FROM season_new n
            WHERE NOT EXISTS (SELECT FROM season_kept k
                              WHERE k.player_id = n.player_id
                                AND k.season_start_date = n.season_start_date)
              AND (SELECT count(*) FROM season_gone) >= 0  -- after the deletes (unique keys)
            ORDER BY n.season_start_date, n.player_id
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM half_new), (SELECT count(*) FROM season_new),
               (SELECT count(*) FROM half_gone) + (SELECT count(*) FROM season_gone)
                   + (SELECT count(*) FROM half_came) + (SELECT count(*) FROM season_came)
        INTO v_half_rows, v_season_rows, v_written;
        END IF;

        IF v_full THEN
            -- the computed players' digests (everyone's when v_players is NULL),
            -- then the header with the guard of the rows as this run leaves them
            DELETE FROM capo_player_games_digests
            WHERE tenant_id = target_tenant_id AND kind = 'season_stats'
              AND (v_players IS NULL OR player_id = ANY (v_players) OR player_id = 0);
            INSERT INTO capo_player_games_digests (tenant_id, kind, player_id, games, digest)
            SELECT target_tenant_id, 'season_stats', u.player_id, u.games, u.digest
            FROM unnest(v_ids, v_games, v_hashes) AS u(player_id, games, digest)
            WHERE v_players IS NULL OR u.player_id = ANY (v_players);
            -- the row counts a computation of everyone would return
            SELECT (SELECT count(*) FROM aggregated_half_season_stats
                    WHERE tenant_id = target_tenant_id),
                   (SELECT count(*) FROM aggregated_season_stats
                    WHERE tenant_id = target_tenant_id
                      AND season_start_date = ANY (v_year_starts))
            INTO v_half_rows, v_season_rows;
            SELECT * INTO v_after FROM capo_season_stats_guard(target_tenant_id, NULL);
            INSERT INTO capo_player_games_digests (tenant_id, kind, player_id, games, digest,
                                                   header)
            VALUES (target_tenant_id, 'season_stats', 0, v_after.n, v_after.x, v_header);
        ELSIF v_has_state THEN
            -- a scoped run: its players' digests, and the stored guard moved by
            -- what this run changed in their rows (a difference made by others
            -- stays a difference; a header of other windows stays other)
            SELECT * INTO v_after FROM capo_season_stats_guard(target_tenant_id, v_players);
            UPDATE capo_player_games_digests
            SET games = games - v_guard.n + v_after.n, digest = digest # v_guard.x # v_after.x
            WHERE tenant_id = target_tenant_id AND kind = 'season_stats' AND player_id = 0;
            DELETE FROM capo_player_games_digests
            WHERE tenant_id = target_tenant_id AND kind = 'season_stats'
              AND player_id = ANY (v_players) AND player_id <> 0;
            INSERT INTO capo_player_games_digests (tenant_id, kind, player_id, games, digest)
            SELECT target_tenant_id, 'season_stats', d.player_id, d.games, d.digest
            FROM capo_season_digests(target_tenant_id, v_players) d;
        END IF;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'season_stats', 'season_stats');
        PERFORM capo_touch_cache_metadata(target_tenant_id, 'half_season_stats', 'half_season_stats');

        RETURN jsonb_build_object(
            'rows', v_half_rows + v_season_rows,
            'half_season_rows', v_half_rows,
            'season_rows', v_season_rows,
            'seasons_rebuilt', v_years);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'Error in update_half_and_full_season_stats: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END;
$$;
