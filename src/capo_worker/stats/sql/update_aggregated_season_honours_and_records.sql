-- update_aggregated_season_honours_and_records (spec 30-records-stats §1), cache tag honour_roll.
--
-- Season honours: for every finished calendar year, the top three non-ringers by
-- fantasy points and by goals, among players with at least min_games_for_honours
-- games that year. Places are never shared: ties go alphabetically (Q-H1).
-- League records: one all-time document (most goals in a game, biggest victory,
-- scoring streak, result streaks, attendance streak), read by the match report.
--
-- Write mode, within the tenant: delete all honours and records, insert one honours
-- row per eligible past year and exactly one records row. Errors are re-raised as
-- "Error in update_aggregated_season_honours_and_records: <message>".

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_season_honours_and_records(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_season_honours_and_records()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_season_honours_and_records() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_season_honours_and_records(capo_default_tenant()); END $$;

-- Helper of this function: a day number (days since 0001-01-01, as packed in
-- the run keys below) as YYYY-MM-DD text.
CREATE OR REPLACE FUNCTION capo_records_day_text(day bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(DATE '0001-01-01' + day::int, 'YYYY-MM-DD')
$$;

-- Helpers of this function: the digest of a player's games, from which the
-- player's record candidates are computed (docs/stats.md, "Only changed
-- players"). A match's hash covers its place in the league's match order, id,
-- day and score; a game's hash covers its match's hash, its row id, result code
-- (0 NULL, 1 win, 2 loss, 3 any other text: all the runs read), goals (NULL as
-- 0, as the runs read them) and team (the text itself when neither A, B nor
-- NULL). The fields are packed without overlap before each 64-bit hash
-- (hashint8extended); a player's digest is the bit_xor of the games' hashes,
-- which does not depend on their order, and the number of games.
CREATE OR REPLACE FUNCTION capo_records_match_hash(
    seq int, match_id int, day int, team_a_score int, team_b_score int
) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(
        hashint8extended(
            hashint8extended((seq::bigint << 32) # (match_id::bigint & 4294967295), 0)
            # ((day::bigint << 32) # (team_a_score::bigint & 4294967295)), 0)
        # (team_b_score::bigint & 4294967295), 0)
$$;

CREATE OR REPLACE FUNCTION capo_records_game_hash(
    match_hash bigint, player_match_id int, result text, team text, goals int
) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(
        match_hash
        # ((player_match_id::bigint & 4294967295) << 32)
        # ((CASE WHEN result IS NULL THEN 0 WHEN result = 'win' THEN 1
                 WHEN result = 'loss' THEN 2 ELSE 3 END)::bigint << 30)
        # ((CASE WHEN team IS NULL THEN 0 WHEN team = 'A' THEN 1
                 WHEN team = 'B' THEN 2 ELSE 3 END)::bigint << 28)
        # (COALESCE(goals, 0)::bigint & 268435455)
        -- what the 28 bits of goals and the team code do not hold
        # CASE WHEN (team IS NULL OR team IN ('A', 'B'))
                    AND COALESCE(goals, 0) BETWEEN 0 AND 268435455 THEN 0
               ELSE hashtextextended(COALESCE(team, ''), COALESCE(goals, 0)) END, 0)
$$;

CREATE OR REPLACE FUNCTION update_aggregated_season_honours_and_records(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- compiling these queries costs far more than it saves (docs/stats.md)
-- Planned per call, as every stats function: a generic plan (PostgreSQL's
-- choice after five calls in a session) is made without the tenant and can
-- misjudge one club among many (docs/stats.md, "Generic plans").
SET plan_cache_mode = force_custom_plan
-- the sort of every game (large leagues: 84,000 rows) stays in memory
SET work_mem = '64MB'
-- joins of CTEs have no statistics: PostgreSQL 15 guessed millions of rows and
-- sorted every game twice for merge joins; hash joins are right for all of them
SET enable_mergejoin = off
AS $fn$
DECLARE
    fs              record;
    min_games       int;
    min_streak      int;
    year_start      date;
    honours_rows    int := 0;
    has_matches     boolean;
    records_doc     jsonb;
    candidate_rows  int := 0;
    -- the players whose candidates this run recomputes (NULL: every player)
    run_players     int[];
    -- the tenant's players with games (non-ringers), in a full run
    digest_players  int;
    has_digests     boolean;
    -- whether this run writes the digests of run_players (not in a scoped run
    -- on a tenant that has none: see below)
    write_digests   boolean;
    -- a full run's new digests (player, number of games, digest)
    digest_ids      int[];
    digest_games    int[];
    digest_texts    text[];
    -- NULL: every player; else only these players' record candidates, and no
    -- honours (a post-match job, docs/stats.md)
    scope_players   int[] := capo_scope_players();
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_season_honours_and_records'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        -- Configuration, read once. The honours function reads these keys itself
        -- (spec 10-inputs §4): a value that is not an integer fails the call, even
        -- for the keys whose values are never used (hall_of_fame_limit, and the
        -- fantasy keys with this function's own absolute defaults; Q-H6). The
        -- points themselves come from the helper's settings (relative defaults).
        min_games  := get_config_value('min_games_for_honours', '10', target_tenant_id)::int;
        min_streak := get_config_value('min_streak_length', '3', target_tenant_id)::int;
        PERFORM get_config_value('hall_of_fame_limit', '3', target_tenant_id)::int,
                get_config_value('fantasy_win_points', '20', target_tenant_id)::int,
                get_config_value('fantasy_draw_points', '10', target_tenant_id)::int,
                get_config_value('fantasy_loss_points', '-10', target_tenant_id)::int,
                get_config_value('fantasy_heavy_win_points', '30', target_tenant_id)::int,
                get_config_value('fantasy_clean_sheet_win_points', '30', target_tenant_id)::int,
                get_config_value('fantasy_heavy_clean_sheet_win_points', '40',
                                 target_tenant_id)::int,
                get_config_value('fantasy_clean_sheet_draw_points', '20', target_tenant_id)::int,
                get_config_value('fantasy_heavy_loss_points', '-20', target_tenant_id)::int;
        SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);
        year_start := make_date(extract(year FROM capo_today())::int, 1, 1);

        -- A scoped run (a post-match job for the league's last match, in the current
        -- year) leaves the honours of finished years alone and recomputes the record
        -- candidates of its players only (docs/stats.md, "Post-match updates").
        -- A full run rebuilds the honours and recomputes the candidates of the
        -- players whose games changed since their candidates were written: each
        -- player's candidates come with a digest of the games they were computed
        -- from (a row of kind 'digest'), and a player whose games still give the
        -- same digest keeps them (docs/stats.md, "Only changed players").
        has_digests := EXISTS (SELECT FROM capo_records_player_bests
                               WHERE tenant_id = target_tenant_id AND kind = 'digest');
        IF scope_players IS NULL THEN
            DELETE FROM aggregated_season_honours WHERE tenant_id = target_tenant_id;

            -- One pass over the games gives, per player and year, the honours' sums
            -- and the digest of the games (the games' hashes, as a scoped run's
            -- below, combined with bit_xor, which does not depend on the order).
            WITH match_seq AS MATERIALIZED (
                SELECT match_id,
                       extract(year FROM match_date)::int AS year,
                       capo_records_match_hash(seq, match_id, match_date - DATE '0001-01-01',
                                               team_a_score, team_b_score) AS mh
                FROM (SELECT match_id, match_date, team_a_score, team_b_score,
                             row_number() OVER (ORDER BY match_date, match_id)::int AS seq
                      FROM matches WHERE tenant_id = target_tenant_id) x
            ),
            per_year AS MATERIALIZED (
                SELECT pm.player_id, m.year, count(*)::int AS games,
                       sum(capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win,
                                               pm.heavy_loss, pm.clean_sheet, fs.w, fs.d,
                                               fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw))
                           AS points,
                       sum(COALESCE(pm.goals, 0)) AS goals,
                       bit_xor(capo_records_game_hash(m.mh, pm.player_match_id, pm.result,
                                                      pm.team, pm.goals)) AS h
                FROM (SELECT player_id, player_match_id, match_id, team, goals, result,
                             heavy_win, heavy_loss, clean_sheet
                      FROM player_matches WHERE tenant_id = target_tenant_id
                      OFFSET 0) pm
                JOIN match_seq m ON m.match_id = pm.match_id
                GROUP BY pm.player_id, m.year
            ),
            club_players AS MATERIALIZED (
                SELECT player_id, name::text AS name FROM players
                WHERE tenant_id = target_tenant_id AND NOT is_ringer
            ),
            -- Season honours: finished years only (Q-H10); players with at least
            -- min_games_for_honours games that year; places never shared, ties by
            -- name; ringers dropped after the sums.
            ranked AS (
                SELECT n.name, y.year, y.points, y.goals,
                       row_number() OVER (PARTITION BY y.year
                                          ORDER BY y.points DESC, n.name COLLATE "C")
                           AS points_place,
                       row_number() OVER (PARTITION BY y.year
                                          ORDER BY y.goals DESC, n.name COLLATE "C")
                           AS goals_place
                FROM per_year y JOIN club_players n ON n.player_id = y.player_id
                WHERE y.year < extract(year FROM year_start)::int AND y.games >= min_games
            ),
            honours AS (
                INSERT INTO aggregated_season_honours (tenant_id, year, season_winners,
                                                       top_scorers)
                SELECT target_tenant_id, year,
                       jsonb_build_object(
                           'winners', COALESCE(jsonb_agg(jsonb_build_object(
                                          'name', name, 'points', points))
                                          FILTER (WHERE points_place = 1), '[]'::jsonb),
                           'runners_up', COALESCE(jsonb_agg(jsonb_build_object(
                                             'name', name, 'points', points))
                                             FILTER (WHERE points_place = 2), '[]'::jsonb),
                           'third_place', COALESCE(jsonb_agg(jsonb_build_object(
                                              'name', name, 'points', points))
                                              FILTER (WHERE points_place = 3), '[]'::jsonb)),
                       jsonb_build_object(
                           'winners', COALESCE(jsonb_agg(jsonb_build_object(
                                          'name', name, 'goals', goals))
                                          FILTER (WHERE goals_place = 1), '[]'::jsonb),
                           'runners_up', COALESCE(jsonb_agg(jsonb_build_object(
                                             'name', name, 'goals', goals))
                                             FILTER (WHERE goals_place = 2), '[]'::jsonb),
                           'third_place', COALESCE(jsonb_agg(jsonb_build_object(
                                              'name', name, 'goals', goals))
                                              FILTER (WHERE goals_place = 3), '[]'::jsonb))
                FROM ranked
                WHERE (points_place <= 3 OR goals_place <= 3)
                GROUP BY year
                RETURNING 1
            ),
            -- each non-ringer's digest: the number of games and the games' hash
            new_digests AS (
                SELECT y.player_id, sum(y.games)::int AS games,
                       bit_xor(y.h)::text AS digest
                FROM per_year y JOIN club_players n ON n.player_id = y.player_id
                GROUP BY y.player_id
            ),
            old_digests AS (
                SELECT player_id, streak AS games, score AS digest
                FROM capo_records_player_bests
                WHERE tenant_id = target_tenant_id AND kind = 'digest'
            )
            SELECT (SELECT count(*) FROM honours),
                   (SELECT count(*) FROM new_digests),
                   -- the players whose digest came, went or changed
                   (SELECT COALESCE(array_agg(COALESCE(n.player_id, o.player_id)), '{}')
                    FROM new_digests n FULL JOIN old_digests o ON o.player_id = n.player_id
                    WHERE n.games IS DISTINCT FROM o.games
                       OR n.digest IS DISTINCT FROM o.digest),
                   -- every new digest, written below with the recomputed candidates
                   -- (the runs do not hash the games again in a full run)
                   (SELECT array_agg(player_id) FROM new_digests),
                   (SELECT array_agg(games) FROM new_digests),
                   (SELECT array_agg(digest) FROM new_digests)
            INTO honours_rows, digest_players, run_players,
                 digest_ids, digest_games, digest_texts;

            -- No digest yet (the first run, or after an upgrade): every player, and
            -- every stored candidate compared (NULL); the same when most players
            -- changed, where a filter on the players only costs.
            IF NOT has_digests OR cardinality(run_players) * 2 > digest_players THEN
                run_players := NULL;
            END IF;
        ELSE
            run_players := scope_players;
        END IF;

        -- The candidates (and digests) of run_players (NULL: every player), from
        -- their games, written as a difference (rows that went or came, duplicates
        -- counted): most runs change few players' candidates, and rewriting a
        -- thousand unchanged rows cost more than comparing them. A scoped run on a
        -- tenant without digests writes none (a player with candidates always has
        -- a digest once the tenant has any).
        -- The club's rows are read through indexes that lead with the tenant and
        -- joined in memory (MATERIALIZED, or OFFSET 0 for the club's games: their
        -- match ids are never looked up one by one through an index that spans
        -- every club, whose statistics the planner would otherwise go by).
        write_digests := scope_players IS NULL OR has_digests;
        IF run_players IS NULL OR cardinality(run_players) > 0 THEN
        WITH match_seq AS MATERIALIZED (
            SELECT match_id, team_a_score, team_b_score,
                   (match_date - DATE '0001-01-01') AS day,
                   row_number() OVER (ORDER BY match_date, match_id)::int AS seq
            FROM matches WHERE tenant_id = target_tenant_id
        ),
        club_players AS MATERIALIZED (
            SELECT player_id FROM players WHERE tenant_id = target_tenant_id AND NOT is_ringer
              AND (run_players IS NULL OR player_id = ANY (run_players))
        ),
        -- Every game of a non-ringer, all years, as narrow as the runs allow: read
        -- by the runs alone, so never stored (storing it cost as much as a window
        -- pass). Result codes: 0 NULL, 1 win, 2 loss, 3 draw or any other text.
        -- h: the game's hash, in a scoped run (a full run took the digests from its
        -- pass over every game above).
        games AS (
            SELECT pm.player_id, pm.player_match_id, pm.team,
                   COALESCE(pm.goals, 0) AS goals,
                   CASE WHEN pm.result IS NULL THEN 0
                        WHEN pm.result = 'win' THEN 1
                        WHEN pm.result = 'loss' THEN 2 ELSE 3 END AS r,
                   m.day, m.seq,
                   (CASE WHEN m.team_a_score - m.team_b_score IS NULL THEN 2147483648
                         ELSE abs(m.team_a_score - m.team_b_score) END) * 1048576
                       + m.day AS key_victory,
                   -- (a full run has the digests already: not computed there)
                   CASE WHEN scope_players IS NOT NULL THEN
                       capo_records_game_hash(capo_records_match_hash(m.seq, m.match_id,
                                                  m.day, m.team_a_score, m.team_b_score),
                                              pm.player_match_id, pm.result, pm.team,
                                              pm.goals) END AS h
            FROM (SELECT player_id, player_match_id, team, goals, result, match_id
                  FROM player_matches WHERE tenant_id = target_tenant_id
                    AND (run_players IS NULL OR player_id = ANY (run_players))
                  OFFSET 0) pm
            JOIN club_players pl ON pl.player_id = pm.player_id
            JOIN match_seq m ON m.match_id = pm.match_id
        ),
        -- (c, d, e) runs, per player in match order, from one sort and three
        -- window passes over narrow rows:
        -- * result runs: a run of condition C starts at a game meeting C when the
        --   previous game did not; attendance runs start at a game whose match does
        --   not directly follow the previous game's match in the league's match order
        --   (a duplicated row starts a new run, Q-X3). Level 2 carries the start of
        --   the current run as rn * 2^20 + its first day (days since 0001-01-01),
        --   which gives the length so far and the start day. Win and loss runs share
        --   one start: a run of either starts where the result code changes.
        -- * scoring runs put a date's goalless games before its scoring ones (spec
        --   §1.6 c): a scoring game's run is numbered by the goalless games dated on
        --   or before its date (the frame of a window ordered by the date takes in
        --   the date's later games, its peers).
        -- Level 1's window is ordered by the date alone, so that its frame counts a
        -- date's games at once, while row_number() and lag() (which ignore frames)
        -- follow the rows as the subquery sorted them: by date, match, then row.
        -- One sort serves all three levels.
        runs AS (
            SELECT y.*,
                   -- each player's longest runs, best attendance key (the longest,
                   -- then latest), best (goals, date) and victory: a window over the
                   -- player's whole partition, whose rows are already in order
                   max(y.len_win) OVER p AS win, max(y.len_loss) OVER p AS loss,
                   max(y.len_undefeated) OVER p AS undefeated,
                   max(y.len_winless) OVER p AS winless,
                   max(y.key_attendance) OVER p AS best_attendance,
                   max(y.key_goals) OVER p AS best_goals,
                   max(y.key_victory) OVER p AS best_victory,
                   -- and the player's digest (a scoped run's): games and hash
                   count(*) OVER p AS n_games,
                   bit_xor(y.h) OVER p AS digest
            FROM (SELECT x.player_id, x.day, x.seq, x.team, x.goals, x.grp_scoring,
                   x.key_victory, x.s_result, x.s_undefeated, x.s_winless, x.s_attendance,
                   x.h,
                   CASE WHEN r = 1 THEN rn - s_result / 1048576 + 1 END AS len_win,
                   CASE WHEN r = 2 THEN rn - s_result / 1048576 + 1 END AS len_loss,
                   CASE WHEN r IN (1, 3) THEN rn - s_undefeated / 1048576 + 1 END
                       AS len_undefeated,
                   CASE WHEN r IN (2, 3) THEN rn - s_winless / 1048576 + 1 END AS len_winless,
                   (rn - s_attendance / 1048576 + 1) * 1048576 + day AS key_attendance,
                   CASE WHEN goals > 0 THEN goals * 1048576 + day END AS key_goals
            FROM (SELECT o.player_id, o.day, o.seq, o.team, o.r, o.rn, o.goals,
                         o.grp_scoring, o.key_victory, o.h,
                   max(CASE WHEN o.prev IS NULL OR o.prev % 4 <> o.r
                            THEN o.rn * 1048576 + o.day END) OVER w AS s_result,
                   max(CASE WHEN o.r IN (1, 3) AND (o.prev IS NULL OR o.prev % 4 IN (0, 2))
                            THEN o.rn * 1048576 + o.day END) OVER w AS s_undefeated,
                   max(CASE WHEN o.r IN (2, 3) AND (o.prev IS NULL OR o.prev % 4 IN (0, 1))
                            THEN o.rn * 1048576 + o.day END) OVER w AS s_winless,
                   max(CASE WHEN o.prev IS NULL OR o.prev / 4 <> o.seq - 1
                            THEN o.rn * 1048576 + o.day END) OVER w AS s_attendance
            FROM (SELECT g.player_id, g.key_victory, g.r, g.seq, g.team, g.goals, g.day,
                         g.h,
                         row_number() OVER w AS rn,
                         -- the previous game: seq * 4 + result code
                         lag(g.seq * 4 + g.r) OVER w AS prev,
                         count(*) FILTER (WHERE g.goals <= 0) OVER w AS grp_scoring
                  FROM (SELECT player_id, key_victory, r, seq, team, goals, day, h
                        FROM games
                        ORDER BY player_id, day, seq, player_match_id) g
                  WINDOW w AS (PARTITION BY g.player_id ORDER BY g.day)) o
            WINDOW w AS (PARTITION BY o.player_id ORDER BY o.day
                         ROWS UNBOUNDED PRECEDING)) x) y
            WINDOW p AS (PARTITION BY y.player_id)
        ),
        -- Only the games that score (for the scoring runs) or end a longest run
        -- (or are a best-goals or biggest victory game) go on, so the window's
        -- output is never stored whole.
        marked AS MATERIALIZED (
            SELECT * FROM runs
            WHERE goals > 0 OR len_win = win OR len_loss = loss OR len_undefeated = undefeated
               OR len_winless = winless OR key_attendance = best_attendance
               OR key_goals = best_goals OR key_victory = best_victory
        ),
        ends AS MATERIALIZED (
            SELECT * FROM marked
            WHERE len_win = win OR len_loss = loss OR len_undefeated = undefeated
               OR len_winless = winless OR key_attendance = best_attendance
               OR key_goals = best_goals OR key_victory = best_victory
        ),
        result_bests AS (
            SELECT r.player_id, k.kind, k.streak, k.start_day, r.day AS end_day
            FROM ends r
            CROSS JOIN LATERAL (VALUES
                ('Win Streak', r.len_win, r.s_result % 1048576, r.win),
                ('Losing Streak', r.len_loss, r.s_result % 1048576, r.loss),
                ('Undefeated Streak', r.len_undefeated, r.s_undefeated % 1048576,
                 r.undefeated),
                ('Winless Streak', r.len_winless, r.s_winless % 1048576, r.winless)
            ) AS k(kind, streak, start_day, longest)
            WHERE k.streak = k.longest
        ),
        scoring_runs AS (
            SELECT player_id, count(*) AS streak, min(day) AS start_day, max(day) AS end_day,
                   max(count(*)) OVER (PARTITION BY player_id) AS best
            FROM marked WHERE goals > 0
            GROUP BY player_id, grp_scoring
        ),
        attendance_bests AS (
            SELECT DISTINCT ON (player_id) player_id,
                   key_attendance / 1048576 AS streak,
                   s_attendance % 1048576 AS start_day, day AS end_day
            FROM ends
            WHERE key_attendance = best_attendance
            ORDER BY player_id, s_attendance % 1048576 DESC
        ),
        -- The best-goals and biggest-victory games, with their match and score (the
        -- window above carries the match's number in the league's order only).
        end_games AS (
            SELECT e.*, m.match_id, abs(m.team_a_score - m.team_b_score) AS margin,
                   m.team_a_score, m.team_b_score
            FROM ends e JOIN match_seq m ON m.seq = e.seq
            WHERE e.key_goals = e.best_goals OR e.key_victory = e.best_victory
        ),
        -- The games of each player's best (goals, date), with their score.
        goal_bests AS (
            SELECT g.player_id, g.goals, g.day AS end_day, g.match_id,
                   CASE WHEN g.team = 'A' THEN g.team_a_score || '-' || g.team_b_score
                        ELSE g.team_b_score || '-' || g.team_a_score END AS score
            FROM end_games g
            WHERE g.key_goals = g.best_goals
        ),
        -- The games of each player's biggest victory (margin, then date; -1 for a
        -- NULL margin), with the match's score (team A first) and the player's team
        -- and goals: the records list the players of the league's biggest one.
        victory_bests AS (
            SELECT e.player_id, COALESCE(e.margin, -1) AS margin, e.day, e.match_id,
                   e.team_a_score || ':' || e.team_b_score AS score, e.team, e.goals
            FROM end_games e
            WHERE e.key_victory = e.best_victory
        ),
        new_bests AS MATERIALIZED (
            SELECT player_id, kind, streak::int, start_day::int, end_day::int,
                   NULL::int AS match_id, NULL::text AS score, NULL::text AS team,
                   NULL::int AS goals
            FROM result_bests
            UNION ALL
            SELECT player_id, 'scoring', streak, start_day, end_day, NULL, NULL, NULL, NULL
            FROM scoring_runs WHERE streak = best
            UNION ALL
            SELECT player_id, 'attendance', streak, start_day, end_day, NULL, NULL, NULL, NULL
            FROM attendance_bests
            UNION ALL
            SELECT player_id, 'most_goals', goals, NULL, end_day, match_id, score, NULL, NULL
            FROM goal_bests
            UNION ALL
            SELECT player_id, 'victory', margin, NULL, day, match_id, score, team, goals
            FROM victory_bests
            UNION ALL
            -- the digest of the games the candidates above come from (every player
            -- with games has rows in ends: the best attendance key)
            SELECT DISTINCT player_id, 'digest', n_games::int, NULL::int, 0, NULL::int,
                   digest::text, NULL::text, NULL::int
            FROM ends WHERE write_digests AND scope_players IS NOT NULL
            UNION ALL
            -- (a full run's: from the pass over every game above)
            SELECT u.player_id, 'digest', u.games, NULL, 0, NULL, u.digest, NULL, NULL
            FROM unnest(digest_ids, digest_games, digest_texts) AS u(player_id, games, digest)
            WHERE scope_players IS NULL
              AND (run_players IS NULL OR u.player_id = ANY (run_players))
        ),
        old_bests AS MATERIALIZED (
            SELECT player_id, kind, streak, start_day, end_day, match_id, score, team, goals
            FROM capo_records_player_bests
            WHERE tenant_id = target_tenant_id
              AND (run_players IS NULL OR player_id = ANY (run_players))
        ),
        -- The candidate rows whose number of copies differs (set operations treat
        -- NULLs as equal); all their copies are rewritten.
        changed AS MATERIALIZED (
            (SELECT * FROM new_bests EXCEPT ALL SELECT * FROM old_bests)
            UNION
            (SELECT * FROM old_bests EXCEPT ALL SELECT * FROM new_bests)
        ),
        gone AS (
            DELETE FROM capo_records_player_bests b
            USING changed c
            WHERE b.tenant_id = target_tenant_id AND b.player_id = c.player_id
              AND b.kind = c.kind AND b.streak = c.streak AND b.end_day = c.end_day
              AND b.start_day IS NOT DISTINCT FROM c.start_day
              AND b.match_id IS NOT DISTINCT FROM c.match_id
              AND b.score IS NOT DISTINCT FROM c.score
              AND b.team IS NOT DISTINCT FROM c.team
              AND b.goals IS NOT DISTINCT FROM c.goals
            RETURNING 1
        ),
        came AS (
            INSERT INTO capo_records_player_bests
                (tenant_id, player_id, kind, streak, start_day, end_day, match_id, score,
                 team, goals)
            SELECT target_tenant_id, n.player_id, n.kind, n.streak, n.start_day, n.end_day,
                   n.match_id, n.score, n.team, n.goals
            FROM new_bests n
            WHERE EXISTS (SELECT FROM changed c
                          WHERE c.player_id = n.player_id AND c.kind = n.kind
                            AND c.streak = n.streak AND c.end_day = n.end_day
                            AND c.start_day IS NOT DISTINCT FROM n.start_day
                            AND c.match_id IS NOT DISTINCT FROM n.match_id
                            AND c.score IS NOT DISTINCT FROM n.score
                            AND c.team IS NOT DISTINCT FROM n.team
                            AND c.goals IS NOT DISTINCT FROM n.goals)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM came)
        INTO candidate_rows;
        END IF;

        -- The records, from the players' candidates alone (written above or, for
        -- the players a scoped run left alone, by an earlier run): no game is read.
        -- Each kind's longest candidate (most goals: the most goals; victory: -1 if
        -- a NULL margin is there, else the largest margin) of a player who still
        -- exists is found from the top of the kind's index, and only the candidates
        -- of that length are read.
        WITH club_players AS MATERIALIZED (
            SELECT player_id, name::text AS name FROM players
            WHERE tenant_id = target_tenant_id
        ),
        longest AS MATERIALIZED (
            SELECT k.kind,
                   CASE WHEN k.kind = 'victory' AND EXISTS (
                            SELECT FROM capo_records_player_bests b
                            WHERE b.tenant_id = target_tenant_id AND b.kind = 'victory'
                              AND b.streak = -1
                              AND (b.player_id IN (SELECT player_id FROM club_players))
                                  IS TRUE)
                        THEN -1
                        -- (IS TRUE keeps the player test a filter, not a join: the
                        -- index's order stops the scan at the first candidate of an
                        -- existing player)
                        ELSE (SELECT b.streak FROM capo_records_player_bests b
                              WHERE b.tenant_id = target_tenant_id AND b.kind = k.kind
                                AND (b.player_id IN (SELECT player_id FROM club_players))
                                    IS TRUE
                              ORDER BY b.streak DESC LIMIT 1) END AS streak
            FROM (VALUES ('Win Streak'), ('Losing Streak'), ('Undefeated Streak'),
                         ('Winless Streak'), ('scoring'), ('attendance'), ('most_goals'),
                         ('victory')) AS k(kind)
        ),
        cand AS MATERIALIZED (
            SELECT b.*, n.name
            FROM longest l
            JOIN capo_records_player_bests b
              ON b.tenant_id = target_tenant_id AND b.kind = l.kind AND b.streak = l.streak
            JOIN club_players n ON n.player_id = b.player_id
        ),
        goal_top AS (
            SELECT streak AS goals, end_day FROM cand WHERE kind = 'most_goals'
            ORDER BY streak DESC, end_day DESC LIMIT 1
        ),
        most_goals AS (
            SELECT jsonb_agg(jsonb_build_object(
                       'name', c.name, 'goals', c.streak,
                       'date', capo_records_day_text(c.end_day), 'score', c.score)
                   ORDER BY c.name COLLATE "C", c.match_id) AS doc
            FROM cand c
            JOIN goal_top t ON c.streak = t.goals AND c.end_day = t.end_day
            WHERE c.kind = 'most_goals'
        ),
        -- The biggest victory: among matches with at least one non-ringer, the
        -- largest margin, then the latest date; a NULL margin (-1 here) sorts first
        -- and then no match is listed, as in the reference. Every non-ringer of
        -- such a match holds it as a candidate, so the candidates list its sides.
        victory_top AS (
            SELECT streak AS margin, end_day FROM cand WHERE kind = 'victory'
            ORDER BY streak = -1 DESC, streak DESC, end_day DESC LIMIT 1
        ),
        victory_sides AS (
            SELECT c.match_id, c.end_day,
                   split_part(c.score, ':', 1)::int AS team_a_score,
                   split_part(c.score, ':', 2)::int AS team_b_score,
                   string_agg(c.name || CASE WHEN c.goals > 0
                                             THEN ' (' || c.goals || ')' ELSE '' END,
                              ', ' ORDER BY c.name COLLATE "C") FILTER (WHERE c.team = 'A')
                       AS team_a_players,
                   string_agg(c.name || CASE WHEN c.goals > 0
                                             THEN ' (' || c.goals || ')' ELSE '' END,
                              ', ' ORDER BY c.name COLLATE "C") FILTER (WHERE c.team = 'B')
                       AS team_b_players
            FROM cand c
            JOIN victory_top t ON c.streak = t.margin AND c.end_day = t.end_day
            WHERE c.kind = 'victory' AND t.margin <> -1
            GROUP BY c.match_id, c.end_day, c.score
        ),
        victories AS (
            SELECT jsonb_agg(jsonb_build_object(
                       'team_a_score', team_a_score, 'team_b_score', team_b_score,
                       'team_a_players', team_a_players, 'team_b_players', team_b_players,
                       'date', capo_records_day_text(end_day))
                   ORDER BY match_id) AS doc
            FROM victory_sides
        ),
        scoring_doc AS (
            SELECT jsonb_agg(jsonb_build_object(
                       'name', c.name, 'streak', c.streak,
                       'start_date', capo_records_day_text(c.start_day),
                       'end_date', capo_records_day_text(c.end_day))
                   ORDER BY c.end_day DESC, c.name COLLATE "C", c.start_day DESC) AS doc
            FROM cand c JOIN longest l USING (kind, streak)
            WHERE c.kind = 'scoring'
        ),
        result_doc AS (
            SELECT COALESCE(jsonb_object_agg(kind, jsonb_build_object('holders', holders)),
                            '{}'::jsonb) AS doc
            FROM (SELECT c.kind,
                         jsonb_agg(jsonb_build_object(
                             'name', c.name, 'streak', c.streak,
                             'start_date', capo_records_day_text(c.start_day),
                             'end_date', capo_records_day_text(c.end_day))
                         ORDER BY c.end_day DESC, c.name COLLATE "C", c.start_day DESC)
                             AS holders
                  FROM cand c JOIN longest l USING (kind, streak)
                  WHERE c.kind IN ('Win Streak', 'Losing Streak', 'Undefeated Streak',
                                   'Winless Streak')
                  GROUP BY c.kind) k
        ),
        attendance_doc AS (
            SELECT jsonb_agg(jsonb_build_object(
                       'name', c.name, 'streak', c.streak,
                       'start_date', capo_records_day_text(c.start_day),
                       'end_date', capo_records_day_text(c.end_day))
                   ORDER BY c.end_day DESC, c.name COLLATE "C") AS doc
            FROM cand c JOIN longest l USING (kind, streak)
            WHERE c.kind = 'attendance' AND c.streak >= min_streak
        )
        SELECT jsonb_build_object(
                   'most_goals_in_game', COALESCE((SELECT doc FROM most_goals), '[]'::jsonb),
                   'biggest_victory', COALESCE((SELECT doc FROM victories), '[]'::jsonb),
                   'consecutive_goals_streak', COALESCE((SELECT doc FROM scoring_doc), '[]'::jsonb),
                   'streaks', (SELECT doc FROM result_doc),
                   'attendance_streak', COALESCE((SELECT doc FROM attendance_doc), '[]'::jsonb))
        INTO records_doc;

        DELETE FROM aggregated_records WHERE tenant_id = target_tenant_id;
        INSERT INTO aggregated_records (tenant_id, records) VALUES (target_tenant_id, records_doc);

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'honour_roll', 'honour_roll');

        has_matches := EXISTS (SELECT 1 FROM matches WHERE tenant_id = target_tenant_id);
    EXCEPTION WHEN OTHERS THEN
        -- The reference's message; the original SQLSTATE is kept (e.g. 22P02 for a
        -- setting that does not parse), as in the other stats functions.
        RAISE EXCEPTION 'Error in update_aggregated_season_honours_and_records: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;

    IF NOT has_matches THEN
        RETURN jsonb_build_object(
            'rows', honours_rows + 1,
            'note', 'no matches: no honours, and one records row holding the empty document');
    END IF;
    RETURN jsonb_build_object('rows', honours_rows + 1);
END;
$fn$;
