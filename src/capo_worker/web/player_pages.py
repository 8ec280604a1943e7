"""The player pages (`/stats/players`, `/stats/players/{id}`) and `/stats/honours`.

A player page shows what update_aggregated_player_profile_stats and
update_power_ratings computed for him: career figures, best streaks, year by
year, teammate chemistry and rating. Every player name on the league pages
links here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from capo_worker.web import league_queries as q
from capo_worker.web import player_queries as pq
from capo_worker.web import records_queries as rq
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.league_context import league_context
from capo_worker.web.league_pages import (
    PAGE_SIZE,
    PageParam,
    SearchParam,
    not_found,
    unknown_tenant,
)
from capo_worker.web.page_docs import BAD_PARAMETER, HTML, UNKNOWN_TENANT, TenantParam
from capo_worker.web.security import page_access
from capo_worker.web.templating import render

router = APIRouter(tags=["pages"])

MAX_PLAYER_ID = 2**31 - 1  # players.player_id is an integer
UNKNOWN_PLAYER: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such player (in this tenant)", **HTML}
}


def honours_of(name: str, honours: list[dict[str, Any]]) -> list[str]:
    """The titles of the player named `name`: `2025: Champion (610 points)`, ..."""
    won = []
    for row in honours:
        for column, unit, titles in (
            ("season_winners", "points", ("Champion", "Runner-up", "Third")),
            ("top_scorers", "goals", ("Top scorer", "Second top scorer", "Third top scorer")),
        ):
            places = row.get(column) or {}
            for key, title in zip(rq.PLACES, titles, strict=True):
                for entry in places.get(key) or []:
                    if isinstance(entry, dict) and entry.get("name") == name:
                        won.append(f"{row['year']}: {title} ({entry.get(unit)} {unit})")
    return won


@router.get(
    "/stats/players",
    response_class=HTMLResponse,
    summary="The players of a tenant, by name, with a search",
    responses={**UNKNOWN_TENANT, **BAD_PARAMETER},
)
async def players_page(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    tenant: TenantParam = None,
    page: PageParam = 1,
    q_: SearchParam = "",
) -> Response:
    search = q_.strip()
    window = q.Window.page(page, PAGE_SIZE, search)
    async with ctx.pool.connection() as conn:
        league = await league_context(conn, tenant)
        if league is None:
            return await unknown_tenant(request, ctx, tenant)
        rows = await pq.search_players(conn, league.tenant_id, window)
    context = {
        **league.page(),
        "rows": rows,
        "search": search,
        "page": page,
        "pages": rows.pages(PAGE_SIZE),
        "access": await page_access(request, ctx),
    }
    return await render(request, "players.html", context)


@router.get(
    "/stats/players/{player_id}",
    response_class=HTMLResponse,
    summary="One player: career, best streaks, year by year, teammate chemistry, rating",
    responses={**UNKNOWN_PLAYER, **BAD_PARAMETER},
)
async def player_page(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    player_id: Annotated[int, Path(ge=1, le=MAX_PLAYER_ID, description="The player's id.")],
    tenant: TenantParam = None,
) -> Response:
    async with ctx.pool.connection() as conn:
        player = await pq.player(conn, player_id)
        # Ids are unique across tenants: the player's own tenant, unless another is asked for.
        league = await league_context(conn, tenant or (player or {}).get("tenant_id"))
        if player is None or league is None or player["tenant_id"] != league.tenant_id:
            where = f" in tenant {tenant!r}" if tenant else ""
            return await not_found(request, ctx, f"No player with id {player_id}{where}.")
        tid = league.tenant_id
        profile = await pq.profile(conn, tid, player_id)
        honours = await rq.season_honours(conn, tid)
        context = {
            **league.page(),
            "player": player,
            "profile": profile,
            "all_time": await pq.all_time_row(conn, tid, player_id),
            "rating": await pq.rating(conn, tid, player_id),
            "rating_threshold": await q.rating_threshold(conn, tid),
            "recent": await pq.recent_games(conn, tid, player_id),
            "chemistry": [
                t
                for t in (profile or {}).get("teammate_chemistry_all") or []
                if isinstance(t, dict)
            ],
            "honours": honours_of(player["name"], honours),
        }
    context["access"] = await page_access(request, ctx)
    return await render(request, "player.html", context)


@router.get(
    "/stats/honours",
    response_class=HTMLResponse,
    summary="Season honours of every finished year and the league records",
    responses={**UNKNOWN_TENANT, **BAD_PARAMETER},
)
async def honours_page(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    tenant: TenantParam = None,
) -> Response:
    async with ctx.pool.connection() as conn:
        league = await league_context(conn, tenant)
        if league is None:
            return await unknown_tenant(request, ctx, tenant)
        tid = league.tenant_id
        context = {
            **league.page(),
            "honours": await rq.season_honours(conn, tid),
            "records": await rq.records(conn, tid),
            "places": rq.PLACES,
            "result_streaks": rq.RESULT_STREAKS,
            "player_ids": await pq.player_ids(conn, tid),
            "min_games": await q.config_value(conn, tid, "min_games_for_honours", "10"),
            "min_streak": await q.config_value(conn, tid, "min_streak_length", "3"),
        }
    context["access"] = await page_access(request, ctx)
    return await render(request, "honours.html", context)
