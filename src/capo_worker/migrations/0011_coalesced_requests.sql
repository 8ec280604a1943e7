-- Coalescing stays bounded. A request that joins a queued job no longer adds
-- its whole payload to the job's: it is recorded here (request id, trigger,
-- match, user, time), and the job's payload only counts the requests that
-- joined it (coalescedCount) and names the first few (coalescedRequestIds).
-- capo-worker's own table: IF NOT EXISTS, so this runs the same on an adopted
-- Capo database.

ALTER TABLE background_job_requests
    ADD COLUMN IF NOT EXISTS triggered_by text,
    ADD COLUMN IF NOT EXISTS match_id     integer,
    ADD COLUMN IF NOT EXISTS user_id      text;

COMMENT ON TABLE background_job_requests IS
    'Every enqueue request and the job serving it: the same request id gets the same job, and the requests that joined a queued job are here, not in its payload.';
COMMENT ON COLUMN background_job_status.job_payload IS
    'The enqueue request (triggeredBy, matchId, requestId, userId, ...); coalescedCount and coalescedRequestIds count and name the requests that joined the job (all of them are in background_job_requests).';
