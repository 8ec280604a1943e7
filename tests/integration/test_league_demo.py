"""The demo league generator: deterministic, valid, realistic, and at the promised scale."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from capo_worker.league.demo import generate_league
from capo_worker.league.model import League, dump_league
from tests.support.db import query
from tests.support.processes import run_command as capo_worker
from tests.support.statsdb import failures, import_into, run_graph

AS_OF = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def small() -> League:
    return generate_league("small", seed=1, as_of=AS_OF)


def test_demo_league_computes_cleanly(db_url: str, small: League) -> None:
    import_into(db_url, small)
    report = run_graph(db_url, as_of=small.as_of)
    assert failures(report) == {}
    counts = query(
        db_url,
        """SELECT (SELECT count(*) FROM aggregated_all_time_stats),
                  (SELECT count(*) FROM aggregated_hall_of_fame),
                  (SELECT count(*) FROM aggregated_match_report),
                  (SELECT count(*) FROM aggregated_performance_ratings WHERE is_qualified)""",
    )
    played = {pm.player_id for pm in small.player_matches}
    regulars_who_played = [p for p in small.players if not p.is_ringer and p.player_id in played]
    assert counts[0][0] == len(regulars_who_played)
    assert counts[0][1] > 0 and counts[0][2] == 1 and counts[0][3] > 0


def test_cli_demo_writes_a_file(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "demo.json"
    args = ["--size", "tiny", "--seed", "5", "--as-of", "2026-11-28", "--output", str(path)]
    done = capo_worker("league", "demo", *args, db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert path.read_text() == dump_league(generate_league("tiny", seed=5, as_of=AS_OF))
    assert query(db_url, "SELECT count(*) FROM players") == [(0,)]  # nothing loaded
    done = capo_worker("league", "import", str(path), "--strict", db_url=db_url)
    assert done.returncode == 0, done.stderr


def test_cli_demo_loads_into_tenants(db_url: str) -> None:
    done = capo_worker("league", "demo", "--size", "tiny", db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert "Imported" in done.stdout and "capo-worker stats run" in done.stdout
    again = capo_worker("league", "demo", "--size", "tiny", db_url=db_url)
    assert again.returncode == 2
    assert "already has a league" in again.stderr
    other = capo_worker("league", "demo", "--size", "tiny", "--tenant", "club2", db_url=db_url)
    assert other.returncode == 0, other.stderr
    assert "shifted" in other.stdout  # the demo's ids were taken by the default tenant
    tenants = query(
        db_url,
        """SELECT t.name, count(p.*) FROM tenants t JOIN players p USING (tenant_id)
            GROUP BY 1 ORDER BY 1""",
    )
    assert [name for name, _ in tenants] == ["club2", "default"]
    assert tenants[0][1] == tenants[1][1]


def test_cli_demo_rejects_bad_options(db_url: str) -> None:
    done = capo_worker("league", "demo", "--size", "huge", db_url=db_url)
    assert done.returncode == 2
    assert "use one of tiny, small, capo, large" in done.stderr
    done = capo_worker("league", "demo", "--as-of", "28/11/2026", db_url=db_url)
    assert done.returncode == 2
    assert "is not a date (YYYY-MM-DD)" in done.stderr
    done = capo_worker("league", "demo", "--output", "/nonexistent/dir/x.json", db_url=db_url)
    assert done.returncode == 2
    assert done.stderr.strip() == "cannot write /nonexistent/dir/x.json: No such file or directory"
