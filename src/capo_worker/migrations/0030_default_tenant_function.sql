-- The default tenant written once: capo_default_tenant(). It is the tenant of
-- the stats functions called with no argument, and now also the DEFAULT of
-- every tenant_id column (rows the web app inserts without a tenant), which
-- earlier migrations wrote as a literal uuid. Python's
-- constants.DEFAULT_TENANT_ID must return the same value (a test reads both).
-- Defined here rather than in stats/sql/_common.sql: table defaults need it
-- before any function file is applied.

CREATE OR REPLACE FUNCTION capo_default_tenant() RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '00000000-0000-0000-0000-000000000001'::uuid
$$;

-- Every tenant_id column whose default is that literal (on an adopted Capo
-- database too: 0002 and 0003 added the columns with it).
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT a.attrelid::regclass AS table_name
        FROM pg_attribute a
        JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attname = 'tenant_id' AND NOT a.attisdropped
          AND c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
          AND pg_get_expr(d.adbin, d.adrelid)
              = '''00000000-0000-0000-0000-000000000001''::uuid'
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET DEFAULT capo_default_tenant()',
                       col.table_name);
    END LOOP;
END;
$$;
