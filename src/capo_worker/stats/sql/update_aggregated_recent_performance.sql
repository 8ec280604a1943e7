-- update_aggregated_recent_performance (spec 20-core-stats §4)
--
-- Each non-ringer's (retired included) last five games, newest first, as a
-- jsonb array, plus the goals in them; players without games get [] and 0.
-- "Last" is by match date alone, future-dated matches included (Q-R3); games
-- on one date are ordered by match_id descending (Q-R2: the reference leaves
-- that order undefined). In each game object `clean_sheet` is recomputed from
-- the score (Q-R1) while heavy_win/heavy_loss are the stored flags (NULL as
-- false); a NULL result is "", NULL goals 0, and a team other than 'A' is read
-- as team B. One set-based statement (a window over the rows, no per-player
-- loop): no temporary table, no uuid-ossp (Q-R4).
-- Errors are re-raised as "Error in update_aggregated_recent_performance: <message>".

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_recent_performance(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_recent_performance()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_recent_performance() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_recent_performance(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_aggregated_recent_performance(
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
    v_rows bigint;
    v_written bigint;  -- rows inserted (unchanged rows are kept)
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_recent_performance'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        -- One sort of the tenant's non-ringer rows, numbered newest first per
        -- player; the first five of each player make the array. Written as a
        -- difference: a row whose array and goals are unchanged is kept (its
        -- last_updated too), the others are deleted (found by ctid among the rows
        -- read, so only the tenant's rows are touched) and inserted.
        -- The club's rows are read through indexes that lead with the tenant and
        -- joined in memory (MATERIALIZED): among many clubs the planner would
        -- otherwise guess the club's joins from ids that span every club.
        WITH club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
              AND (v_players IS NULL OR player_id = ANY (v_players))
        ),
        club_matches AS MATERIALIZED (
            SELECT match_id, match_date, team_a_score, team_b_score
            FROM matches WHERE tenant_id = target_tenant_id
        ),
        club_games AS MATERIALIZED (
            SELECT player_id, match_id, player_match_id, team, goals, result, heavy_win,
                   heavy_loss
            FROM player_matches WHERE tenant_id = target_tenant_id
              AND (v_players IS NULL OR player_id = ANY (v_players))
        ),
        fresh AS MATERIALIZED (
            SELECT p.player_id, COALESCE(r.games, '[]'::jsonb) AS games,
                   COALESCE(r.goals, 0) AS goals
            FROM club_players p
            LEFT JOIN (
                SELECT g.player_id,
                       jsonb_agg(
                           jsonb_build_object(
                               'date', to_char(g.match_date, 'YYYY-MM-DD'),
                               'goals', g.goals,
                               'score', CASE WHEN g.team = 'A'
                                             THEN g.team_a_score || '-' || g.team_b_score
                                             ELSE g.team_b_score || '-' || g.team_a_score END,
                               'result', g.result,
                               'heavy_win', g.heavy_win,
                               'heavy_loss', g.heavy_loss,
                               'clean_sheet', CASE WHEN g.team = 'A' THEN g.team_b_score = 0
                                                   ELSE g.team_a_score = 0 END)
                           ORDER BY g.rn) AS games,
                       sum(g.goals)::int AS goals
                FROM (
                    SELECT pm.player_id, pm.team, m.match_date, m.team_a_score, m.team_b_score,
                           COALESCE(pm.goals, 0) AS goals,
                           COALESCE(pm.result, '') AS result,
                           COALESCE(pm.heavy_win, false) AS heavy_win,
                           COALESCE(pm.heavy_loss, false) AS heavy_loss,
                           row_number() OVER (
                               PARTITION BY pm.player_id
                               ORDER BY m.match_date DESC, m.match_id DESC, pm.player_match_id DESC
                           ) AS rn
                    FROM club_games pm
                    JOIN club_matches m ON m.match_id = pm.match_id
                    JOIN club_players rp ON rp.player_id = pm.player_id
                ) g
                WHERE g.rn <= 5
                GROUP BY g.player_id
            ) r ON r.player_id = p.player_id
        ),
        stored AS MATERIALIZED (
            SELECT s.ctid AS row_id, s.player_id, s.last_5_games, s.last_5_goals
            FROM aggregated_recent_performance s
            WHERE s.tenant_id = target_tenant_id
              AND (v_players IS NULL OR s.player_id = ANY (v_players))
        ),
        kept AS MATERIALIZED (
            SELECT o.row_id, o.player_id
            FROM stored o JOIN fresh n
              ON n.player_id = o.player_id AND n.games = o.last_5_games
             AND n.goals = o.last_5_goals
        ),
        gone AS (
            DELETE FROM aggregated_recent_performance s
            WHERE s.tenant_id = target_tenant_id
              AND s.ctid = ANY (ARRAY(SELECT o.row_id FROM stored o
                                      WHERE o.row_id NOT IN (SELECT row_id FROM kept)))
            RETURNING 1
        ),
        came AS (
            INSERT INTO aggregated_recent_performance (player_id, tenant_id, last_5_games,
                                                       last_5_goals, last_updated)
            SELECT n.player_id, target_tenant_id, n.games, n.goals, now()
            FROM fresh n
            WHERE n.player_id NOT IN (SELECT player_id FROM kept)
              AND (SELECT count(*) FROM gone) >= 0  -- after the deletes (unique keys)
            ORDER BY n.player_id
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM came)
        INTO v_rows, v_written;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'recent_performance', 'recent_performance');

        RETURN jsonb_build_object('rows', v_rows);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'Error in update_aggregated_recent_performance: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END;
$$;
