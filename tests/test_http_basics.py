"""Health probes, the timing header, OpenAPI, error bodies."""


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_migration(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["migration"] == body["expected_migration"]


async def test_every_response_carries_x_process_time(client):
    for path in ["/healthz", "/tenants", "/movies", "/nowhere"]:
        response = await client.get(path)
        assert float(response.headers["X-Process-Time"]) >= 0


async def test_unknown_route_is_json_404(client):
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_openapi_types_every_endpoint(client):
    schema = (await client.get("/openapi.json")).json()
    for path, method in [
        ("/movies", "get"),
        ("/movies/{tmdb_id}", "get"),
        ("/reload", "post"),
        ("/tenants", "get"),
        ("/categories", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ]:
        ok = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok, (path, method)
    assert (await client.get("/docs")).status_code == 200


async def test_cors_allows_the_browser_client(client):
    response = await client.get("/tenants", headers={"Origin": "http://localhost:3000"})
    assert response.headers["access-control-allow-origin"] == "*"


async def test_a_wrong_method_names_every_method_of_the_path(client):
    # GET /categories and POST /categories come from two routers; Allow names both.
    for method, path, allowed in [("PUT", "/categories", "GET, POST"), ("DELETE", "/movies/1", "GET")]:
        response = await client.request(method, path)
        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
