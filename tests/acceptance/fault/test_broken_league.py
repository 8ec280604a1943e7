"""Scenario 9: broken league data and a broken stats function under a running worker.

Promise: bad data never stops the worker. A stats function that fails is
recorded on the job by name with the database's reason, the functions that
read its output are skipped saying why, every other function still succeeds
and commits its tables, and the next job after the data is fixed completes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    environment,
    insert_stats_jobs,
    start_worker,
    status_counts,
    stop_all,
    stranded,
    wait_started,
)
from tests.support.db import execute, query, scalar
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for
from tests.support.web import break_function, restore_function

MISSING_PLAYER = 999_999
MISSING_MATCH = 888_888
IMPOSSIBLE_GOALS = 2**31 - 1


def run_job(db_url: str) -> dict[str, Any]:
    """One stats job through the running worker, to its final state; its row."""
    [job_id] = insert_stats_jobs(db_url, 1, max_attempts=1)

    def finished() -> bool:
        counts = status_counts(db_url, [job_id])
        return counts["completed"] + counts["failed"] == 1

    wait_for(finished, 60, "the job to finish")
    [(status, error, results)] = query(
        db_url,
        "SELECT status, error_message, results FROM background_job_status WHERE id = %s",
        job_id,
    )
    return {"status": status, "error": error, "results": results}


def outcomes(job: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {
        r["function"]: (r["status"], r.get("error")) for r in job["results"]["function_results"]
    }


def not_ok(job: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {name: o for name, o in outcomes(job).items() if o[0] != "success"}


def describe(job: dict[str, Any]) -> str:
    """'failed: f1 failed (reason), f2 skipped (needs f1); 8 succeeded', for the figures."""
    bad = not_ok(job)
    parts = []
    for name, (status, error) in bad.items():
        reason = (error or "").removeprefix("Database function error: ")
        reason = reason.removeprefix(f"Error in {name}: ")
        reason = reason.replace("skipped: depends on ", "needs ").replace(", which failed", "")
        parts.append(f"{name} {status} ({reason})")
    succeeded = f"{10 - len(bad)} succeeded" if bad else "all 10 functions succeeded"
    return f"{job['status']}: " + "; ".join([*parts, succeeded])


def test_bad_data_and_a_broken_function_are_recorded_and_the_worker_goes_on(
    db_url: str, start: Callable[..., Process], record_figures: Callable[[Figures], Path]
) -> None:
    load_fixture(db_url, "tiny")
    env = environment(db_url)
    worker = start_worker(start, db_url, "steady", RETRY_BACKOFF_SECONDS="0.2")
    wait_started(worker, "steady")
    pid = worker.popen.pid
    cases: dict[str, str] = {}

    # a. Rows pointing at a player and a match that do not exist (written by hand, bypassing
    #    the foreign keys as an old or hand-edited database may have them).
    [(a_match, a_player)] = query(
        db_url, "SELECT min(match_id), min(player_id) FROM matches, players"
    )
    with psycopg.connect(db_url) as conn:  # one transaction; the foreign keys are not checked
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            """INSERT INTO player_matches (player_id, match_id, team, goals, result)
               VALUES (%s, %s, 'A', 2, 'win'), (%s, %s, 'B', 1, 'loss')""",
            (MISSING_PLAYER, a_match, a_player, MISSING_MATCH),
        )
    orphans = run_job(db_url)
    assert orphans["status"] == "completed" and not_ok(orphans) == {}, describe(orphans)
    counted = scalar(
        db_url,
        "SELECT count(*) FROM aggregated_all_time_stats WHERE player_id = %s",
        MISSING_PLAYER,
    )
    assert counted == 0  # the orphan row is ignored, not credited to a phantom player
    cases["player_matches rows pointing at a missing player and a missing match"] = describe(
        orphans
    )
    execute(
        db_url,
        "DELETE FROM player_matches WHERE player_id = %s OR match_id = %s",
        MISSING_PLAYER,
        MISSING_MATCH,
    )

    # b. A match with impossible scores: negative, and a player credited with 2^31 - 1 goals.
    [(b_match, a_score, b_score, b_row, b_goals)] = query(
        db_url,
        """SELECT m.match_id, m.team_a_score, m.team_b_score, pm.player_match_id, pm.goals
           FROM matches m JOIN player_matches pm USING (match_id)
           ORDER BY m.match_id DESC, pm.player_match_id LIMIT 1""",
    )
    execute(
        db_url,
        "UPDATE matches SET team_a_score = -3, team_b_score = %s WHERE match_id = %s",
        IMPOSSIBLE_GOALS,
        b_match,
    )
    execute(
        db_url,
        "UPDATE player_matches SET goals = %s WHERE player_match_id = %s",
        IMPOSSIBLE_GOALS,
        b_row,
    )
    impossible = run_job(db_url)
    failed = not_ok(impossible)
    assert impossible["status"] == "failed"
    # Each function that overflowed is named with the database's reason; a function reading
    # a failed one's output is skipped saying which; every other function succeeded.
    overflowed = {n for n, (status, _) in failed.items() if status == "failed"}
    assert {"update_aggregated_all_time_stats", "update_power_ratings"} <= overflowed
    for status, error in failed.values():
        assert error is not None
        if status == "failed":
            assert error.startswith("Database function error: "), error
            assert "out of range" in error or "overflow" in error, error
        else:
            assert status == "skipped" and error.startswith("skipped: depends on "), error
            assert any(dep in error for dep in overflowed), error
    assert 0 < len(failed) < 10
    assert impossible["error"].startswith(f"{len(failed)}/10 stats functions failed (")
    cases["a match scored -3 to 2,147,483,647 by one player"] = describe(impossible)
    execute(
        db_url,
        "UPDATE matches SET team_a_score = %s, team_b_score = %s WHERE match_id = %s",
        a_score,
        b_score,
        b_match,
    )
    execute(
        db_url, "UPDATE player_matches SET goals = %s WHERE player_match_id = %s", b_goals, b_row
    )

    # c. A stats function that raises: recorded by name, its dependant skipped.
    broken = "update_aggregated_personal_bests"
    break_function(db_url, broken, "personal bests are broken on purpose")
    raising = run_job(db_url)
    assert raising["status"] == "failed"
    assert not_ok(raising) == {
        "update_aggregated_personal_bests": (
            "failed",
            "Database function error: personal bests are broken on purpose",
        ),
        "update_aggregated_match_report_cache": (
            "skipped",
            "skipped: depends on update_aggregated_personal_bests, which failed",
        ),
    }
    cases["update_aggregated_personal_bests raising an error"] = describe(raising)

    # d. Fixed: the same worker process completes the next job.
    restore_function(db_url, broken)
    fixed = run_job(db_url)
    assert fixed["status"] == "completed" and not_ok(fixed) == {}, describe(fixed)
    cases["after the fixes"] = describe(fixed)
    assert worker.popen.poll() is None and worker.popen.pid == pid  # never restarted
    assert "Traceback" not in worker.output
    assert stop_all([worker]) == [0]

    counts = status_counts(db_url)
    record_figures(
        Figures(
            scenario="broken-league",
            run="quick",
            load="4 stats jobs on the tiny league, 1 worker",
            faults="orphan player_matches rows, impossible scores, a raising stats function",
            jobs_in=4,
            jobs_completed=f"{counts['completed']} (+{counts['failed']} failed as expected)",
            lost=4 - counts["completed"] - counts["failed"],
            duplicated_at_once=None,
            stranded=stranded(db_url),
            recovery="next job after the fix completed; worker never restarted",
            details=cases,
            environment=env,
        )
    )
