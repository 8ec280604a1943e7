-- Removing a tenant's league removes capo-worker's state for it from every
-- `capo_` table with a tenant_id column (except sign-in epochs, which belong
-- to the tenant, not its league), found in the catalog: a state table added
-- by a later migration is covered without redefining this function again
-- (0041 and 0054 each had to). The app's own tables stay an explicit list, so
-- an adopted Capo database's other tenant tables are never touched.
CREATE OR REPLACE FUNCTION capo_delete_tenant_league(target_tenant_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    state_table regclass;
BEGIN
    FOR state_table IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('r', 'p')
          AND c.relname LIKE 'capo\_%'
          AND c.relname <> 'capo_admin_session_epochs'
        ORDER BY c.relname
    LOOP
        EXECUTE format('DELETE FROM %s WHERE tenant_id = $1', state_table) USING target_tenant_id;
    END LOOP;
    DELETE FROM aggregated_half_season_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_all_time_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_hall_of_fame WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_recent_performance WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_honours WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_records WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_personal_bests WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_match_report WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_player_profile_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_race_data WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_performance_ratings WHERE tenant_id = target_tenant_id;
    DELETE FROM cache_metadata WHERE tenant_id = target_tenant_id;
    DELETE FROM app_config WHERE tenant_id = target_tenant_id;
    DELETE FROM player_matches WHERE tenant_id = target_tenant_id;
    DELETE FROM matches WHERE tenant_id = target_tenant_id;
    DELETE FROM players WHERE tenant_id = target_tenant_id;
END;
$$;
