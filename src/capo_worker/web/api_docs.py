"""/docs: the interactive API docs (Swagger UI), working offline.

FastAPI's own /docs loads Swagger UI from a CDN and starts it with an inline
script, which the pages' Content-Security-Policy forbids. Here the Swagger UI
files come from the fastapi-offline package (served under /docs/assets), and
the page starts them with /static/api_docs.js.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from capo_worker.web.templating import templates

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

router = APIRouter()


def swagger_ui_files() -> StaticFiles:
    """swagger-ui-bundle.js and swagger-ui.css, as the installed package ships them."""
    folder = Path(str(resources.files("fastapi_offline") / "static"))
    return StaticFiles(directory=folder, check_dir=True)


@router.get(DOCS_PATH, response_class=HTMLResponse, include_in_schema=False)
async def api_docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "api_docs.html",
        {"assets": ASSETS_PATH, "openapi_url": request.app.openapi_url, "access": None},
    )
