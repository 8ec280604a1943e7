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
AS $$
DECLARE
    v_players  int[] := capo_scope_players();  -- NULL: every player (docs/stats.md)
    v_duration int;
    v_min_games int;
    fs record;
    v_rows bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_all_time_stats'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        v_duration := get_config_value('match_duration_minutes', '60', target_tenant_id)::int;
        v_min_games := get_config_value('games_required_for_hof', '0', target_tenant_id)::int;
        SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);

        DELETE FROM aggregated_all_time_stats
        WHERE tenant_id = target_tenant_id
          AND (v_players IS NULL OR player_id = ANY (v_players));

        INSERT INTO aggregated_all_time_stats (
            tenant_id, player_id, games_played, wins, draws, losses, goals, win_percentage,
            minutes_per_goal, heavy_wins, heavy_win_percentage, heavy_losses,
            heavy_loss_percentage, clean_sheets, clean_sheet_percentage, fantasy_points,
            points_per_game)
        -- The club's rows are read through indexes that lead with the tenant and
        -- joined in memory (MATERIALIZED): among many clubs the planner would
        -- otherwise guess the club's joins from ids that span every club.
        WITH club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
        ),
        club_games AS MATERIALIZED (
            SELECT player_id, result, goals, heavy_win, heavy_loss, clean_sheet
            FROM player_matches WHERE tenant_id = target_tenant_id
              AND (v_players IS NULL OR player_id = ANY (v_players))
        )
        SELECT target_tenant_id, a.player_id, a.games, a.wins, a.draws, a.losses, a.goals,
               round(a.wins::numeric / a.games * 100, 1),
               CASE WHEN a.goals > 0
                    THEN round((a.games::numeric * v_duration) / a.goals, 1) END,
               a.heavy_wins,
               round(a.heavy_wins::numeric / a.games * 100, 1),
               a.heavy_losses,
               round(a.heavy_losses::numeric / a.games * 100, 1),
               a.clean_sheets,
               round(a.clean_sheets::numeric / a.games * 100, 1),
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
                   sum(capo_fantasy_points(pm.result, pm.heavy_win, pm.heavy_loss,
                                           pm.clean_sheet,
                                           fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw))
                                                                           AS fp
            FROM club_games pm
            JOIN club_players p ON p.player_id = pm.player_id
            GROUP BY pm.player_id
            HAVING count(*) >= v_min_games
        ) a
        ORDER BY a.player_id;
        GET DIAGNOSTICS v_rows = ROW_COUNT;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'all_time_stats', 'match_result');

        RETURN jsonb_build_object('rows', v_rows);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'Error in update_aggregated_all_time_stats: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END;
$$;
