-- Scoped post-match updates (docs/stats.md, "Post-match updates"): the player
-- scope the stats functions read, and the facts and state a post-match job
-- uses to decide, per function, between a scoped and a full run. The tables
-- are in migrations/0041_stats_scope_state.sql.

-- The players a scoped run recomputes: the setting capo.scope_players (an
-- integer array, set by the runner for one transaction), NULL for a full run.
-- Only the functions whose docs say so read it.
CREATE OR REPLACE FUNCTION capo_scope_players() RETURNS integer[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT NULLIF(current_setting('capo.scope_players', true), '')::integer[]
$$;

-- A digest of the inputs a post-match job does not announce: the tenant's
-- players (the columns the stats read) and app_config. Any change there makes
-- the next post-match job run in full. Per table: the number of rows and two
-- sums (two seeds) of a 64-bit hash of each row. The sums do not depend on the
-- order of the rows, so nothing is sorted or turned into text (about half the
-- cost of an md5 of the rows in order on the large league, paid for the
-- decision and again after the run). A record's hash is linear in its
-- columns' hashes (31 x h + next), so summed as is, two rows swapping a value
-- would cancel out: each is hashed once more (hashint8extended) before the sum.
CREATE OR REPLACE FUNCTION capo_stats_inputs_digest(p_tenant uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws('#',
        (SELECT concat_ws(':', count(*),
                          sum(hashint8extended(hash_record_extended(x.r, 0), 0)),
                          sum(hashint8extended(hash_record_extended(x.r, 1), 1)))
         FROM (SELECT row(p.player_id, p.name, p.join_date, p.is_ringer, p.is_retired,
                          p.selected_club) AS r
               FROM players p WHERE p.tenant_id = p_tenant) x),
        (SELECT concat_ws(':', count(*),
                          sum(hashint8extended(hash_record_extended(x.r, 0), 0)),
                          sum(hashint8extended(hash_record_extended(x.r, 1), 1)))
         FROM (SELECT row(c.config_id, c.config_key, c.config_value) AS r
               FROM app_config c WHERE c.tenant_id = p_tenant) x))
$$;

-- Everything a post-match job for p_match needs to decide: the last complete
-- run's state, the match as it was then and as it is now, and where it sits
-- in the league's match order. NULL when no complete run was recorded.
CREATE OR REPLACE FUNCTION capo_stats_match_change(p_tenant uuid, p_match integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    st        capo_stats_scope_state;
    old_date  date;
    old_ids   integer[];
    new_date  date;
    new_ids   integer[];
    n_matches integer;
BEGIN
    SELECT * INTO st FROM capo_stats_scope_state WHERE tenant_id = p_tenant;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT match_date, player_ids INTO old_date, old_ids
    FROM capo_stats_match_players WHERE tenant_id = p_tenant AND match_id = p_match;
    SELECT match_date INTO new_date
    FROM matches WHERE tenant_id = p_tenant AND match_id = p_match;
    SELECT COALESCE(array_agg(DISTINCT player_id ORDER BY player_id), '{}') INTO new_ids
    FROM player_matches
    WHERE tenant_id = p_tenant AND match_id = p_match AND player_id IS NOT NULL;
    SELECT count(*) INTO n_matches FROM matches WHERE tenant_id = p_tenant;
    RETURN jsonb_build_object(
        'today', capo_today(),
        'state_as_of', st.as_of,
        'inputs_same', st.inputs_digest = capo_stats_inputs_digest(p_tenant),
        -- the match count expected if this match is the only one that changed
        'matches_as_expected', n_matches = st.match_count
            + (CASE WHEN new_date IS NOT NULL AND old_date IS NULL THEN 1 ELSE 0 END)
            - (CASE WHEN new_date IS NULL AND old_date IS NOT NULL THEN 1 ELSE 0 END),
        'old_date', old_date,
        'old_players', old_ids,
        'new_date', new_date,
        'new_players', CASE WHEN new_date IS NOT NULL THEN new_ids END,
        -- no other match after it in (match_date, match_id) order, before and now
        'last_before', old_date IS NULL OR NOT EXISTS (
            SELECT FROM matches m
            WHERE m.tenant_id = p_tenant AND m.match_id <> p_match
              AND (m.match_date, m.match_id) > (old_date, p_match)),
        'last_now', new_date IS NULL OR NOT EXISTS (
            SELECT FROM matches m
            WHERE m.tenant_id = p_tenant AND m.match_id <> p_match
              AND (m.match_date, m.match_id) > (new_date, p_match)),
        -- another match in the same calendar year, before and now
        'year_shared_before', old_date IS NULL OR EXISTS (
            SELECT FROM matches m
            WHERE m.tenant_id = p_tenant AND m.match_id <> p_match
              AND m.match_date BETWEEN date_trunc('year', old_date)::date
                                   AND (date_trunc('year', old_date) + interval '1 year - 1 day')::date),
        'year_shared_now', new_date IS NULL OR EXISTS (
            SELECT FROM matches m
            WHERE m.tenant_id = p_tenant AND m.match_id <> p_match
              AND m.match_date BETWEEN date_trunc('year', new_date)::date
                                   AND (date_trunc('year', new_date) + interval '1 year - 1 day')::date));
END;
$$;

-- After a job whose ten functions all succeeded: the inputs the outputs now
-- reflect. p_match NULL (a full run) records every match; otherwise only
-- p_match's row changes (and is removed when the match is gone).
-- A post-match job (p_match set) was scoped only because the digest of players
-- and app_config equalled the recorded one when it started: that digest is
-- kept, not computed again. Cheaper, and safer: had they changed during the
-- run, some functions may have read them before the change, and the next job
-- now sees a different digest and runs in full. With no state left (forgotten
-- meanwhile), nothing is recorded and the next job runs in full.
CREATE OR REPLACE FUNCTION capo_stats_remember_run(p_tenant uuid, p_match integer)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_match IS NULL THEN
        INSERT INTO capo_stats_scope_state AS s
            (tenant_id, as_of, inputs_digest, match_count, scope, updated_at)
        VALUES (p_tenant, capo_today(), capo_stats_inputs_digest(p_tenant),
                (SELECT count(*) FROM matches WHERE tenant_id = p_tenant), 'full', now())
        ON CONFLICT (tenant_id) DO UPDATE
            SET as_of = excluded.as_of, inputs_digest = excluded.inputs_digest,
                match_count = excluded.match_count, scope = excluded.scope,
                updated_at = excluded.updated_at;
    ELSE
        UPDATE capo_stats_scope_state
        SET as_of = capo_today(),
            match_count = (SELECT count(*) FROM matches WHERE tenant_id = p_tenant),
            scope = 'match ' || p_match, updated_at = now()
        WHERE tenant_id = p_tenant;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;

    DELETE FROM capo_stats_match_players
    WHERE tenant_id = p_tenant AND (p_match IS NULL OR match_id = p_match);
    INSERT INTO capo_stats_match_players (tenant_id, match_id, match_date, player_ids)
    SELECT p_tenant, m.match_id, m.match_date,
           COALESCE(array_agg(DISTINCT pm.player_id ORDER BY pm.player_id)
                        FILTER (WHERE pm.player_id IS NOT NULL), '{}')
    FROM matches m
    LEFT JOIN player_matches pm ON pm.match_id = m.match_id AND pm.tenant_id = p_tenant
    WHERE m.tenant_id = p_tenant AND (p_match IS NULL OR m.match_id = p_match)
    GROUP BY m.match_id, m.match_date;
END;
$$;

-- After a job where some function failed or was skipped: the outputs may not
-- reflect the inputs, so the next post-match job runs in full.
CREATE OR REPLACE FUNCTION capo_stats_forget_run(p_tenant uuid) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM capo_stats_scope_state WHERE tenant_id = p_tenant
$$;
