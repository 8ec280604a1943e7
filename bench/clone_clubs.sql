-- Copy one club's league (players, matches, player_matches, app_config) into
-- `count` new tenants named <prefix>1, <prefix>2, ..., with ids moved past
-- the largest ones in use (copy k adds k x the largest id of each table), as
-- `league import --renumber` would. The copies' rows are written interleaved,
-- in match order across clubs, as a database where all clubs play the same
-- weeks fills up: a club's rows are spread over the tables' pages, not side
-- by side. Used by bench/tenants.py; run it in one transaction.
WITH new_tenants AS (
    INSERT INTO tenants (name)
    SELECT %(prefix)s::text || k FROM generate_series(1, %(count)s::int) k
    RETURNING tenant_id, substr(name, length(%(prefix)s::text) + 1)::int AS k
),
top AS (
    SELECT (SELECT max(player_id) FROM players) AS p,
           (SELECT max(match_id) FROM matches) AS m,
           (SELECT max(player_match_id) FROM player_matches) AS pm
),
copied_players AS (
    INSERT INTO players (player_id, name, join_date, is_ringer, is_retired, goalscoring,
                         defender, stamina_pace, control, teamwork, resilience,
                         selected_club, tenant_id)
    SELECT p.player_id + top.p * t.k, p.name, p.join_date, p.is_ringer, p.is_retired,
           p.goalscoring, p.defender, p.stamina_pace, p.control, p.teamwork, p.resilience,
           p.selected_club, t.tenant_id
    FROM players p CROSS JOIN new_tenants t CROSS JOIN top
    WHERE p.tenant_id = %(source)s::uuid
    ORDER BY p.player_id, t.k
    RETURNING 1
),
copied_matches AS (
    INSERT INTO matches (match_id, match_date, team_a_score, team_b_score, team_a_own_goals,
                         team_b_own_goals, created_at, upcoming_match_id, tenant_id)
    SELECT m.match_id + top.m * t.k, m.match_date, m.team_a_score, m.team_b_score,
           m.team_a_own_goals, m.team_b_own_goals, m.created_at, m.upcoming_match_id,
           t.tenant_id
    FROM matches m CROSS JOIN new_tenants t CROSS JOIN top
    WHERE m.tenant_id = %(source)s::uuid
    ORDER BY m.match_date, m.match_id, t.k
    RETURNING 1
),
copied_games AS (
    INSERT INTO player_matches (player_match_id, player_id, match_id, team, goals,
                                clean_sheet, heavy_win, heavy_loss, result, fantasy_points,
                                updated_at, tenant_id)
    SELECT pm.player_match_id + top.pm * t.k, pm.player_id + top.p * t.k,
           pm.match_id + top.m * t.k, pm.team, pm.goals, pm.clean_sheet, pm.heavy_win,
           pm.heavy_loss, pm.result, pm.fantasy_points, pm.updated_at, t.tenant_id
    FROM player_matches pm
    JOIN matches m ON m.match_id = pm.match_id
    CROSS JOIN new_tenants t CROSS JOIN top
    WHERE pm.tenant_id = %(source)s::uuid
    ORDER BY m.match_date, pm.match_id, t.k, pm.player_match_id
    RETURNING 1
),
copied_config AS (
    INSERT INTO app_config (config_key, config_value, tenant_id)
    SELECT c.config_key, c.config_value, t.tenant_id
    FROM app_config c CROSS JOIN new_tenants t
    WHERE c.tenant_id = %(source)s::uuid
    RETURNING 1
)
SELECT (SELECT count(*) FROM new_tenants), (SELECT count(*) FROM copied_players),
       (SELECT count(*) FROM copied_matches), (SELECT count(*) FROM copied_games),
       (SELECT count(*) FROM copied_config);
