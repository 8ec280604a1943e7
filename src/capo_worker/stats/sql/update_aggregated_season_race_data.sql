-- update_aggregated_season_race_data (spec 30-records-stats §3), cache tag season_race_data.
--
-- The season-race chart: cumulative fantasy points (result NULL counted as a loss),
-- game by game, of the top five non-ringers of the current calendar year Y
-- (whole_season) and of the current half of it (current_half). Matches dated after
-- today but in Y count (Q-S4); players with a total <= 0 are never shown.
--
-- Write mode, within the tenant: delete year Y's rows, insert exactly two rows.
-- Earlier years' rows are never touched again (Q-S3). Errors are re-raised as
-- "Error in update_aggregated_season_race_data: <message>".

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_aggregated_season_race_data(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_aggregated_season_race_data()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_aggregated_season_race_data() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_aggregated_season_race_data(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_aggregated_season_race_data(
    target_tenant_id uuid
) RETURNS jsonb
LANGUAGE plpgsql
SET jit = off  -- compiling these queries costs far more than it saves (docs/stats.md)
-- Year Y's games are read through idx_player_matches_tenant_negated_match
-- (tenant_id, -match_id), migration 0072: never a table scan, nor a bitmap
-- scan that would visit the club's heap pages in bulk.
SET enable_seqscan = off
SET enable_bitmapscan = off
-- (the period's games joined to its five leaders: merging sorted both sides)
SET enable_mergejoin = off
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    fs          record;
    today       date;
    year_y      int;
    year_start  date;
    year_end    date;
    half_start  date;
    half_end    date;
    season_rows int := 0;
    first_id    int;      -- the lowest and highest match ids of year Y
    last_id     int;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_aggregated_season_race_data'),
                                  hashtext(target_tenant_id::text));
    BEGIN
        SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);
        today      := capo_today();
        year_y     := extract(year FROM today)::int;
        year_start := make_date(year_y, 1, 1);
        year_end   := make_date(year_y, 12, 31);
        IF today <= make_date(year_y, 6, 30) THEN
            half_start := year_start;
            half_end   := make_date(year_y, 6, 30);
        ELSE
            half_start := make_date(year_y, 7, 1);
            half_end   := year_end;
        END IF;

        DELETE FROM aggregated_season_race_data
        WHERE tenant_id = target_tenant_id AND season_year = year_y;

        -- The bounds of year Y's match ids, as constants for the planner below
        -- (NULL without a match in Y: then no game is read). From the year's
        -- matches (OFFSET 0: min and max are not turned into a walk of the
        -- primary key, which spans every club).
        SELECT min(y.match_id), max(y.match_id) INTO first_id, last_id
        FROM (SELECT match_id FROM matches
              WHERE tenant_id = target_tenant_id AND match_date BETWEEN year_start AND year_end
              OFFSET 0) y;

        -- The club's rows are read through indexes that lead with the tenant and
        -- joined in memory (MATERIALIZED): among many clubs the planner would
        -- otherwise guess the club's joins from ids that span every club.
        WITH club_players AS MATERIALIZED (
            SELECT player_id, name FROM players
            WHERE tenant_id = target_tenant_id AND NOT is_ringer
        ),
        club_matches AS MATERIALIZED (
            SELECT match_id, match_date FROM matches
            WHERE tenant_id = target_tenant_id AND match_date BETWEEN year_start AND year_end
        ),
        club_games AS MATERIALIZED (
            SELECT player_id, match_id, player_match_id, result, heavy_win, heavy_loss,
                   clean_sheet
            -- only year Y's games: the rows of the range of its match ids (ids
            -- grow with time, so the range is about the year; rows of other
            -- matches in it are dropped by the join below). Written on -match_id,
            -- the range has one index that serves it, which leads with the
            -- tenant: (tenant_id, -match_id), migration 0072. (On match_id, a
            -- lone club's plan took the foreign key's index on match_id, which
            -- spans every club; as a (tenant_id, match_id) row range, the
            -- planner estimated the whole club and, among many clubs, read it
            -- all by player.)
            FROM player_matches
            WHERE tenant_id = target_tenant_id AND -match_id BETWEEN -last_id AND -first_id
        ),
        season AS MATERIALIZED (
            -- year Y's games with their points; the players' names are joined
            -- to their totals below (a few hundred rows, not every game)
            SELECT pm.player_id, m.match_date, pm.match_id, pm.player_match_id,
                   capo_fantasy_points(COALESCE(pm.result, 'loss'), pm.heavy_win, pm.heavy_loss,
                                       pm.clean_sheet, fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd,
                                       fs.hcw) AS points
            FROM club_games pm
            JOIN club_matches m ON m.match_id = pm.match_id
        ),
        periods (period_type, anchor, first_day, last_day) AS (
            VALUES ('whole_season', year_start, year_start, year_end),
                   ('current_half', half_start, half_start, half_end)
        ),
        totals AS (
            -- each player's points in both periods in one pass (the whole season
            -- is every game read; NULL: no game in the half)
            SELECT s.player_id, sum(s.points) AS whole_season,
                   sum(s.points) FILTER (WHERE s.match_date BETWEEN half_start AND half_end)
                       AS current_half
            FROM season s
            GROUP BY s.player_id
        ),
        leaders AS MATERIALIZED (
            -- the top five non-ringers of each period with more than 0 points
            -- (names are unique within a club: they break every tie)
            SELECT period_type, anchor, first_day, last_day, player_id, name
            FROM (SELECT p.period_type, p.anchor, p.first_day, p.last_day, t.player_id,
                         pl.name::text AS name,
                         row_number() OVER (PARTITION BY p.period_type
                                            ORDER BY x.total DESC,
                                                     pl.name::text COLLATE "C") AS place
                  FROM totals t
                  JOIN club_players pl ON pl.player_id = t.player_id
                  CROSS JOIN periods p
                  CROSS JOIN LATERAL (
                      SELECT CASE p.period_type WHEN 'whole_season' THEN t.whole_season
                                                ELSE t.current_half END AS total) x
                  WHERE x.total > 0) r
            WHERE place <= 5
        ),
        running AS (
            -- the leaders' games of their period, with the running total
            SELECT l.period_type, l.anchor, l.player_id, l.name, g.match_date, g.match_id,
                   g.player_match_id,
                   sum(g.points) OVER (PARTITION BY l.period_type, l.player_id
                                       ORDER BY g.match_date, g.match_id, g.player_match_id
                                       ROWS UNBOUNDED PRECEDING) AS total
            FROM leaders l
            JOIN season g ON g.player_id = l.player_id
                         AND g.match_date BETWEEN l.first_day AND l.last_day
        ),
        curves AS MATERIALIZED (
            -- The zero-point anchor first, then one point per game in match order
            -- (once for both periods, not once per period).
            SELECT period_type, player_id,
                   jsonb_build_object(
                       'player_id', player_id, 'name', min(name),
                       'cumulative_data',
                       jsonb_build_array(jsonb_build_object(
                           'date', to_char(min(anchor), 'YYYY-MM-DD'), 'points', 0))
                       || jsonb_agg(jsonb_build_object('date', to_char(match_date, 'YYYY-MM-DD'),
                                                       'points', total)
                                    ORDER BY match_date, match_id, player_match_id)) AS curve
            FROM running
            GROUP BY period_type, player_id
        )
        INSERT INTO aggregated_season_race_data (tenant_id, season_year, player_data, period_type)
        SELECT target_tenant_id, year_y,
               COALESCE((SELECT jsonb_agg(c.curve ORDER BY c.player_id)
                         FROM curves c WHERE c.period_type = p.period_type), '[]'::jsonb),
               p.period_type
        FROM periods p;

        PERFORM capo_touch_cache_metadata(target_tenant_id, 'season_race_data', 'season_race_data');

        season_rows := (SELECT count(*) FROM aggregated_season_race_data
                        WHERE tenant_id = target_tenant_id AND season_year = year_y
                          AND player_data <> '[]'::jsonb);
    EXCEPTION WHEN OTHERS THEN
        -- The reference's message; the original SQLSTATE is kept (e.g. 22P02 for a
        -- setting that does not parse), as in the other stats functions.
        RAISE EXCEPTION 'Error in update_aggregated_season_race_data: %', SQLERRM
            USING ERRCODE = SQLSTATE;
    END;

    IF season_rows = 0 THEN
        RETURN jsonb_build_object(
            'rows', 2,
            'note', format('no player with points in %s yet: both rows hold []', year_y));
    END IF;
    RETURN jsonb_build_object('rows', 2);
END;
$fn$;
