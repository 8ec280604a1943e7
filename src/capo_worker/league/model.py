"""The neutral league file format (`capo-league/1`), validated row by row.

A league file is one JSON object with `players`, `matches`, `player_matches`
and `app_config` (see the fixtures README). Row keys are the column names of
the input tables; derived `player_matches` fields that are absent are
computed from the match score by the app's rules (spec 10-inputs §2.1).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

HEAVY_MARGIN = 4  # hard-coded in the reference app at save time


class LeagueFileError(Exception):
    """A league file that cannot be imported; the message names the row and field."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class PlayerRow(_Row):
    player_id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=14)
    join_date: dt.date | None = None
    is_ringer: bool = False
    is_retired: bool | None = False
    goalscoring: int = Field(default=3, ge=0, le=32767)
    defender: int = Field(default=3, ge=0, le=32767)
    stamina_pace: int = Field(default=3, ge=0, le=32767)
    control: int = Field(default=3, ge=0, le=32767)
    teamwork: int = Field(default=3, ge=0, le=32767)
    resilience: int | None = Field(default=3, ge=0, le=32767)
    selected_club: dict[str, Any] | None = None


class MatchRow(_Row):
    match_id: int = Field(ge=1)
    match_date: dt.date
    team_a_score: int = Field(ge=0)
    team_b_score: int = Field(ge=0)
    team_a_own_goals: int | None = Field(default=0, ge=0)
    team_b_own_goals: int | None = Field(default=0, ge=0)
    upcoming_match_id: int | None = None


class PlayerMatchRow(_Row):
    player_match_id: int = Field(ge=1)
    player_id: int
    match_id: int
    team: Literal["A", "B"]
    goals: int | None = Field(default=0, ge=0)
    result: Literal["win", "draw", "loss"] | None = None
    heavy_win: bool | None = None
    heavy_loss: bool | None = None
    clean_sheet: bool | None = None
    fantasy_points: int | None = None


class League(BaseModel):
    as_of: dt.date | None = None
    app_config: dict[str, str] = Field(default_factory=dict)
    players: list[PlayerRow]
    matches: list[MatchRow]
    player_matches: list[PlayerMatchRow]


def _derive(pm: PlayerMatchRow, match: MatchRow) -> PlayerMatchRow:
    """Fill result / heavy flags / clean sheet from the score where absent."""
    own, opp = (
        (match.team_a_score, match.team_b_score)
        if pm.team == "A"
        else (match.team_b_score, match.team_a_score)
    )
    result = pm.result or ("win" if own > opp else "loss" if own < opp else "draw")
    heavy = abs(own - opp) >= HEAVY_MARGIN
    return pm.model_copy(
        update={
            "result": result,
            "heavy_win": pm.heavy_win if pm.heavy_win is not None else result == "win" and heavy,
            "heavy_loss": pm.heavy_loss
            if pm.heavy_loss is not None
            else result == "loss" and heavy,
            "clean_sheet": pm.clean_sheet if pm.clean_sheet is not None else opp == 0,
            "goals": pm.goals if pm.goals is not None else 0,
        }
    )


def _where(section: str, index: int, row: Any, id_key: str) -> str:
    ident = row.get(id_key) if isinstance(row, dict) else None
    label = f"{id_key} {ident}" if ident is not None else f"row {index + 1}"
    return f"{section}[{index}] ({label})"


def _parse_rows(section: str, rows: Any, model: type[_Row], id_key: str) -> list[Any]:
    if not isinstance(rows, list):
        raise LeagueFileError(f"'{section}' must be a list of objects, got {type(rows).__name__}")
    parsed = []
    for i, row in enumerate(rows):
        try:
            parsed.append(model.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(row)"
            raise LeagueFileError(
                f"{_where(section, i, row, id_key)}: field '{field}': {err['msg']}"
            ) from None
    return parsed


def _check_unique(section: str, values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise LeagueFileError(f"{section}[{i}]: duplicate {what} {v!r}")
        seen.add(v)


def parse_league(data: Any) -> League:
    """Validate a decoded league document; derive the missing player_matches fields."""
    if not isinstance(data, dict):
        raise LeagueFileError("a league file must hold one JSON object")
    for section in ("players", "matches", "player_matches"):
        if section not in data:
            raise LeagueFileError(f"missing section '{section}' (a list, possibly empty)")
    config = data.get("app_config") or {}
    if not isinstance(config, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.items()
    ):
        raise LeagueFileError("'app_config' must map config keys to string values")
    try:
        as_of = dt.date.fromisoformat(data["as_of"]) if data.get("as_of") else None
    except (TypeError, ValueError):
        raise LeagueFileError(
            f"'as_of' must be a date (YYYY-MM-DD), got {data['as_of']!r}"
        ) from None

    players: list[PlayerRow] = _parse_rows("players", data["players"], PlayerRow, "player_id")
    matches: list[MatchRow] = _parse_rows("matches", data["matches"], MatchRow, "match_id")
    pms: list[PlayerMatchRow] = _parse_rows(
        "player_matches", data["player_matches"], PlayerMatchRow, "player_match_id"
    )
    _check_unique("players", [p.player_id for p in players], "player_id")
    _check_unique("players", [p.name for p in players], "name")
    _check_unique("matches", [m.match_id for m in matches], "match_id")
    _check_unique("player_matches", [pm.player_match_id for pm in pms], "player_match_id")

    player_ids = {p.player_id for p in players}
    by_match = {m.match_id: m for m in matches}
    derived = []
    for i, pm in enumerate(pms):
        where = f"player_matches[{i}] (player_match_id {pm.player_match_id})"
        if pm.player_id not in player_ids:
            raise LeagueFileError(f"{where}: field 'player_id': unknown player {pm.player_id}")
        match = by_match.get(pm.match_id)
        if match is None:
            raise LeagueFileError(f"{where}: field 'match_id': unknown match {pm.match_id}")
        derived.append(_derive(pm, match))
    return League(
        as_of=as_of, app_config=config, players=players, matches=matches, player_matches=derived
    )


def load_league_file(path: Path) -> League:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise LeagueFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LeagueFileError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_league(data)
