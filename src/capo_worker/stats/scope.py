"""Post-match jobs: per stats function, recompute only what the match changed, or run in full.

A post-match job names its match (`matchId`). From what the last complete
run recorded (migrations/0041: its "today", a digest of the players and
app_config, each match's date and players) and what the database holds now,
the job learns who played in the match before and now, whether it is the
league's last match, and whether the calendar half changed. Each function
then either recomputes the rows of those players (the SQL reads them from
the setting capo.scope_players, see stats/sql/capo_stats_scope.sql) or runs in
full, and the results say which and why. A scope is chosen only where it is
exactly what a full run on the same day writes (docs/stats.md, "Post-match
updates"); everything else runs in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from psycopg import AsyncConnection

from capo_worker.job_row import Job

FULL = "full"


@dataclass(frozen=True)
class FunctionScope:
    """What one function recomputes in this run."""

    players: tuple[int, ...] | None  # None: every row (a full run)
    label: str  # "full", or "match 4838, 18 players"
    reason: str

    @property
    def scoped(self) -> bool:
        return self.players is not None

    def setting(self) -> str:
        """The value of capo.scope_players: '' for a full run, else a PostgreSQL array."""
        if self.players is None:
            return ""
        return "{" + ",".join(str(p) for p in self.players) + "}"


@dataclass(frozen=True)
class MatchChange:
    """The job's match then (the last complete run) and now, from capo_stats_match_change."""

    match_id: int
    today: dt.date
    state_as_of: dt.date
    inputs_same: bool  # players and app_config as at the last complete run
    matches_as_expected: bool  # no other match added or removed since
    old_date: dt.date | None  # None: the match was not there at the last complete run
    new_date: dt.date | None  # None: the match is gone
    old_players: tuple[int, ...]
    new_players: tuple[int, ...]
    last_before: bool  # the last match in (date, id) order then
    last_now: bool  # and now
    year_shared_before: bool  # another match in its year then
    year_shared_now: bool

    @classmethod
    def from_json(cls, match_id: int, doc: Mapping[str, Any]) -> MatchChange:
        def day(key: str) -> dt.date | None:
            value = doc.get(key)
            return dt.date.fromisoformat(value) if value else None

        def ids(key: str) -> tuple[int, ...]:
            return tuple(int(p) for p in doc.get(key) or [])

        today, as_of = day("today"), day("state_as_of")
        assert today is not None and as_of is not None
        return cls(
            match_id,
            today,
            as_of,
            bool(doc["inputs_same"]),
            bool(doc["matches_as_expected"]),
            day("old_date"),
            day("new_date"),
            ids("old_players"),
            ids("new_players"),
            bool(doc["last_before"]),
            bool(doc["last_now"]),
            bool(doc["year_shared_before"]),
            bool(doc["year_shared_now"]),
        )

    @property
    def players(self) -> tuple[int, ...]:
        """Everyone whose games the change touched: the match's players then and now."""
        return tuple(sorted(set(self.old_players) | set(self.new_players)))

    @property
    def known(self) -> bool:
        return self.old_date is not None or self.new_date is not None


def _half(day: dt.date) -> tuple[int, int]:
    return day.year, 1 if day.month <= 6 else 2


# Per function that can be scoped: why it must run in full for this change, or None.
Rule = Callable[[MatchChange], str | None]


def _per_player(change: MatchChange) -> str | None:
    # A player's row reads only that player's games (and their matches' scores).
    return None


def _report_streaks(change: MatchChange) -> str | None:
    # The report is rebuilt whole each time; only the streaks of players whose
    # games did not change (not the match's, not the latest match's) are taken
    # from the previous report (the SQL falls back to all when it has none).
    return None


def _same_half_and_shared_years(change: MatchChange) -> str | None:
    if _half(change.today) != _half(change.state_as_of):
        return (
            f"today ({change.today}) is in another half-season than the last run "
            f"({change.state_as_of}): every row's window changed"
        )
    if not (change.year_shared_before and change.year_shared_now):
        return "the match is alone in its year: the set of rebuilt seasons changes"
    return None


def _last_match(change: MatchChange) -> str | None:
    if not (change.last_before and change.last_now):
        return (
            "not the league's last match: inserting, moving or removing it shifts the "
            "attendance runs of players who were not in it"
        )
    return None


def _last_match_of_this_year(change: MatchChange) -> str | None:
    why = _last_match(change)
    if why is not None:
        return why
    if change.today.year != change.state_as_of.year:
        return f"a new year since the last run ({change.state_as_of}): a season finished"
    this_year = dt.date(change.today.year, 1, 1)
    if any(d is not None and d < this_year for d in (change.old_date, change.new_date)):
        return "the match is in a finished season: its honours change"
    return None


def _same_day(change: MatchChange) -> str | None:
    # Sums per player of weights that depend on the day (exp(-lambda x days before today)).
    if change.today != change.state_as_of:
        return (
            f"today ({change.today}) is not the day of the last run ({change.state_as_of}): "
            "every match's weight decayed"
        )
    return None


SCOPED_RULES: dict[str, Rule] = {
    "update_aggregated_all_time_stats": _per_player,
    "update_aggregated_recent_performance": _per_player,
    "update_half_and_full_season_stats": _same_half_and_shared_years,
    "update_aggregated_player_profile_stats": _last_match,
    "update_aggregated_season_honours_and_records": _last_match_of_this_year,
    "update_aggregated_match_report_cache": _report_streaks,
    "update_power_ratings": _same_day,
}

# Why the other functions always run in full (docs/stats.md says more).
ALWAYS_FULL: dict[str, str] = {
    "update_aggregated_hall_of_fame": "the top three of the all-time table (about 2 ms)",
    "update_aggregated_personal_bests": (
        "writes only the latest match's row, from its players' games (a few ms)"
    ),
    "update_aggregated_season_race_data": (
        "the top five of the season, from this year's games only (a few ms)"
    ),
}


def full_plan(names: list[str], reason: str) -> dict[str, FunctionScope]:
    return {name: FunctionScope(None, FULL, reason) for name in names}


def plan(change: MatchChange, names: list[str]) -> dict[str, FunctionScope]:
    """Each function's scope for a post-match job whose match changed as `change` says."""
    scopes = {}
    label = f"match {change.match_id}, {len(change.players)} players"
    for name in names:
        rule = SCOPED_RULES.get(name)
        why_full = rule(change) if rule else ALWAYS_FULL.get(name, "no scoped variant")
        if why_full is None:
            scopes[name] = FunctionScope(change.players, label, _scoped_reason(change, name))
        else:
            scopes[name] = FunctionScope(None, FULL, why_full)
    return scopes


# What a scoped run recomputes, where it is not just the match's players' rows.
_SCOPED_WHAT = {
    "update_aggregated_match_report_cache": (
        "the whole report, with the streaks of the match's and the latest match's players; "
        "everyone else's from the previous report"
    ),
    "update_power_ratings": (
        "the match's players' weighted sums, then every rating from all players' sums "
        "(same day as the last run)"
    ),
}


def _scoped_reason(change: MatchChange, name: str = "") -> str:
    if change.new_date is None:
        what = "deleted"
    elif change.old_date is None:
        what = "new"
    else:
        what = "saved again"
    changed = _SCOPED_WHAT.get(name, "only the match's players' rows change")
    return f"{changed} (match {what})"


@dataclass(frozen=True)
class JobScope:
    """The whole job's decision: the match it is scoped to (None: full) and each function's."""

    match_id: int | None
    reason: str
    functions: dict[str, FunctionScope]
    today: dt.date | None  # the run's "today", pinned for every function and `remember`
    # A full job's digest of players and app_config before its run (a scoped job's
    # record keeps the digest its decision compared): `remember` records nothing
    # if they changed while the functions ran, as the outputs may predate the change.
    inputs_digest: str | None = None

    @property
    def label(self) -> str:
        return FULL if self.match_id is None else f"match {self.match_id}"


def undecided(names: list[str], error: str) -> JobScope:
    """The decision failed (a database error): run in full, with today unpinned."""
    reason = f"could not decide on a scope ({error}): full run"
    return JobScope(None, reason, full_plan(names, reason), None)


def _match_id(job: Job) -> int | None:
    value = job.job_payload.get("matchId") if isinstance(job.job_payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        return None
    return value


async def decide(
    conn: AsyncConnection[Any], job: Job, tenant_id: str, names: list[str]
) -> JobScope:
    """The scope of each function for `job` (admin, cron and anything unclear: full)."""
    async with conn.transaction():
        cur = await conn.execute("SELECT capo_today()")
        row = await cur.fetchone()
        assert row is not None
        today: dt.date = row[0]
        # The same "today" for the facts below, whatever the clock does meanwhile.
        await conn.execute("SELECT set_config('capo.as_of', %s, true)", (today.isoformat(),))
        decided = await _decide(conn, job, tenant_id, names, today)
        if decided.match_id is None:
            digest = await _inputs_digest(conn, tenant_id)
            decided = replace(decided, inputs_digest=digest)
        return decided


async def _inputs_digest(conn: AsyncConnection[Any], tenant_id: str) -> str:
    cur = await conn.execute("SELECT capo_stats_inputs_digest(%s::uuid)", (tenant_id,))
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def _decide(
    conn: AsyncConnection[Any], job: Job, tenant_id: str, names: list[str], today: dt.date
) -> JobScope:
    def full(reason: str) -> JobScope:
        return JobScope(None, reason, full_plan(names, reason), today)

    match_id = _match_id(job)
    if job.trigger != "post-match":
        return full(f"a {job.trigger or 'untyped'} job runs in full")
    if match_id is None:
        return full("the post-match job names no match (matchId)")
    cur = await conn.execute(
        """SELECT count(*) FILTER (WHERE triggered_by IS DISTINCT FROM 'post-match'
                                      OR match_id IS DISTINCT FROM %s)
           FROM background_job_requests WHERE job_id = %s::uuid""",
        (match_id, job.id),
    )
    row = await cur.fetchone()
    if row and row[0]:
        return full("the job also serves other requests (another match, admin or cron)")
    cur = await conn.execute("SELECT capo_stats_match_change(%s::uuid, %s)", (tenant_id, match_id))
    row = await cur.fetchone()
    doc = row[0] if row else None
    if doc is None:
        return full("no complete run recorded yet for this tenant")
    change = MatchChange.from_json(match_id, doc)
    if not change.inputs_same:
        return full("players or app_config changed since the last complete run")
    if not change.matches_as_expected:
        return full("other matches were added or removed since the last complete run")
    if not change.known:
        return full(f"match {match_id} is unknown (neither stored nor recorded)")
    return JobScope(match_id, "post-match job for one match", plan(change, names), today)


async def remember(
    conn: AsyncConnection[Any], tenant_id: str, scope: JobScope, *, ok: bool
) -> None:
    """Record what the outputs now reflect (every function succeeded), or that they may not."""
    async with conn.transaction():
        changed_meanwhile = (
            scope.inputs_digest is not None
            and await _inputs_digest(conn, tenant_id) != scope.inputs_digest
        )
        if not ok or scope.today is None or changed_meanwhile:
            await conn.execute("SELECT capo_stats_forget_run(%s::uuid)", (tenant_id,))
            return
        await conn.execute("SELECT set_config('capo.as_of', %s, true)", (scope.today.isoformat(),))
        await conn.execute(
            "SELECT capo_stats_remember_run(%s::uuid, %s)", (tenant_id, scope.match_id)
        )
