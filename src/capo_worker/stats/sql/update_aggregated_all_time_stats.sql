-- update_aggregated_all_time_stats (spec 20-core-stats §2)
--
-- Career totals of every non-ringer (retired included) from all of their
-- player_matches rows: matches is not joined, so future-dated matches and rows
-- whose match_id is NULL count. A NULL result is a game worth 0 fantasy points
-- (FP_raw). Players with fewer than games_required_for_hof games (default 0
-- here) get no row at all (reference quirk Q-A1). Errors are re-raised as
-- "Error in update_aggregated_all_time_stats: <message>" (the SQLSTATE is kept).

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_all_time_stats(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_all_time_stats()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_all_time_stats() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_all_time_stats(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_aggregated_all_time_stats(
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
SET work_mem = '64MB'
AS $$
DECLARE
    v_players  int[] := capo_scope_players();  -- NULL: every player (docs/stats.md)
    v_duration int;
    v_min_games int;
    fs record;
    v_rows bigint;
    v_written bigint;  -- rows inserted (unchanged rows are kept)
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_all_time_stats'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        v_duration := get_config_value('match_duration_minutes', '60', target_tenant_id)::int;
        v_min_games := get_config_value('games_required_for_hof', '0', target_tenant_id)::int;
        SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);

        -- Written as a difference: a row whose values are unchanged is kept (its
        -- last_updated too), the others are deleted (found by ctid among the rows
        -- read, so only the tenant's rows are touched) and inserted. The numeric
        -- columns are numeric(10,1), so equal values are equal digits.
        -- The club's rows are read through indexes that lead with the tenant and
        -- joined in memory (MATERIALIZED): among many clubs the planner would
        -- otherwise guess the club's joins from ids that span every club.
        WITH club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
              AND (v_players IS NULL OR player_id = ANY (v_players))
        ),
        fresh AS MATERIALIZED (
            SELECT a.player_id, a.games, a.wins, a.draws, a.losses, a.goals,
                   round(a.wins::numeric / a.games * 100, 1) AS win_percentage,
                   CASE WHEN a.goals > 0
                        THEN round((a.games::numeric * v_duration) / a.goals, 1) END
                       AS minutes_per_goal,
                   a.heavy_wins,
                   round(a.heavy_wins::numeric / a.games * 100, 1) AS heavy_win_percentage,
                   a.heavy_losses,
                   round(a.heavy_losses::numeric / a.games * 100, 1) AS heavy_loss_percentage,
                   a.clean_sheets,
                   round(a.clean_sheets::numeric / a.games * 100, 1) AS clean_sheet_percentage,
                   a.fp,
                   round(a.fp::numeric / a.games, 1) AS points_per_game
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
                       sum(capo_fantasy_points(pm.result, pm.heavy_win, pm.heavy_loss,
                                               pm.clean_sheet,
                                               fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd,
                                               fs.hcw))                        AS fp
                FROM player_matches pm
                WHERE pm.tenant_id = target_tenant_id AND pm.player_id IS NOT NULL
                  AND (v_players IS NULL OR pm.player_id = ANY (v_players))
                GROUP BY pm.player_id
                HAVING count(*) >= v_min_games
            ) a
            -- aggregated first, then kept for the non-ringers (a join per player,
            -- not per game)
            WHERE a.player_id IN (SELECT player_id FROM club_players)
        ),
        stored AS MATERIALIZED (
            SELECT s.ctid AS row_id, s.*
            FROM aggregated_all_time_stats s
            WHERE s.tenant_id = target_tenant_id
              AND (v_players IS NULL OR s.player_id = ANY (v_players))
        ),
        kept AS MATERIALIZED (
            SELECT o.row_id, o.player_id
            FROM stored o JOIN fresh n
              ON n.player_id = o.player_id AND n.games = o.games_played
             AND n.wins = o.wins AND n.draws = o.draws AND n.losses = o.losses
             AND n.goals = o.goals AND n.win_percentage = o.win_percentage
             AND n.heavy_wins = o.heavy_wins AND n.heavy_win_percentage = o.heavy_win_percentage
             AND n.heavy_losses = o.heavy_losses
             AND n.heavy_loss_percentage = o.heavy_loss_percentage
             AND n.clean_sheets = o.clean_sheets
             AND n.clean_sheet_percentage = o.clean_sheet_percentage
             AND n.fp = o.fantasy_points AND n.points_per_game = o.points_per_game
             AND n.minutes_per_goal IS NOT DISTINCT FROM o.minutes_per_goal
        ),
        gone AS (
            DELETE FROM aggregated_all_time_stats s
            WHERE s.tenant_id = target_tenant_id
              AND s.ctid = ANY (ARRAY(SELECT o.row_id FROM stored o
                                      WHERE o.row_id NOT IN (SELECT row_id FROM kept)))
            RETURNING 1
        ),
        came AS (
            INSERT INTO aggregated_all_time_stats (
                tenant_id, player_id, games_played, wins, draws, losses, goals, win_percentage,
                minutes_per_goal, heavy_wins, heavy_win_percentage, heavy_losses,
                heavy_loss_percentage, clean_sheets, clean_sheet_percentage, fantasy_points,
                points_per_game)
            SELECT target_tenant_id, n.player_id, n.games, n.wins, n.draws, n.losses, n.goals,
                   n.win_percentage, n.minutes_per_goal, n.heavy_wins, n.heavy_win_percentage,
                   n.heavy_losses, n.heavy_loss_percentage, n.clean_sheets,
                   n.clean_sheet_percentage, n.fp, n.points_per_game
            FROM fresh n
            WHERE n.player_id NOT IN (SELECT player_id FROM kept)
              AND (SELECT count(*) FROM gone) >= 0  -- after the deletes (unique keys)
            ORDER BY n.player_id
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM came)
        INTO v_rows, v_written;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'all_time_stats', 'match_result');

        RETURN jsonb_build_object('rows', v_rows);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'Error in update_aggregated_all_time_stats: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END;
$$;
