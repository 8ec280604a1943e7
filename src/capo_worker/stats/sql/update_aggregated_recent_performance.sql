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

-- Helper of this function: the hash of one game as this function reads it
-- (docs/stats.md, "Only changed players"): the game's row id and match id
-- (the order of games on one date), the match's day and score, whether the
-- team is 'A' (any other team is read as B), the goals (NULL as 0), the result
-- (NULL as '') and the heavy flags (NULL as false). Three 64-bit integer hashes
-- of packed fields, each keyed by more packed fields (hashint8extended's seed;
-- a result other than win, draw or loss by its own text hash): about half the
-- cost of hash_record_extended of a row. The hash of a game is not linear in
-- its fields, so a player's digest, the bit_xor of the games' hashes, does
-- not cancel out two games swapping a value.
CREATE OR REPLACE FUNCTION capo_recent_game_hash(
    player_match_id int, match_id int, day int, team_a_score int, team_b_score int,
    team text, goals int, result text, heavy_win boolean, heavy_loss boolean
) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(
        hashint8extended((match_id::bigint << 32) # (player_match_id::bigint & 4294967295),
                         (day::bigint << 32) # (team_a_score::bigint & 4294967295))
        # hashint8extended((team_b_score::bigint << 32) # (COALESCE(goals, 0)::bigint & 4294967295),
                           1),
        (CASE WHEN result IS NULL OR result = '' THEN 0
              WHEN result = 'win' THEN 8 WHEN result = 'draw' THEN 16
              WHEN result = 'loss' THEN 24
              ELSE hashtextextended(result, 0) << 3 END)
        # (CASE WHEN team = 'A' THEN 4 ELSE 0 END)
        # (CASE WHEN heavy_win THEN 2 ELSE 0 END)
        # (CASE WHEN heavy_loss THEN 1 ELSE 0 END))
$$;

-- Helper of this function: the guard of the tenant's rows (of `players`; NULL:
-- all), the number of rows and the bit_xor of a hash of each row's (ctid,
-- xmin). Any insert, update or delete since (by anyone, in any transaction)
-- gives a row version with another (ctid, xmin), so the guard changes (but for
-- a 2^-64 chance). A scoped run updates the stored guard by its players' rows
-- before and after its write, which keeps any difference made by others.
CREATE OR REPLACE FUNCTION capo_recent_performance_guard(target_tenant_id uuid, players int[])
RETURNS TABLE (n int, x bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*)::int, COALESCE(bit_xor(hashtextextended(a.ctid::text || a.xmin::text, 0)), 0)
    FROM aggregated_recent_performance a
    WHERE a.tenant_id = target_tenant_id AND (players IS NULL OR a.player_id = ANY (players))
$$;

-- Helper of this function: the digests of `players` (each one's games and the
-- bit_xor of capo_recent_game_hash), read through (tenant_id, player_id); a
-- scoped run's, after its write. The full run computes everyone's inline.
CREATE OR REPLACE FUNCTION capo_recent_digests(target_tenant_id uuid, players int[])
RETURNS TABLE (player_id int, games int, digest bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.player_id, count(g.player_match_id)::int, COALESCE(bit_xor(g.h), 0)
    FROM players p
    LEFT JOIN (
        SELECT pm.player_id, pm.player_match_id,
               capo_recent_game_hash(pm.player_match_id, pm.match_id,
                                     m.match_date - DATE '0001-01-01', m.team_a_score,
                                     m.team_b_score, pm.team, pm.goals, pm.result,
                                     pm.heavy_win, pm.heavy_loss) AS h
        FROM player_matches pm
        JOIN matches m ON m.tenant_id = target_tenant_id AND m.match_id = pm.match_id
        WHERE pm.tenant_id = target_tenant_id AND pm.player_id = ANY (players)
    ) g ON g.player_id = p.player_id
    WHERE p.tenant_id = target_tenant_id AND NOT p.is_ringer AND p.player_id = ANY (players)
    GROUP BY p.player_id
$$;

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
    v_full     boolean := v_players IS NULL;
    v_rows bigint;
    v_written bigint;  -- rows inserted (unchanged rows are kept)
    v_header   text;     -- a full run's header (capo_player_games_digests)
    v_guard    record;   -- the output rows' guard (n, x): count and (ctid, xmin) hash
    v_after    record;
    v_has_state boolean;
    v_digests  int;      -- non-ringers (a digest each)
    v_ids      int[];    -- a full run's new digests: player, games, digest
    v_games    int[];
    v_hashes   bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_recent_performance'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        -- A full run recomputes only the players whose digest (the number of
        -- their games and the bit_xor of the games' hashes) came, went or
        -- changed since the last full run (docs/stats.md, "Only changed
        -- players"): a player's row depends only on the player's own games.
        -- Everyone when there is no state yet, when the header (the functions'
        -- source, the server) or the guard of the output rows differs (someone
        -- else, a scoped run included, changed a row), or when more than half
        -- the players changed.
        IF v_full THEN
            v_header := concat_ws('#', current_setting('server_version_num'),
                (SELECT md5(string_agg(p.prosrc, '|' ORDER BY p.proname, p.oid))
                 FROM pg_proc p
                 WHERE p.proname IN ('update_aggregated_recent_performance',
                                     'capo_recent_game_hash')));
            SELECT * INTO v_guard FROM capo_recent_performance_guard(target_tenant_id, NULL);
            v_has_state := EXISTS (
                SELECT FROM capo_player_games_digests
                WHERE tenant_id = target_tenant_id AND kind = 'recent_performance'
                  AND player_id = 0 AND header = v_header
                  AND games = v_guard.n AND digest = v_guard.x);
            WITH new_digests AS MATERIALIZED (
                SELECT p.player_id, COALESCE(g.games, 0) AS games,
                       COALESCE(g.digest, 0) AS digest
                FROM (SELECT player_id FROM players
                      WHERE tenant_id = target_tenant_id AND NOT is_ringer OFFSET 0) p
                LEFT JOIN (
                    SELECT pm.player_id, count(*)::int AS games,
                           bit_xor(capo_recent_game_hash(pm.player_match_id, pm.match_id, m.day,
                                                         m.team_a_score, m.team_b_score,
                                                         pm.team, pm.goals, pm.result,
                                                         pm.heavy_win, pm.heavy_loss)) AS digest
                    -- the club's rows, read by tenant and joined in memory
                    FROM (SELECT player_id, match_id, player_match_id, team, goals, result,
                                 heavy_win, heavy_loss
                          FROM player_matches WHERE tenant_id = target_tenant_id OFFSET 0) pm
                    JOIN (SELECT match_id, (match_date - DATE '0001-01-01') AS day,
                                 team_a_score, team_b_score
                          FROM matches WHERE tenant_id = target_tenant_id OFFSET 0) m
                      -- (+ 0: no statistics, else PostgreSQL judges the join by the
                      -- match ids of every club, expects a few hundred games and sorts
                      -- them all to group them; docs/stats.md)
                      ON m.match_id = pm.match_id + 0
                    GROUP BY pm.player_id
                ) g ON g.player_id = p.player_id
            ),
            old_digests AS (
                SELECT player_id, games, digest FROM capo_player_games_digests
                WHERE tenant_id = target_tenant_id AND kind = 'recent_performance'
                  AND player_id <> 0
            )
            SELECT (SELECT count(*) FROM new_digests),
                   -- the players whose digest came, went or changed
                   (SELECT COALESCE(array_agg(COALESCE(n.player_id, o.player_id)), '{}')
                    FROM new_digests n FULL JOIN old_digests o ON o.player_id = n.player_id
                    WHERE n.games IS DISTINCT FROM o.games
                       OR n.digest IS DISTINCT FROM o.digest),
                   (SELECT array_agg(player_id) FROM new_digests),
                   (SELECT array_agg(games) FROM new_digests),
                   (SELECT array_agg(digest) FROM new_digests)
            INTO v_digests, v_players, v_ids, v_games, v_hashes;
            IF NOT v_has_state OR cardinality(v_players) * 2 > v_digests THEN
                v_players := NULL;
            END IF;
        ELSE
            -- A scoped run keeps the state, if any, true: its players' guard
            -- before the write, to update the stored guard after it.
            v_has_state := EXISTS (
                SELECT FROM capo_player_games_digests
                WHERE tenant_id = target_tenant_id AND kind = 'recent_performance'
                  AND player_id = 0);
            IF v_has_state THEN
                SELECT * INTO v_guard
                FROM capo_recent_performance_guard(target_tenant_id, v_players);
            END IF;
        END IF;

        -- (a full run where no player changed computes nothing)
        IF v_players IS NULL OR cardinality(v_players) > 0 THEN
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
        -- the players' last five games (MATERIALIZED: when few players changed,
        -- PostgreSQL expects one among many clubs and would run this again for
        -- each of them in a nested loop)
        recent AS MATERIALIZED (
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
        ),
        fresh AS MATERIALIZED (
            SELECT p.player_id, COALESCE(r.games, '[]'::jsonb) AS games,
                   COALESCE(r.goals, 0) AS goals
            FROM club_players p LEFT JOIN recent r ON r.player_id = p.player_id
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
        END IF;

        IF v_full THEN
            -- the computed players' digests (everyone's when v_players is NULL),
            -- then the header with the guard of the rows as this run leaves them
            DELETE FROM capo_player_games_digests
            WHERE tenant_id = target_tenant_id AND kind = 'recent_performance'
              AND (v_players IS NULL OR player_id = ANY (v_players) OR player_id = 0);
            INSERT INTO capo_player_games_digests (tenant_id, kind, player_id, games, digest)
            SELECT target_tenant_id, 'recent_performance', u.player_id, u.games, u.digest
            FROM unnest(v_ids, v_games, v_hashes) AS u(player_id, games, digest)
            WHERE v_players IS NULL OR u.player_id = ANY (v_players);
            SELECT * INTO v_after FROM capo_recent_performance_guard(target_tenant_id, NULL);
            INSERT INTO capo_player_games_digests (tenant_id, kind, player_id, games, digest,
                                                   header)
            VALUES (target_tenant_id, 'recent_performance', 0, v_after.n, v_after.x, v_header);
        ELSIF v_has_state THEN
            -- a scoped run: its players' digests, and the stored guard moved by
            -- what this run changed in their rows (a difference made by others
            -- stays a difference)
            SELECT * INTO v_after FROM capo_recent_performance_guard(target_tenant_id, v_players);
            UPDATE capo_player_games_digests
            SET games = games - v_guard.n + v_after.n, digest = digest # v_guard.x # v_after.x
            WHERE tenant_id = target_tenant_id AND kind = 'recent_performance' AND player_id = 0;
            DELETE FROM capo_player_games_digests
            WHERE tenant_id = target_tenant_id AND kind = 'recent_performance'
              AND player_id = ANY (v_players) AND player_id <> 0;
            INSERT INTO capo_player_games_digests (tenant_id, kind, player_id, games, digest)
            SELECT target_tenant_id, 'recent_performance', d.player_id, d.games, d.digest
            FROM capo_recent_digests(target_tenant_id, v_players) d;
        END IF;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'recent_performance', 'recent_performance');

        IF v_full THEN
            v_rows := v_digests;  -- every non-ringer has a row, computed or kept
        END IF;
        RETURN jsonb_build_object('rows', v_rows);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'Error in update_aggregated_recent_performance: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END;
$$;
