"""`capo-worker league import`: errors name the row, field and fix; bad input writes nothing."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from capo_worker.cli import main
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.league.checks import league_warnings
from capo_worker.league.model import (
    dump_league,
    load_league_file,
    parse_league,
)
from tests.support.db import execute, query
from tests.support.leagues import league_path, mutated, tiny_league_data
from tests.support.statsdb import (
    database_fingerprint,
    delete_tenant_league,
    import_into,
    run_graph,
)

TINY = tiny_league_data()


@pytest.fixture
def cli(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run `capo-worker ARGS` in this process against the test database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("LOG_LEVEL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["capo-worker", *args])
        code: Any = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return int(code or 0), captured.out, captured.err

    return run


@pytest.fixture
def loaded_db(db_url: str) -> Iterator[str]:
    """The test database holding the tiny league (default tenant) and its stats."""
    league = load_league_file(league_path("tiny"))
    import_into(db_url, league)
    report = run_graph(db_url, as_of=league.as_of)
    assert report.ok
    yield db_url


def write(tmp_path: Path, data: Any, name: str = "league.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# (case, file contents, fragments the error must contain)
BROKEN: list[tuple[str, Any, list[str]]] = [
    (
        "missing field",
        mutated(lambda d: d["players"][3].pop("name")),
        ["players row 4 (player_id 4)", "field 'name' is missing", "add it"],
    ),
    (
        "goals as a string",
        mutated(lambda d: d["player_matches"][1].__setitem__("goals", "1")),
        ["player_matches row 2 (player_match_id 2)", "field 'goals'", "write 1 without quotes"],
    ),
    (
        "goals as a fraction",
        mutated(lambda d: d["player_matches"][1].__setitem__("goals", 1.5)),
        ["player_matches row 2 (player_match_id 2)", "field 'goals' is 1.5", "whole number"],
    ),
    (
        "boolean as yes",
        mutated(lambda d: d["players"][0].__setitem__("is_ringer", "yes")),
        ["players row 1 (player_id 1)", "field 'is_ringer' is \"yes\"", "true or false"],
    ),
    (
        "boolean as 1",
        mutated(lambda d: d["players"][0].__setitem__("is_retired", 1)),
        ["players row 1 (player_id 1)", "field 'is_retired' is 1", "true, false or null"],
    ),
    (
        "date in another layout",
        mutated(lambda d: d["matches"][2].__setitem__("match_date", "22/10/2026")),
        ["matches row 3 (match_id 3)", "field 'match_date'", "YYYY-MM-DD"],
    ),
    (
        "impossible date",
        mutated(lambda d: d["matches"][2].__setitem__("match_date", "2026-02-30")),
        ["matches row 3 (match_id 3)", "field 'match_date'", "YYYY-MM-DD"],
    ),
    (
        "negative score",
        mutated(lambda d: d["matches"][0].__setitem__("team_b_score", -2)),
        ["matches row 1 (match_id 1)", "field 'team_b_score' is -2", "from 0 up"],
    ),
    (
        "rating out of range",
        mutated(lambda d: d["players"][2].__setitem__("defender", 9)),
        ["players row 3 (player_id 3)", "field 'defender' is 9", "from 1 to 5"],
    ),
    (
        "name too long",
        mutated(lambda d: d["players"][2].__setitem__("name", "Maximilianus Jr")),
        ["players row 3 (player_id 3)", "field 'name'", "15 characters long", "1 to 14"],
    ),
    (
        "unknown column",
        mutated(lambda d: d["matches"][0].__setitem__("venue", "Park")),
        ["matches row 1 (match_id 1)", "'venue' is not a column", "match_date"],
    ),
    (
        "unknown team",
        mutated(lambda d: d["player_matches"][4].__setitem__("team", "Unassigned")),
        ["player_matches row 5 (player_match_id 5)", "field 'team'", '"A" or "B"'],
    ),
    (
        "result not spelled as the app does",
        mutated(lambda d: d["player_matches"][4].__setitem__("result", "W")),
        ["player_matches row 5 (player_match_id 5)", "field 'result' is \"W\"", '"win"'],
    ),
    (
        "unknown player",
        mutated(lambda d: d["player_matches"][6].__setitem__("player_id", 77)),
        ["player_matches row 7 (player_match_id 7)", "'player_id' is 77", "no player"],
    ),
    (
        "unknown match",
        mutated(lambda d: d["player_matches"][6].__setitem__("match_id", 42)),
        ["player_matches row 7 (player_match_id 7)", "'match_id' is 42", "no match"],
    ),
    (
        "duplicate player id",
        mutated(lambda d: d["players"][5].__setitem__("player_id", 2)),
        ["players row 6 (player_id 2)", "player_id 2 is already used by players row 2"],
    ),
    (
        "duplicate name",
        mutated(lambda d: d["players"][5].__setitem__("name", "Ben")),
        ["players row 6 (player_id 6)", 'name "Ben" is already used by players row 2'],
    ),
    (
        "duplicate match id",
        mutated(lambda d: d["matches"][4].__setitem__("match_id", 4)),
        ["matches row 5 (match_id 4)", "match_id 4 is already used by matches row 4"],
    ),
    (
        "duplicate player_match id",
        mutated(lambda d: d["player_matches"][9].__setitem__("player_match_id", 3)),
        ["player_matches row 10 (player_match_id 3)", "already used by player_matches row 3"],
    ),
    (
        "player twice in one match",
        mutated(
            lambda d: d["player_matches"].append(
                {**d["player_matches"][0], "team": "B", "player_match_id": 100}
            )
        ),
        ["player_matches row 47 (player_match_id 100)", "player 1 is already in match 1"],
    ),
    (
        "missing list",
        mutated(lambda d: d.pop("player_matches")),
        ["the 'player_matches' list is missing", '"player_matches": []'],
    ),
    (
        "list of the wrong type",
        mutated(lambda d: d.__setitem__("matches", {"1": {}})),
        ["'matches' is", "expected a list of row objects"],
    ),
    (
        "row that is not an object",
        mutated(lambda d: d["matches"].append([7, "2026-11-27", 1, 0])),
        ["matches row 7", "expected a JSON object"],
    ),
    (
        "config value not a string",
        mutated(lambda d: d.__setitem__("app_config", {"hall_of_fame_limit": 5})),
        ["app_config key 'hall_of_fame_limit' is 5", 'write "5"'],
    ),
    (
        "config value the stats cannot cast",
        mutated(lambda d: d.__setitem__("app_config", {"fantasy_win_points": "20.5"})),
        ["app_config key 'fantasy_win_points' is \"20.5\"", "whole number"],
    ),
    (
        "bad as_of",
        mutated(lambda d: d.__setitem__("as_of", "yesterday")),
        ["'as_of' is \"yesterday\"", "YYYY-MM-DD"],
    ),
    (
        "misspelt top-level key",
        mutated(lambda d: d.__setitem__("app_configs", {})),
        ["unknown top-level key 'app_configs'"],
    ),
    (
        "another format",
        mutated(lambda d: d["meta"].__setitem__("format", "capo-league/2")),
        ['meta.format is "capo-league/2"', "capo-league/1"],
    ),
    ("not an object", [1, 2, 3], ["expected one JSON object"]),
    ("broken JSON", '{"players": [', ["is not valid JSON", "line 1, column"]),
    ("broken JSON further down", '{\n"players": [],\n"matches": [}\n', ["line 3, column"]),
    ("empty file", "", ["is empty"]),
    ("whitespace only", "  \n", ["is empty"]),
]


@pytest.mark.parametrize(
    ("contents", "fragments"), [(c, f) for _, c, f in BROKEN], ids=[n for n, _, _ in BROKEN]
)
def test_broken_file_is_refused_and_changes_nothing(
    loaded_db: str,
    cli: Callable[..., tuple[int, str, str]],
    tmp_path: Path,
    contents: Any,
    fragments: list[str],
) -> None:
    before = database_fingerprint(loaded_db)
    # --replace: even a request to overwrite the league must not touch it on bad input.
    code, out, err = cli("league", "import", str(write(tmp_path, contents)), "--replace")
    assert code == 2
    assert "Traceback" not in err
    assert "nothing was imported" in err or "is empty" in err or "not valid JSON" in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert "Imported" not in out
    assert database_fingerprint(loaded_db) == before


def test_missing_file_is_one_clear_line(
    db_url: str, cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    code, _, err = cli("league", "import", str(tmp_path / "nope.json"))
    assert code == 2
    assert err.strip() == f"cannot read {tmp_path / 'nope.json'}: No such file or directory"


def test_ids_of_another_tenant_are_refused_and_change_nothing(
    loaded_db: str, cli: Callable[..., tuple[int, str, str]]
) -> None:
    before = database_fingerprint(loaded_db)
    code, _, err = cli("league", "import", str(league_path("tiny")), "--tenant", "club2")
    assert code == 2
    assert "players: player_id 1, 2, 3, 4, 5 already used by another tenant" in err
    assert "--renumber" in err
    # The new tenant was created in the same transaction: it is gone too.
    assert database_fingerprint(loaded_db) == before


def test_failed_replace_keeps_the_old_league(
    loaded_db: str, cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """The delete of --replace happens in the import's transaction: a later failure undoes it."""
    code, _, _ = cli("league", "demo", "--size", "tiny", "--seed", "3", "--tenant", "club2")
    assert code == 0
    before = database_fingerprint(loaded_db)
    # tiny's ids belong to the default tenant, so this import fails after the delete.
    code, _, err = cli(
        "league", "import", str(league_path("tiny")), "--tenant", "club2", "--replace"
    )
    assert code == 2
    assert "already used by another tenant" in err
    assert database_fingerprint(loaded_db) == before


def test_existing_league_needs_replace(
    loaded_db: str, cli: Callable[..., tuple[int, str, str]]
) -> None:
    before = database_fingerprint(loaded_db)
    code, _, err = cli("league", "import", str(league_path("small")))
    assert code == 2
    assert f"tenant {DEFAULT_TENANT_ID} already has a league" in err
    assert "--replace" in err
    assert database_fingerprint(loaded_db) == before


def test_replace_swaps_the_league_and_clears_its_stats(
    loaded_db: str, cli: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, _ = cli("league", "import", str(league_path("small")), "--replace")
    assert code == 0, out
    assert "Imported 35 players, 40 matches, 521 player_matches" in out
    counts = query(
        loaded_db,
        """SELECT (SELECT count(*) FROM players), (SELECT count(*) FROM matches),
                  (SELECT count(*) FROM player_matches),
                  (SELECT count(*) FROM aggregated_all_time_stats),
                  (SELECT count(*) FROM cache_metadata)""",
    )
    assert counts == [(35, 40, 521, 0, 0)]


def test_renumber_moves_a_colliding_league_to_new_ids(
    loaded_db: str, cli: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, err = cli(
        "league", "import", str(league_path("tiny")), "--tenant", "club2", "--renumber"
    )
    assert code == 0, err
    assert "shifted: players +10, matches +6, player_matches +46" in out
    rows = query(
        loaded_db,
        """SELECT p.name, m.match_date::text, pm.team, pm.goals
             FROM player_matches pm JOIN players p USING (player_id) JOIN matches m USING (match_id)
             JOIN tenants t ON t.tenant_id = pm.tenant_id
            WHERE t.name = %s ORDER BY pm.player_match_id""",
        "club2",
    )
    original = query(
        loaded_db,
        """SELECT p.name, m.match_date::text, pm.team, pm.goals
             FROM player_matches pm JOIN players p USING (player_id) JOIN matches m USING (match_id)
            WHERE pm.tenant_id = %s ORDER BY pm.player_match_id""",
        DEFAULT_TENANT_ID,
    )
    assert rows == original
    other_ids = query(
        loaded_db, "SELECT min(player_id) FROM players WHERE tenant_id <> %s", DEFAULT_TENANT_ID
    )
    assert other_ids == [(11,)]


def test_derived_fields_are_computed_by_the_app_rules(db_url: str) -> None:
    """A file with only team and goals gets the result, heavy and clean-sheet flags of the app."""
    data = json.loads(league_path("small").read_text())
    expected = [
        (pm["player_match_id"], pm["result"], pm["heavy_win"], pm["heavy_loss"], pm["clean_sheet"])
        for pm in data["player_matches"]
    ]
    for pm in data["player_matches"]:
        for key in ("result", "heavy_win", "heavy_loss", "clean_sheet", "fantasy_points"):
            del pm[key]
    league = parse_league(data)
    assert league_warnings(league) == []
    import_into(db_url, league)
    stored = query(
        db_url,
        """SELECT player_match_id, result, heavy_win, heavy_loss, clean_sheet
             FROM player_matches ORDER BY player_match_id""",
    )
    assert stored == sorted(expected)
    # The small league has every case: heavy wins and losses, draws, clean sheets.
    assert {r[1] for r in stored} == {"win", "draw", "loss"}
    assert any(r[2] for r in stored) and any(r[3] for r in stored) and any(r[4] for r in stored)


def test_explicit_nulls_are_kept_with_a_warning(db_url: str) -> None:
    data = mutated(lambda d: d["player_matches"][0].__setitem__("result", None))
    league = parse_league(data)
    warnings = league_warnings(league)
    assert warnings == [
        "player_matches row 1 (player_match_id 1): field 'result' is null; the stats read null "
        "as no result. Leave the field out to derive it from the score"
    ]
    import_into(db_url, league)
    assert query(db_url, "SELECT result FROM player_matches WHERE player_match_id = 1") == [(None,)]


def test_score_that_disagrees_with_the_goals_is_a_warning(
    db_url: str, cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """The app's validation rule; the stats read the stored score, so the import goes ahead."""
    path = write(tmp_path, mutated(lambda d: d["matches"][0].__setitem__("team_a_score", 4)))
    before = database_fingerprint(db_url)
    code, _, err = cli("league", "import", str(path), "--strict")
    assert code == 2
    assert "1 consistency problem (--strict); nothing was imported." in err
    assert database_fingerprint(db_url) == before

    code, out, err = cli("league", "import", str(path))
    assert code == 0
    assert err.splitlines()[0] == (
        "warning: matches row 1 (match_id 1): team A scored 4, but its players' goals (3) plus "
        "team_a_own_goals (0) make 3; the app rejects such a match. Fix the score, the goals "
        "or the own goals"
    )
    # The stored result of the rows was given in the file, so they now disagree too.
    assert "field 'result'" not in err  # 4-2 is still a win for A
    assert "Imported 10 players" in out


def test_import_keeps_ids_and_moves_the_sequences(db_url: str) -> None:
    league = load_league_file(league_path("tiny"))
    summary = import_into(db_url, league)
    assert (summary.players, summary.matches, summary.player_matches) == (10, 6, 46)
    assert summary.id_shift == {}
    next_ids = query(
        db_url,
        """INSERT INTO players (name) VALUES ('Newcomer') RETURNING player_id""",
    )
    assert next_ids == [(11,)]
    assert query(db_url, "SELECT nextval('player_matches_player_match_id_seq')") == [(47,)]


def test_gzipped_file_and_round_trip(db_url: str, tmp_path: Path) -> None:
    league = load_league_file(league_path("spring"))
    path = tmp_path / "spring.json.gz"
    path.write_bytes(gzip.compress(dump_league(league).encode()))
    again = load_league_file(path)
    assert again == league
    import_into(db_url, again)
    assert query(db_url, "SELECT count(*) FROM player_matches") == [(880,)]


def test_subprocess_gives_one_line_and_exit_2(db_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, '{"players": [}')
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "capo-worker"), "league", "import", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "is not valid JSON" in done.stderr


# Tables that belong to the tenant rather than to its league: they outlive a re-import.
KEPT_WITH_THE_TENANT = {
    "tenants",
    "background_job_status",
    "background_job_requests",
    "capo_admin_session_epochs",
}


def test_deleting_a_league_leaves_nothing_derived_from_it(loaded_db: str) -> None:
    tables = [
        name
        for (name,) in query(
            loaded_db,
            """SELECT c.table_name FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
                 AND t.table_type = 'BASE TABLE'""",
        )
        if name not in KEPT_WITH_THE_TENANT
    ]
    assert "capo_power_rating_sums" in tables and "aggregated_records" in tables

    def rows_per_table() -> dict[str, int]:
        return {
            table: query(
                loaded_db, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", DEFAULT_TENANT_ID
            )[0][0]
            for table in tables
        }

    assert rows_per_table()["capo_power_rating_sums"] > 0
    delete_tenant_league(loaded_db)
    assert {t: n for t, n in rows_per_table().items() if n} == {}


def test_deleting_a_league_clears_later_state_tables_and_no_app_table(loaded_db: str) -> None:
    # A capo_ state table a later migration adds is found in the catalog (migration
    # 0064); another tenant table of an adopted app's database is not ours to empty.
    execute(loaded_db, "CREATE TABLE capo_future_state (tenant_id uuid, value int)")
    execute(loaded_db, "CREATE TABLE app_team_notes (tenant_id uuid, note text)")
    execute(loaded_db, "INSERT INTO capo_future_state VALUES (%s, 1)", DEFAULT_TENANT_ID)
    execute(loaded_db, "INSERT INTO app_team_notes VALUES (%s, 'kept')", DEFAULT_TENANT_ID)
    delete_tenant_league(loaded_db)
    assert query(loaded_db, "SELECT count(*) FROM capo_future_state") == [(0,)]
    assert query(loaded_db, "SELECT note FROM app_team_notes") == [("kept",)]
