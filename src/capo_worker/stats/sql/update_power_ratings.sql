-- update_power_ratings (spec 20-core-stats §5)
--
-- EWMA ratings of every player with is_retired = false (ringers included;
-- is_retired NULL excluded): fantasy points and goals per recency-weighted
-- game, each shrunk toward the league mean with a prior weight of 5 games,
-- participation, and percentile ranks among all rated players (Q-P1).
-- Weights: w = exp(-lambda * days before today) for matches dated on or
-- before today, lambda = ln 2 / performance_half_life_days computed in double
-- precision and kept with 15 significant digits (Q-P5); everything else is
-- numeric, as in the reference. Upserts one row per rated player and never
-- deletes (Q-P3: retired players keep their last row).
--
-- Deliberate difference from the reference (Q-P2): when no non-ringer has
-- 0.6 x performance_qualification_threshold weighted games (a new league),
-- the league mean is NULL and the reference fails with a NOT NULL violation.
-- Here nothing is upserted (existing rows stay), cache_metadata is still
-- touched, and the summary carries a "note" saying why. Other errors (a
-- non-numeric setting, a half-life of 0) surface unwrapped, as in the reference.
--
-- Post-match jobs (docs/stats.md, "Post-match updates"): with capo.scope_players
-- set, on the day of the last run, only those players' weighted sums are
-- recomputed from their rows; everyone else's are read back from
-- capo_power_rating_sums (migrations/0050), exactly as the last run computed
-- them. Availability, the league mean, the ratings and the percentiles are then
-- computed for every rated player as in a full run, and only rows whose values
-- change are written (a full run rewrites every row and its updated_at).

-- Two signatures, no default argument (docs/stats.md): the app's, for the default
-- tenant and returning nothing, and the runner's, for one tenant, returning a summary.
SELECT capo_make_replaceable('update_power_ratings(uuid)', '{target_tenant_id}', 'jsonb');
SELECT capo_make_replaceable('update_power_ratings()', '{}', 'void');
CREATE OR REPLACE FUNCTION update_power_ratings() RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM update_power_ratings(capo_default_tenant()); END $$;

CREATE OR REPLACE FUNCTION update_power_ratings(
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
    c_prior CONSTANT numeric := 5;         -- prior weight, in weighted games
    c_mean_factor CONSTANT numeric := 0.6; -- eligibility for the league mean, x threshold
    v_players int[] := capo_scope_players();  -- NULL: every player (docs/stats.md)
    v_today date;
    v_half_life numeric;
    v_threshold numeric;
    v_lambda numeric;
    fs record;
    v_fantasy text;
    v_fallback boolean := false;
    v_pg_version int := current_setting('server_version_num')::int / 10000;
    v_weighted_matches bigint;
    v_rated bigint;
    v_has_mean boolean;
    v_rows bigint;
    v_result jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('update_power_ratings'),
                                  hashtext(target_tenant_id::text));
    v_today := capo_today();
    v_half_life := get_config_value('performance_half_life_days', '730', target_tenant_id)::numeric;
    v_threshold := get_config_value('performance_qualification_threshold', '5',
                                    target_tenant_id)::numeric;
    -- Double precision, then numeric: float8 -> numeric keeps 15 significant digits.
    v_lambda := (ln(2::double precision) / v_half_life::double precision)::numeric;
    SELECT * INTO fs FROM capo_fantasy_settings(target_tenant_id);
    v_fantasy := concat_ws(',', fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw);

    -- Each player's weighted sums (capo_power_rating_sums, migrations/0050) read
    -- only the player's own rows, and a match's weight only the day and the
    -- decay. A scoped run recomputes its players' sums and keeps the others'
    -- when they were computed for this day, decay, points and PostgreSQL major
    -- version; otherwise it runs in full. Sums are numeric: exact, whatever the
    -- order of the additions. Both write the recomputed sums as a difference
    -- (a full run on the day of the last one rewrites nothing), and the state
    -- row only when it changes.
    IF v_players IS NOT NULL AND NOT EXISTS (
        SELECT FROM capo_power_rating_state s
        WHERE s.tenant_id = target_tenant_id AND s.as_of = v_today
          AND s.lambda = v_lambda AND s.fantasy = v_fantasy
          AND s.pg_version = v_pg_version) THEN
        v_players := NULL;
        v_fallback := true;
    END IF;
    IF v_players IS NULL THEN
        INSERT INTO capo_power_rating_state AS s
            (tenant_id, as_of, lambda, fantasy, pg_version)
        VALUES (target_tenant_id, v_today, v_lambda, v_fantasy, v_pg_version)
        ON CONFLICT (tenant_id) DO UPDATE
            SET as_of = excluded.as_of, lambda = excluded.lambda, fantasy = excluded.fantasy,
                pg_version = excluded.pg_version
            WHERE (s.as_of, s.lambda, s.fantasy, s.pg_version)
                  IS DISTINCT FROM (excluded.as_of, excluded.lambda, excluded.fantasy,
                                    excluded.pg_version);
    END IF;

    -- The club's rows are read through indexes that lead with the tenant and
    -- joined in memory (MATERIALIZED, or a subquery with OFFSET 0): among many
    -- clubs the planner would otherwise guess the club's joins from ids that
    -- span every club. The games are a subquery, not a CTE (no copy of every
    -- game), and so are the matches they are joined to, so that the planner
    -- knows match_id is unique there and hashes the matches, not the games.
    WITH club_players AS MATERIALIZED (
        SELECT player_id, is_ringer FROM players
        WHERE tenant_id = target_tenant_id AND is_retired = false
    ),
    club_matches AS MATERIALIZED (
        SELECT match_id, match_date FROM matches WHERE tenant_id = target_tenant_id
    ),
    weight_cache AS MATERIALIZED (
        SELECT c.days, c.w FROM capo_power_rating_weights c
        WHERE c.tenant_id = target_tenant_id AND c.lambda = v_lambda
          AND c.pg_version = v_pg_version
    ),
    day_weights AS MATERIALIZED (
        -- One weight per date of a match on or before today, exp(-lambda x days):
        -- the tenant's cache (migrations/0050) holds it when an earlier run computed
        -- it for this lambda and number of days (exp of the same numeric argument).
        SELECT d.match_date, d.n, c.w IS NULL AS computed,
               COALESCE(c.w, exp(-v_lambda * (v_today - d.match_date))) AS w
        FROM (SELECT match_date, count(*) AS n FROM club_matches
              WHERE match_date <= v_today GROUP BY match_date) d
        LEFT JOIN weight_cache c ON c.days = v_today - d.match_date
    ),
    cached AS (
        INSERT INTO capo_power_rating_weights AS c (tenant_id, days, lambda, pg_version, w)
        SELECT target_tenant_id, v_today - dw.match_date, v_lambda, v_pg_version, dw.w
        FROM day_weights dw WHERE dw.computed
        ON CONFLICT (tenant_id, days) DO UPDATE
            SET lambda = excluded.lambda, pg_version = excluded.pg_version, w = excluded.w
    ),
    weights AS MATERIALIZED (
        -- Every match of the tenant; w is NULL for matches after today, which
        -- count only for the first-match date (Q-P4).
        SELECT m.match_id, m.match_date, dw.w
        FROM club_matches m
        LEFT JOIN day_weights dw ON dw.match_date = m.match_date
    ),
    available_from AS (
        -- For each date of a weighted match: the weights of the matches on or after
        -- it (n matches on a date weigh n x w, the same numeric as their sum).
        -- Always from every match: a match added, moved or removed changes it for
        -- players who were not in the match.
        SELECT dw.match_date, sum(dw.w * dw.n) OVER (ORDER BY dw.match_date DESC) AS wa
        FROM day_weights dw
    ),
    played AS MATERIALIZED (
        -- One pass over the rows read. A duplicated row (two rows of one
        -- player in one match) counts twice, as in the reference.
        SELECT pm.player_id,
               min(w.match_date) AS j,
               count(*) AS n_rows,
               count(DISTINCT pm.match_id) AS n_matches,
               sum(w.w) AS wp,
               sum(capo_fantasy_points(pm.result, pm.heavy_win, pm.heavy_loss, pm.clean_sheet,
                                       fs.w, fs.d, fs.l, fs.hw, fs.hl, fs.cw, fs.cd, fs.hcw)
                   * w.w) AS f,
               sum(COALESCE(pm.goals, 0) * w.w) AS g
        FROM (SELECT g.player_id, g.match_id, g.result, g.heavy_win, g.heavy_loss,
                     g.clean_sheet, g.goals
              FROM player_matches g
              WHERE g.tenant_id = target_tenant_id AND g.player_id IS NOT NULL
                AND (v_players IS NULL OR g.player_id = ANY (v_players))
              OFFSET 0) pm
        JOIN (SELECT m.match_id, m.match_date, dw.w
              FROM matches m
              LEFT JOIN day_weights dw ON dw.match_date = m.match_date
              WHERE m.tenant_id = target_tenant_id
              OFFSET 0) w ON w.match_id = pm.match_id
        GROUP BY pm.player_id
    ),
    duplicated AS (
        -- Reference parity for duplicated rows: the match also counts once more
        -- as available. Only players that have duplicates are looked at.
        SELECT x.player_id, sum(x.extra) AS extra
        FROM (
            SELECT pm.player_id, (count(*) - 1) * w.w AS extra
            FROM (SELECT g.player_id, g.match_id FROM player_matches g
                  WHERE g.tenant_id = target_tenant_id
                    AND g.player_id IN (SELECT player_id FROM played WHERE n_rows > n_matches)
                  OFFSET 0) pm
            JOIN weights w ON w.match_id = pm.match_id
            WHERE w.w IS NOT NULL
            GROUP BY pm.player_id, pm.match_id, w.w
            HAVING count(*) > 1
        ) x
        GROUP BY x.player_id
    ),
    new_sums AS MATERIALIZED (
        SELECT pl.player_id, pl.j, pl.wp, pl.f, pl.g, du.extra
        FROM played pl
        LEFT JOIN duplicated du ON du.player_id = pl.player_id
    ),
    stored_sums AS MATERIALIZED (
        SELECT k.ctid AS row_id, k.player_id, k.first_match, k.wp, k.f, k.g, k.extra
        FROM capo_power_rating_sums k
        WHERE k.tenant_id = target_tenant_id
          AND (v_players IS NULL OR k.player_id = ANY (v_players))
    ),
    sums_kept AS MATERIALIZED (
        -- Sums are written as a difference: a row with the same values and scales
        -- (so the same digits, which the ratings' divisions depend on) is kept.
        SELECT o.row_id, o.player_id
        FROM stored_sums o JOIN new_sums n
          ON n.player_id = o.player_id
         AND (n.j, n.wp, scale(n.wp), n.f, scale(n.f), n.g, scale(n.g), n.extra, scale(n.extra))
             IS NOT DISTINCT FROM
             (o.first_match, o.wp, scale(o.wp), o.f, scale(o.f), o.g, scale(o.g), o.extra,
              scale(o.extra))
    ),
    sums_gone AS (
        DELETE FROM capo_power_rating_sums k
        WHERE k.tenant_id = target_tenant_id
          AND k.ctid = ANY (ARRAY(SELECT o.row_id FROM stored_sums o
                                  WHERE o.row_id NOT IN (SELECT row_id FROM sums_kept)))
        RETURNING 1
    ),
    saved AS (
        INSERT INTO capo_power_rating_sums (tenant_id, player_id, first_match, wp, f, g, extra)
        SELECT target_tenant_id, s.player_id, s.j, s.wp, s.f, s.g, s.extra FROM new_sums s
        WHERE s.player_id NOT IN (SELECT player_id FROM sums_kept)
          AND (SELECT count(*) FROM sums_gone) >= 0  -- after the deletes (unique key)
    ),
    sums AS (
        SELECT s.player_id, s.j, s.wp, s.f, s.g, s.extra FROM new_sums s
        UNION ALL
        -- The other players' sums (a scoped run only): the statement sees the
        -- table as it was before its own writes.
        SELECT k.player_id, k.first_match, k.wp, k.f, k.g, k.extra
        FROM capo_power_rating_sums k
        WHERE v_players IS NOT NULL AND k.tenant_id = target_tenant_id
          AND NOT (k.player_id = ANY (v_players))
    ),
    rated AS (
        SELECT p.player_id, p.is_ringer,
               COALESCE(s.j, DATE '1900-01-01') AS j,
               COALESCE(s.wp, 0) AS wp,
               COALESCE(s.f, 0) AS f,
               COALESCE(s.g, 0) AS g,
               CASE WHEN s.j IS NULL
                    THEN (SELECT COALESCE(sum(w * n), 0) FROM day_weights
                          WHERE match_date >= DATE '1900-01-01')
                    ELSE COALESCE(af.wa, 0) END  -- first match after today: 0
               + COALESCE(s.extra, 0) AS wa
        FROM club_players p
        LEFT JOIN sums s ON s.player_id = p.player_id
        LEFT JOIN available_from af ON af.match_date = s.j
    ),
    league AS (
        -- Pooled, game-weighted means over eligible non-ringers; NULL when none.
        SELECT sum(f) / NULLIF(sum(wp), 0) AS mean_f,
               sum(g) / NULLIF(sum(wp), 0) AS mean_g
        FROM rated
        WHERE NOT is_ringer AND wp >= c_mean_factor * v_threshold
    ),
    rating AS (
        SELECT r.player_id, r.j, r.wp, r.wa,
               (r.f + c_prior * l.mean_f) / (r.wp + c_prior) AS power_rating,
               (r.g + c_prior * l.mean_g) / (r.wp + c_prior) AS goal_threat,
               CASE WHEN r.wa > 0 THEN r.wp / r.wa * 100 ELSE 0 END AS participation,
               r.wp >= v_threshold AS is_qualified
        FROM rated r CROSS JOIN league l
        WHERE l.mean_f IS NOT NULL
    ),
    ranked AS (
        SELECT r.*,
               percent_rank() OVER (ORDER BY r.power_rating) AS power_pr,
               percent_rank() OVER (ORDER BY r.goal_threat) AS goal_pr,
               percent_rank() OVER (ORDER BY r.participation) AS participation_pr
        FROM rating r
    ),
    stored AS (
        SELECT x.player_id,
               round(x.power_rating, 3) AS power_rating, round(x.goal_threat, 3) AS goal_threat,
               round(x.participation, 1) AS participation,
               round(x.wp, 3) AS weighted_played, round(x.wa, 3) AS weighted_available,
               x.is_qualified,
               -- percent_rank is double precision; x 100 in double, then numeric
               -- (15 significant digits), then rounded half away from zero.
               CASE WHEN x.is_qualified THEN round((x.power_pr * 100)::numeric, 1) ELSE 50 END
                   AS power_percentile,
               CASE WHEN x.is_qualified THEN round((x.goal_pr * 100)::numeric, 1) ELSE 50 END
                   AS goal_percentile,
               CASE WHEN x.is_qualified
                    THEN round((x.participation_pr * 100)::numeric, 1) ELSE 50 END
                   AS participation_percentile,
               x.j AS first_match_date
        FROM ranked x
    ),
    current AS MATERIALIZED (
        -- A scoped run writes only the rows whose values change (a full run: all).
        SELECT a.player_id, a.power_rating, a.goal_threat, a.participation,
               a.weighted_played, a.weighted_available, a.is_qualified, a.power_percentile,
               a.goal_percentile, a.participation_percentile, a.first_match_date
        FROM aggregated_performance_ratings a
        WHERE a.tenant_id = target_tenant_id AND v_players IS NOT NULL
    ),
    changed AS (
        SELECT n.* FROM stored n
        LEFT JOIN current c ON c.player_id = n.player_id
        WHERE v_players IS NULL OR c.player_id IS NULL
           OR (c.power_rating, c.goal_threat, c.participation, c.weighted_played,
               c.weighted_available, c.is_qualified, c.power_percentile, c.goal_percentile,
               c.participation_percentile, c.first_match_date)
              IS DISTINCT FROM
              (n.power_rating, n.goal_threat, n.participation, n.weighted_played,
               n.weighted_available, n.is_qualified, n.power_percentile, n.goal_percentile,
               n.participation_percentile, n.first_match_date)
    ),
    upserted AS (
        INSERT INTO aggregated_performance_ratings AS a (
            player_id, tenant_id, power_rating, goal_threat, participation, weighted_played,
            weighted_available, is_qualified, power_percentile, goal_percentile,
            participation_percentile, first_match_date, updated_at)
        SELECT x.player_id, target_tenant_id, x.power_rating, x.goal_threat, x.participation,
               x.weighted_played, x.weighted_available, x.is_qualified, x.power_percentile,
               x.goal_percentile, x.participation_percentile, x.first_match_date, now()
        FROM changed x
        ORDER BY x.player_id
        ON CONFLICT (tenant_id, player_id) DO UPDATE SET  -- a key that leads with the tenant
            tenant_id = EXCLUDED.tenant_id,
            power_rating = EXCLUDED.power_rating,
            goal_threat = EXCLUDED.goal_threat,
            participation = EXCLUDED.participation,
            weighted_played = EXCLUDED.weighted_played,
            weighted_available = EXCLUDED.weighted_available,
            is_qualified = EXCLUDED.is_qualified,
            power_percentile = EXCLUDED.power_percentile,
            goal_percentile = EXCLUDED.goal_percentile,
            participation_percentile = EXCLUDED.participation_percentile,
            first_match_date = EXCLUDED.first_match_date,
            updated_at = EXCLUDED.updated_at
        RETURNING 1
    )
    -- (weights, per match, is built only when some player has a duplicated row)
    SELECT (SELECT COALESCE(sum(n), 0) FROM day_weights),
           (SELECT count(*) FROM rated),
           (SELECT mean_f IS NOT NULL FROM league),
           (SELECT count(*) FROM upserted)
    INTO v_weighted_matches, v_rated, v_has_mean, v_rows;

    PERFORM capo_touch_cache_metadata(target_tenant_id, 'player_power_rating', 'function_execution', true);

    v_result := jsonb_build_object('rows', v_rows);
    IF v_fallback THEN
        v_result := v_result || jsonb_build_object('scope',
            'full: the players'' sums were not computed for this day, decay, fantasy points '
            'and PostgreSQL version');
    END IF;
    IF v_weighted_matches = 0 THEN
        v_result := v_result || jsonb_build_object('note',
            'no match dated on or before today: nothing to rate, existing ratings kept');
    ELSIF v_rated > 0 AND NOT v_has_mean THEN
        v_result := v_result || jsonb_build_object('note', format(
            'no league mean: no non-ringer has at least %s weighted games (0.6 x '
            'performance_qualification_threshold %s); ratings not written, existing '
            'ratings kept (the reference fails here with a NOT NULL violation)',
            round(c_mean_factor * v_threshold, 3), v_threshold));
    END IF;
    RETURN v_result;
END;
$$;
