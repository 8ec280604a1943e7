-- update_aggregated_personal_bests (spec 30-records-stats §2), cache tag personal_bests.
--
-- For the latest match L (greatest match_date, then match_id) only: the non-ringer
-- players of L who set a personal best in it: most goals in a game (>= 2), scoring
-- streak (>= 4), attendance streak (>= 4), each strictly above the best of the
-- player's "earlier" games, where earlier means match_id < L's id (Q-P2).
--
-- The reference's four result-streak PBs compare result with 'W'/'D'/'L', which are
-- never stored, so they never fire (Q-P1); they are not computed here.
--
-- Write mode: upsert L's row; rows of earlier matches are kept (Q-P4). With no
-- match at all nothing is written and cache_metadata is not touched (Q-P3).
-- Errors are not wrapped.

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_personal_bests(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_personal_bests()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_personal_bests() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_personal_bests(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_aggregated_personal_bests(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- compiling these queries costs far more than it saves (docs/stats.md)
-- L's rows are read through (tenant_id, -match_id) (migration 0072), the
-- players' games through (tenant_id, player_id): never a table scan, nor a
-- bitmap scan that would visit the club's heap pages in bulk.
SET enable_seqscan = off
SET enable_bitmapscan = off
-- Planned at each call: a generic plan cannot see L's id or the players.
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    latest_id int;
    subject_ids int[];
    payload   jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_personal_bests'),
                                  hashtext(target_tenant_id::text));

    SELECT match_id INTO latest_id
    FROM matches
    WHERE tenant_id = target_tenant_id
    ORDER BY match_date DESC, match_id DESC
    LIMIT 1;

    IF latest_id IS NULL THEN
        RETURN jsonb_build_object(
            'rows', 0,
            'note', 'no matches: nothing written and cache_metadata left untouched, '
                    'as in the reference');
    END IF;

    -- The players of L (ringers are dropped below): their games are then read
    -- by player with their ids as a constant, through (tenant_id, player_id).
    SELECT array_agg(DISTINCT pm.player_id) INTO subject_ids
    FROM player_matches pm
    -- L's rows, written on -match_id: only (tenant_id, -match_id) serves it
    -- (migration 0072; on match_id, a lone club's plan took the foreign key's
    -- index on match_id, which spans every club)
    WHERE pm.tenant_id = target_tenant_id AND -pm.match_id = -latest_id;

    -- The club's rows are read through indexes that lead with the tenant and
    -- joined in memory (MATERIALIZED): among many clubs the planner would
    -- otherwise guess the club's joins from ids that span every club.
    WITH match_seq AS MATERIALIZED (
        -- Every match of the league numbered in match order (match_date, then
        -- match_id), read in that order from idx_matches_tenant_date (no sort).
        SELECT match_id, row_number() OVER (ORDER BY match_date, match_id) AS seq
        FROM matches WHERE tenant_id = target_tenant_id
    ),
    club_players AS MATERIALIZED (
        SELECT player_id, name FROM players
        WHERE tenant_id = target_tenant_id AND NOT is_ringer
    ),
    subjects AS MATERIALIZED (
        -- Non-ringers with a row in L, retired players included.
        SELECT pl.player_id, pl.name::text AS name
        FROM club_players pl
        WHERE pl.player_id = ANY(subject_ids)
    ),
    subject_games AS MATERIALIZED (
        -- Found by player: player_matches' only index on player_id leads with
        -- the tenant. (A ringer's games make figures of their own, which the
        -- join to subjects drops.)
        SELECT pm.player_id, pm.match_id, pm.player_match_id, pm.goals
        FROM player_matches pm
        WHERE pm.tenant_id = target_tenant_id AND pm.player_id = ANY(subject_ids)
    ),
    games AS (
        -- Every game of every subject, all dates (back-dated matches included),
        -- numbered in match order: seq orders games as (match_date, match_id)
        -- does, player_match_id orders two rows of one match.
        SELECT pm.player_id, pm.match_id, pm.player_match_id, pm.goals, s.seq,
               COALESCE(pm.goals, 0) > 0 AS scores,
               row_number() OVER w AS rn,
               s.seq - row_number() OVER w AS run   -- constant along consecutive matches
        FROM subject_games pm
        JOIN match_seq s ON s.match_id = pm.match_id
        WINDOW w AS (PARTITION BY pm.player_id ORDER BY s.seq, pm.player_match_id)
    ),
    running AS (
        SELECT player_id, match_id, goals,
               -- scoring streak: the scoring games since the last goalless one
               -- (0 at a goalless game), in the same order (no new sort)
               CASE WHEN scores
                    THEN rn - COALESCE(max(rn) FILTER (WHERE NOT scores) OVER (
                                           PARTITION BY player_id ORDER BY seq, player_match_id
                                           ROWS UNBOUNDED PRECEDING), 0)
                    ELSE 0 END AS scoring,
               -- attendance streak: the position in the run of consecutive
               -- matches (all matches of the league in match order) attended
               row_number() OVER (PARTITION BY player_id, run
                                  ORDER BY seq, player_match_id) AS attendance
        FROM games
    ),
    figures AS (
        SELECT s.player_id, s.name,
               COALESCE(max(r.goals) FILTER (WHERE r.match_id = latest_id), 0) AS cur_goals,
               COALESCE(max(r.goals) FILTER (WHERE r.match_id < latest_id), 0) AS prev_goals,
               max(r.scoring) FILTER (WHERE r.match_id = latest_id) AS cur_scoring,
               COALESCE(max(r.scoring) FILTER (WHERE r.match_id < latest_id), 0)
                   AS prev_scoring,
               max(r.attendance) FILTER (WHERE r.match_id = latest_id) AS cur_attendance,
               COALESCE(max(r.attendance) FILTER (WHERE r.match_id < latest_id), 0)
                   AS prev_attendance
        FROM subjects s
        JOIN running r ON r.player_id = s.player_id
        GROUP BY s.player_id, s.name
    ),
    pbs AS (
        SELECT player_id, name,
               jsonb_agg(jsonb_build_object('metric_type', metric, 'value', value,
                                            'previous_best_value', previous)
                         ORDER BY ord) AS list
        FROM figures fi
        CROSS JOIN LATERAL (VALUES
            (1, 'most_goals_in_game', fi.cur_goals, fi.prev_goals,
             fi.cur_goals >= 2 AND fi.cur_goals > fi.prev_goals),
            (2, 'attendance_streak', fi.cur_attendance, fi.prev_attendance,
             fi.cur_attendance >= 4 AND fi.cur_attendance > fi.prev_attendance),
            (3, 'longest_scoring_streak', fi.cur_scoring, fi.prev_scoring,
             fi.cur_scoring >= 4 AND fi.cur_scoring > fi.prev_scoring)
        ) AS k(ord, metric, value, previous, fired)
        WHERE k.fired
        GROUP BY player_id, name
    )
    SELECT COALESCE(jsonb_object_agg(player_id::text,
                                     jsonb_build_object('name', name, 'pbs', list)),
                    '{}'::jsonb)
    INTO payload
    FROM pbs;

    INSERT INTO aggregated_personal_bests (match_id, tenant_id, broken_pbs_data)
    VALUES (latest_id, target_tenant_id, payload)
    ON CONFLICT (tenant_id, match_id) DO UPDATE  -- a key that leads with the tenant
        SET broken_pbs_data = EXCLUDED.broken_pbs_data, updated_at = now();

    PERFORM capo_touch_cache_metadata(target_tenant_id, 'personal_bests', 'personal_bests', true);

    RETURN jsonb_build_object('rows', 1);
END;
$fn$;
