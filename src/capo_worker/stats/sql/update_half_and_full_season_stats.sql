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
    v_season_rows bigint;
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

        -- Half-season: every row of the window, both ends inclusive (future
        -- matches inside the window count).
        DELETE FROM aggregated_half_season_stats
        WHERE tenant_id = target_tenant_id
          AND (v_players IS NULL OR player_id = ANY (v_players));

        INSERT INTO aggregated_half_season_stats (
            tenant_id, player_id, games_played, wins, draws, losses, goals,
            heavy_wins, heavy_losses, clean_sheets, win_percentage, fantasy_points,
            points_per_game)
        -- The club's rows are read through indexes that lead with the tenant and
        -- joined in memory (MATERIALIZED): among many clubs the planner would
        -- otherwise guess the club's joins from ids that span every club.
        WITH club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
        ),
        club_matches AS MATERIALIZED (
            SELECT match_id, match_date FROM matches
            WHERE tenant_id = target_tenant_id AND match_date BETWEEN v_half_start AND v_half_end
        ),
        club_games AS MATERIALIZED (
            SELECT player_id, match_id, result, goals, heavy_win, heavy_loss, clean_sheet
            FROM player_matches WHERE tenant_id = target_tenant_id
              AND (v_players IS NULL OR player_id = ANY (v_players))
        )
        SELECT target_tenant_id, a.player_id, a.games, a.wins, a.draws, a.losses, a.goals,
               a.heavy_wins, a.heavy_losses, a.clean_sheets,
               round(a.wins::numeric / a.games * 100, 1),
               a.fp,
               round(a.fp::numeric / a.games, 1)
        FROM (
            SELECT pm.player_id,
                   count(*)::int                                           AS games,
                   count(*) FILTER (WHERE pm.result = 'win')::int          AS wins,
                   count(*) FILTER (WHERE pm.result = 'draw')::int         AS draws,
                   count(*) FILTER (WHERE pm.result = 'loss')::int         AS losses,
                   COALESCE(sum(pm.goals), 0)::int                         AS goals,
                   count(*) FILTER (WHERE pm.heavy_win)::int               AS heavy_wins,
                   count(*) FILTER (WHERE pm.heavy_loss)::int              AS heavy_losses,
                   count(*) FILTER (WHERE pm.clean_sheet)::int             AS clean_sheets,
                   sum(capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win,
                                           pm.heavy_loss, pm.clean_sheet,
                                           fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw))::int
                                                                           AS fp
            FROM club_games pm
            JOIN club_matches m ON m.match_id = pm.match_id
            JOIN club_players p ON p.player_id = pm.player_id
            GROUP BY pm.player_id
        ) a
        ORDER BY a.player_id;
        GET DIAGNOSTICS v_half_rows = ROW_COUNT;

        -- Full seasons: the years (up to today's) that still have a match are
        -- deleted and rebuilt; a year whose rows are all ringers ends empty.
        SELECT count(DISTINCT extract(year FROM m.match_date)) INTO v_years
        FROM matches m
        WHERE m.tenant_id = target_tenant_id AND m.match_date <= v_last_day;

        DELETE FROM aggregated_season_stats s
        WHERE s.tenant_id = target_tenant_id
          AND (v_players IS NULL OR s.player_id = ANY (v_players))
          AND s.season_start_date IN (
              SELECT make_date(extract(year FROM m.match_date)::int, 1, 1)
              FROM matches m
              WHERE m.tenant_id = target_tenant_id AND m.match_date <= v_last_day);

        INSERT INTO aggregated_season_stats (
            tenant_id, player_id, season_start_date, season_end_date, games_played, wins,
            draws, losses, goals, heavy_wins, heavy_losses, clean_sheets, win_percentage,
            fantasy_points, points_per_game)
        WITH club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
        ),
        club_matches AS MATERIALIZED (
            SELECT match_id, match_date FROM matches
            WHERE tenant_id = target_tenant_id AND match_date <= v_last_day
        ),
        club_games AS MATERIALIZED (
            SELECT player_id, match_id, result, goals, heavy_win, heavy_loss, clean_sheet
            FROM player_matches WHERE tenant_id = target_tenant_id
              AND (v_players IS NULL OR player_id = ANY (v_players))
        )
        SELECT target_tenant_id, a.player_id, make_date(a.y, 1, 1), make_date(a.y, 12, 31),
               a.games, a.wins, a.draws, a.losses, a.goals,
               a.heavy_wins, a.heavy_losses, a.clean_sheets,
               round(a.wins::numeric / a.games * 100, 1),
               a.fp,
               round(a.fp::numeric / a.games, 1)
        FROM (
            SELECT pm.player_id,
                   extract(year FROM m.match_date)::int                    AS y,
                   count(*)::int                                           AS games,
                   count(*) FILTER (WHERE pm.result = 'win')::int          AS wins,
                   count(*) FILTER (WHERE pm.result = 'draw')::int         AS draws,
                   count(*) FILTER (WHERE pm.result = 'loss')::int         AS losses,
                   COALESCE(sum(pm.goals), 0)::int                         AS goals,
                   count(*) FILTER (WHERE pm.heavy_win)::int               AS heavy_wins,
                   count(*) FILTER (WHERE pm.heavy_loss)::int              AS heavy_losses,
                   count(*) FILTER (WHERE pm.clean_sheet)::int             AS clean_sheets,
                   sum(capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win,
                                           pm.heavy_loss, pm.clean_sheet,
                                           fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw))
                                                                           AS fp
            FROM club_games pm
            JOIN club_matches m ON m.match_id = pm.match_id
            JOIN club_players p ON p.player_id = pm.player_id
            GROUP BY pm.player_id, extract(year FROM m.match_date)::int
        ) a
        ORDER BY a.y, a.player_id;
        GET DIAGNOSTICS v_season_rows = ROW_COUNT;

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
