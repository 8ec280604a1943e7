-- The job table is the queue, the status record and the history at once.
-- Every column of the reference's table keeps its name and meaning; the added
-- columns (lease, scheduling, attempts, queue, request ids) all have defaults so
-- rows inserted directly by the web app are claimed like any other.
-- IF NOT EXISTS throughout: an existing Capo database already has the table.

CREATE TABLE IF NOT EXISTS background_job_status (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_type      text NOT NULL DEFAULT 'stats_update',
    job_payload   jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    started_at    timestamptz,
    completed_at  timestamptz,
    retry_count   integer NOT NULL DEFAULT 0,
    priority      integer DEFAULT 1,
    tenant_id     uuid,
    error_message text,
    results       jsonb,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

ALTER TABLE background_job_status
    ADD COLUMN IF NOT EXISTS queue_name       text NOT NULL DEFAULT 'stats-update-queue',
    ADD COLUMN IF NOT EXISTS run_after        timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS locked_by        text,
    ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS heartbeat_at     timestamptz,
    ADD COLUMN IF NOT EXISTS attempts         integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS max_attempts     integer NOT NULL DEFAULT 3,
    ADD COLUMN IF NOT EXISTS attempt_errors   jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS unique_key       text;

COMMENT ON TABLE background_job_status IS
    'Tracks status and execution details of background jobs; also the queue workers claim from.';
COMMENT ON COLUMN background_job_status.job_payload IS
    'The enqueue request (triggeredBy, matchId, requestId, userId, ...); coalescedRequests lists requests that joined the job.';
COMMENT ON COLUMN background_job_status.results IS 'Per-function results, timings and the cache invalidation outcome.';
COMMENT ON COLUMN background_job_status.retry_count IS 'Number of manual retries.';
COMMENT ON COLUMN background_job_status.attempts IS 'Times a worker claimed the job (automatic retries included).';
COMMENT ON COLUMN background_job_status.attempt_errors IS 'One object per failed attempt: attempt, error, worker, at.';
COMMENT ON COLUMN background_job_status.unique_key IS 'Optional uniqueness key, e.g. one cron job per schedule slot.';

-- The reference's indexes.
CREATE INDEX IF NOT EXISTS idx_background_job_status_created_at ON background_job_status (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_background_job_status_status ON background_job_status (status);
CREATE INDEX IF NOT EXISTS idx_background_job_status_job_type ON background_job_status (job_type);
CREATE INDEX IF NOT EXISTS idx_background_job_status_tenant_id ON background_job_status (tenant_id);
-- What the queue needs: the next claimable job, expired leases, uniqueness.
CREATE INDEX IF NOT EXISTS idx_background_job_status_claim
    ON background_job_status (queue_name, priority DESC NULLS LAST, created_at)
    WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS idx_background_job_status_lease
    ON background_job_status (lease_expires_at)
    WHERE status = 'processing';
CREATE UNIQUE INDEX IF NOT EXISTS idx_background_job_status_unique_key
    ON background_job_status (unique_key)
    WHERE unique_key IS NOT NULL;

-- Every request id the enqueue endpoint has seen, and the job that serves it:
-- a repeated request id returns the same job (idempotency), and several
-- requests can share one job (coalescing).
CREATE TABLE IF NOT EXISTS background_job_requests (
    request_id  text PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES background_job_status (id) ON DELETE CASCADE,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_background_job_requests_job_id ON background_job_requests (job_id);

-- Workers announce themselves here; /readyz and the admin page read it.
CREATE TABLE IF NOT EXISTS capo_workers (
    worker_id    text PRIMARY KEY,
    queue_name   text NOT NULL,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    concurrency  integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);

CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS update_background_job_status_updated_at ON background_job_status;
CREATE TRIGGER update_background_job_status_updated_at
    BEFORE UPDATE ON background_job_status
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Wake listening workers when a job becomes claimable. The payload is the
-- queue name; notifications with equal payloads in one transaction collapse,
-- so a batch insert wakes each worker once.
CREATE OR REPLACE FUNCTION capo_notify_job_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('capo_jobs', NEW.queue_name);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS capo_job_queued_notify ON background_job_status;
CREATE TRIGGER capo_job_queued_notify
    AFTER INSERT OR UPDATE OF status ON background_job_status
    FOR EACH ROW WHEN (NEW.status = 'queued')
    EXECUTE FUNCTION capo_notify_job_queued();
