-- update_aggregated_match_report_cache: the one-row report of the latest match
-- (spec 40-match-report). Cache tag: match_report.
--
-- Reads players, matches, player_matches and app_config of one tenant, plus
-- that tenant's newest aggregated_records row (record-breaking feats) and its
-- aggregated_personal_bests row of the latest match (a lookup that never
-- fires, kept as in the reference: quirk Q9). Run it after
-- update_aggregated_season_honours_and_records, as the reference's
-- sequential route does, so a record set in the latest match reads "equaled".
--
-- Writes: deletes the tenant's report rows, inserts one row for the latest
-- match, upserts cache_metadata (tenant, 'match_report'). Returns
-- {"rows": n} and, when it handled a case where the reference fails, "note".
--
-- Decisions (docs/stats.md, match report part, lists every quirk kept):
-- * No match at all: the reference raises "No matches found in the
--   database". Here the tenant's old report row is deleted, none is written,
--   cache_metadata is still upserted (the report changed: it is gone) and the
--   summary says so in "note".
-- * Orders the reference leaves unspecified are fixed: milestones, streaks
--   and goal_streaks by ascending player_id; feats that tie on status, value
--   and name by feat type in the order of the spec's table; the scoring-streak
--   history of one player on one date by match_id descending (two rows of one
--   match, which no app writes, by player_match_id descending).
-- * The newest aggregated_records row is the one with the greatest
--   last_updated (NULLs last), then the greatest id.

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_match_report_cache(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_match_report_cache()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_match_report_cache() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_match_report_cache(capo_default_tenant()); END $$;

-- The greatest "streak" among the elements of a records array; 0 when the
-- value is not an array or holds none.
CREATE OR REPLACE FUNCTION capo_match_report_max_streak(holders jsonb) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(max((e ->> 'streak')::int), 0)
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(holders) = 'array'
                                     THEN holders ELSE '[]'::jsonb END) e
$$;

CREATE OR REPLACE FUNCTION update_aggregated_match_report_cache(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- compiling these queries costs far more than it saves (docs/stats.md)
-- Games by match are read through (tenant_id, -match_id) (migration 0072),
-- by player through (tenant_id, player_id): never a table scan, nor a bitmap
-- scan that would visit the club's heap pages in bulk.
SET enable_seqscan = off
SET enable_bitmapscan = off
-- The streaks join the players' last games to the club's matches: the
-- planner, misjudging the join's size, sorted both sides to merge them.
SET enable_mergejoin = off
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    cfg               jsonb;
    -- app_config (spec 40 §4), each cast once; a bad value fails the call
    c_game_ms         int;
    c_goal_ms         int;
    c_win             int;
    c_unbeaten        int;
    c_loss            int;
    c_winless         int;
    c_goal_streak     int;
    c_window_days     int := 45;
    c_min_games       int := 4;
    fs                record;   -- fantasy settings (w, d, l, hw, hl, cw, cd, hcw)

    lm                record;   -- the latest match
    v_half_start      date;
    v_half_end        date;
    v_season_start    date;
    v_lo              int;      -- the lowest and highest match id of a date range
    v_hi              int;

    v_on_fire         int;
    v_grim_reaper     int;
    v_team_a_players  jsonb;
    v_team_b_players  jsonb;
    v_team_a_scorers  text;
    v_team_b_scorers  text;
    v_participants    int;
    v_part_ids        int[];    -- the latest match's regular players

    -- A scoped post-match run (capo.scope_players set): the streaks of the
    -- previous report, reused for the players whose games did not change.
    v_scope           int[];
    v_prev_streaks    jsonb;
    v_prev_goal_s     jsonb;
    v_reuse           boolean := false;
    v_recompute       int[];

    v_game_milestones jsonb;
    v_goal_milestones jsonb;
    v_half_goal       jsonb;
    v_half_fantasy    jsonb;
    v_season_goal     jsonb;
    v_season_fantasy  jsonb;
    v_streaks         jsonb;
    v_goal_streaks    jsonb;
    v_feats           jsonb;

    v_has_records     boolean;
    v_records         jsonb;
    v_pbs             jsonb;
BEGIN
    -- Two runs for one tenant wait for each other instead of colliding on the
    -- primary key (the reference fails with a duplicate key: spec 40 §12).
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_match_report_cache'),
                                  hashtext(target_tenant_id::text));

    -- Configuration, read once.
    SELECT COALESCE(jsonb_object_agg(c.config_key, c.config_value), '{}'::jsonb)
      INTO cfg
      FROM app_config c
     WHERE c.tenant_id = target_tenant_id;

    c_game_ms     := COALESCE(cfg ->> 'game_milestone_threshold', '50')::int;
    c_goal_ms     := COALESCE(cfg ->> 'goal_milestone_threshold', '25')::int;
    c_win         := COALESCE(cfg ->> 'win_streak_threshold', '4')::int;
    c_unbeaten    := COALESCE(cfg ->> 'unbeaten_streak_threshold', '6')::int;
    c_loss        := COALESCE(cfg ->> 'loss_streak_threshold', '4')::int;
    c_winless     := COALESCE(cfg ->> 'winless_streak_threshold', '6')::int;
    c_goal_streak := COALESCE(cfg ->> 'goal_streak_threshold', '3')::int;
    -- Read but unused; a value that is not an integer still fails (Q12).
    PERFORM COALESCE(cfg ->> 'hall_of_fame_limit', '3')::int;
    -- The two On Fire keys tolerate bad values: unparsable or < 1 -> default.
    BEGIN
        c_window_days := COALESCE(cfg ->> 'on_fire_grim_reaper_window_days', '45')::int;
    EXCEPTION WHEN OTHERS THEN
        c_window_days := 45;
    END;
    IF c_window_days < 1 THEN
        c_window_days := 45;
    END IF;
    BEGIN
        c_min_games := COALESCE(cfg ->> 'on_fire_grim_reaper_min_games', '4')::int;
    EXCEPTION WHEN OTHERS THEN
        c_min_games := 4;
    END;
    IF c_min_games < 1 THEN
        c_min_games := 4;
    END IF;

    SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);

    -- Scoped: the previous report's streak lists, if that report computed
    -- them (not the "basic" run: it has no streak thresholds in config_values).
    v_scope := capo_scope_players();
    IF v_scope IS NOT NULL THEN
        SELECT r.streaks, r.goal_streaks,
               r.config_values ? 'win_streak_threshold' AND count(*) OVER () = 1
          INTO v_prev_streaks, v_prev_goal_s, v_reuse
          FROM aggregated_match_report r
         WHERE r.tenant_id = target_tenant_id
         LIMIT 1;
        v_reuse := COALESCE(v_reuse, false)
                   AND jsonb_typeof(v_prev_streaks) = 'array'
                   AND jsonb_typeof(v_prev_goal_s) = 'array';
    END IF;

    -- The latest match: newest date, then highest id.
    SELECT m.match_id, m.match_date, m.team_a_score, m.team_b_score,
           COALESCE(m.team_a_own_goals, 0) AS team_a_own_goals,
           COALESCE(m.team_b_own_goals, 0) AS team_b_own_goals
      INTO lm
      FROM matches m
     WHERE m.tenant_id = target_tenant_id
     ORDER BY m.match_date DESC, m.match_id DESC
     LIMIT 1;

    IF NOT FOUND THEN
        -- The reference raises "No matches found in the database" here.
        DELETE FROM aggregated_match_report WHERE tenant_id = target_tenant_id;
        PERFORM capo_touch_cache_metadata(target_tenant_id, 'match_report', 'match_report');
        RETURN jsonb_build_object(
            'rows', 0,
            'note', 'no matches: report row removed and none written '
                    '(the reference fails with "No matches found in the database")');
    END IF;

    v_half_start := get_current_half_season_start_date();
    v_half_end := get_current_half_season_end_date();
    v_season_start := make_date(extract(year FROM lm.match_date)::int, 1, 1);

    -- On Fire / Grim Reaper (§7.1): regular players' appearances in the
    -- window [target - days, target]; computed before the basic-run check.
    --
    -- In every statement below the club's rows are read through indexes that
    -- lead with the tenant and joined in memory (MATERIALIZED): among many
    -- clubs the planner would otherwise guess the club's joins from ids that
    -- span every club, and look rows up by global id.
    --
    -- Games by match are read on -match_id, a condition that only the index
    -- (tenant_id, -match_id) serves (migration 0072): on match_id, a lone
    -- club's plan took the foreign key's index on match_id, which spans every
    -- club; as a (tenant_id, match_id) row range, the planner estimated the
    -- whole club and, among many clubs, read all of it by player. The bounds
    -- of a range are read first, as constants for the planner, from the
    -- range's matches (OFFSET 0: min and max are not turned into a walk of the
    -- primary key, which spans every club).
    SELECT min(m.match_id), max(m.match_id) INTO v_lo, v_hi
      FROM (SELECT match_id FROM matches
             WHERE tenant_id = target_tenant_id
               AND match_date BETWEEN lm.match_date - LEAST(c_window_days, 1000000)
                                  AND lm.match_date
            OFFSET 0) m;

    WITH club_players AS MATERIALIZED (
        SELECT player_id, name FROM players
         WHERE tenant_id = target_tenant_id AND NOT is_ringer
    ),
    window_matches AS MATERIALIZED (
        SELECT match_id, team_a_score, team_b_score FROM matches
         WHERE tenant_id = target_tenant_id
           -- (a window longer than all history is capped, not a date overflow)
           AND match_date BETWEEN lm.match_date - LEAST(c_window_days, 1000000)
                              AND lm.match_date
    ),
    club_games AS MATERIALIZED (
        -- the window's games only: the range of its match ids (ids grow with
        -- time; other matches' rows in the range are dropped by the join)
        SELECT player_id, match_id, team, goals, result, heavy_win, heavy_loss, clean_sheet
          FROM player_matches
         WHERE tenant_id = target_tenant_id AND -match_id BETWEEN -v_hi AND -v_lo
    ),
    form AS (
        SELECT p.player_id,
               p.name,
               count(*) AS matches_played,
               sum(capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win, pm.heavy_loss,
                                       pm.clean_sheet, fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw,
                                       fs.cd, fs.hcw)) AS points,
               sum(pm.goals) AS goals,   -- NULLs skipped; all-NULL gives NULL
               sum(CASE pm.team WHEN 'A' THEN m.team_b_score
                                WHEN 'B' THEN m.team_a_score ELSE 0 END) AS conceded,
               count(*) FILTER (WHERE pm.clean_sheet) AS clean_sheets,
               count(*) FILTER (WHERE pm.heavy_win) AS heavy_wins,
               count(*) FILTER (WHERE pm.heavy_loss) AS heavy_losses
          FROM window_matches m
          JOIN club_games pm ON pm.match_id = m.match_id
          JOIN club_players p ON p.player_id = pm.player_id
         GROUP BY p.player_id, p.name
        HAVING count(*) >= c_min_games
    )
    SELECT (SELECT w.player_id FROM form w
             ORDER BY w.points DESC, w.goals DESC NULLS FIRST, w.conceded ASC,
                      w.clean_sheets DESC, w.heavy_wins DESC, w.heavy_losses ASC,
                      w.name COLLATE "C" ASC
             LIMIT 1),
           (SELECT w.player_id FROM form w
             ORDER BY w.points ASC, w.goals ASC NULLS LAST, w.conceded DESC,
                      w.clean_sheets ASC, w.heavy_wins ASC, w.heavy_losses DESC,
                      w.name COLLATE "C" ASC
             LIMIT 1)
      INTO v_on_fire, v_grim_reaper;

    -- Team lists and scorer lines (ringers included) and the number of
    -- regular participants (§7.2).
    WITH club_players AS MATERIALIZED (
        SELECT player_id, name, is_ringer FROM players WHERE tenant_id = target_tenant_id
    ),
    app AS (
        SELECT p.player_id, p.name, p.is_ringer, pm.team, pm.goals
          FROM player_matches pm
          JOIN club_players p ON p.player_id = pm.player_id
         -- the latest match's rows, on -match_id (see On Fire above)
         WHERE pm.tenant_id = target_tenant_id AND -pm.match_id = -lm.match_id
    ),
    scorers AS (
        SELECT a.team,
               string_agg(CASE WHEN a.goals = 1 THEN a.name::text
                               ELSE a.name || ' (' || a.goals || ')' END,
                          ', ' ORDER BY a.name COLLATE "C") AS line
          FROM app a
         WHERE a.goals > 0 AND a.team IN ('A', 'B')
         GROUP BY a.team
    )
    SELECT COALESCE((SELECT jsonb_agg(a.name ORDER BY a.name COLLATE "C")
                       FROM app a WHERE a.team = 'A'), '[]'::jsonb),
           COALESCE((SELECT jsonb_agg(a.name ORDER BY a.name COLLATE "C")
                       FROM app a WHERE a.team = 'B'), '[]'::jsonb),
           concat_ws(', ', (SELECT s.line FROM scorers s WHERE s.team = 'A'),
                     CASE WHEN lm.team_a_own_goals > 0
                          THEN 'OG (' || lm.team_a_own_goals || ')' END),
           concat_ws(', ', (SELECT s.line FROM scorers s WHERE s.team = 'B'),
                     CASE WHEN lm.team_b_own_goals > 0
                          THEN 'OG (' || lm.team_b_own_goals || ')' END),
           (SELECT count(DISTINCT a.player_id) FROM app a WHERE NOT a.is_ringer),
           (SELECT array_agg(DISTINCT a.player_id) FROM app a WHERE NOT a.is_ringer)
      INTO v_team_a_players, v_team_b_players, v_team_a_scorers, v_team_b_scorers,
           v_participants, v_part_ids;

    -- Scoped: only the streaks of the scope's players and the latest match's
    -- (its feats read theirs) are computed; everyone else's games are as at
    -- the previous report, and so are their streaks.
    IF v_reuse THEN
        v_recompute := v_scope || COALESCE(v_part_ids, '{}');
    END IF;

    DELETE FROM aggregated_match_report WHERE tenant_id = target_tenant_id;

    IF v_participants = 0 THEN
        -- The "basic" run (§7.3): only ringers, or nobody, played.
        INSERT INTO aggregated_match_report (
            match_id, tenant_id, match_date, team_a_score, team_b_score,
            team_a_players, team_b_players, team_a_scorers, team_b_scorers,
            game_milestones, goal_milestones, config_values, last_updated,
            half_season_goal_leaders, half_season_fantasy_leaders,
            season_goal_leaders, season_fantasy_leaders,
            on_fire_player_id, grim_reaper_player_id)
        VALUES (
            lm.match_id, target_tenant_id, lm.match_date::timestamptz,
            lm.team_a_score, lm.team_b_score,
            v_team_a_players, v_team_b_players, v_team_a_scorers, v_team_b_scorers,
            '[]'::jsonb, '[]'::jsonb,
            jsonb_build_object('game_milestone_threshold', c_game_ms,
                               'goal_milestone_threshold', c_goal_ms),
            now(), '{}'::jsonb, '{}'::jsonb, '{}'::jsonb, '{}'::jsonb,
            v_on_fire, v_grim_reaper);
        PERFORM capo_touch_cache_metadata(target_tenant_id, 'match_report', 'match_report');
        RETURN jsonb_build_object('rows', 1);
    END IF;

    -- Milestones (§7.4): totals over all of each participant's appearances.
    WITH club_players AS MATERIALIZED (
        SELECT player_id, name FROM players
         WHERE tenant_id = target_tenant_id AND NOT is_ringer
    ),
    parts AS (
        SELECT pm.player_id, min(p.name) AS name, sum(COALESCE(pm.goals, 0)) AS goals_now
          FROM player_matches pm
          JOIN club_players p ON p.player_id = pm.player_id
         -- the latest match's rows, as in the team lists above
         WHERE pm.tenant_id = target_tenant_id AND -pm.match_id = -lm.match_id
         GROUP BY pm.player_id
    ),
    games AS (
        -- the participants' games, counted from the index (the only index of
        -- player_matches on player_id leads with the tenant; their ids as a
        -- constant: a join to parts reads every game of the club)
        SELECT pm.player_id, count(*) AS total_games
          FROM player_matches pm
         WHERE pm.tenant_id = target_tenant_id AND pm.player_id = ANY(v_part_ids)
         GROUP BY pm.player_id
    ),
    goals AS (
        -- the goals of those who scored in the latest match only: no one
        -- else can reach a goal milestone
        SELECT pm.player_id, sum(COALESCE(pm.goals, 0)) AS total_goals
          FROM player_matches pm
         WHERE pm.tenant_id = target_tenant_id
           AND pm.player_id = ANY(ARRAY(SELECT pt.player_id FROM parts pt
                                         WHERE pt.goals_now > 0))
         GROUP BY pm.player_id
    ),
    totals AS (
        SELECT pt.player_id, pt.name, pt.goals_now, g.total_games, s.total_goals
          FROM parts pt
          JOIN games g ON g.player_id = pt.player_id
          LEFT JOIN goals s ON s.player_id = pt.player_id
    )
    SELECT COALESCE(jsonb_agg(jsonb_build_object('name', t.name, 'value', t.total_games)
                              ORDER BY t.player_id)
                        FILTER (WHERE c_game_ms > 0 AND t.total_games > 0
                                  AND t.total_games % c_game_ms = 0),
                    '[]'::jsonb),
           COALESCE(jsonb_agg(jsonb_build_object('name', t.name,
                                                 'value', (t.total_goals / c_goal_ms) * c_goal_ms)
                              ORDER BY t.player_id)
                        FILTER (WHERE c_goal_ms > 0 AND t.total_goals > 0 AND t.goals_now > 0
                                  AND t.total_goals / c_goal_ms
                                      > (t.total_goals - t.goals_now) / c_goal_ms),
                    '[]'::jsonb)
      INTO v_game_milestones, v_goal_milestones
      FROM totals t;

    -- Leaders (§7.5): per-name totals of regular players over four date
    -- ranges; "before" ranges end the day before the target date.
    SELECT min(m.match_id), max(m.match_id) INTO v_lo, v_hi
      FROM (SELECT match_id FROM matches
             WHERE tenant_id = target_tenant_id
               AND match_date >= LEAST(v_season_start, v_half_start)
               AND match_date <= GREATEST(lm.match_date, v_half_end)
            OFFSET 0) m;

    WITH club_players AS MATERIALIZED (
        SELECT player_id, name FROM players
         WHERE tenant_id = target_tenant_id AND NOT is_ringer
    ),
    range_matches AS MATERIALIZED (
        SELECT match_id, match_date FROM matches
         WHERE tenant_id = target_tenant_id
           AND match_date >= LEAST(v_season_start, v_half_start)
           AND match_date <= GREATEST(lm.match_date, v_half_end)
    ),
    club_games AS MATERIALIZED (
        -- the range's games only, as for On Fire
        SELECT player_id, match_id, goals, result, heavy_win, heavy_loss, clean_sheet
          FROM player_matches
         WHERE tenant_id = target_tenant_id AND -match_id BETWEEN -v_hi AND -v_lo
    ),
    app AS (
        -- the range's games of every player (a ringer's are dropped with the
        -- names below)
        SELECT pm.player_id,
               m.match_date AS d,
               COALESCE(pm.goals, 0) AS g,
               capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win, pm.heavy_loss,
                                   pm.clean_sheet, fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw,
                                   fs.cd, fs.hcw) AS fp
          FROM range_matches m
          JOIN club_games pm ON pm.match_id = m.match_id
    ),
    per AS (
        -- totals per player, then named: names are unique within a club
        -- (players_tenant_name_key), so these are the totals per name
        SELECT p.name COLLATE "C" AS name, x.*
          FROM (SELECT a.player_id,
                       count(*) FILTER (WHERE a.d BETWEEN v_season_start AND lm.match_date) AS sn_n,
                       sum(a.g) FILTER (WHERE a.d BETWEEN v_season_start AND lm.match_date) AS sn_g,
                       sum(a.fp) FILTER (WHERE a.d BETWEEN v_season_start AND lm.match_date) AS sn_p,
                       count(*) FILTER (WHERE a.d >= v_season_start AND a.d < lm.match_date) AS sb_n,
                       sum(a.g) FILTER (WHERE a.d >= v_season_start AND a.d < lm.match_date) AS sb_g,
                       sum(a.fp) FILTER (WHERE a.d >= v_season_start AND a.d < lm.match_date) AS sb_p,
                       count(*) FILTER (WHERE a.d BETWEEN v_half_start AND v_half_end) AS hn_n,
                       sum(a.g) FILTER (WHERE a.d BETWEEN v_half_start AND v_half_end) AS hn_g,
                       sum(a.fp) FILTER (WHERE a.d BETWEEN v_half_start AND v_half_end) AS hn_p,
                       count(*) FILTER (WHERE a.d >= v_half_start AND a.d < lm.match_date) AS hb_n,
                       sum(a.g) FILTER (WHERE a.d >= v_half_start AND a.d < lm.match_date) AS hb_g,
                       sum(a.fp) FILTER (WHERE a.d >= v_half_start AND a.d < lm.match_date) AS hb_p
                  FROM app a
                 GROUP BY a.player_id) x
          JOIN club_players p ON p.player_id = x.player_id
    ),
    sets (list, unit, name, now_n, now_v, before_n, before_v) AS (
        SELECT 'season_goal', 'goals', name, sn_n, sn_g, sb_n, sb_g FROM per
        UNION ALL
        SELECT 'season_fantasy', 'points', name, sn_n, sn_p, sb_n, sb_p FROM per
        UNION ALL
        SELECT 'half_goal', 'goals', name, hn_n, hn_g, hb_n, hb_g FROM per
        UNION ALL
        SELECT 'half_fantasy', 'points', name, hn_n, hn_p, hb_n, hb_p FROM per
    ),
    current_leaders AS (
        SELECT s.list, s.unit, s.name, s.now_v
          FROM (SELECT s.*, max(s.now_v) FILTER (WHERE s.now_n > 0)
                                OVER (PARTITION BY s.list) AS top
                  FROM sets s) s
         WHERE s.now_n > 0 AND s.now_v > 0 AND s.now_v = s.top
    ),
    previous_leader AS (
        -- one per list, no > 0 filter (Q6)
        SELECT DISTINCT ON (s.list) s.list, s.name, s.before_v
          FROM sets s
         WHERE s.before_n > 0
         ORDER BY s.list, s.before_v DESC, s.name COLLATE "C"
    ),
    lists AS (
        SELECT c.list,
               jsonb_agg(jsonb_build_object(
                   'new_leader', c.name,
                   'new_leader_' || c.unit, c.now_v,
                   'previous_leader', p.name,
                   'previous_leader_' || c.unit, p.before_v,
                   'change_type', CASE WHEN p.name IS NULL THEN 'new_leader'
                                       WHEN c.name = p.name THEN 'remains'
                                       WHEN c.now_v = p.before_v THEN 'tied'
                                       ELSE 'overtake' END)
                   ORDER BY c.name COLLATE "C") AS leaders
          FROM current_leaders c
          LEFT JOIN previous_leader p ON p.list = c.list
         GROUP BY c.list
    )
    SELECT COALESCE((SELECT l.leaders FROM lists l WHERE l.list = 'half_goal'), '[]'::jsonb),
           COALESCE((SELECT l.leaders FROM lists l WHERE l.list = 'half_fantasy'), '[]'::jsonb),
           COALESCE((SELECT l.leaders FROM lists l WHERE l.list = 'season_goal'), '[]'::jsonb),
           COALESCE((SELECT l.leaders FROM lists l WHERE l.list = 'season_fantasy'), '[]'::jsonb)
      INTO v_half_goal, v_half_fantasy, v_season_goal, v_season_fantasy;

    -- The newest records row and the personal bests of the latest match.
    SELECT true, r.records
      INTO v_has_records, v_records
      FROM aggregated_records r
     WHERE r.tenant_id = target_tenant_id
     ORDER BY r.last_updated DESC NULLS LAST, r.id DESC
     LIMIT 1;
    v_has_records := COALESCE(v_has_records, false);

    SELECT pb.broken_pbs_data
      INTO v_pbs
      FROM aggregated_personal_bests pb
     WHERE pb.match_id = lm.match_id AND pb.tenant_id = target_tenant_id;

    -- Current streaks of every regular player, retired included (§7.6, Q1),
    -- over each player's 20 most recent appearances; then the feats (§7.7).
    WITH club_regs AS MATERIALIZED (
        SELECT p.player_id, p.name
          FROM players p
         WHERE p.tenant_id = target_tenant_id AND NOT p.is_ringer
    ),
    regs AS MATERIALIZED (
        -- scoped: the players recomputed (filtered here: a filter by id on
        -- players could be served by its primary key, which is not the tenant's)
        SELECT r.player_id, r.name FROM club_regs r
         WHERE NOT v_reuse OR r.player_id = ANY(v_recompute)
    ),
    club_matches AS MATERIALIZED (
        SELECT match_id, match_date FROM matches WHERE tenant_id = target_tenant_id
    ),
    club_upto AS MATERIALIZED (
        -- (full runs) for each match, the latest date of the matches with an
        -- id up to its own: every game of a player older (by id) than one read
        -- below is dated on or before it
        SELECT c.match_id,
               max(c.match_date) OVER (ORDER BY c.match_id ROWS UNBOUNDED PRECEDING) AS upto
          FROM club_matches c
    ),
    head AS MATERIALIZED (
        -- each player's last 24 games by match id, read from the top of a
        -- (tenant_id, player_id, -match_id, -player_match_id) index (scoped: the
        -- players recomputed only). Ids mostly grow with time: these hold the
        -- 20 latest by date unless matches were entered out of date order.
        SELECT r.player_id, g.match_id, g.player_match_id, g.result, g.goals
          FROM regs r
          CROSS JOIN LATERAL (
              SELECT pm.match_id, pm.player_match_id, pm.result, pm.goals
                FROM player_matches pm
               WHERE pm.tenant_id = target_tenant_id AND pm.player_id = r.player_id
               ORDER BY -pm.match_id, -pm.player_match_id  -- (the index's order)
               LIMIT 24) g
    ),
    head_ranked AS MATERIALIZED (
        -- (two rows of one player in one match, which no app writes, in a
        -- fixed order: the newest row first)
        SELECT h.player_id, h.result, h.goals, m.match_date,
               row_number() OVER (PARTITION BY h.player_id
                                  ORDER BY m.match_date DESC, h.match_id DESC,
                                           h.player_match_id DESC) AS rn
          FROM head h
          JOIN club_matches m ON m.match_id = h.match_id
    ),
    verdict AS MATERIALIZED (
        -- exact when all the player's games were read, or when the 20th latest
        -- read is dated after every game not read (those are at or below the
        -- last id read, so dated on or before its "upto")
        SELECT s.player_id,
               s.n_read < 24
               OR COALESCE(t.match_date > COALESCE(b.upto, (
                      -- scoped (a few players): the newest match with an id up
                      -- to the last one read, found from the newest down
                      SELECT m.match_date FROM matches m
                       WHERE v_reuse AND m.tenant_id = target_tenant_id
                         AND m.match_id <= s.last_id
                       ORDER BY m.match_date DESC, m.match_id DESC
                       LIMIT 1)), false) AS ok
          FROM (SELECT player_id, count(*) AS n_read, min(match_id) AS last_id
                  FROM head GROUP BY player_id) s
          LEFT JOIN head_ranked t ON t.player_id = s.player_id AND t.rn = 20
          LEFT JOIN club_upto b ON NOT v_reuse AND b.match_id = s.last_id
    ),
    rest_games AS MATERIALIZED (
        -- the others: every game of theirs (by player, through the tenant)
        SELECT pm.player_id, pm.match_id, pm.player_match_id, pm.result, pm.goals
          FROM player_matches pm
         WHERE pm.tenant_id = target_tenant_id
           AND pm.player_id = ANY(ARRAY(SELECT v.player_id FROM verdict v WHERE NOT v.ok))
    ),
    rest AS MATERIALIZED (
        -- numbered as above
        SELECT x.player_id, x.result, x.goals, x.rn
          FROM (SELECT pm.player_id, pm.result, pm.goals,
                       row_number() OVER (PARTITION BY pm.player_id
                                          ORDER BY m.match_date DESC, m.match_id DESC,
                                                   pm.player_match_id DESC) AS rn
                  FROM rest_games pm
                  JOIN club_matches m ON m.match_id = pm.match_id) x
         WHERE x.rn <= 20
    ),
    last20 AS (
        -- each player's 20 most recent appearances, newest first (rn = 1)
        SELECT h.player_id, h.result, h.goals, h.rn
          FROM head_ranked h
          JOIN verdict v ON v.player_id = h.player_id
         WHERE v.ok AND h.rn <= 20
        UNION ALL
        SELECT r.player_id, r.result, r.goals, r.rn FROM rest r
    ),
    ends AS (
        -- For each kind of streak: how many appearances up to this one (newest
        -- first) end it. NULL results neither count nor end a result streak;
        -- goals 0 or NULL end the scoring streak.
        SELECT h.player_id, h.result, h.goals,
               count(*) FILTER (WHERE h.result <> 'win') OVER w AS win_end,
               count(*) FILTER (WHERE h.result = 'loss') OVER w AS unbeaten_end,
               count(*) FILTER (WHERE h.result <> 'loss') OVER w AS loss_end,
               count(*) FILTER (WHERE h.result = 'win') OVER w AS winless_end,
               count(*) FILTER (WHERE NOT COALESCE(h.goals > 0, false)) OVER w AS goal_end
          FROM last20 h
        WINDOW w AS (PARTITION BY h.player_id ORDER BY h.rn)
    ),
    counts AS (
        SELECT l.player_id,
               count(*) FILTER (WHERE l.win_end = 0 AND l.result = 'win') AS win_s,
               count(*) FILTER (WHERE l.unbeaten_end = 0 AND l.result <> 'loss') AS unbeaten_s,
               count(*) FILTER (WHERE l.loss_end = 0 AND l.result = 'loss') AS loss_s,
               count(*) FILTER (WHERE l.winless_end = 0 AND l.result <> 'win') AS winless_s,
               count(*) FILTER (WHERE l.goal_end = 0) AS goal_s,
               sum(l.goals) FILTER (WHERE l.goal_end = 0) AS goal_sum
          FROM ends l
         GROUP BY l.player_id
    ),
    per_player AS (
        SELECT r.player_id, r.name,
               COALESCE(c.win_s, 0) AS win_s,
               COALESCE(c.unbeaten_s, 0) AS unbeaten_s,
               COALESCE(c.loss_s, 0) AS loss_s,
               COALESCE(c.winless_s, 0) AS winless_s,
               COALESCE(c.goal_s, 0) AS goal_s,
               COALESCE(c.goal_sum, 0) AS goal_sum
          FROM regs r
          LEFT JOIN counts c ON c.player_id = r.player_id
    ),
    streak AS (
        -- one streak per player: the first of win, unbeaten, loss, winless
        -- that reaches its threshold (Q11)
        SELECT pp.player_id, pp.name, pp.goal_s, pp.goal_sum, x.streak_type, x.streak_count
          FROM per_player pp
          CROSS JOIN LATERAL (
              SELECT CASE WHEN pp.win_s >= c_win THEN 'win'
                          WHEN pp.unbeaten_s >= c_unbeaten THEN 'unbeaten'
                          WHEN pp.loss_s >= c_loss THEN 'loss'
                          WHEN pp.winless_s >= c_winless THEN 'winless' END AS streak_type,
                     CASE WHEN pp.win_s >= c_win THEN pp.win_s
                          WHEN pp.unbeaten_s >= c_unbeaten THEN pp.unbeaten_s
                          WHEN pp.loss_s >= c_loss THEN pp.loss_s
                          WHEN pp.winless_s >= c_winless THEN pp.winless_s END AS streak_count
          ) x
    ),
    parts AS (
        SELECT pm.player_id, min(p.name) AS name, sum(COALESCE(pm.goals, 0)) AS goals_now
          FROM player_matches pm
          JOIN regs p ON p.player_id = pm.player_id
         -- the latest match's rows, as in the team lists above
         WHERE pm.tenant_id = target_tenant_id AND -pm.match_id = -lm.match_id
         GROUP BY pm.player_id
    ),
    rec AS (
        -- each record, 0 when missing
        SELECT COALESCE((v_records -> 'most_goals_in_game' -> 0 ->> 'goals')::int, 0) AS goals,
               capo_match_report_max_streak(v_records #> '{streaks,Win Streak,holders}') AS win,
               capo_match_report_max_streak(v_records #> '{streaks,Losing Streak,holders}')
                 AS loss,
               capo_match_report_max_streak(v_records #> '{streaks,Undefeated Streak,holders}')
                 AS unbeaten,
               capo_match_report_max_streak(v_records #> '{streaks,Winless Streak,holders}')
                 AS winless,
               capo_match_report_max_streak(v_records -> 'consecutive_goals_streak')
                 AS goal_streak,
               capo_match_report_max_streak(v_records -> 'attendance_streak') AS attendance,
               COALESCE((v_records -> 'biggest_victory' -> 0 ->> 'team_a_score')::int, 0)
                 - COALESCE((v_records -> 'biggest_victory' -> 0 ->> 'team_b_score')::int, 0)
                 AS victory_signed   -- signed (Q10)
    ),
    feats AS (
        SELECT 1 AS ord, 'most_goals_in_game' AS feat_type, pt.name, pt.player_id,
               pt.goals_now AS new_value, rec.goals AS current_record,
               rec.goals AS compared, c_goal_ms AS threshold
          FROM parts pt, rec
         WHERE pt.goals_now >= c_goal_ms
        UNION ALL
        SELECT CASE s.streak_type WHEN 'win' THEN 2 WHEN 'loss' THEN 3
                                  WHEN 'unbeaten' THEN 4 ELSE 5 END,
               s.streak_type || '_streak', pt.name, pt.player_id, s.streak_count,
               r.value, r.value, r.threshold
          FROM parts pt
          JOIN streak s ON s.name = pt.name
          CROSS JOIN rec
          CROSS JOIN LATERAL (
              SELECT CASE s.streak_type WHEN 'win' THEN rec.win WHEN 'loss' THEN rec.loss
                                        WHEN 'unbeaten' THEN rec.unbeaten
                                        ELSE rec.winless END AS value,
                     CASE s.streak_type WHEN 'win' THEN c_win WHEN 'loss' THEN c_loss
                                        WHEN 'unbeaten' THEN c_unbeaten
                                        ELSE c_winless END AS threshold
          ) r
         WHERE s.streak_type IS NOT NULL
        UNION ALL
        SELECT 6, 'goal_streak', pt.name, pt.player_id, s.goal_s,
               rec.goal_streak, rec.goal_streak, c_goal_streak
          FROM parts pt
          JOIN streak s ON s.name = pt.name
          CROSS JOIN rec
         WHERE s.goal_s >= c_goal_streak
        UNION ALL
        SELECT 7, 'biggest_victory', 'Team Result', NULL,
               abs(lm.team_a_score - lm.team_b_score),
               rec.victory_signed, abs(rec.victory_signed), 1
          FROM rec
         WHERE abs(lm.team_a_score - lm.team_b_score) > 0
        UNION ALL
        -- Personal bests are keyed by player id, not name, and hold no
        -- attendance_streak key: this never matches (Q9).
        SELECT 8, 'attendance_streak', pt.name, pt.player_id, x.value,
               rec.attendance, rec.attendance, 3
          FROM parts pt
          CROSS JOIN rec
          CROSS JOIN LATERAL (
              SELECT (v_pbs -> pt.name::text ->> 'attendance_streak')::int AS value) x
         WHERE x.value >= 3
    ),
    judged AS (
        SELECT f.*,
               CASE WHEN f.new_value > f.compared THEN 'broken'
                    WHEN f.new_value = f.compared AND f.new_value >= f.threshold
                    THEN 'equaled' END AS status
          FROM feats f
    ),
    kept AS (
        -- scoped: the previous report's entries of everyone not recomputed
        -- (names are unique in a club; the entry's player id orders the list)
        SELECT k.list, p.player_id, k.entry
          FROM (SELECT 'streaks' AS list, e AS entry
                  FROM jsonb_array_elements(CASE WHEN v_reuse THEN v_prev_streaks
                                                 ELSE '[]' END) e
                UNION ALL
                SELECT 'goal_streaks', e
                  FROM jsonb_array_elements(CASE WHEN v_reuse THEN v_prev_goal_s
                                                 ELSE '[]' END) e) k
          JOIN club_regs p ON p.name = k.entry ->> 'name'
         WHERE NOT p.player_id = ANY(v_recompute)
    ),
    lists AS (
        SELECT 'streaks' AS list, s.player_id,
               jsonb_build_object('name', s.name, 'streak_type', s.streak_type,
                                  'streak_count', s.streak_count) AS entry
          FROM streak s WHERE s.streak_type IS NOT NULL
        UNION ALL
        SELECT 'goal_streaks', s.player_id,
               jsonb_build_object('name', s.name, 'matches_with_goals', s.goal_s,
                                  'goals_in_streak', s.goal_sum)
          FROM streak s WHERE s.goal_s >= c_goal_streak
        UNION ALL
        SELECT list, player_id, entry FROM kept
    )
    SELECT COALESCE((SELECT jsonb_agg(l.entry ORDER BY l.player_id)
                       FROM lists l WHERE l.list = 'streaks'), '[]'::jsonb),
           COALESCE((SELECT jsonb_agg(l.entry ORDER BY l.player_id)
                       FROM lists l WHERE l.list = 'goal_streaks'), '[]'::jsonb),
           CASE WHEN NOT v_has_records THEN '[]'::jsonb
                ELSE COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                          'feat_type', j.feat_type,
                                          'player_name', j.name,
                                          'player_id', j.player_id,
                                          'new_value', j.new_value,
                                          'current_record', j.current_record,
                                          'status', j.status)
                                      ORDER BY j.status <> 'broken', j.new_value DESC,
                                               j.name COLLATE "C", j.ord)
                                 FROM judged j WHERE j.status IS NOT NULL), '[]'::jsonb)
           END
      INTO v_streaks, v_goal_streaks, v_feats;

    INSERT INTO aggregated_match_report (
        match_id, tenant_id, match_date, team_a_score, team_b_score,
        team_a_players, team_b_players, team_a_scorers, team_b_scorers,
        game_milestones, goal_milestones, config_values, last_updated,
        half_season_goal_leaders, half_season_fantasy_leaders,
        season_goal_leaders, season_fantasy_leaders,
        on_fire_player_id, grim_reaper_player_id,
        feat_breaking_data, streaks, goal_streaks)
    VALUES (
        lm.match_id, target_tenant_id, lm.match_date::timestamptz,
        lm.team_a_score, lm.team_b_score,
        v_team_a_players, v_team_b_players, v_team_a_scorers, v_team_b_scorers,
        v_game_milestones, v_goal_milestones,
        jsonb_build_object('win_streak_threshold', c_win,
                           'unbeaten_streak_threshold', c_unbeaten,
                           'loss_streak_threshold', c_loss,
                           'winless_streak_threshold', c_winless,
                           'goal_streak_threshold', c_goal_streak),
        now(), v_half_goal, v_half_fantasy, v_season_goal, v_season_fantasy,
        v_on_fire, v_grim_reaper, v_feats, v_streaks, v_goal_streaks);

    PERFORM capo_touch_cache_metadata(target_tenant_id, 'match_report', 'match_report');

    IF v_scope IS NOT NULL THEN
        RETURN jsonb_build_object(
            'rows', 1,
            'streaks', CASE WHEN v_reuse
                            THEN format('%s players recomputed, the others kept from the '
                                        'previous report',
                                        (SELECT count(DISTINCT x) FROM unnest(v_recompute) x))
                            ELSE 'every player recomputed (no previous report with streaks)'
                       END);
    END IF;
    RETURN jsonb_build_object('rows', 1);
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'Error in update_aggregated_match_report_cache: %', SQLERRM
        USING ERRCODE = SQLSTATE;
END;
$fn$;
