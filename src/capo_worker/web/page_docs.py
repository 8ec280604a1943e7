"""The pages in /openapi.json (tag "pages"): their parameters, checked, and their answers.

The pages are described like the API so that every query parameter has one
declaration that both validates it (a bad value is a 400 naming it, never a
500) and lets schemathesis fuzz it (tests/acceptance/web/test_schemathesis.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel

from capo_worker.web.schemas import WRITE_ERRORS, ErrorBody

MAX_TENANT = 200
MAX_NEXT = 2000
MAX_PAGE = 10_000

# A form's "all" (""), then job_row.Status and job_row.Trigger (tests/unit/test_page_filters.py).
StatusFilter = Literal["", "queued", "processing", "completed", "failed"]
TriggerFilter = Literal["", "post-match", "admin", "cron"]

TenantParam = Annotated[
    str | None,
    Query(max_length=MAX_TENANT, description="Tenant name or id; the default tenant otherwise."),
]
StatusParam = Annotated[
    StatusFilter | None, Query(description="Only jobs in this status; empty for all.")
]
TriggerParam = Annotated[
    TriggerFilter | None, Query(description="Only jobs of this trigger; empty for all.")
]
JobTenantParam = Annotated[
    str | None,
    Query(
        max_length=MAX_TENANT,
        description="Only this tenant's jobs (name or id); empty for all.",
    ),
]
PageParam = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE, description="Page of the job table: 1 the newest jobs, 2 older."),
]
FollowParam = Annotated[
    str | None,
    Query(
        max_length=36,
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="A job id: its status is reported in `followed` (the page's banner).",
    ),
]
NextParam = Annotated[
    str | None,
    Query(
        alias="next",
        max_length=MAX_NEXT,
        description="Where to go after signing in: a path of this site.",
    ),
]

HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
# Errors are JSON even where the page is HTML (FastAPI would label a model as the page's type).
ERROR_JSON = {"content": {"application/json": {"schema": ErrorBody.model_json_schema()}}}
SEE_OTHER: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "Go to the page in Location",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
}
BAD_PARAMETER: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter out of its range; `field` names it", **ERROR_JSON}
}
FORM_ERRORS: dict[int | str, dict[str, Any]] = {
    **BAD_PARAMETER,
    **{status: {**answer, **ERROR_JSON} for status, answer in WRITE_ERRORS.items()},
}
SIGN_IN_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "The sign-in form again: the key is not right", **HTML},
    429: {
        "description": "The sign-in form again: too many wrong keys from this address",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        **HTML,
    },
}
NOT_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: {"description": "ADMIN_API_KEY is set and the session is not", **ERROR_JSON}
}
UNKNOWN_TENANT: dict[int | str, dict[str, Any]] = {
    404: {"description": "A page listing the tenants there are", **HTML}
}


class FollowedJob(BaseModel):
    """The job the page's banner follows (`follow`): where it is now."""

    id: str
    status: str
    error: str | None
    duration: str


class JobsFeed(BaseModel):
    """What the admin page's script polls: the table rows and cards, rendered."""

    active: bool
    count: int
    rows_html: str
    pager_html: str
    summary_html: str
    stamps_html: str
    followed: FollowedJob | None
    generated_at: str
