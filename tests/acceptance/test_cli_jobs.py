"""`capo-worker jobs list/show` print stored text as it is: no markup, no emoji codes.

Request ids and error messages are data from outside; rich would read
`[/]` as markup (and crash) or `:thumbs_up:` as an emoji.
"""

from __future__ import annotations

import json

from tests.support.db import execute, query
from tests.support.processes import run_command as capo_worker
from tests.support.web import break_function

REQUEST_ID = "rich-[/]-close"
ERROR = "boom [/] [bold]not bold[/bold] [link=http://x]y[/link] :thumbs_up: \\[escaped]"


def test_stored_text_is_printed_literally(db_url: str) -> None:
    results = {"function_results": [{"function": "f[/]", "status": "failed", "error": ERROR}]}
    attempts = [{"attempt": 1, "error": ERROR, "worker": "w[/]", "at": "t"}]
    execute(
        db_url,
        """INSERT INTO background_job_status
               (job_payload, status, attempts, error_message, results, attempt_errors)
           VALUES (%s::jsonb, 'failed', 1, %s, %s::jsonb, %s::jsonb)""",
        json.dumps({"triggeredBy": "admin[/]", "requestId": REQUEST_ID}),
        ERROR,
        json.dumps(results),
        json.dumps(attempts),
    )
    job_id = str(query(db_url, "SELECT id::text FROM background_job_status")[0][0])
    listed = capo_worker("jobs", "list", db_url=db_url)
    shown = capo_worker("jobs", "show", job_id, db_url=db_url)
    for done in (listed, shown):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert "admin[/]" in listed.stdout and "boom [/] [bold]not bold" in listed.stdout
    for literal in (REQUEST_ID, ERROR, "w[/]", "f[/]"):
        assert literal in shown.stdout, literal
    assert "\N{THUMBS UP SIGN}" not in shown.stdout


def test_a_stats_error_is_printed_literally(db_url: str) -> None:
    break_function(db_url, "update_power_ratings", "bad [/] data")
    done = capo_worker("stats", "run", "--only", "update_power_ratings", db_url=db_url)
    assert done.returncode == 1, done.stderr
    assert "bad [/] data" in done.stdout and "Traceback" not in done.stderr


def test_jobs_show_reads_node_era_and_odd_results(db_url: str) -> None:
    """The Node worker's results and a hand-edited row are shown, not a traceback."""
    node = {
        "total_functions": 10,
        "cache_invalidation_success": False,
        "function_results": [{"function": "stats_function_5", "status": "failed", "duration": 95}],
    }
    ids = [
        str(
            query(
                db_url,
                "INSERT INTO background_job_status (job_payload, status, results) "
                "VALUES ('{}', 'completed', %s::jsonb) RETURNING id",
                json.dumps(results),
            )[0][0]
        )
        for results in (node, [1, 2])
    ]
    shown = [capo_worker("jobs", "show", job_id, db_url=db_url) for job_id in ids]
    assert [s.returncode for s in shown] == [0, 0], [s.stderr for s in shown]
    assert "stats_function_5: failed in 95 ms" in shown[0].stdout
    assert "Traceback" not in shown[1].stderr and ids[1] in shown[1].stdout
