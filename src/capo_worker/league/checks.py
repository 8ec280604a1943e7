"""Consistency checks on a valid league: what the app would not have saved.

These are warnings, not errors: the stats functions read the stored values
as they are (spec 10-inputs §2.2: data from older app versions or written by
hand may break the rules), so such a league imports and computes. An
operator moving real data keeps it as it is; `league import --strict` turns
every warning into an error for files that must be clean (generated data,
fixtures).

- A team's score differs from its players' goals plus its own goals (the
  rule the app checks before saving a match, answering HTTP 400).
- A derived field given in the file (result, heavy_win, heavy_loss,
  clean_sheet) differs from what the app derives from the score.
- A derived field or `goals` is null (the app never writes null there).
- A match has no players (the app refuses an empty roster).
"""

from __future__ import annotations

from collections import defaultdict

from capo_worker.league.model import League, LeagueFileError, app_outcome, row_label

_DERIVED = ("result", "heavy_win", "heavy_loss", "clean_sheet")


def _score_warnings(league: League) -> list[str]:
    goals: dict[tuple[int, str], int] = defaultdict(int)
    played: set[int] = set()
    for pm in league.player_matches:
        goals[(pm.match_id, pm.team)] += pm.goals or 0
        played.add(pm.match_id)
    warnings = []
    for i, m in enumerate(league.matches):
        where = row_label("matches", i, m)
        if m.match_id not in played:
            warnings.append(
                f"{where}: no player_matches rows; the app never saves a match without players"
            )
            continue
        for team, score, own in (
            ("A", m.team_a_score, m.team_a_own_goals),
            ("B", m.team_b_score, m.team_b_own_goals),
        ):
            credited = goals[(m.match_id, team)]
            if score != credited + (own or 0):
                own_field = f"team_{team.lower()}_own_goals"
                warnings.append(
                    f"{where}: team {team} scored {score}, but its players' goals ({credited}) "
                    f"plus {own_field} ({own or 0}) make {credited + (own or 0)}; the app "
                    "rejects such a match. Fix the score, the goals or the own goals"
                )
    return warnings


def _row_warnings(league: League) -> list[str]:
    by_match = {m.match_id: m for m in league.matches}
    warnings = []
    for i, pm in enumerate(league.player_matches):
        where = row_label("player_matches", i, pm)
        match = by_match[pm.match_id]
        expected = dict(zip(_DERIVED, app_outcome(pm.team, match), strict=True))
        for field in _DERIVED:
            value = getattr(pm, field)
            if value is None:
                warnings.append(
                    f"{where}: field '{field}' is null; the stats read null as no "
                    f"{'result' if field == 'result' else 'flag'}. Leave the field out to "
                    "derive it from the score"
                )
            elif value != expected[field]:
                score = f"{match.team_a_score}-{match.team_b_score}"
                warnings.append(
                    f"{where}: field '{field}' is {value!r} but the score {score} (team "
                    f"{pm.team}) gives {expected[field]!r}; the stats use the stored value. "
                    "Leave the field out to derive it"
                )
        if pm.goals is None:
            warnings.append(f"{where}: field 'goals' is null; write 0 or leave the field out")
    return warnings


def league_warnings(league: League) -> list[str]:
    """Every consistency warning of the league, matches first, in file order."""
    return _score_warnings(league) + _row_warnings(league)


def check_league(league: League, *, strict: bool, source: str | None = None) -> list[str]:
    """The league's warnings; with `strict`, a LeagueFileError when there are any."""
    warnings = league_warnings(league)
    if strict and warnings:
        count = len(warnings)
        head = f"{source}: " if source else ""
        head += (
            f"{count} consistency problem{'s' if count != 1 else ''} (--strict); "
            "nothing was imported."
        )
        shown = warnings[:20]
        lines = [head, *(f"  {w}" for w in shown)]
        if count > len(shown):
            lines.append(f"  ... and {count - len(shown)} more")
        raise LeagueFileError("\n".join(lines), problems=warnings)
    return warnings
