-- Helpers shared by the ten stats functions. Re-applied by `capo-worker migrate`
-- whenever this file changes (see migrate.py), before the function files.

-- Call before CREATE OR REPLACE FUNCTION: drops the function `signature` (such as
-- 'fn(uuid)') when CREATE OR REPLACE could not replace it, because it returns
-- another type, has parameter defaults (an older capo-worker's
-- fn(uuid DEFAULT ...)) or other parameter names (another version of the app's
-- function). A function that can be replaced is kept, so its grants and comment
-- survive the re-apply.
CREATE OR REPLACE FUNCTION capo_make_replaceable(
    signature text, arg_names text[], result_type text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    existing regprocedure := to_regprocedure(signature);
BEGIN
    IF existing IS NOT NULL AND EXISTS (
        SELECT FROM pg_proc p
        WHERE p.oid = existing
          AND (pg_get_function_result(p.oid) <> result_type
               OR p.pronargdefaults > 0
               OR COALESCE(p.proargnames[1:p.pronargs], '{}') IS DISTINCT FROM arg_names))
    THEN
        EXECUTE format('DROP FUNCTION %s', existing);
    END IF;
END;
$$;

-- "Today" for every stats function: the setting capo.as_of when set
-- (SET capo.as_of = '2026-11-28', or SET LOCAL in one transaction), else the
-- current date. Tests and golden fixtures pin the date through it.
CREATE OR REPLACE FUNCTION capo_today() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(NULLIF(current_setting('capo.as_of', true), '')::date, CURRENT_DATE)
$$;

-- The tenant a call with no argument works on (single-club installs) is
-- capo_default_tenant(), defined in migrations/0030_default_tenant_function.sql.

-- Reference helper: a config value as text, or the default when the key is
-- absent. Two signatures and no default argument: the app's (the default
-- tenant, with the app's parameter names, so re-running the app's own
-- CREATE OR REPLACE replaces only it) and one with a tenant.
SELECT capo_make_replaceable('get_config_value(text, text, uuid)',
                             '{p_config_key,p_default_value,p_tenant_id}', 'text');
CREATE OR REPLACE FUNCTION get_config_value(
    p_config_key text, p_default_value text, p_tenant_id uuid
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(
        (SELECT c.config_value FROM app_config c
          WHERE c.config_key = p_config_key AND c.tenant_id = p_tenant_id),
        p_default_value)
$$;

SELECT capo_make_replaceable('get_config_value(text, text)',
                             '{p_config_key,p_default_value}', 'text');
CREATE OR REPLACE FUNCTION get_config_value(p_config_key text, p_default_value text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT get_config_value(p_config_key, p_default_value, capo_default_tenant())
$$;

-- Reference helpers for the current half-season (1 Jan - 30 Jun, 1 Jul - 31 Dec).
SELECT capo_make_replaceable('get_current_half_season_start_date()', '{}', 'date');
CREATE OR REPLACE FUNCTION get_current_half_season_start_date() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN extract(month FROM capo_today()) <= 6
                THEN make_date(extract(year FROM capo_today())::int, 1, 1)
                ELSE make_date(extract(year FROM capo_today())::int, 7, 1) END
$$;

SELECT capo_make_replaceable('get_current_half_season_end_date()', '{}', 'date');
CREATE OR REPLACE FUNCTION get_current_half_season_end_date() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN extract(month FROM capo_today()) <= 6
                THEN make_date(extract(year FROM capo_today())::int, 6, 30)
                ELSE make_date(extract(year FROM capo_today())::int, 12, 31) END
$$;

-- STABLE here (the reference declared it IMMUTABLE although it reads the date).
SELECT capo_make_replaceable('get_current_season_start_date()', '{}', 'date');
CREATE OR REPLACE FUNCTION get_current_season_start_date() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT make_date(extract(year FROM capo_today())::int, 1, 1)
$$;

-- The eight fantasy-point settings of a tenant, read once per function call.
-- The last five default relative to the effective win/draw/loss points, and a
-- value that is not an integer fails the caller, as in the reference. One read
-- of the tenant's fantasy_ rows (at most one per key: app_config is unique on
-- (tenant_id, config_key)) instead of a get_config_value call per setting,
-- which PostgreSQL planned eight times on every call (about 0.5 ms).
CREATE OR REPLACE FUNCTION capo_fantasy_settings(
    target_tenant_id uuid DEFAULT capo_default_tenant()
) RETURNS TABLE (w int, d int, l int, hw int, hl int, cw int, cd int, hcw int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH given AS (
        SELECT max(c.config_value) FILTER (WHERE c.config_key = 'fantasy_win_points') AS w,
               max(c.config_value) FILTER (WHERE c.config_key = 'fantasy_draw_points') AS d,
               max(c.config_value) FILTER (WHERE c.config_key = 'fantasy_loss_points') AS l,
               max(c.config_value) FILTER (WHERE c.config_key = 'fantasy_heavy_win_points') AS hw,
               max(c.config_value) FILTER (WHERE c.config_key = 'fantasy_heavy_loss_points') AS hl,
               max(c.config_value)
                   FILTER (WHERE c.config_key = 'fantasy_clean_sheet_win_points') AS cw,
               max(c.config_value)
                   FILTER (WHERE c.config_key = 'fantasy_clean_sheet_draw_points') AS cd,
               max(c.config_value)
                   FILTER (WHERE c.config_key = 'fantasy_heavy_clean_sheet_win_points') AS hcw
        FROM app_config c
        WHERE c.tenant_id = target_tenant_id AND c.config_key LIKE 'fantasy\_%'
    ), base AS (
        SELECT COALESCE(g.w, '20')::int AS w, COALESCE(g.d, '10')::int AS d,
               COALESCE(g.l, '-10')::int AS l, g.hw, g.hl, g.cw, g.cd, g.hcw
        FROM given g
    )
    SELECT b.w, b.d, b.l,
           COALESCE(b.hw, (b.w + 10)::text)::int,
           COALESCE(b.hl, (b.l - 10)::text)::int,
           COALESCE(b.cw, (b.w + 10)::text)::int,
           COALESCE(b.cd, (b.d + 10)::text)::int,
           COALESCE(b.hcw, (b.w + 20)::text)::int
    FROM base b
$$;

-- Points for one appearance given the settings above (inlined by the planner).
-- A win is W, HW, CW or HCW by its flags; a draw D or CD; a loss L or HL; any
-- other result, NULL included, 0. NULL flags count as false.
CREATE OR REPLACE FUNCTION capo_fantasy_points(
    result text, heavy_win boolean, heavy_loss boolean, clean_sheet boolean,
    w int, d int, l int, hw int, hl int, cw int, cd int, hcw int
) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE result
        WHEN 'win' THEN CASE
            WHEN heavy_win IS TRUE AND clean_sheet IS TRUE THEN hcw
            WHEN heavy_win IS TRUE THEN hw
            WHEN clean_sheet IS TRUE THEN cw
            ELSE w END
        WHEN 'draw' THEN CASE WHEN clean_sheet IS TRUE THEN cd ELSE d END
        WHEN 'loss' THEN CASE WHEN heavy_loss IS TRUE THEN hl ELSE l END
        ELSE 0 END
$$;

-- Reference helper, kept for callers outside the stats functions (default tenant).
SELECT capo_make_replaceable('calculate_match_fantasy_points(text, boolean, boolean, boolean)',
                             '{result,heavy_win,heavy_loss,clean_sheet}', 'integer');
CREATE OR REPLACE FUNCTION calculate_match_fantasy_points(
    result text, heavy_win boolean, heavy_loss boolean, clean_sheet boolean
) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT capo_fantasy_points(result, heavy_win, heavy_loss, clean_sheet,
                               f.w, f.d, f.l, f.hw, f.hl, f.cw, f.cd, f.hcw)
    FROM capo_fantasy_settings() f
$$;

-- Each stats function's last write: its cache key was refreshed now (the
-- transaction's start). A new row gets `dependency`; an existing row keeps its
-- dependency_type unless `rewrite_dependency_type` (personal bests, profiles
-- and power ratings rewrite it, as in the reference).
CREATE OR REPLACE FUNCTION capo_touch_cache_metadata(
    target_tenant_id uuid, key text, dependency text,
    rewrite_dependency_type boolean DEFAULT false
) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO cache_metadata (tenant_id, cache_key, last_invalidated, dependency_type)
    VALUES (target_tenant_id, key, now(), dependency)
    ON CONFLICT (tenant_id, cache_key) DO UPDATE
    SET last_invalidated = EXCLUDED.last_invalidated,
        dependency_type = CASE WHEN rewrite_dependency_type
                               THEN EXCLUDED.dependency_type
                               ELSE cache_metadata.dependency_type END
$$;
