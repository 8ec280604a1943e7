"""The neutral league file format (`capo-league/1`), validated row by row.

A league file is one JSON object with `players`, `matches`, `player_matches`
and `app_config` (see docs/league-data.md). Row keys are the column names of
the input tables. Types are strict: a number written as a string (`"2"`), a
boolean written as `"yes"` or `1`, or a date in another layout is an error,
because a file with such values was not written by the tools that know the
format and guessing would hide mistakes.

Derived `player_matches` fields (`result`, `heavy_win`, `heavy_loss`,
`clean_sheet`) that are absent are computed from the match score by the app's
rules (spec 10-inputs §2.1), and an absent `goals` is 0. A field given as
`null` is stored as NULL, as legacy data may hold it (see league.checks).

Every problem is reported with the row (counted from 1, with its id), the
field and what to write instead; up to MAX_REPORTED problems at once.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

FORMAT = "capo-league/1"
HEAVY_MARGIN = 4  # hard-coded in the reference app at save time
MAX_INT = 2_147_483_647  # PostgreSQL integer
MAX_NAME_LENGTH = 14  # players.name is varchar(14)
MAX_REPORTED = 20  # problems listed in one error message

# Config keys the stats functions cast, and what their values must parse as
# (spec 10-inputs §4). Other keys are kept as text: the app has many more.
INTEGER_CONFIG_KEYS = frozenset(
    {
        "fantasy_win_points",
        "fantasy_draw_points",
        "fantasy_loss_points",
        "fantasy_heavy_win_points",
        "fantasy_heavy_loss_points",
        "fantasy_clean_sheet_win_points",
        "fantasy_clean_sheet_draw_points",
        "fantasy_heavy_clean_sheet_win_points",
        "match_duration_minutes",
        "games_required_for_hof",
        "hall_of_fame_limit",
        "min_games_for_honours",
        "min_streak_length",
        "game_milestone_threshold",
        "goal_milestone_threshold",
        "win_streak_threshold",
        "unbeaten_streak_threshold",
        "loss_streak_threshold",
        "winless_streak_threshold",
        "goal_streak_threshold",
        "on_fire_grim_reaper_window_days",
        "on_fire_grim_reaper_min_games",
    }
)
NUMERIC_CONFIG_KEYS = frozenset(
    {"performance_half_life_days", "performance_qualification_threshold"}
)
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_NUMERIC_TEXT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class LeagueFileError(Exception):
    """A league that cannot be imported; the message names each row, field and fix."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


def _iso_date(value: Any) -> Any:
    if type(value) is dt.date:
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("iso_date", "not a date")


def _player_name(value: Any) -> Any:
    if isinstance(value, str) and (not value.strip() or value != value.strip()):
        raise PydanticCustomError("name_blank", "blank or padded")
    return value


Id = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT)]
Rating = Annotated[StrictInt, Field(ge=1, le=5)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
PlayerName = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH), BeforeValidator(_player_name)
]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlayerRow(_Row):
    player_id: Id
    name: PlayerName
    join_date: IsoDate | None = None
    is_ringer: StrictBool = False
    is_retired: StrictBool | None = False
    goalscoring: Rating = 3
    defender: Rating = 3
    stamina_pace: Rating = 3
    control: Rating = 3
    teamwork: Rating = 3
    resilience: Rating | None = 3
    selected_club: dict[str, Any] | None = None


class MatchRow(_Row):
    match_id: Id
    match_date: IsoDate
    team_a_score: Count
    team_b_score: Count
    team_a_own_goals: Count | None = 0
    team_b_own_goals: Count | None = 0
    upcoming_match_id: Id | None = None


Team = Literal["A", "B"]
Result = Literal["win", "draw", "loss"]


class PlayerMatchRow(_Row):
    player_match_id: Id
    player_id: Id
    match_id: Id
    team: Team
    goals: Count | None = 0
    result: Result | None = None
    heavy_win: StrictBool | None = None
    heavy_loss: StrictBool | None = None
    clean_sheet: StrictBool | None = None
    fantasy_points: Annotated[StrictInt, Field(ge=-MAX_INT, le=MAX_INT)] | None = None


class League(BaseModel):
    """A whole league, validated; player_matches carry their derived fields."""

    as_of: dt.date | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    app_config: dict[str, str] = Field(default_factory=dict)
    players: list[PlayerRow]
    matches: list[MatchRow]
    player_matches: list[PlayerMatchRow]


# --- what the app derives when a match is saved ----------------------------------------


def app_outcome(team: str, match: MatchRow) -> tuple[Result, bool, bool, bool]:
    """(result, heavy_win, heavy_loss, clean_sheet) as the app stores them for `team`."""
    own, opp = (
        (match.team_a_score, match.team_b_score)
        if team == "A"
        else (match.team_b_score, match.team_a_score)
    )
    result: Result = "win" if own > opp else "loss" if own < opp else "draw"
    heavy = abs(own - opp) >= HEAVY_MARGIN
    return result, result == "win" and heavy, result == "loss" and heavy, opp == 0


def derive(pm: PlayerMatchRow, match: MatchRow) -> PlayerMatchRow:
    """Fill the derived fields the row leaves out; fields given (even null) are kept."""
    given = pm.model_fields_set
    result, heavy_win, heavy_loss, clean_sheet = app_outcome(pm.team, match)
    update: dict[str, Any] = {}
    for name, value in (
        ("result", result),
        ("heavy_win", heavy_win),
        ("heavy_loss", heavy_loss),
        ("clean_sheet", clean_sheet),
    ):
        if name not in given:
            update[name] = value
    return pm.model_copy(update=update) if update else pm


# --- error messages ----------------------------------------------------------------------

# What a valid value looks like, per field: the "fix" half of every message.
EXPECTED: dict[str, str] = {
    "player_id": "a whole number from 1 up",
    "name": f"a name of 1 to {MAX_NAME_LENGTH} characters without leading or trailing spaces",
    "join_date": "a date written YYYY-MM-DD, or null",
    "is_ringer": "true or false (JSON booleans, no quotes)",
    "is_retired": "true, false or null (JSON booleans, no quotes)",
    "goalscoring": "a whole number from 1 to 5",
    "defender": "a whole number from 1 to 5",
    "stamina_pace": "a whole number from 1 to 5",
    "control": "a whole number from 1 to 5",
    "teamwork": "a whole number from 1 to 5",
    "resilience": "a whole number from 1 to 5, or null",
    "selected_club": "a JSON object or null",
    "match_id": "a whole number from 1 up",
    "match_date": "a date written YYYY-MM-DD",
    "team_a_score": "a whole number from 0 up (own goals included)",
    "team_b_score": "a whole number from 0 up (own goals included)",
    "team_a_own_goals": "a whole number from 0 up, or null",
    "team_b_own_goals": "a whole number from 0 up, or null",
    "upcoming_match_id": "a whole number from 1 up, or null",
    "player_match_id": "a whole number from 1 up",
    "team": '"A" or "B"',
    "goals": "a whole number from 0 up (leave it out for 0)",
    "result": '"win", "draw" or "loss" (leave it out to derive it from the score)',
    "heavy_win": "true or false (leave it out to derive it from the score)",
    "heavy_loss": "true or false (leave it out to derive it from the score)",
    "clean_sheet": "true or false (leave it out to derive it from the score)",
    "fantasy_points": "a whole number or null (the app leaves it null)",
}

_SECTIONS: dict[str, tuple[type[_Row], str]] = {
    "players": (PlayerRow, "player_id"),
    "matches": (MatchRow, "match_id"),
    "player_matches": (PlayerMatchRow, "player_match_id"),
}
_TOP_LEVEL = ("as_of", "meta", "app_config", "players", "matches", "player_matches")


def row_label(section: str, index: int, row: Any = None) -> str:
    """`players row 5 (player_id 5)`: rows counted from 1, with the row's id when known."""
    id_key = _SECTIONS[section][1]
    ident = row.get(id_key) if isinstance(row, dict) else getattr(row, id_key, None)
    label = f"{section} row {index + 1}"
    if isinstance(ident, int) and not isinstance(ident, bool):
        label += f" ({id_key} {ident})"
    return label


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _quoted_hint(value: Any, kind: str) -> str:
    if not isinstance(value, str):
        return ""
    if kind == "int" and _INTEGER_TEXT.fullmatch(value.strip()):
        return f" (a string: write {value.strip()} without quotes)"
    if kind == "bool" and value.strip().lower() in ("true", "false"):
        return f" (a string: write {value.strip().lower()} without quotes)"
    return ""


def _describe_error(model: type[_Row], where: str, err: ErrorDetails) -> str:
    loc = [str(p) for p in err["loc"]]
    # Union members add their type to the location (e.g. "int", "none"): keep the field.
    field = loc[0] if loc else "(row)"
    kind = err["type"]
    value = err.get("input")
    expected = EXPECTED.get(field, "")
    if kind == "missing":
        return f"{where}: field '{field}' is missing; add it: {expected}"
    if kind == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return f"{where}: '{field}' is not a column here; remove it or use one of: {known}"
    if kind in ("int_type", "int_parsing"):
        problem = f"is {_shown(value)}{_quoted_hint(value, 'int')}"
    elif kind in ("bool_type", "bool_parsing"):
        problem = f"is {_shown(value)}{_quoted_hint(value, 'bool')}"
    elif kind == "string_too_long":
        problem = f"is {_shown(value)}, {len(value)} characters long"
    elif kind == "model_type":
        return f"{where}: expected a JSON object with the row's columns, got {_shown(value)}"
    else:
        problem = f"is {_shown(value)}"
    return f"{where}: field '{field}' {problem}; expected {expected}"


def _dedupe_union_errors(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """One error per field: a value failing `int | None` fails both members."""
    seen: set[str] = set()
    kept = []
    for err in errors:
        field = str(err["loc"][0]) if err["loc"] else ""
        if field in seen:
            continue
        seen.add(field)
        kept.append(err)
    return kept


class _Problems:
    """Collects problems: lists the first MAX_REPORTED, counts them all."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.more = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_REPORTED:
            self.items.append(message)
        else:
            self.more += 1

    def raise_if_any(self, source: str | None) -> None:
        if not self.items:
            return
        count = len(self.items) + self.more
        head = f"{source}: " if source else ""
        head += f"{count} problem{'s' if count != 1 else ''}; nothing was imported."
        lines = [head, *(f"  {p}" for p in self.items)]
        if self.more:
            lines.append(f"  ... and {self.more} more")
        raise LeagueFileError("\n".join(lines), problems=list(self.items))


def _parse_rows(section: str, rows: Any, problems: _Problems) -> list[Any]:
    model, _ = _SECTIONS[section]
    if not isinstance(rows, list):
        problems.add(
            f"'{section}' is {_shown(rows)}; expected a list of row objects (possibly empty)"
        )
        return []
    parsed = []
    for i, row in enumerate(rows):
        where = row_label(section, i, row)
        if not isinstance(row, dict):
            problems.add(
                f"{where}: expected a JSON object with the row's columns, got {_shown(row)}"
            )
            continue
        try:
            parsed.append(model.model_validate(row))
        except ValidationError as exc:
            for err in _dedupe_union_errors(exc.errors()):
                problems.add(_describe_error(model, where, err))
    return parsed


def _check_unique(
    section: str, rows: list[Any], key: Any, what: str, fix: str, problems: _Problems
) -> None:
    first: dict[Any, int] = {}
    for i, row in enumerate(rows):
        value = key(row)
        if value in first:
            other = first[value]
            problems.add(
                f"{row_label(section, i, row)}: {what} {_shown(value)} is already used by "
                f"{row_label(section, other, rows[other])}; {fix}"
            )
        else:
            first[value] = i


def _check_config(config: Any, problems: _Problems) -> dict[str, str]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        problems.add(f"'app_config' is {_shown(config)}; expected an object of key: \"value\"")
        return {}
    for key, value in config.items():
        where = f"app_config key '{key}'"
        if not isinstance(value, str):
            hint = f'"{value}"' if isinstance(value, int | float) else '"<value>"'
            problems.add(f"{where} is {_shown(value)}; config values are strings, write {hint}")
        elif key in INTEGER_CONFIG_KEYS and not _INTEGER_TEXT.fullmatch(value):
            problems.add(
                f'{where} is {_shown(value)}; expected a whole number as text (e.g. "5"): '
                "the stats functions cast it to integer and would fail"
            )
        elif key in NUMERIC_CONFIG_KEYS and not _NUMERIC_TEXT.fullmatch(value):
            problems.add(
                f'{where} is {_shown(value)}; expected a number as text (e.g. "730"): '
                "the stats functions cast it to numeric and would fail"
            )
    return {k: v for k, v in config.items() if isinstance(v, str)}


def _check_head(data: dict[str, Any], problems: _Problems) -> dt.date | None:
    for key in data:
        if key not in _TOP_LEVEL:
            problems.add(
                f"unknown top-level key '{key}'; a league file has only {', '.join(_TOP_LEVEL)}"
            )
    for section in _SECTIONS:
        if section not in data:
            problems.add(f"the '{section}' list is missing; add \"{section}\": [] if it is empty")
    meta = data.get("meta")
    if meta is not None and not isinstance(meta, dict):
        problems.add(f"'meta' is {_shown(meta)}; expected an object (it is informational)")
    elif isinstance(meta, dict) and meta.get("format", FORMAT) != FORMAT:
        problems.add(f'meta.format is {_shown(meta["format"])}; this version reads only "{FORMAT}"')
    as_of = data.get("as_of")
    if as_of is None:
        return None
    try:
        parsed = _iso_date(as_of)
        assert isinstance(parsed, dt.date)
        return parsed
    except PydanticCustomError:
        problems.add(
            f"'as_of' is {_shown(as_of)}; expected a date written YYYY-MM-DD, or leave it out"
        )
        return None


def _declared_ids(section: str, rows: Any) -> set[int] | None:
    """Ids named by a section's rows, valid or not (None when the section is unusable).

    References to a row that failed validation are not reported again.
    """
    if not isinstance(rows, list):
        return None
    id_key = _SECTIONS[section][1]
    return {r[id_key] for r in rows if isinstance(r, dict) and isinstance(r.get(id_key), int)}


def _check_references(
    player_ids: set[int] | None,
    match_ids: set[int] | None,
    pms: list[PlayerMatchRow],
    problems: _Problems,
) -> None:
    seen: dict[tuple[int, int], int] = {}
    for i, pm in enumerate(pms):
        where = row_label("player_matches", i, pm)
        if player_ids is not None and pm.player_id not in player_ids:
            problems.add(
                f"{where}: field 'player_id' is {pm.player_id}, which is no player in this file; "
                "add the player to 'players' or fix the id"
            )
        if match_ids is not None and pm.match_id not in match_ids:
            problems.add(
                f"{where}: field 'match_id' is {pm.match_id}, which is no match in this file; "
                "add the match to 'matches' or fix the id"
            )
        pair = (pm.player_id, pm.match_id)
        if pair in seen:
            other = seen[pair]
            problems.add(
                f"{where}: player {pm.player_id} is already in match {pm.match_id} "
                f"({row_label('player_matches', other, pms[other])}); a player plays a match "
                "once: remove one of the rows"
            )
        else:
            seen[pair] = i


def parse_league(data: Any, source: str | None = None) -> League:
    """Validate a decoded league document and derive the absent player_matches fields.

    Raises LeagueFileError listing every problem found (up to MAX_REPORTED).
    """
    problems = _Problems()
    if not isinstance(data, dict):
        problems.add(f"expected one JSON object with the league's lists, got {_shown(data)}")
        problems.raise_if_any(source)
    as_of = _check_head(data, problems)
    config = _check_config(data.get("app_config"), problems)
    players: list[PlayerRow] = _parse_rows("players", data.get("players", []), problems)
    matches: list[MatchRow] = _parse_rows("matches", data.get("matches", []), problems)
    pms: list[PlayerMatchRow] = _parse_rows(
        "player_matches", data.get("player_matches", []), problems
    )
    _check_unique(
        "players",
        players,
        lambda p: p.player_id,
        "player_id",
        "give every player its own id",
        problems,
    )
    _check_unique(
        "players",
        players,
        lambda p: p.name,
        "name",
        "names are unique in a league: rename one (e.g. add a digit)",
        problems,
    )
    _check_unique(
        "matches",
        matches,
        lambda m: m.match_id,
        "match_id",
        "give every match its own id",
        problems,
    )
    _check_unique(
        "player_matches",
        pms,
        lambda pm: pm.player_match_id,
        "player_match_id",
        "give every row its own id",
        problems,
    )
    _check_references(
        _declared_ids("players", data.get("players")),
        _declared_ids("matches", data.get("matches")),
        pms,
        problems,
    )
    problems.raise_if_any(source)

    by_match = {m.match_id: m for m in matches}
    meta = data.get("meta")
    return League(
        as_of=as_of,
        meta=meta if isinstance(meta, dict) else {},
        app_config=config,
        players=players,
        matches=matches,
        player_matches=[derive(pm, by_match[pm.match_id]) for pm in pms],
    )


def read_league_text(path: Path) -> str:
    """The text of a league file; `.gz` files are decompressed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LeagueFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise LeagueFileError(f"{path} is not a valid gzip file ({exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LeagueFileError(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON"
        ) from None


def load_league_file(path: Path) -> League:
    """Read, decode and validate a league file; every failure is a LeagueFileError."""
    text = read_league_text(path)
    if not text.strip():
        raise LeagueFileError(
            f"{path} is empty; a league file is one JSON object with players, matches "
            "and player_matches lists"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LeagueFileError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
            "nothing was imported"
        ) from None
    except RecursionError:
        raise LeagueFileError(f"{path} is nested too deeply to be a league file") from None
    return parse_league(data, source=str(path))


# --- writing -----------------------------------------------------------------------------


def _rows_json(rows: Iterable[BaseModel]) -> str:
    lines = [json.dumps(r.model_dump(mode="json"), ensure_ascii=False) for r in rows]
    return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"


def dump_league(league: League) -> str:
    """The league as a `capo-league/1` file: one row per line, readable in a diff."""
    head = {
        "as_of": league.as_of.isoformat() if league.as_of else None,
        "meta": {"format": FORMAT, **league.meta},
        "app_config": league.app_config,
    }
    parts = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in head.items()]
    parts += [
        f'"players": {_rows_json(league.players)}',
        f'"matches": {_rows_json(league.matches)}',
        f'"player_matches": {_rows_json(league.player_matches)}',
    ]
    return "{\n" + ",\n".join(parts) + "\n}\n"
