-- Adopting an existing Capo database: its single-club unique keys become
-- per-tenant ones, so a second club can be imported and computed. A fresh
-- install already has only the per-tenant keys; there this file changes nothing.
--
-- The app's keys are found by their columns, not their names (a database made
-- by another tool may name them differently). Keys on player or match ids stay
-- as they are: those ids are global serials. `capo-worker prepare-rollback`
-- puts single-club keys back for the Node worker (docs/operations.md).

-- Drop every primary key, unique constraint and unique index of `target` whose
-- columns are exactly `key_columns` (in that order, no expression, no predicate).
CREATE FUNCTION pg_temp.capo_drop_single_club_key(target regclass, key_columns text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT i.indexrelid::regclass AS index_name, con.conname
        FROM pg_index i
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
        WHERE i.indrelid = target
          AND i.indisunique
          AND i.indexprs IS NULL
          AND i.indpred IS NULL
          AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = target AND a.attnum = k.attnum) = key_columns
    LOOP
        IF found.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', target, found.conname);
        ELSE
            EXECUTE format('DROP INDEX %s', found.index_name);
        END IF;
    END LOOP;
END;
$$;

SELECT pg_temp.capo_drop_single_club_key('players', ARRAY['name']);
SELECT pg_temp.capo_drop_single_club_key('app_config', ARRAY['config_key']);
SELECT pg_temp.capo_drop_single_club_key('cache_metadata', ARRAY['cache_key']);
SELECT pg_temp.capo_drop_single_club_key('aggregated_season_honours', ARRAY['year']);
SELECT pg_temp.capo_drop_single_club_key(
    'aggregated_season_race_data', ARRAY['season_year', 'period_type']);

-- The per-tenant keys, as a fresh install has them (0002, 0003).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                   WHERE conrelid = 'cache_metadata'::regclass AND contype = 'p') THEN
        ALTER TABLE cache_metadata ADD CONSTRAINT cache_metadata_pkey
            PRIMARY KEY (tenant_id, cache_key);
    END IF;
END;
$$;
CREATE UNIQUE INDEX IF NOT EXISTS idx_season_honours_year
    ON aggregated_season_honours (tenant_id, year);
CREATE UNIQUE INDEX IF NOT EXISTS idx_season_race_data_year_period
    ON aggregated_season_race_data (tenant_id, season_year, period_type);
