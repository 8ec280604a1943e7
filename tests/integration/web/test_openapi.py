"""/openapi.json: every route documented, errors as 400 (never FastAPI's 422).

The pages are in it too, under the tag "pages", so their query parameters are
declared (and checked) once and schemathesis fuzzes them like the API's.
"""

from __future__ import annotations

from typing import Any

from tests.support.web import ADMIN_KEY, app_client

API_ROUTES = {
    ("post", "/api/admin/enqueue-stats-job"),
    ("get", "/api/admin/enqueue-stats-job"),
    ("get", "/api/admin/background-jobs"),
    ("get", "/api/admin/background-jobs/{id}"),
    ("post", "/api/admin/background-jobs/{id}/retry"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}
PAGE_ROUTES = {
    ("get", "/"),
    ("get", "/admin"),
    ("get", "/admin/signin"),
    ("post", "/admin/signin"),
    ("post", "/admin/signout"),
    ("get", "/admin/info"),
    ("get", "/admin/info/jobs.json"),
    ("get", "/stats"),
    ("get", "/stats/tables/{table}"),
    ("get", "/stats/players"),
    ("get", "/stats/players/{player_id}"),
    ("get", "/stats/honours"),
}


async def schema(db_url: str, **settings: Any) -> dict[str, Any]:
    async with app_client(db_url, **settings) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, p): op for p, item in spec["paths"].items() for m, op in item.items()}


def bounded(schema: dict[str, Any]) -> bool:
    """A parameter whose every value has a limit: an enum, a length or a range."""
    kinds = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    return all(
        "enum" in s or "const" in s or "maxLength" in s or "maximum" in s for s in kinds
    ) and bool(kinds)


async def test_every_route_is_documented_pages_under_their_tag(db_url: str) -> None:
    spec = await schema(db_url, admin_api_key=ADMIN_KEY)
    assert set(operations(spec)) == API_ROUTES | PAGE_ROUTES
    for route in PAGE_ROUTES:
        page = operations(spec)[route]
        assert page["tags"] == ["pages"] and "security" not in page, route
        for parameter in page.get("parameters", []):
            assert bounded(parameter["schema"]), (route, parameter)
    for (method, path), op in operations(spec).items():
        assert "422" not in op["responses"], (method, path)
        if path.startswith("/api/admin"):
            assert op["security"] == [{"HTTPBearer": []}]
            assert "401" in op["responses"]
    enqueue = operations(spec)[("post", "/api/admin/enqueue-stats-job")]
    body = enqueue["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["triggeredBy", "requestId"]
    assert set(enqueue["responses"]) >= {"200", "400", "401", "413", "500"}
    retry = operations(spec)[("post", "/api/admin/background-jobs/{id}/retry")]
    assert set(retry["responses"]) >= {"200", "400", "401", "404", "409"}


async def test_without_a_key_the_schema_asks_for_no_authentication(db_url: str) -> None:
    spec = await schema(db_url)
    assert "securitySchemes" not in spec.get("components", {})
    for op in operations(spec).values():
        assert "security" not in op
        assert "401" not in op["responses"]
