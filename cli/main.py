"""The `microcred` command line."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from settings import get_settings

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _progress_printer() -> Callable[[str, int, int], None]:
    """Reports progress on stderr about ten times per kind, so long runs are never silent."""
    last: dict[str, int] = {}

    def report(kind: str, done: int, total: int) -> None:
        step = max(total // 10, 1)
        if done == total or done - last.get(kind, -step) >= step:
            last[kind] = done
            click.echo(f"  {kind}: {done}/{total}", err=True)

    return report


@click.group(help="microcred: PL micro-certifications and stats over GraphQL.")
def main() -> None:
    from app.logging import configure_logging

    configure_logging(get_settings().log_level)


@main.command(help="Upgrade the database to the latest schema (Alembic head).")
def migrate() -> None:
    from models.migrate import current, upgrade

    url = get_settings().database_url
    upgrade(url)
    click.echo(f"database is at revision {current(url)}", err=True)


@main.command(help="Migrate the database, then serve HTTP and websockets.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
def serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    from models.migrate import upgrade

    upgrade(get_settings().database_url)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws_per_message_deflate=False,
        proxy_headers=True,
    )


@main.command("import", help="Upsert districts, groups, users, modules... from a JSON file.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_file(file: Path) -> None:
    from models.errors import BadInput
    from models.services.importer import parse_import_json

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        _fail(f"{file} is not UTF-8 text")
    try:
        report = _run(_apply(parse_import_json(text)))
    except BadInput as exc:
        _fail(f"{file} was not imported; nothing changed.\n{exc.message}")
    click.echo(report.summary())


@asynccontextmanager
async def _database() -> AsyncIterator[Any]:
    """The configured database for one command, disposed of when it is done."""
    from models.db import Database

    db = Database(get_settings().database_url)
    try:
        yield db
    finally:
        await db.dispose()


async def _apply(parsed: Any) -> Any:
    from models.services.importer import apply_import

    async with _database() as db, db.write() as session:
        return await apply_import(session, parsed, on_progress=_progress_printer())


@main.command(help="Print a signed access token for a user, or for an integration.")
@click.argument("user_key", required=False)
@click.option("--ttl", type=click.IntRange(min=1), help="Lifetime in seconds.")
@click.option("--integration", "integration", metavar="NAME", help="Mint an integration token.")
@click.option("--district", metavar="KEY", help="The integration's district key.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["stats:read", "progress:write", "roster:write"]),
)
def token(
    user_key: str | None,
    ttl: int | None,
    integration: str | None,
    district: str | None,
    scopes: tuple[str, ...],
) -> None:
    from auth.tokens import DEFAULT_INTEGRATION_TTL, mint_integration_token, mint_user_token

    settings = get_settings()
    if integration:
        if user_key:
            _fail("give either USER_KEY or --integration, not both")
        if not district or not scopes:
            _fail("an integration token needs --district KEY and at least one --scope")
        assert district is not None
        if not _run(_exists("district", district)):
            _fail(f'no district with key "{district}"')
        click.echo(
            mint_integration_token(
                settings.jwt_secret, integration, district, scopes, ttl or DEFAULT_INTEGRATION_TTL
            )
        )
        return
    if not user_key:
        _fail("give a USER_KEY, or --integration NAME --district KEY --scope S")
    assert user_key is not None
    if not _run(_exists("user", user_key)):
        _fail(f'no user with key "{user_key}"')
    click.echo(mint_user_token(settings.jwt_secret, user_key, ttl or settings.token_ttl))


async def _exists(kind: str, key: str) -> bool:
    from sqlalchemy import select

    from models.tables import District, User

    table = District if kind == "district" else User
    async with _database() as db, db.read() as session:
        found = await session.execute(select(table.id).where(table.key == key))
        return found.first() is not None


@main.command(help="Load a realistic demo district (idempotent).")
def demo() -> None:
    from cli.demo import load_demo
    from models.migrate import upgrade

    upgrade(get_settings().database_url)
    click.echo(_run(load_demo(get_settings().database_url, echo=lambda m: click.echo(m, err=True))))


@main.command(help="Fill the database with a synthetic, realistic dataset for benchmarks.")
@click.option("--users", required=True, type=click.IntRange(min=1), help="Users in all.")
@click.option("--districts", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--modules", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1, show_default=True, type=int)
def synth(users: int, districts: int, modules: int, seed: int) -> None:
    from cli.synth import SynthError, SynthOptions, run_synth

    options = SynthOptions(users=users, districts=districts, modules=modules, seed=seed)
    try:
        line = run_synth(
            get_settings().database_url, options, echo=lambda m: click.echo(m, err=True)
        )
    except SynthError as exc:
        _fail(str(exc))
    click.echo(line)


@main.group(help="Comparison Stats maintenance.")
def stats() -> None:
    pass


@stats.command(
    "verify",
    help="Recount every district's stats counters from the raw tables and report any drift; "
    "--repair replaces drifted counters with the recount.",
)
@click.option("--repair", is_flag=True, help="Fix the drift that is found.")
@click.option("--district", "district_keys", multiple=True, metavar="KEY", help="Only these.")
def stats_verify(repair: bool, district_keys: tuple[str, ...]) -> None:
    drifted = _run(_verify(repair, district_keys))
    if drifted and not repair:
        sys.exit(1)


async def _verify(repair: bool, district_keys: tuple[str, ...]) -> int:
    """How many districts had drift."""
    from sqlalchemy import select

    from models.services import stats as stats_service
    from models.tables import District

    async with _database() as db:
        async with db.read() as session:
            query = select(District.id, District.key).order_by(District.key)
            if district_keys:
                query = query.where(District.key.in_(district_keys))
            districts = (await session.execute(query)).all()
        missing = set(district_keys) - {key for _, key in districts}
        if missing:
            _fail(f"no district with key {', '.join(sorted(missing))}")
        drifted = 0
        for number, (district_id, key) in enumerate(districts, start=1):
            started = time.monotonic()
            async with db.read() as session:
                drifts = stats_service.compare(
                    await stats_service.stored(session, district_id),
                    await stats_service.recount(session, district_id),
                )
            took = time.monotonic() - started
            prefix = f"[{number}/{len(districts)}] district {key}:"
            if not drifts:
                click.echo(f"{prefix} counters match the recount ({took:.1f} s)", err=True)
                continue
            drifted += 1
            click.echo(f"{prefix} {len(drifts)} counters differ from the recount", err=True)
            for d in drifts[:20]:
                scope = "district" if d.scope_id == 0 else f"group {d.scope_id}"
                click.echo(f"    {scope}, {d.what}: stored {d.stored}, recount {d.recounted}")
            if len(drifts) > 20:
                click.echo(f"    ... and {len(drifts) - 20} more")
            if repair:
                async with db.write() as session:
                    await stats_service.rebuild_district(session, district_id)
                click.echo(f"{prefix} repaired", err=True)
        verdict = "no drift" if not drifted else f"drift in {drifted} district(s)"
        click.echo(
            f"checked {len(districts)} district(s): {verdict}"
            + (", repaired" if drifted and repair else "")
        )
        return drifted


@main.command(help="Print the GraphQL schema (SDL).")
def schema() -> None:
    from schema import sdl

    click.echo(sdl(), nl=False)
