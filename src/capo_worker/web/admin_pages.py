"""The admin pages: sign-in, and /admin/info with the live job table.

The page is rendered on the server. Its script polls /admin/info/jobs.json
(every 2 s while any job is queued or processing, every 30 s otherwise),
which answers with the table rows and the summary cards rendered by the same
templates, and calls the JSON API for "Update stats" and "Retry".
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from capo_worker import queue
from capo_worker.config import Settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.job_row import STATUSES, TRIGGERS
from capo_worker.tenants import Tenant, choose, list_tenants
from capo_worker.web.admin_queries import cache_stamps
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.errors import ApiError, error_response
from capo_worker.web.job_view import JobView, job_view
from capo_worker.web.page_docs import (
    BAD_PARAMETER,
    FORM_ERRORS,
    MAX_NEXT,
    NOT_SIGNED_IN,
    SEE_OTHER,
    SIGN_IN_REFUSED,
    FollowedJob,
    FollowParam,
    JobsFeed,
    JobTenantParam,
    NextParam,
    PageParam,
    StatusParam,
    TenantParam,
    TriggerParam,
)
from capo_worker.web.security import (
    SESSION_COOKIE,
    SESSION_TTL_SECONDS,
    Access,
    TooManyKeyAttempts,
    client_address,
    csrf_token,
    issue_session,
    keys_match,
    new_browser_id,
    page_access,
    read_session,
    try_key,
)
from capo_worker.web.sessions import current_epochs, end_sessions
from capo_worker.web.templating import templates

log = logging.getLogger(__name__)
router = APIRouter(tags=["pages"])

JOBS_SHOWN = 25
ACTIVE_POLL_MS = 2000
IDLE_POLL_MS = 30000
MAX_KEY = 4096  # longer than any ADMIN_API_KEY worth typing


def _safe_next(target: str | None) -> str:
    """Only paths of this site: no scheme, no host, no '//', no control characters."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return "/admin/info"


def _signin_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/admin/signin?next={quote(target)}", status_code=303)


@router.get("/", response_class=RedirectResponse, status_code=303, summary="To the admin page")
async def home() -> RedirectResponse:
    return RedirectResponse("/admin/info", status_code=303)


@router.get("/admin", response_class=RedirectResponse, status_code=303, summary="To the admin page")
async def admin_home() -> RedirectResponse:
    return RedirectResponse("/admin/info", status_code=303)


@router.get(
    "/admin/signin",
    response_class=HTMLResponse,
    summary="The sign-in form (or on to `next` when signed in)",
    responses={**SEE_OTHER, **BAD_PARAMETER},
)
async def signin_form(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    next_path: NextParam = None,
) -> Response:
    if await page_access(request, ctx) is not None:
        return RedirectResponse(_safe_next(next_path), status_code=303)
    return templates.TemplateResponse(
        request, "signin.html", {"next": _safe_next(next_path), "error": None, "access": None}
    )


@router.post(
    "/admin/signin",
    response_class=RedirectResponse,
    status_code=303,
    summary="Sign in with ADMIN_API_KEY: a session cookie, then on to `next`",
    responses={**SEE_OTHER, **SIGN_IN_REFUSED, **FORM_ERRORS},
)
async def signin(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    key: Annotated[str, Form(max_length=MAX_KEY)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=MAX_NEXT)] = "/admin/info",
) -> Response:
    admin_key = ctx.settings.admin_api_key
    target = _safe_next(next_path)
    if admin_key is None:
        return RedirectResponse(target, status_code=303)
    try:
        right = try_key(request, key, admin_key, "sign-in form")
    except TooManyKeyAttempts as exc:
        return templates.TemplateResponse(
            request,
            "signin.html",
            {
                "next": target,
                "error": f"Too many wrong keys from your address: try again in "
                f"{exc.retry_after} s.",
                "access": None,
            },
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if not right:
        return templates.TemplateResponse(
            request,
            "signin.html",
            {"next": target, "error": "That key is not right.", "access": None},
            status_code=401,
        )
    # The same browser signing in again keeps its id, so its sign-out ends both sessions.
    earlier = read_session(admin_key, request.cookies.get(SESSION_COOKIE), expired_too=True)
    browser = earlier.browser if earlier else new_browser_id()
    async with ctx.pool.connection() as conn:
        epochs = await current_epochs(conn, browser)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_session(admin_key, browser, epochs),
        max_age=SESSION_TTL_SECONDS,
        **_cookie_attributes(request, ctx.settings),
    )
    return response


def _cookie_attributes(request: Request, settings: Settings) -> dict[str, Any]:
    """Secure whenever the request came over HTTPS or the public address is https://."""
    public_https = (settings.public_url or "").lower().startswith("https://")
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https" or public_https,
        "path": "/",
    }


@router.post(
    "/admin/signout",
    response_class=RedirectResponse,
    status_code=303,
    summary="Sign out this browser, or every session (scope=everywhere)",
    responses={**SEE_OTHER, **FORM_ERRORS},
)
async def signout(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[Literal["browser", "everywhere"], Form()] = "browser",
) -> Response:
    """End this browser's sessions, or every session ("Sign out everywhere")."""
    admin_key = ctx.settings.admin_api_key
    if admin_key is None:
        return RedirectResponse("/admin/info", status_code=303)
    response = RedirectResponse("/admin/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, **_cookie_attributes(request, ctx.settings))
    session = read_session(admin_key, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return response  # nothing to end
    if not keys_match(csrf, csrf_token(admin_key, session.token)):
        return error_response(
            403, "Missing or invalid CSRF token: sign out from the admin page", "Forbidden"
        )
    async with ctx.pool.connection() as conn:
        await end_sessions(conn, None if scope == "everywhere" else session.browser)
    log.info("Admin signed out (%s) from %s", scope, client_address(request))
    return response


@dataclass(frozen=True)
class JobFilters:
    """What the job table shows: the filters of the page's form, and which page."""

    status: str | None
    trigger: str | None
    tenant: str | None  # only this tenant's jobs: name or id, as given
    page: int
    stats_tenant: str | None  # the page's `tenant`: "Update stats" and the cache stamps

    @classmethod
    def of(
        cls,
        status: str | None,
        trigger: str | None,
        tenant: str | None,
        page: int,
        stats_tenant: str | None,
    ) -> Self:
        # "" is the form's "all"
        return cls(status or None, trigger or None, tenant or None, page, stats_tenant or None)

    def query(self, page: int) -> str:
        """The page's query string for another page of the same filters."""
        wanted = {
            "status": self.status,
            "trigger": self.trigger,
            "job_tenant": self.tenant,
            "tenant": self.stats_tenant,
        }
        return urlencode({**{k: v for k, v in wanted.items() if v}, "page": page})


def _unknown_tenant(wanted: str, tenants: list[Tenant]) -> ApiError:
    names = ", ".join(t.name for t in tenants) or "none"
    return ApiError(
        400, f"No tenant {wanted[:60]!r}: use one of {names}", "Invalid request", field="job_tenant"
    )


async def _jobs_context(
    ctx: WebContext, filters: JobFilters, follow: str | None = None
) -> dict[str, Any]:
    async with ctx.pool.connection() as conn:
        tenants = await list_tenants(conn)
        tenant = choose(tenants, filters.tenant) if filters.tenant else None
        if filters.tenant and tenant is None:
            raise _unknown_tenant(filters.tenant, tenants)
        jobs = await queue.list_jobs(
            conn,
            status=filters.status,
            trigger=filters.trigger,
            tenant_id=tenant.id if tenant else None,
            limit=JOBS_SHOWN + 1,  # one more: are there older ones?
            offset=(filters.page - 1) * JOBS_SHOWN,
        )
        followed = await queue.get_job(conn, follow) if follow else None
        stats = await queue.queue_stats(conn)
        heartbeat = await queue.last_worker_heartbeat_age(conn)
    now = dt.datetime.now(dt.UTC)
    active = stats.counts.get("queued", 0) + stats.counts.get("processing", 0) > 0
    return {
        "jobs": [job_view(j, now) for j in jobs[:JOBS_SHOWN]],
        "filters": filters,
        "first_shown": (filters.page - 1) * JOBS_SHOWN + 1,
        "has_older": len(jobs) > JOBS_SHOWN,
        "tenants": tenants,
        "tenant_names": {t.id: t.name for t in tenants},
        "show_tenant": len(tenants) > 1,
        "followed": job_view(followed, now) if followed else None,
        "stats": stats,
        "heartbeat_age": heartbeat,
        "active": active,
        "now": now,
    }


def _tenant_id(tenants: list[Tenant], wanted: str | None) -> str:
    chosen = choose(tenants, wanted)
    return chosen.id if chosen else DEFAULT_TENANT_ID


def _flags(settings: Settings) -> list[tuple[str, bool]]:
    return [
        ("global", settings.use_bg_jobs_global),
        ("admin", settings.background_jobs_enabled("admin")),
        ("cron", settings.background_jobs_enabled("cron")),
        ("post-match", settings.background_jobs_enabled("post-match")),
    ]


@router.get(
    "/admin/info",
    response_class=HTMLResponse,
    summary="The admin page: jobs, live (or to the sign-in form)",
    responses={**SEE_OTHER, **BAD_PARAMETER},
)
async def admin_info(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    status: StatusParam = None,
    trigger: TriggerParam = None,
    tenant: TenantParam = None,
    job_tenant: JobTenantParam = None,
    page: PageParam = 1,
) -> Response:
    access = await page_access(request, ctx)
    if access is None:
        return _signin_redirect(request)
    filters = JobFilters.of(status, trigger, job_tenant, page, tenant)
    context = await _jobs_context(ctx, filters)
    tenant_id = _tenant_id(context["tenants"], tenant)
    async with ctx.pool.connection() as conn:
        stamps = await cache_stamps(conn, tenant_id)
    return templates.TemplateResponse(
        request,
        "admin_info.html",
        {
            **context,
            "access": access,
            "statuses": STATUSES,
            "triggers": TRIGGERS,
            "tenant_id": tenant_id,
            "stamps": stamps,
            "flags": _flags(ctx.settings),
            "admin_jobs_in_background": ctx.settings.background_jobs_enabled("admin"),
            "active_poll_ms": ACTIVE_POLL_MS,
            "idle_poll_ms": IDLE_POLL_MS,
            "jobs_shown": JOBS_SHOWN,
        },
    )


@router.get(
    "/admin/info/jobs.json",
    response_model=JobsFeed,
    summary="What the admin page polls: its rows and cards, rendered",
    responses={**NOT_SIGNED_IN, **BAD_PARAMETER},
)
async def admin_jobs_json(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
    status: StatusParam = None,
    trigger: TriggerParam = None,
    tenant: TenantParam = None,
    job_tenant: JobTenantParam = None,
    page: PageParam = 1,
    follow: FollowParam = None,
) -> Response:
    access: Access | None = await page_access(request, ctx)
    if access is None:
        return error_response(401, "Sign in again", "Unauthorized")
    filters = JobFilters.of(status, trigger, job_tenant, page, tenant)
    context = await _jobs_context(ctx, filters, follow)
    context["jobs_shown"] = JOBS_SHOWN
    async with ctx.pool.connection() as conn:
        context["stamps"] = await cache_stamps(conn, _tenant_id(context["tenants"], tenant))
    followed: JobView | None = context["followed"]

    def render(name: str) -> str:
        return templates.get_template(name).render(context)

    return JSONResponse(
        {
            "active": context["active"],
            "count": len(context["jobs"]),
            "rows_html": render("_job_rows.html"),
            "pager_html": render("_job_pager.html"),
            "summary_html": render("_queue_summary.html"),
            "stamps_html": render("_cache_stamps.html"),
            "followed": _followed(followed) if followed else None,
            "generated_at": context["now"].isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


def _followed(job: JobView) -> dict[str, Any]:
    return FollowedJob(
        id=job.id, status=job.status, error=job.error, duration=job.duration
    ).model_dump()
