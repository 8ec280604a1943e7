"""The latest-match card's lists (leaders, milestones, streaks, records, personal bests),
each sorted best first and cut to a few entries with "and N more".

A big league's report holds hundreds of streaks; the card shows the longest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from capo_worker.web.records_queries import PB_LABELS

SHOWN = 8  # entries per list on the card

STREAK_WORDS = {
    "win": "wins in a row",
    "unbeaten": "games unbeaten",
    "loss": "losses in a row",
    "winless": "games without a win",
}
CHANGE_WORDS = {"overtake": "overtook {previous}", "new_leader": "new leader", "tied": "tied"}


@dataclass(frozen=True)
class Entry:
    name: str
    text: str
    player_id: int | None = None


@dataclass(frozen=True)
class ReportList:
    title: str
    entries: list[Entry]
    more: int  # entries left out

    @property
    def list_id(self) -> str:
        return "report-" + self.title.lower().replace(" ", "-")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _capped(title: str, entries: list[Entry]) -> ReportList | None:
    if not entries:
        return None
    return ReportList(title, entries[:SHOWN], max(0, len(entries) - SHOWN))


def _leaders(report: dict[str, Any], key: str, unit: str) -> list[Entry]:
    out = []
    for leader in _dicts(report.get(key)):
        change = CHANGE_WORDS.get(str(leader.get("change_type")), "stays top")
        change = change.format(previous=leader.get("previous_leader"))
        value = leader.get(f"new_leader_{unit}")
        out.append(Entry(str(leader.get("new_leader")), f"{value} {unit} ({change})"))
    return out


def _milestones(report: dict[str, Any]) -> list[Entry]:
    found = [(m, "games") for m in _dicts(report.get("game_milestones"))]
    found += [(m, "goals") for m in _dicts(report.get("goal_milestones"))]
    found.sort(key=lambda pair: (-_int(pair[0].get("value")), str(pair[0].get("name"))))
    return [Entry(str(m.get("name")), f"{m.get('value')} {unit}") for m, unit in found]


def _streaks(report: dict[str, Any]) -> list[Entry]:
    found = [
        (
            _int(s.get("streak_count")),
            str(s.get("name")),
            f"{s.get('streak_count')} "
            f"{STREAK_WORDS.get(str(s.get('streak_type')), s.get('streak_type'))}",
        )
        for s in _dicts(report.get("streaks"))
    ]
    found += [
        (
            _int(s.get("matches_with_goals")),
            str(s.get("name")),
            f"scored in {s.get('matches_with_goals')} in a row ({s.get('goals_in_streak')} goals)",
        )
        for s in _dicts(report.get("goal_streaks"))
    ]
    found.sort(key=lambda t: (-t[0], t[1]))
    return [Entry(name, text) for _, name, text in found]


def _feats(report: dict[str, Any]) -> list[Entry]:
    feats = sorted(
        _dicts(report.get("feat_breaking_data")),
        key=lambda f: (f.get("status") != "broken", -_int(f.get("new_value"))),
    )
    return [
        Entry(
            str(f.get("player_name")),
            f"{str(f.get('feat_type')).replace('_', ' ')} {f.get('status')} "
            f"({f.get('new_value')}; record {f.get('current_record')})",
        )
        for f in feats
    ]


def _personal_bests(pbs: list[dict[str, Any]]) -> list[Entry]:
    out = []
    for entry in pbs:
        texts = [
            f"{pb.get('value')} {PB_LABELS.get(str(pb.get('metric_type')), pb.get('metric_type'))}"
            f" (was {pb.get('previous_best_value')})"
            for pb in entry["pbs"]
        ]
        out.append(Entry(entry["name"], "; ".join(texts), entry["player_id"]))
    return out


def report_lists(report: dict[str, Any], personal_bests: list[dict[str, Any]]) -> list[ReportList]:
    lists = [
        _capped("Personal bests", _personal_bests(personal_bests)),
        _capped("Season goals", _leaders(report, "season_goal_leaders", "goals")),
        _capped("Season fantasy points", _leaders(report, "season_fantasy_leaders", "points")),
        _capped("Half-season goals", _leaders(report, "half_season_goal_leaders", "goals")),
        _capped(
            "Half-season fantasy points", _leaders(report, "half_season_fantasy_leaders", "points")
        ),
        _capped("Milestones", _milestones(report)),
        _capped("Streaks", _streaks(report)),
        _capped("Records", _feats(report)),
    ]
    return [item for item in lists if item is not None]
