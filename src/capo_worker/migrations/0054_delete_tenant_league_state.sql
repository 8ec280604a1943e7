-- Removing a tenant's league (before a re-import) removes everything capo-worker
-- derived from it: 0041's function, plus the power ratings' sums, header and
-- weights (0050) and the day each function last computed for (0045), so a
-- re-imported league starts with full runs and its pages show no stale "as of".
CREATE OR REPLACE FUNCTION capo_delete_tenant_league(target_tenant_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM capo_stats_scope_state WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_stats_match_players WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_records_player_bests WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_power_rating_state WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_power_rating_sums WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_power_rating_weights WHERE tenant_id = target_tenant_id;
    DELETE FROM capo_stats_computed_for WHERE tenant_id = target_tenant_id;
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
