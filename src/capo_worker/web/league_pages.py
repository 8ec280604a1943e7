"""`/stats`: a tenant's league tables, ratings, hall of fame, form, match report and race.

Public like the reference app's stats pages: read-only data, no key needed.
`?tenant=` takes a tenant name or id (default tenant otherwise); `?season=`
picks the year of the season table. The overview shows the top of each table;
`/stats/tables/{table}` pages through a whole table, with a name search.
Player pages and the honours page are in player_pages.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from capo_worker.tenants import list_tenants
from capo_worker.web import league_queries as q
from capo_worker.web import player_queries as pq
from capo_worker.web import records_queries as rq
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.league_context import LeagueContext, league_context
from capo_worker.web.page_docs import BAD_PARAMETER, UNKNOWN_TENANT, TenantParam
from capo_worker.web.race_chart import render_race_charts
from capo_worker.web.report_view import report_lists
from capo_worker.web.security import page_access
from capo_worker.web.templating import render

router = APIRouter(tags=["pages"])

TOP = 10  # rows of each table on the overview
PAGE_SIZE = 50  # rows per page of a whole table
MAX_PAGE = 100_000
MAX_SEARCH = 50

TableName = Literal["season", "half-season", "all-time", "form", "ratings"]
TABLE_TITLES: dict[str, str] = {
    "season": "Season",
    "half-season": "Half-season",
    "all-time": "All-time",
    "form": "Recent form",
    "ratings": "Power ratings",
}

SeasonParam = Annotated[
    int | None,
    Query(ge=1900, le=2999, description="Year of the season table; the latest otherwise."),
]
PageParam = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page of the table, from 1.")]
SearchParam = Annotated[
    str,
    Query(
        alias="q",
        max_length=MAX_SEARCH,
        pattern=r"^[^\x00]*$",  # PostgreSQL text cannot hold NUL: a 400, not a 500
        description="Only players whose name contains this (any case).",
    ),
]


async def not_found(
    request: Request, ctx: WebContext, what: str, tenants: list[Any] | None = None
) -> Response:
    return await render(
        request,
        "not_found.html",
        {"what": what, "tenants": tenants or [], "access": await page_access(request, ctx)},
        status_code=404,
    )


async def unknown_tenant(request: Request, ctx: WebContext, tenant: str | None) -> Response:
    async with ctx.pool.connection() as conn:
        tenants = await list_tenants(conn)
    return await not_found(request, ctx, f"No tenant named {tenant!r}.", tenants)


async def _season_year(
    conn: q.Conn, league: LeagueContext, season: int | None
) -> tuple[list[int], int | None]:
    years = await q.seasons(conn, league.tenant_id)
    year = season if season in years else None
    return years, year or (years[0] if years else None)


async def _table(
    conn: q.Conn, name: str, league: LeagueContext, year: int | None, window: q.Window
) -> q.Slice:
    tid = league.tenant_id
    if name == "season":
        return await q.season_table(conn, tid, year, window) if year else q.Slice([], 0)
    if name == "half-season":
        return await q.half_season_table(conn, tid, window)
    if name == "all-time":
        return await q.all_time_table(conn, tid, window)
    if name == "form":
        return await q.recent_form(conn, tid, window)
    return await q.power_ratings(conn, tid, window)


@router.get(
    "/stats",
    response_class=HTMLResponse,
    summary="A tenant's league tables, ratings, form, latest match, hall of fame and race",
    responses={**UNKNOWN_TENANT, **BAD_PARAMETER},
)
async def stats_page(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    tenant: TenantParam = None,
    season: SeasonParam = None,
) -> Response:
    top = q.Window(limit=TOP)
    async with ctx.pool.connection() as conn:
        league = await league_context(conn, tenant)
        if league is None:
            return await unknown_tenant(request, ctx, tenant)
        tid = league.tenant_id
        years, year = await _season_year(conn, league, season)
        tables = {name: await _table(conn, name, league, year, top) for name in TABLE_TITLES}
        report = await q.latest_match_report(conn, tid)
        pbs = await rq.personal_bests(conn, tid, int(report["match_id"])) if report else []
        page: dict[str, Any] = {
            **league.page(),
            "years": years,
            "year": year,
            "tables": tables,
            "hall_of_fame": await q.hall_of_fame(conn, tid),
            "hof_labels": q.HALL_OF_FAME_CATEGORIES,
            "hof_thresholds": await q.hall_of_fame_thresholds(conn, tid),
            "rating_threshold": await q.rating_threshold(conn, tid),
            "report": report,
            "report_lists": report_lists(report, pbs) if report else [],
            "player_ids": await pq.player_ids(conn, tid),
            "last_updated": await q.last_updated(conn, tid),
        }
        race_year, race = await q.season_race(conn, tid)
    page["race_year"] = race_year
    page["race_charts"] = render_race_charts(race, race_year, league.half_label)
    page["access"] = await page_access(request, ctx)
    return await render(request, "stats.html", page)


@router.get(
    "/stats/tables/{table}",
    response_class=HTMLResponse,
    summary="One league table in full, a page at a time, with a player search",
    responses={**UNKNOWN_TENANT, **BAD_PARAMETER},
)
async def table_page(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    table: TableName,
    tenant: TenantParam = None,
    season: SeasonParam = None,
    page: PageParam = 1,
    q_: SearchParam = "",
) -> Response:
    search = q_.strip()
    window = q.Window.page(page, PAGE_SIZE, search)
    async with ctx.pool.connection() as conn:
        league = await league_context(conn, tenant)
        if league is None:
            return await unknown_tenant(request, ctx, tenant)
        years, year = await _season_year(conn, league, season)
        rows = await _table(conn, table, league, year, window)
        player_ids = await pq.player_ids(conn, league.tenant_id)
        threshold = await q.rating_threshold(conn, league.tenant_id)
    pages = rows.pages(PAGE_SIZE)
    context = {
        **league.page(),
        "table": table,
        "title": TABLE_TITLES[table],
        "years": years,
        "year": year,
        "rows": rows,
        "page": page,
        "pages": pages,
        "search": search,
        "player_ids": player_ids,
        "rating_threshold": threshold,
        "access": await page_access(request, ctx),
    }
    return await render(request, "stats_table.html", context)
