"""/docs: Swagger UI from files this server serves (a Python package's), never a CDN."""

from __future__ import annotations

import re

from tests.support.web import ADMIN_KEY, app_client


async def test_docs_page_loads_only_files_of_this_server(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        page = await client.get("/docs")
        assert page.status_code == 200, page.text[:300]
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
        assert "<script>" not in page.text  # no inline script: the CSP forbids it
        for source in sources:
            asset = await client.get(source)
            assert asset.status_code == 200, source
        js = await client.get("/docs/assets/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in js.text
        assert js.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        # /docs is public like /openapi.json: the key is needed to call the API, not to read it.
        assert (await client.get("/openapi.json")).status_code == 200


async def test_docs_assets_do_not_serve_other_files(db_url: str) -> None:
    async with app_client(db_url) as client:
        for path in ("/docs/assets/../__init__.py", "/docs/assets/%2e%2e/core.py"):
            assert (await client.get(path)).status_code == 404, path
