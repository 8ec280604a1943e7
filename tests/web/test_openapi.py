"""/openapi.json: every API route documented, errors as 400 (never FastAPI's 422)."""

from __future__ import annotations

from typing import Any

from tests.web.helpers import ADMIN_KEY, app_client

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


async def schema(db_url: str, **settings: Any) -> dict[str, Any]:
    async with app_client(db_url, **settings) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, p): op for p, item in spec["paths"].items() for m, op in item.items()}


async def test_every_route_is_documented_and_no_page_is(db_url: str) -> None:
    spec = await schema(db_url, admin_api_key=ADMIN_KEY)
    assert set(operations(spec)) == API_ROUTES
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
