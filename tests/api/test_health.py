"""Health checks, GraphiQL outside production, and production settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from app.main import create_app
from settings import DEV_JWT_SECRET, Settings
from tests.support import Api

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


async def test_healthz(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(api: Api) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"


async def test_graphiql_is_served_outside_production(api: Api) -> None:
    assert api.server.settings.env == "test"
    response = await api.client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_get_graphql_without_html_still_answers_queries(api: Api) -> None:
    response = await api.client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def production_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        jwt_secret="x" * 32,
        database_url=database_url,
    )


@pytest.fixture
async def production(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production_settings(database_url))
    transport = httpx.ASGITransport(app=app)
    # ASGITransport does not run the lifespan (which starts the feed broker): run it here.
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://prod") as client:
            yield client


async def test_graphiql_is_not_served_in_production(production: httpx.AsyncClient) -> None:
    response = await production.get("/graphql", headers=HTML)
    assert "graphiql" not in response.text.lower()
    assert not response.headers.get("content-type", "").startswith("text/html")
    assert response.status_code != 200


async def test_production_still_serves_graphql_and_health(
    production: httpx.AsyncClient,
) -> None:
    response = await production.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    assert (await production.get("/healthz")).json() == {"status": "ok"}
    ready = await production.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MICROCRED_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, env="production")  # type: ignore[call-arg]
    assert "MICROCRED_JWT_SECRET" in str(caught.value)
    with pytest.raises(ValidationError, match="MICROCRED_JWT_SECRET"):
        Settings(_env_file=None, env="production", jwt_secret=DEV_JWT_SECRET)  # type: ignore[call-arg]


def test_production_reads_its_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MICROCRED_ENV", "production")
    monkeypatch.setenv("MICROCRED_JWT_SECRET", "s" * 40)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.env == "production"
    assert settings.graphiql is False
    monkeypatch.delenv("MICROCRED_JWT_SECRET")
    with pytest.raises(ValidationError, match="MICROCRED_JWT_SECRET"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_development_defaults_work_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MICROCRED_JWT_SECRET", raising=False)
    monkeypatch.delenv("MICROCRED_ENV", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.uses_dev_secret
    assert settings.graphiql is True
