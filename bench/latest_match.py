"""One match changed before each run: a club's latest match taken out, then put back.

A full run may keep what did not change since the last run (docs/stats.md),
so a benchmark that runs again on an unchanged league measures that shortcut,
not the work a nightly run after a match day does. Before each measured run
the benchmarks take the club's latest match out or put it back (its rows wait
in temporary tables of the connection that holds them, and come back with the
same ids). The statements are shared by the async (bench/stats.py) and the
sync (bench/tenants.py) benchmarks; `%(tenant)s` is the club.
"""

from __future__ import annotations

HOLD = (
    """CREATE TEMP TABLE held_match AS
       SELECT * FROM matches WHERE tenant_id = %(tenant)s
       ORDER BY match_date DESC, match_id DESC LIMIT 1""",
    """CREATE TEMP TABLE held_player_matches AS
       SELECT pm.* FROM player_matches pm JOIN held_match m USING (tenant_id, match_id)""",
)
TAKE_OUT = (
    "DELETE FROM player_matches WHERE match_id = (SELECT match_id FROM held_match)",
    "DELETE FROM matches WHERE match_id = (SELECT match_id FROM held_match)",
)
PUT_BACK = (
    "INSERT INTO matches SELECT * FROM held_match",
    "INSERT INTO player_matches SELECT * FROM held_player_matches",
)
# The personal bests keep a row per run's latest match: the runs without the
# match left one for the match before it, which a run on the league as
# imported (the goldens) does not have.
FORGET_RUNS_WITHOUT_IT = (
    """DELETE FROM aggregated_personal_bests
       WHERE tenant_id = %(tenant)s AND match_id <> (SELECT match_id FROM held_match)""",
)


class LatestMatch:
    """Which statements change the club's league next; the match starts in place."""

    def __init__(self) -> None:
        self.present = True

    def toggle(self) -> tuple[str, ...]:
        self.present = not self.present
        return PUT_BACK if self.present else TAKE_OUT

    def restore(self) -> tuple[str, ...]:
        """The league as imported, for the golden check."""
        statements = () if self.present else PUT_BACK
        self.present = True
        return statements + FORGET_RUNS_WITHOUT_IT
