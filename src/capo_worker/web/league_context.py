"""What every league page needs first: the tenant asked for, and the day its stats describe.

The stats are computed "as of" a day (today, or `stats run --as-of DATE`); the
runner records that day per function (capo_stats_computed_for). The pages name
their periods after it (which half-season, which season race) and say "as of
DATE" when it is not today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.tenants import Tenant, choose, list_tenants
from capo_worker.web import league_queries as q

# The function whose tables carry the period labels (season and half-season tables).
PERIOD_FUNCTION = "update_half_and_full_season_stats"


@dataclass(frozen=True)
class LeagueContext:
    tenants: list[Tenant]
    tenant: Tenant | None
    tenant_id: str
    today: dt.date
    stats_date: dt.date  # the day the season tables were computed for
    other_dates: list[dt.date] = field(default_factory=list)  # other functions' days, if any

    @property
    def as_of(self) -> dt.date | None:
        """The stats' day when it is not today (the pages then say "as of")."""
        return self.stats_date if self.stats_date != self.today else None

    @property
    def half_window(self) -> tuple[dt.date, dt.date]:
        return q.half_season_window(self.stats_date)

    @property
    def half_label(self) -> str:
        start, end = self.half_window
        months = f"{start:%b}-{end:%b} {start.year}"
        if self.half_window == q.half_season_window(self.today):
            return f"Current half-season ({months})"
        return f"Half-season {months}"

    def page(self) -> dict[str, object]:
        """The template variables every league page uses."""
        return {
            "tenants": self.tenants,
            "tenant": self.tenant,
            "league": self,
            # Links carry the tenant only when there is more than one club.
            "tenant_name": self.tenant.name if self.tenant and len(self.tenants) > 1 else None,
        }


async def league_context(conn: q.Conn, tenant: str | None) -> LeagueContext | None:
    """None when `tenant` names no tenant (the page answers 404)."""
    tenants = await list_tenants(conn)
    chosen = choose(tenants, tenant)
    if tenant and chosen is None:
        return None
    if chosen is None:
        chosen = choose(tenants, DEFAULT_TENANT_ID)
    tenant_id = chosen.id if chosen else DEFAULT_TENANT_ID
    today = await q.today(conn)
    computed = await q.computed_for(conn, tenant_id)
    stats_date = computed.get(PERIOD_FUNCTION, today)
    others = sorted({d for d in computed.values() if d != stats_date})
    return LeagueContext(tenants, chosen, tenant_id, today, stats_date, others)
