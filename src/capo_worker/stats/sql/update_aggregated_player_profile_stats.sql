-- update_aggregated_player_profile_stats (spec 30-records-stats §4), cache tag
-- player_profile_stats.
--
-- One row per non-ringer player (retired players and players without games
-- included): career games and fantasy points, best game and best season for goals,
-- best result / scoring / attendance streaks with their dates, per-year figures and
-- teammate chemistry. Fantasy points here follow FP_prof: a NULL result is worth 0
-- and the clean sheet is recomputed from the score (Q-R1).
--
-- Write mode, within the tenant: delete the tenant's rows (the reference TRUNCATEs),
-- insert; a full run whose inputs and rows are unchanged since the last full run
-- keeps the rows (capo_profile_stats_state, migration 0070). Errors are not wrapped.

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_player_profile_stats(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_player_profile_stats()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_player_profile_stats() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_player_profile_stats(capo_default_tenant()); END $$;

-- Helpers of this function: decode the packed keys used below to pick best runs
-- with max() (see the "best" step). A day is a date as days since 0001-01-01.
CREATE OR REPLACE FUNCTION capo_profile_day_text(day bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(DATE '0001-01-01' + day::int, 'YYYY-MM-DD')
$$;

-- A run key is (length - 1) * 2^40 + end day * 2^20 + start day; its dates as
-- "YYYY-MM-DD to YYYY-MM-DD" (NULL when there is no run).
CREATE OR REPLACE FUNCTION capo_profile_run_dates(run_key bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT capo_profile_day_text(run_key % 1048576) || ' to '
           || capo_profile_day_text(run_key / 1048576 % 1048576)
$$;

CREATE OR REPLACE FUNCTION update_aggregated_player_profile_stats(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- compiling these queries costs far more than it saves (docs/stats.md)
-- Planned per call, as every stats function: a generic plan (PostgreSQL's
-- choice after five calls in a session) is made without the tenant and can
-- misjudge one club among many (docs/stats.md, "Generic plans").
SET plan_cache_mode = force_custom_plan
-- Every join below is an equi-join of the club's rows in memory, best hashed.
-- PostgreSQL 17 and later estimate them from the id statistics of the whole
-- tables (they see through the CTEs), which span every club: among 1,000
-- clubs they guessed a few rows and paired teammates in nested loops, 5 times
-- slower than alone. PostgreSQL 15 guesses joins of materialized CTEs at
-- many times their size and merged sorted copies of them.
SET enable_nestloop = off
SET enable_mergejoin = off
-- The sorts and hashes of a large club's games and teammate pairs (83,000
-- rows, 240,000 pairs in bench's large league) fit in memory.
SET work_mem = '64MB'
AS $fn$
DECLARE
    -- NULL: every player; else only these players' rows (a post-match job for the
    -- league's last match, docs/stats.md)
    scope_players int[] := capo_scope_players();
    fs       record;
    duration numeric;
    duration_text text;
    full_run boolean := scope_players IS NULL;
    written  int;     -- rows inserted
    total    bigint;  -- the tenant's rows after the run
    xmin_sum numeric; -- the sum of their xmin
    header   text;    -- a full run's settings and source (capo_profile_stats_state)
    last_run record;  -- what the last run left
    reuse    boolean := false;  -- the last run's rows and state can be built on
    affected int[];   -- the players a change since the last full run may affect
    new_player_ids    int[];     -- the tenant's players, by id,
    new_player_hashes bigint[];  -- a hash of the columns of each one's own row,
    new_mate_hashes   bigint[];  -- and of what their teammates' rows read
    mates_changed int[];  -- the players whose teammates' hash changed
    changed_ids    int[];     -- the matches whose hash came or changed,
    changed_hashes bigint[];  -- their new hashes,
    gone_ids       int[];     -- and the matches that went
    many boolean;  -- many matches changed
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_player_profile_stats'),
                                  hashtext(target_tenant_id::text));

    SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);
    -- Cast to numeric (decimals accepted, Q-R5). As in the reference, a bad value
    -- fails the call as soon as any game exists (a ringer's included), and goes
    -- unnoticed when there is none. The games are looked for only when the value
    -- does not parse (the club's players, matches and games cost about 1 ms on
    -- large); RAISE re-raises the cast's own error.
    duration_text := get_config_value('match_duration_minutes', '60', target_tenant_id);
    BEGIN
        duration := duration_text::numeric;
    EXCEPTION WHEN OTHERS THEN
        -- (The club's players and matches first, as in the statement below.)
        IF EXISTS (WITH club_players AS MATERIALIZED (
                       SELECT player_id FROM players WHERE tenant_id = target_tenant_id),
                   club_matches AS MATERIALIZED (
                       SELECT match_id FROM matches WHERE tenant_id = target_tenant_id),
                   club_games AS MATERIALIZED (
                       SELECT player_id, match_id FROM player_matches
                       WHERE tenant_id = target_tenant_id)
                   SELECT 1
                   FROM club_games pm
                   JOIN club_players pl ON pl.player_id = pm.player_id
                   JOIN club_matches m ON m.match_id = pm.match_id) THEN
            RAISE;
        END IF;
    END;

    -- A full run recomputes only the players whose rows may have changed since
    -- the last full run (docs/stats.md, "Only the affected players"): the rows
    -- are what a new run would write for every other player (the function
    -- depends on nothing else; no "today"). What the last run read is kept per
    -- match (capo_profile_match_state: a hash of the match's row, of the match
    -- before it in the league's order, and of its rows with their players'
    -- name, ringer and retired flags; and its players) and per player (the
    -- header, capo_profile_stats_state: a hash of the player's own columns),
    -- with the settings and source the rows were computed with. The affected
    -- players are those of every match whose hash came, went or changed (its
    -- old and new players), every player whose own hash did, and those a
    -- scoped run rewrote since. Everyone, when the settings or source changed,
    -- there is no state, the rows were touched by anyone else since (their
    -- count and sum of xmin differ from what the last run left; in the
    -- transaction that wrote them they could have changed under the same xmin,
    -- so they are not trusted there), or most players are affected.
    IF full_run THEN
        header := concat_ws('#',
            current_setting('server_version_num'),
            (SELECT md5(string_agg(p.prosrc, '|' ORDER BY p.proname, p.oid))
             FROM pg_proc p
             WHERE p.proname IN ('update_aggregated_player_profile_stats', 'capo_fantasy_points',
                                 'capo_profile_day_text', 'capo_profile_run_dates')),
            row(fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw)::text,
            duration_text);
        SELECT s.inputs_digest, s.rows_written, s.rows_xmin_sum, s.player_ids, s.player_hashes,
               s.player_mate_hashes, s.dirty_players, s.written_in IS NOT DISTINCT FROM pg_current_xact_id_if_assigned()
                   AS this_xact
        INTO last_run
        FROM capo_profile_stats_state s WHERE s.tenant_id = target_tenant_id;
        reuse := FOUND;
        -- Per player, a hash of the columns of their own row (name, ringer
        -- flag, selected club) and one of what their teammates' rows read
        -- about them (name, ringer and retired flags). (MATERIALIZED: sorted
        -- in memory; the planner would rather read the whole table in
        -- player_id order through its primary key.)
        WITH club_players AS MATERIALIZED (
            SELECT player_id,
                   hash_record_extended(row(player_id, name, is_ringer, selected_club), 0) AS own,
                   hash_record_extended(row(player_id, name, is_ringer, is_retired), 0) AS mate
            FROM players WHERE tenant_id = target_tenant_id
        )
        SELECT COALESCE(array_agg(player_id ORDER BY player_id), '{}'),
               COALESCE(array_agg(own ORDER BY player_id), '{}'),
               COALESCE(array_agg(mate ORDER BY player_id), '{}')
        INTO new_player_ids, new_player_hashes, new_mate_hashes
        FROM club_players;
        reuse := reuse AND last_run.inputs_digest = header AND NOT last_run.this_xact
                 AND last_run.player_ids IS NOT NULL
                 AND (SELECT count(*) = last_run.rows_written
                             AND COALESCE(sum(a.xmin::text::bigint), 0) = last_run.rows_xmin_sum
                      FROM aggregated_player_profile_stats a
                      WHERE a.tenant_id = target_tenant_id);

        -- The matches whose hash came, went or changed since the state was
        -- written. The club's rows are read through indexes that lead with
        -- the tenant and joined in memory. Each row's hash is hashed once
        -- more before the sum (a record's hash is linear in its columns'
        -- hashes); rows without a match are kept under match 0 (a coarser key
        -- only adds players).
        WITH club_matches AS MATERIALIZED (
            SELECT match_id,
                   hash_record_extended(row(match_id, match_date, team_a_score, team_b_score,
                                            lag(match_id) OVER (ORDER BY match_date, match_id)),
                                        0) AS h
            FROM matches WHERE tenant_id = target_tenant_id
        ),
        club_rows AS MATERIALIZED (
            SELECT COALESCE(match_id, 0) AS match_id,
                   sum(hashint8extended(hash_record_extended(
                       row(player_match_id, player_id, team, goals, result, heavy_win, heavy_loss),
                       0), 0)) AS h
            FROM player_matches
            WHERE tenant_id = target_tenant_id
            GROUP BY 1
        ),
        new_state AS MATERIALIZED (
            SELECT COALESCE(m.match_id, r.match_id) AS match_id,
                   hash_record_extended(row(m.h, r.h), 0) AS hash
            FROM club_matches m FULL JOIN club_rows r ON r.match_id = m.match_id
        ),
        old_state AS MATERIALIZED (
            SELECT match_id, hash, player_ids
            FROM capo_profile_match_state WHERE tenant_id = target_tenant_id
        ),
        changed AS MATERIALIZED (
            SELECT n.match_id AS new_id, o.match_id AS old_id, n.hash, o.player_ids AS old_players
            FROM new_state n FULL JOIN old_state o ON o.match_id = n.match_id
            WHERE n.hash IS DISTINCT FROM o.hash
        )
        SELECT COALESCE(array_agg(new_id) FILTER (WHERE new_id IS NOT NULL), '{}'),
               COALESCE(array_agg(hash) FILTER (WHERE new_id IS NOT NULL), '{}'),
               COALESCE(array_agg(old_id) FILTER (WHERE new_id IS NULL), '{}'),
               ARRAY(SELECT DISTINCT unnest(old_players) FROM changed)
        INTO changed_ids, changed_hashes, gone_ids, affected
        FROM changed;

        -- The state written as a difference (most runs change a match or
        -- none); the players of a match read again only for the changed ones
        -- (their ids a constant: looked up through the index), or, when many
        -- changed (the first run), those of every match in one pass (hashed).
        many := cardinality(changed_ids) > 200;
        IF cardinality(gone_ids) > 0 THEN
            DELETE FROM capo_profile_match_state
            WHERE tenant_id = target_tenant_id AND match_id = ANY (gone_ids);
        END IF;
        IF cardinality(changed_ids) > 0 THEN
            WITH new_players AS MATERIALIZED (
                SELECT match_id, array_agg(player_id) AS player_ids
                FROM (SELECT DISTINCT COALESCE(match_id, 0) AS match_id, player_id
                      FROM player_matches
                      WHERE tenant_id = target_tenant_id AND player_id IS NOT NULL
                        AND (many OR match_id = ANY (changed_ids)
                             OR match_id IS NULL AND 0 = ANY (changed_ids))) d
                GROUP BY match_id
            ),
            came AS (
                INSERT INTO capo_profile_match_state AS s (tenant_id, match_id, hash, player_ids)
                SELECT target_tenant_id, c.match_id, c.hash, COALESCE(p.player_ids, '{}')
                FROM unnest(changed_ids, changed_hashes) AS c (match_id, hash)
                LEFT JOIN new_players p USING (match_id)
                ON CONFLICT (tenant_id, match_id) DO UPDATE
                    SET hash = excluded.hash, player_ids = excluded.player_ids
                RETURNING s.player_ids
            )
            SELECT ARRAY(SELECT unnest(affected) UNION SELECT unnest(player_ids) FROM came)
            INTO affected;
        END IF;

        -- Players whose own hash or teammates' hash came, went or changed
        -- (not needed when everyone is recomputed).
        IF reuse THEN
            WITH changed_players AS MATERIALIZED (
                SELECT COALESCE(n.player_id, o.player_id) AS player_id,
                       n.mate IS DISTINCT FROM o.mate AS as_mate
                FROM unnest(new_player_ids, new_player_hashes, new_mate_hashes)
                         AS n (player_id, own, mate)
                FULL JOIN unnest(last_run.player_ids, last_run.player_hashes,
                                 last_run.player_mate_hashes) AS o (player_id, own, mate)
                    ON o.player_id = n.player_id
                WHERE n.own IS DISTINCT FROM o.own OR n.mate IS DISTINCT FROM o.mate
            )
            SELECT ARRAY(SELECT unnest(affected)
                         UNION SELECT player_id FROM changed_players
                         UNION SELECT unnest(last_run.dirty_players)),
                   ARRAY(SELECT player_id FROM changed_players WHERE as_mate)
            INTO affected, mates_changed;
            affected := array_remove(affected, NULL);
            -- A player's name or mate status is read by their teammates' rows: the
            -- players of their matches (the state just written) are affected.
            IF cardinality(mates_changed) > 0 THEN
                SELECT ARRAY(SELECT unnest(affected)
                             UNION
                             SELECT unnest(s.player_ids)
                             FROM capo_profile_match_state s
                             WHERE s.tenant_id = target_tenant_id
                               AND s.player_ids && mates_changed)
                INTO affected;
            END IF;
        END IF;

        IF reuse AND cardinality(affected) = 0 THEN
            PERFORM capo_touch_cache_metadata(target_tenant_id, 'player_profile_stats',
                                              'player_profile_stats', true);
            IF last_run.rows_written = 0 THEN
                RETURN jsonb_build_object('rows', 0,
                                          'note', 'no non-ringer players: the table is empty');
            END IF;
            RETURN jsonb_build_object('rows', last_run.rows_written);
        END IF;
        IF reuse AND cardinality(affected) * 2 <= cardinality(new_player_ids) THEN
            scope_players := affected;
        END IF;
    ELSE
        -- A scoped run rewrites its players' rows: when the rows were those the
        -- last full run left (checked as above), it records them as rewritten,
        -- and the next full run recomputes them with the affected players.
        SELECT s.rows_written, s.rows_xmin_sum INTO last_run
        FROM capo_profile_stats_state s WHERE s.tenant_id = target_tenant_id;
        reuse := FOUND AND (SELECT count(*) = last_run.rows_written
                                   AND COALESCE(sum(a.xmin::text::bigint), 0)
                                       = last_run.rows_xmin_sum
                            FROM aggregated_player_profile_stats a
                            WHERE a.tenant_id = target_tenant_id);
    END IF;

    DELETE FROM aggregated_player_profile_stats
    WHERE tenant_id = target_tenant_id
      AND (scope_players IS NULL OR player_id = ANY (scope_players));

    INSERT INTO aggregated_player_profile_stats (
        player_id, tenant_id, name, games_played, fantasy_points,
        most_game_goals, most_game_goals_date, most_season_goals, most_season_goals_year,
        win_streak, win_streak_dates, losing_streak, losing_streak_dates,
        undefeated_streak, undefeated_streak_dates, winless_streak, winless_streak_dates,
        attendance_streak, attendance_streak_dates, scoring_streak, scoring_streak_dates,
        selected_club, yearly_stats, teammate_chemistry_all)
    -- The club's rows of each input table are read once, through indexes that
    -- lead with the tenant, and joined in memory (MATERIALIZED): with many
    -- clubs the planner would otherwise guess the club's joins from ids that
    -- span every club, and pick per-row lookups by global id.
    WITH match_seq AS MATERIALIZED (
        -- Each match's position in the league's match order (the games' sort
        -- key, and attendance runs), its day (days since 0001-01-01) and year.
        SELECT match_id, team_a_score, team_b_score,
               (match_date - DATE '0001-01-01')::bigint AS day,
               extract(year FROM match_date)::int AS year,
               row_number() OVER (ORDER BY match_date, match_id) AS seq
        FROM matches WHERE tenant_id = target_tenant_id
    ),
    club_players AS MATERIALIZED (
        SELECT player_id, name, is_retired, selected_club,
               is_retired IS FALSE AS mate  -- may be a teammate in chemistry (Q-R3)
        FROM players
        WHERE tenant_id = target_tenant_id AND NOT is_ringer
    ),
    -- Not materialized: the planner estimates the games' joins below from the
    -- table's statistics (PostgreSQL 15 guessed joins of materialized copies at
    -- 140 times their size, and sorted and merged them).
    club_games AS (
        SELECT player_id, match_id, player_match_id, team, goals, result, heavy_win,
               heavy_loss
        FROM player_matches WHERE tenant_id = target_tenant_id
          AND (scope_players IS NULL OR player_id = ANY (scope_players))
    ),
    -- Every row of every subject (non-ringer), with FP_prof and its state,
    -- team code * 32 + flags. Team codes: 0 NULL, 1 A, 2 B, 3 any other text.
    -- Flags: 1 win, 2 loss, 4 undefeated (a result other than loss), 8 winless
    -- (a result other than win), 16 scored; a NULL result meets none of the
    -- four result conditions. A row without a match (NULL match_id) still adds
    -- its points, with no clean sheet, but is no game (spec §4.4 a): it has no
    -- day, and so drops out of every key. Read three times (runs, per-year
    -- figures, chemistry), so kept once.
    games AS MATERIALIZED (
        SELECT pm.player_id, pm.player_match_id AS pmid, pm.match_id, pm.team, pm.goals,
               m.day, m.year, m.seq, pl.mate,
               CASE WHEN pm.team IS NULL THEN 0
                    WHEN pm.team = 'A' THEN 32
                    WHEN pm.team = 'B' THEN 64 ELSE 96 END
               | CASE WHEN pm.result IS NULL THEN 0
                      WHEN pm.result = 'win' THEN 1 | 4
                      WHEN pm.result = 'loss' THEN 2 | 8
                      ELSE 4 | 8 END
               | CASE WHEN pm.goals > 0 THEN 16 ELSE 0 END AS st,
               capo_fantasy_points(pm.result, pm.heavy_win, pm.heavy_loss,
                                   (pm.team = 'A' AND m.team_b_score = 0)
                                   OR (pm.team = 'B' AND m.team_a_score = 0),
                                   fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw) AS fp
        FROM club_games pm
        JOIN club_players pl ON pl.player_id = pm.player_id
        LEFT JOIN match_seq m ON m.match_id = pm.match_id
    ),
    -- The best runs, from the games sorted by player and match order (seq; rows
    -- without a match last), through two window levels over narrow rows (the
    -- sort and window passes copy every column of every row).
    --
    -- A run of condition C starts at a game meeting C when the previous game did
    -- not; an attendance run starts at a game whose match does not directly follow
    -- the previous game's match (so a duplicated row starts a new run, Q-X3).
    -- Level 2 carries, per kind, the start of the current run as rn * 2^40 - its
    -- day (days since 0001-01-01, < 2^20): the latest start is the max(). A game
    -- meeting C gets the run key rn * 2^40 + day * 2^20 - start, which is
    -- (length - 1) * 2^40 + end day * 2^20 + start day: the best run of a player
    -- (the longest, then the latest end) is the max() key.
    --
    -- For teammate chemistry, the same pass finds the rows after a player's
    -- first row in a match (repeats), and the matches where a player may be on
    -- two teams: both are lists, empty in app-made data.
    runs AS (
        SELECT player_id,
               max(p - s_win) FILTER (WHERE st & 1 <> 0) AS k_win,
               max(p - s_loss) FILTER (WHERE st & 2 <> 0) AS k_loss,
               max(p - s_undefeated) FILTER (WHERE st & 4 <> 0) AS k_undefeated,
               max(p - s_winless) FILTER (WHERE st & 8 <> 0) AS k_winless,
               max(p - s_scoring) FILTER (WHERE st & 16 <> 0) AS k_scoring,
               max(p - s_attendance) AS k_attendance,
               array_agg(pmid) FILTER (WHERE prev / 128 = seq) AS repeats,
               array_agg(match_id) FILTER (WHERE day IS NOT NULL
                                                 AND (prev / 128 = seq
                                                      AND prev / 32 % 4 <> st / 32
                                                      OR st >= 96)) AS two_team
        FROM (SELECT o.*, o.mark + o.day * 1048577 AS p,
                     max(CASE WHEN o.starts & 1 <> 0 THEN o.mark END) OVER w AS s_win,
                     max(CASE WHEN o.starts & 2 <> 0 THEN o.mark END) OVER w AS s_loss,
                     max(CASE WHEN o.starts & 4 <> 0 THEN o.mark END) OVER w AS s_undefeated,
                     max(CASE WHEN o.starts & 8 <> 0 THEN o.mark END) OVER w AS s_winless,
                     max(CASE WHEN o.starts & 16 <> 0 THEN o.mark END) OVER w AS s_scoring,
                     max(CASE WHEN o.starts & 32 <> 0 THEN o.mark END) OVER w AS s_attendance
              -- (OFFSET 0: the starts are computed once per row)
              FROM (SELECT l.*,
                           l.st & ~COALESCE(l.prev, 0) & 31
                           | CASE WHEN l.prev / 128 = l.seq - 1 THEN 0 ELSE 32 END AS starts
                    FROM (SELECT g.player_id, g.pmid, g.match_id, g.seq, g.day, g.st,
                                 row_number() OVER w * 1099511627776 - g.day AS mark,
                                 lag(g.seq * 128 + g.st) OVER w AS prev
                          FROM games g
                          WINDOW w AS (PARTITION BY g.player_id ORDER BY g.seq, g.pmid
                                       ROWS UNBOUNDED PRECEDING)) l
                    OFFSET 0) o
              WINDOW w AS (PARTITION BY o.player_id ORDER BY o.seq, o.pmid
                           ROWS UNBOUNDED PRECEDING)) x
        GROUP BY player_id
    ),
    -- (g) per-year figures (year NULL: the rows without a match), and per
    -- player and year the best game, for the player's totals below.
    per_year AS (
        SELECT player_id, year,
               count(*) AS games_played,
               sum(goals) AS goals_scored,
               sum(goals) FILTER (WHERE goals > 0) AS scored_goals,
               sum(fp) AS fantasy_points,
               -- (b) best game: most goals, then the latest date.
               max(goals::bigint * 1048576 + day) FILTER (WHERE goals > 0) AS k_game
        FROM games
        GROUP BY player_id, year
    ),
    -- Per player: the totals, the best game, season and run of each kind, and
    -- the yearly figures.
    best AS (
        SELECT y.player_id,
               sum(games_played) FILTER (WHERE year IS NOT NULL) AS games_played,
               sum(fantasy_points) AS fantasy_points,
               max(k_game) AS k_game,
               -- (c) best season for goals: the largest sum, ties to the later year.
               max(scored_goals * 16384 + year) AS k_season,
               jsonb_agg(jsonb_build_object(
                   'year', year,
                   'games_played', games_played,
                   'goals_scored', goals_scored,
                   'fantasy_points', fantasy_points,
                   'minutes_per_goal', CASE WHEN goals_scored > 0
                                            THEN round(games_played * duration / goals_scored, 1)
                                       END,
                   'points_per_game', round(fantasy_points::numeric / games_played, 1))
                   ORDER BY year DESC) FILTER (WHERE year IS NOT NULL) AS yearly
        FROM per_year y
        GROUP BY y.player_id
    ),
    -- (h) teammate chemistry: pairs of rows of one match with the same non-NULL
    -- team; the teammate a non-ringer with is_retired = false (NULL excludes,
    -- Q-R3); at least 10 distinct shared matches; the mean of the subject's points
    -- over the pair rows (duplicated rows weigh several times in the mean only).
    sided AS NOT MATERIALIZED (
        SELECT player_id, match_id, team, match_id::bigint * 4 + st / 32 AS side, fp, mate,
               pmid IN (SELECT unnest(repeats) FROM runs) AS repeat_row
        FROM games WHERE team IS NOT NULL AND day IS NOT NULL
    ),
    mates AS (
        SELECT player_id, name::text AS name FROM club_players WHERE mate
    ),
    -- The shared matches of a pair are the distinct matches where both have a
    -- row on the same team; the pair rows every two such rows.
    --
    -- A full run pairs the rows of two teammates once: a teammate's rows with
    -- the rows of every player of a lower id, and of every player who is no
    -- teammate (retired); both get their figures from the pair (the shared
    -- matches and pair rows are the same for both; the points their own). It
    -- counts a shared match on the first row of each player in the match. That
    -- counts it once unless a player has rows on two teams of one match; such
    -- matches (none in app-made data; any match with a team other than A/B is
    -- treated as one, to be safe) are counted by distinct match instead.
    mate_side AS NOT MATERIALIZED (
        SELECT player_id, match_id, team, side, fp, repeat_row
        FROM sided WHERE scope_players IS NULL AND mate
    ),
    two_team_matches AS (
        SELECT DISTINCT unnest(two_team) AS match_id FROM runs WHERE scope_players IS NULL
    ),
    -- Pairs (a, b): a's rows with teammate b's rows; in other matches than
    -- those (one team code, A or B, per player) the match and team are one key.
    simple_pairs AS (
        SELECT p.player_id AS a, t.player_id AS b, count(*) AS pair_rows,
               sum(p.fp) AS points_a, sum(t.fp) AS points_b,
               count(*) FILTER (WHERE NOT p.repeat_row AND NOT t.repeat_row) AS shared
        FROM sided p
        JOIN mate_side t ON t.side = p.side
        WHERE (t.player_id > p.player_id OR NOT p.mate)
          AND p.match_id NOT IN (SELECT match_id FROM two_team_matches)
        GROUP BY p.player_id, t.player_id
    ),
    mixed_pairs AS (
        SELECT a, b, sum(pair_rows) AS pair_rows, sum(points_a) AS points_a,
               sum(points_b) AS points_b, count(*) AS shared
        FROM (SELECT p.player_id AS a, t.player_id AS b, p.match_id,
                     count(*) AS pair_rows, sum(p.fp) AS points_a, sum(t.fp) AS points_b
              FROM sided p
              JOIN mate_side t ON t.match_id = p.match_id AND t.team = p.team
              WHERE (t.player_id > p.player_id OR NOT p.mate)
                AND p.match_id IN (SELECT match_id FROM two_team_matches)
              GROUP BY p.player_id, t.player_id, p.match_id) x
        GROUP BY a, b
    ),
    -- A scoped run pairs its players' rows with the teammates' rows of those
    -- matches (the club's rows, read by match; players who are no mates,
    -- retired players and ringers, are left out first), counted by distinct
    -- match, in one grouping (the rows come sorted by pair and match).
    scoped_pairs AS (
        SELECT p.player_id AS a, t.player_id AS b, count(*) AS pair_rows,
               sum(p.fp) AS points_a, NULL::bigint AS points_b,
               count(DISTINCT p.match_id) AS shared
        FROM sided p
        JOIN player_matches t ON t.match_id = p.match_id AND t.team = p.team
        WHERE t.tenant_id = target_tenant_id AND scope_players IS NOT NULL
          AND t.match_id = ANY (ARRAY(SELECT match_id FROM sided))
          AND t.player_id IN (SELECT player_id FROM mates)
          AND t.player_id <> p.player_id
        GROUP BY p.player_id, t.player_id
    ),
    pair_sums AS (
        SELECT a, b,
               COALESCE(s.shared, 0) + COALESCE(x.shared, 0) AS games_with,
               COALESCE(s.pair_rows, 0) + COALESCE(x.pair_rows, 0) AS pair_rows,
               COALESCE(s.points_a, 0) + COALESCE(x.points_a, 0) AS points_a,
               COALESCE(s.points_b, 0) + COALESCE(x.points_b, 0) AS points_b
        FROM simple_pairs s FULL JOIN mixed_pairs x USING (a, b)
        WHERE COALESCE(s.shared, 0) + COALESCE(x.shared, 0) >= 10
        UNION ALL
        SELECT a, b, shared, pair_rows, points_a, points_b
        FROM scoped_pairs WHERE shared >= 10
    ),
    pairs AS (  -- (subject, teammate): b is one; so is a if it has a mates row
        SELECT a AS player_id, b AS mate_id, games_with,
               points_a::numeric / pair_rows AS average
        FROM pair_sums
        UNION ALL
        SELECT b, a, games_with, points_b::numeric / pair_rows
        FROM pair_sums WHERE scope_players IS NULL
    ),
    chemistry AS (
        SELECT pr.player_id,
               json_agg(json_build_object(
                   'player_id', pr.mate_id,
                   'name', m.name,
                   'games_played_with', pr.games_with,
                   'average_fantasy_points_with', round(pr.average, 2))
                   ORDER BY pr.average DESC, pr.mate_id) AS doc
        FROM pairs pr JOIN mates m ON m.player_id = pr.mate_id
        GROUP BY pr.player_id
    )
    SELECT s.player_id, target_tenant_id, s.name,
           COALESCE(b.games_played, 0), COALESCE(b.fantasy_points, 0),
           (b.k_game / 1048576)::int, capo_profile_day_text(b.k_game % 1048576),
           (b.k_season / 16384)::int, (b.k_season % 16384)::text,
           COALESCE((r.k_win / 1099511627776)::int + 1, 0), capo_profile_run_dates(r.k_win),
           COALESCE((r.k_loss / 1099511627776)::int + 1, 0), capo_profile_run_dates(r.k_loss),
           COALESCE((r.k_undefeated / 1099511627776)::int + 1, 0),
           capo_profile_run_dates(r.k_undefeated),
           COALESCE((r.k_winless / 1099511627776)::int + 1, 0), capo_profile_run_dates(r.k_winless),
           COALESCE((r.k_attendance / 1099511627776)::int + 1, 0),
           capo_profile_run_dates(r.k_attendance),
           COALESCE((r.k_scoring / 1099511627776)::int + 1, 0), capo_profile_run_dates(r.k_scoring),
           s.selected_club,
           COALESCE(b.yearly, '[]'::jsonb),
           COALESCE(c.doc, '[]'::json)
    FROM club_players s
    LEFT JOIN best b USING (player_id)
    LEFT JOIN runs r USING (player_id)
    LEFT JOIN chemistry c USING (player_id)
    WHERE scope_players IS NULL OR s.player_id = ANY (scope_players);
    GET DIAGNOSTICS written = ROW_COUNT;

    -- The table's rows and their check, for the next run (above).
    SELECT count(*), COALESCE(sum(a.xmin::text::bigint), 0) INTO total, xmin_sum
    FROM aggregated_player_profile_stats a WHERE a.tenant_id = target_tenant_id;
    IF full_run THEN
        INSERT INTO capo_profile_stats_state AS s
            (tenant_id, inputs_digest, rows_written, rows_xmin, rows_xmin_sum, player_ids,
             player_hashes, player_mate_hashes, dirty_players, written_in, updated_at)
        VALUES (target_tenant_id, header, total, NULL, xmin_sum, new_player_ids,
                new_player_hashes, new_mate_hashes, NULL, pg_current_xact_id(), now())
        ON CONFLICT (tenant_id) DO UPDATE
            SET inputs_digest = excluded.inputs_digest, rows_written = excluded.rows_written,
                rows_xmin = NULL, rows_xmin_sum = excluded.rows_xmin_sum,
                player_ids = excluded.player_ids, player_hashes = excluded.player_hashes,
                player_mate_hashes = excluded.player_mate_hashes,
                dirty_players = NULL, written_in = excluded.written_in,
                updated_at = excluded.updated_at;
    ELSIF reuse THEN
        UPDATE capo_profile_stats_state s
        SET rows_written = total, rows_xmin_sum = xmin_sum,
            dirty_players = ARRAY(SELECT DISTINCT unnest(COALESCE(s.dirty_players, '{}')
                                                         || scope_players)),
            written_in = pg_current_xact_id(), updated_at = now()
        WHERE s.tenant_id = target_tenant_id;
    END IF;

    PERFORM capo_touch_cache_metadata(target_tenant_id, 'player_profile_stats', 'player_profile_stats', true);

    -- The summary does not say how many rows were recomputed (as for the
    -- records' candidates): running twice gives the same summaries.
    IF NOT full_run THEN
        total := written;
    END IF;
    IF total = 0 THEN
        RETURN jsonb_build_object('rows', 0, 'note', 'no non-ringer players: the table is empty');
    END IF;
    RETURN jsonb_build_object('rows', total);
END;
$fn$;
