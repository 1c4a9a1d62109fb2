"""Authentication: bearer tokens as API.md describes them, and the `microcred token` CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from click.testing import CliRunner, Result

from auth.tokens import mint_user_token
from cli.main import main as cli_main
from settings import get_settings
from tests.support import Api, world

ME = "{ me { key } }"


async def post_with_headers(api: Api, query: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code in (200, 400), response.text
    return response.json()


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), f"expected an error, got {body}"
    assert body.get("data") is None, body
    return body["errors"][0]


async def test_no_token_is_unauthenticated_with_a_helpful_message(api: Api) -> None:
    await api.seed(world())
    error = only_error(await post_with_headers(api, ME, {}))
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    # Tells the client what to send and how.
    assert "Authorization" in error["message"]
    assert "Bearer" in error["message"]


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Bearer", "Basic dXNlcjpwYXNz", "bearer"],
)
async def test_malformed_authorization_header_is_unauthenticated(api: Api, header: str) -> None:
    await api.seed(world())
    error = only_error(await post_with_headers(api, ME, {"Authorization": header}))
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Bearer <token>" in error["message"]


@pytest.mark.parametrize("garbage", ["abc", "abc.def.ghi", "eyJhbGciOiJIUzI1NiJ9.e30."])
async def test_garbage_token_is_unauthenticated(api: Api, garbage: str) -> None:
    await api.seed(world())
    error = await api.error(ME, token=garbage)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "The access token is not valid."


async def test_token_signed_with_another_secret_is_unauthenticated(api: Api) -> None:
    await api.seed(world())
    forged = mint_user_token("some-other-secret-0123456789abcdef", "t1", 3600)
    error = await api.error(ME, token=forged)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "The access token is not valid."


async def test_token_with_another_algorithm_is_unauthenticated(api: Api) -> None:
    await api.seed(world())
    unsigned = jwt.encode(
        {"sub": "t1", "exp": datetime.now(UTC) + timedelta(hours=1)}, key=None, algorithm="none"
    )
    error = await api.error(ME, token=unsigned)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_expired_token_is_unauthenticated_and_says_so(api: Api) -> None:
    await api.seed(world())
    expired = mint_user_token(api.server.settings.jwt_secret, "t1", -60)
    error = await api.error(ME, token=expired)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]


async def test_token_without_exp_is_unauthenticated(api: Api) -> None:
    await api.seed(world())
    forever = jwt.encode({"sub": "t1"}, api.server.settings.jwt_secret, algorithm="HS256")
    error = await api.error(ME, token=forever)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_token_for_an_unknown_user_is_unauthenticated(api: Api) -> None:
    await api.seed(world())
    error = await api.error(ME, token=api.token("nobody"))
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "unknown user" in error["message"]


async def test_integration_token_for_an_unknown_district_is_unauthenticated(api: Api) -> None:
    await api.seed(world())
    error = await api.error("{ modules { key } }", token=api.integration("d404", "stats:read"))
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "unknown district" in error["message"]


async def test_integration_token_with_an_unknown_scope_is_unauthenticated(api: Api) -> None:
    await api.seed(world())
    claims = {
        "sub": "integration:tool",
        "district": "d1",
        "scopes": ["everything:write"],
        "exp": datetime.now(UTC) + timedelta(hours=1),
    }
    token = jwt.encode(claims, api.server.settings.jwt_secret, algorithm="HS256")
    error = await api.error(ME, token=token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_integration_token_calling_me_is_forbidden(api: Api) -> None:
    await api.seed(world())
    error = await api.error(ME, token=api.integration("d1", "stats:read"))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "user" in error["message"]


async def test_valid_user_token_works(api: Api) -> None:
    await api.seed(world())
    data = await api.ok("{ me { key name } }", as_user="t1")
    assert data["me"] == {"key": "t1", "name": "Tia Brown"}


async def test_lowercase_bearer_scheme_is_accepted(api: Api) -> None:
    await api.seed(world())
    body = await post_with_headers(api, ME, {"Authorization": f"bearer {api.token('t2')}"})
    assert body.get("errors") is None, body
    assert body["data"]["me"]["key"] == "t2"


async def test_a_bad_token_does_not_break_fields_that_need_no_viewer(api: Api) -> None:
    """Authentication fails lazily: introspection still answers, `me` still refuses."""
    await api.seed(world())
    body = await post_with_headers(api, "{ __typename }", {"Authorization": "Bearer not-a-token"})
    assert body == {"data": {"__typename": "Query"}}


# ---------------------------------------------------------------------------- CLI


CLI_SECRET = "cli-test-secret-0123456789abcdefghij"


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """`get_settings` is cached; the CLI must read the environment this test gives it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run_cli(database_url: str, *args: str) -> Result:
    runner = CliRunner()
    env = {"MICROCRED_DATABASE_URL": database_url, "MICROCRED_JWT_SECRET": CLI_SECRET}
    # The CLI runs its own event loop (asyncio.run), so it needs a thread without one.
    return await asyncio.to_thread(runner.invoke, cli_main, list(args), env=env)


def printed_token(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.output
    return lines[-1].strip()


@pytest.mark.usefixtures("fresh_settings")
async def test_cli_user_token_is_signed_with_the_configured_secret(
    api: Api, database_url: str
) -> None:
    await api.seed(world())
    before = datetime.now(UTC)
    token = printed_token(await run_cli(database_url, "token", "t1", "--ttl", "600"))
    claims = jwt.decode(token, CLI_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "t1"
    expires = datetime.fromtimestamp(claims["exp"], UTC)
    assert before + timedelta(seconds=590) <= expires <= datetime.now(UTC) + timedelta(seconds=610)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, api.server.settings.jwt_secret, algorithms=["HS256"])


@pytest.mark.usefixtures("fresh_settings")
async def test_cli_user_token_defaults_to_the_settings_ttl(api: Api, database_url: str) -> None:
    await api.seed(world())
    token = printed_token(await run_cli(database_url, "token", "plm"))
    claims = jwt.decode(token, CLI_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "plm"
    lifetime = claims["exp"] - datetime.now(UTC).timestamp()
    ttl = get_settings().token_ttl
    assert ttl - 60 <= lifetime <= ttl + 1


@pytest.mark.usefixtures("fresh_settings")
async def test_cli_integration_token(api: Api, database_url: str) -> None:
    await api.seed(world())
    result = await run_cli(
        database_url,
        "token",
        "--integration",
        "assessment-engine",
        "--district",
        "d1",
        "--scope",
        "progress:write",
        "--scope",
        "stats:read",
    )
    claims = jwt.decode(printed_token(result), CLI_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "integration:assessment-engine"
    assert claims["district"] == "d1"
    assert sorted(claims["scopes"]) == ["progress:write", "stats:read"]
    assert claims["exp"] > datetime.now(UTC).timestamp()


@pytest.mark.usefixtures("fresh_settings")
async def test_cli_token_for_an_unknown_user_fails_clearly(api: Api, database_url: str) -> None:
    await api.seed(world())
    result = await run_cli(database_url, "token", "ghost")
    assert result.exit_code != 0
    assert result.stdout.strip() == ""  # nothing that looks like a token
    assert 'no user with key "ghost"' in result.stderr


@pytest.mark.usefixtures("fresh_settings")
async def test_cli_integration_token_for_an_unknown_district_fails_clearly(
    api: Api, database_url: str
) -> None:
    await api.seed(world())
    result = await run_cli(
        database_url,
        "token",
        "--integration",
        "tool",
        "--district",
        "d404",
        "--scope",
        "stats:read",
    )
    assert result.exit_code != 0
    assert result.stdout.strip() == ""
    assert 'no district with key "d404"' in result.stderr


@pytest.mark.usefixtures("fresh_settings")
async def test_cli_integration_token_needs_district_and_scope(api: Api, database_url: str) -> None:
    await api.seed(world())
    result = await run_cli(database_url, "token", "--integration", "tool")
    assert result.exit_code != 0
    assert "--district" in result.stderr and "--scope" in result.stderr
