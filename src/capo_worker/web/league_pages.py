"""`/stats`: a tenant's league tables, hall of fame, form, match report and season race.

Public like the reference app's stats pages: read-only data, no key needed.
`?tenant=` takes a tenant name or id (default tenant otherwise); `?season=`
picks the year of the season table.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.tenants import choose, list_tenants
from capo_worker.web import league_queries as q
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.page_docs import BAD_PARAMETER, UNKNOWN_TENANT, TenantParam
from capo_worker.web.race_chart import render_race_chart
from capo_worker.web.security import page_access
from capo_worker.web.templating import templates

router = APIRouter(tags=["pages"])

PERIODS = {"whole_season": "Whole season", "current_half": "Current half-season"}


@router.get(
    "/stats",
    response_class=HTMLResponse,
    summary="A tenant's league tables, form, latest match, hall of fame and season race",
    responses={**UNKNOWN_TENANT, **BAD_PARAMETER},
)
async def stats_page(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    tenant: TenantParam = None,
    season: Annotated[
        int | None,
        Query(ge=1900, le=2999, description="Year of the season table; the latest otherwise."),
    ] = None,
) -> Response:
    async with ctx.pool.connection() as conn:
        tenants = await list_tenants(conn)
        chosen = choose(tenants, tenant)
        if tenant and chosen is None:
            return templates.TemplateResponse(
                request,
                "not_found.html",
                {"what": f"No tenant named {tenant!r}.", "tenants": tenants, "access": None},
                status_code=404,
            )
        if chosen is None:
            chosen = choose(tenants, DEFAULT_TENANT_ID)
        tenant_id = chosen.id if chosen else DEFAULT_TENANT_ID
        years = await q.seasons(conn, tenant_id)
        year = season if season in years else None
        year = year or (years[0] if years else None)
        page: dict[str, Any] = {
            "tenants": tenants,
            "tenant": chosen,
            "years": years,
            "year": year,
            "season_rows": await q.season_table(conn, tenant_id, year) if year else [],
            "half_rows": await q.half_season_table(conn, tenant_id),
            "half_window": await q.half_season_window(conn),
            "all_time_rows": await q.all_time_table(conn, tenant_id),
            "hall_of_fame": await q.hall_of_fame(conn, tenant_id),
            "hof_labels": q.HALL_OF_FAME_CATEGORIES,
            "form_rows": await q.recent_form(conn, tenant_id),
            "report": await q.latest_match_report(conn, tenant_id),
            "last_updated": await q.last_updated(conn, tenant_id),
        }
        race_year, race = await q.season_race(conn, tenant_id)
    page["race_year"] = race_year
    page["race_charts"] = [
        (
            period,
            label,
            render_race_chart(
                race.get(period, []),
                title=f"Season race {race_year}, {label.lower()}",
                chart_id=f"race-{period}",
            ),
        )
        for period, label in PERIODS.items()
    ]
    page["access"] = await page_access(request, ctx)
    return templates.TemplateResponse(request, "stats.html", page)
