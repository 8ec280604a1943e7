-- The date the stats were computed for. `stats run --as-of DATE` (or a
-- database pinned with capo.as_of) computes the live tables as if today were
-- DATE; the league pages read this table to label the periods (which
-- half-season, which season) by that date, and say "as of DATE" when it is not
-- today. The runner writes one row per tenant and function, in the function's
-- own transaction, so the date is committed together with the tables it
-- describes. capo-worker's own table: IF NOT EXISTS, so the migration runs the
-- same on an adopted Capo database (where the app's own runs leave no row and
-- the pages assume today).

CREATE TABLE IF NOT EXISTS capo_stats_computed_for (
    tenant_id     uuid        NOT NULL,
    function_name text        NOT NULL,
    as_of         date        NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, function_name)
);

COMMENT ON TABLE capo_stats_computed_for IS
    'The "today" each stats function last ran with, per tenant (capo_today() in its transaction): the league pages label periods by it.';
