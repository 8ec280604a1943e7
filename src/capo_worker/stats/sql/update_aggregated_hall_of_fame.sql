-- update_aggregated_hall_of_fame (spec 20-core-stats §3)
--
-- Top hall_of_fame_limit (default 3) players per category, read from
-- aggregated_all_time_stats (so it must run after update_aggregated_all_time_stats):
-- most_goals (goals > 0), best_win_percentage (games_played >=
-- games_required_for_hof, default 50 here, and win_percentage > 0) and
-- most_fantasy_points (fantasy_points > 0), each by value descending. The
-- reference has no tie-break; ties are broken by player_id ascending here
-- (spec §3.3), so the result is deterministic. Rows are inserted category by
-- category in that order, best first, so `id` follows that order. A negative
-- limit fails ("LIMIT must not be negative"), as in the reference. Errors are
-- re-raised as "Error in update_aggregated_hall_of_fame: <message>".

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_hall_of_fame(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_hall_of_fame()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_hall_of_fame() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_hall_of_fame(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_aggregated_hall_of_fame(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- JIT compilation costs more than it saves on these short queries
-- Planned per call, as every stats function: a generic plan (PostgreSQL's
-- choice after five calls in a session) is made without the tenant and can
-- misjudge one club among many (docs/stats.md, "Generic plans").
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_min_games int;
    v_limit int;
    v_n bigint;
    v_rows bigint := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_hall_of_fame'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        v_min_games := get_config_value('games_required_for_hof', '50', target_tenant_id)::int;
        v_limit := get_config_value('hall_of_fame_limit', '3', target_tenant_id)::int;

        DELETE FROM aggregated_hall_of_fame WHERE tenant_id = target_tenant_id;

        INSERT INTO aggregated_hall_of_fame (tenant_id, category, player_id, value)
        SELECT target_tenant_id, 'most_goals', s.player_id, s.goals
        FROM aggregated_all_time_stats s
        WHERE s.tenant_id = target_tenant_id AND s.goals > 0
        ORDER BY s.goals DESC, s.player_id
        LIMIT v_limit;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_rows := v_rows + v_n;

        INSERT INTO aggregated_hall_of_fame (tenant_id, category, player_id, value)
        SELECT target_tenant_id, 'best_win_percentage', s.player_id, s.win_percentage
        FROM aggregated_all_time_stats s
        WHERE s.tenant_id = target_tenant_id
          AND s.games_played >= v_min_games AND s.win_percentage > 0
        ORDER BY s.win_percentage DESC, s.player_id
        LIMIT v_limit;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_rows := v_rows + v_n;

        INSERT INTO aggregated_hall_of_fame (tenant_id, category, player_id, value)
        SELECT target_tenant_id, 'most_fantasy_points', s.player_id, s.fantasy_points
        FROM aggregated_all_time_stats s
        WHERE s.tenant_id = target_tenant_id AND s.fantasy_points > 0
        ORDER BY s.fantasy_points DESC, s.player_id
        LIMIT v_limit;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_rows := v_rows + v_n;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'hall_of_fame', 'match_result');

        RETURN jsonb_build_object('rows', v_rows);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'Error in update_aggregated_hall_of_fame: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END;
$$;
