"""Values that Python and the SQL schema must agree on, each written once here.

The SQL side of each is named beside it; tests/integration/test_constants.py
reads them back from a migrated database and fails when the two differ.
"""

from __future__ import annotations

# SQL: capo_default_tenant(), the DEFAULT of every tenant_id column of the league tables.
DEFAULT_TENANT_ID = "00000000-0000-0000-0000-000000000001"
# SQL: background_job_status.queue_name DEFAULT. Rows the web app inserts land here.
DEFAULT_QUEUE_NAME = "stats-update-queue"
# SQL: background_job_status.job_type DEFAULT.
STATS_JOB_TYPE = "stats_update"
# SQL: background_job_status.max_attempts DEFAULT; also MAX_ATTEMPTS' default.
DEFAULT_MAX_ATTEMPTS = 3
# SQL: pg_notify() in capo_notify_job_queued(), the trigger that wakes the workers.
NOTIFY_CHANNEL = "capo_jobs"

# A failed attempt waits RETRY_BACKOFF_SECONDS, doubling each time, but never longer.
MAX_RETRY_BACKOFF_SECONDS = 3600
# A database step that failed (connect, claim, record) is retried at most this far apart.
MAX_RECONNECT_BACKOFF_SECONDS = 30.0
# Longest text stored from elsewhere (an error, a remote answer): enough to read.
TEXT_LIMIT = 4000
